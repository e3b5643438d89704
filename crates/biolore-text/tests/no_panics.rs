//! Property tests: arbitrary bytes and mutated real documents give documents or an error that
//! names the file and line — never a panic — in every reader.

use std::path::Path;

use biolore_text::{error::decode, parse, Format, TextError};
use proptest::prelude::*;

const FORMATS: [Format; 3] = [Format::Pubtator, Format::BiocJson, Format::Jsonl];

fn real_inputs() -> Vec<(Format, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ncbi-disease/NCBIdevelopset_first50.txt");
    let text = std::fs::read_to_string(path).unwrap();
    // Three documents keep each case fast.
    let short: String = text.split("\n\n").take(3).collect::<Vec<_>>().join("\n\n") + "\n";
    let docs = biolore_text::pubtator::parse(Path::new("x"), &short).unwrap();
    let mut bioc = Vec::new();
    biolore_text::bioc::write(&mut bioc, &docs).unwrap();
    let mut jsonl = Vec::new();
    biolore_text::jsonl::write(&mut jsonl, &docs).unwrap();
    vec![
        (Format::Pubtator, short.into_bytes()),
        (Format::BiocJson, bioc),
        (Format::Jsonl, jsonl),
    ]
}

/// Reads `bytes` as a file named `input.txt` would be read; checks the error names it.
fn check(format: Format, bytes: Vec<u8>) {
    let source = Path::new("input.txt");
    let result = decode(source, bytes).and_then(|text| {
        let docs = parse(source, &text, format)?;
        // Whatever was read can be used: text, slices, writers.
        for d in &docs {
            let _ = d.text();
            let _ = d.misaligned();
            for a in &d.annotations {
                let _ = d.slice(a.span.start, a.span.end);
            }
        }
        for f in FORMATS {
            biolore_text::write(Vec::new(), &docs, f).unwrap();
        }
        Ok(docs)
    });
    if let Err(e) = result {
        let message = e.to_string();
        assert!(message.starts_with("input.txt:"), "{message}");
        assert!(message.len() < 2000, "a short message: {message}");
        if let TextError::Malformed { line, .. } | TextError::Utf8 { line, .. } = e {
            assert!(line >= 1, "{message}");
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    DuplicateLine(usize),
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let at = |i: usize| i % bytes.len();
        match *m {
            Mutation::Flip(i, b) => {
                let i = at(i);
                bytes[i] ^= b.max(1);
            }
            Mutation::Insert(i, b) => {
                let i = at(i);
                bytes.insert(i, b);
            }
            Mutation::Delete(i) => {
                let i = at(i);
                bytes.remove(i);
            }
            Mutation::Truncate(i) => {
                let i = at(i);
                bytes.truncate(i);
            }
            Mutation::DuplicateLine(i) => {
                let i = at(i);
                let start = bytes[..i]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |p| p + 1);
                let end = bytes[i..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
                let line = bytes[start..end].to_vec();
                bytes.splice(end..end, line);
            }
        }
    }
    bytes
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop::sample::select(b"\t|\n{}[]\":,0-9 \xff".to_vec())
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DuplicateLine),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), f in 0usize..3) {
        check(FORMATS[f], bytes);
    }

    #[test]
    fn format_shaped_noise_never_panics(
        pieces in prop::collection::vec(prop::sample::select(vec![
            "1|t|", "1|a|", "\t", "\n", "|", "0", "12", "-3", "Disease", "D006527", "{", "}", "[", "]",
            "\"documents\":", "\"passages\":", "\"offset\":", "\"text\":", "\"locations\":",
            "\"annotations\":", "\"start\":", "\"end\":", "99999999999999999999", "999999999", ",", ":", "\"x\"",
            "é", "null",
        ]), 0..60),
        f in 0usize..3,
    ) {
        check(FORMATS[f], pieces.concat().into_bytes());
    }

    #[test]
    fn text_and_jsonl_records_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let source = Path::new("input.txt");
        for result in [
            biolore_text::records::parse_plain(source, &bytes),
            biolore_text::records::parse_jsonl(source, &bytes, "mention"),
        ] {
            if let Err(e) = result {
                assert!(e.to_string().starts_with("input.txt:"), "{e}");
            }
        }
    }

    #[test]
    fn mutated_real_documents_never_panic(mutations in prop::collection::vec(mutation(), 1..6), f in 0usize..3) {
        let (format, bytes) = real_inputs().swap_remove(f);
        check(format, mutate(bytes, &mutations));
    }
}
