//! Round trips on real documents: the committed NCBI-disease excerpts (public domain).

use std::path::{Path, PathBuf};

use biolore_text::{bioc, jsonl, pubtator, Document, Format};

fn excerpt(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ncbi-disease")
        .join(name)
}

fn dev() -> Vec<Document> {
    pubtator::read(&excerpt("NCBIdevelopset_first50.txt")).expect("the dev excerpt reads")
}

#[test]
fn pubtator_offsets_match_the_text() {
    for name in ["NCBIdevelopset_first50.txt", "NCBItrainset_first40.txt"] {
        let docs = pubtator::read(&excerpt(name)).unwrap();
        let annotations: usize = docs.iter().map(|d| d.annotations.len()).sum();
        assert!(
            docs.len() >= 40 && annotations > 300,
            "{name}: {annotations}"
        );
        for doc in &docs {
            assert_eq!(doc.passages.len(), 2, "{}", doc.id);
            assert_eq!(
                doc.passages[1].offset,
                doc.passages[0].text.chars().count() + 1
            );
            assert!(
                doc.misaligned().is_empty(),
                "{}: {:?}",
                doc.id,
                doc.misaligned()
            );
        }
    }
    let docs = dev();
    assert_eq!(docs.len(), 50);
    // The first dev abstract, PMID 8808605, and its first mention.
    assert_eq!(docs[0].id, "8808605");
    assert_eq!(docs[0].annotations[0].span.text, "enzyme deficiency");
    let first = &docs[0].annotations[0];
    assert_eq!(
        docs[0].slice(first.span.start, first.span.end).as_deref(),
        Some(first.span.text.as_str())
    );
}

#[test]
fn pubtator_bioc_and_jsonl_round_trip() {
    let docs = dev();
    let mut written = Vec::new();
    pubtator::write(&mut written, &docs).unwrap();
    let again =
        pubtator::parse(Path::new("written"), std::str::from_utf8(&written).unwrap()).unwrap();
    assert_eq!(again, docs);
    // The written file is the original, line for line (blank lines and spaces around the
    // ids aside).
    let original = std::fs::read_to_string(excerpt("NCBIdevelopset_first50.txt")).unwrap();
    let lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').map(str::trim).collect::<Vec<_>>().join("\t"))
            .collect()
    };
    let (ours, theirs) = (
        lines(std::str::from_utf8(&written).unwrap()),
        lines(&original),
    );
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b);
    }
    assert_eq!(ours.len(), theirs.len());

    let mut json = Vec::new();
    bioc::write(&mut json, &docs).unwrap();
    let from_bioc = bioc::parse(Path::new("c.json"), std::str::from_utf8(&json).unwrap()).unwrap();
    assert_eq!(from_bioc.len(), docs.len());
    for (a, b) in docs.iter().zip(&from_bioc) {
        assert_eq!(a.text(), b.text());
        assert_eq!(a.passages, b.passages);
        assert_eq!(a.annotations.len(), b.annotations.len());
        for (x, y) in a.annotations.iter().zip(&b.annotations) {
            assert_eq!((&x.span, &x.ids, &x.parts), (&y.span, &y.ids, &y.parts));
        }
        assert!(b.misaligned().is_empty());
    }

    let mut lines_out = Vec::new();
    jsonl::write(&mut lines_out, &docs).unwrap();
    let from_jsonl = jsonl::parse(
        Path::new("d.jsonl"),
        std::str::from_utf8(&lines_out).unwrap(),
    )
    .unwrap();
    assert_eq!(from_jsonl, docs);

    // Through files and the format dispatcher.
    let dir = std::env::temp_dir().join(format!("biolore-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dev.json");
    biolore_text::write(
        std::fs::File::create(&path).unwrap(),
        &docs,
        Format::BiocJson,
    )
    .unwrap();
    let read = biolore_text::read(&path, Format::from_path(&path)).unwrap();
    assert_eq!(read.len(), 50);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sentences_of_real_abstracts_keep_offsets() {
    let mut n = 0;
    for doc in dev() {
        for p in &doc.passages {
            let chars: Vec<char> = p.text.chars().collect();
            let spans = biolore_text::sentence_spans(&p.text);
            let texts = biolore_text::split_sentences(&p.text);
            assert_eq!(spans.len(), texts.len());
            for ((s, e), t) in spans.iter().zip(&texts) {
                assert_eq!(chars[*s..*e].iter().collect::<String>(), *t);
                n += 1;
            }
        }
    }
    assert!(n > 400, "{n} sentences");
}
