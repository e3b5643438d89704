//! End-to-end: `kb import` → `index build` → `link` and `eval link`, on committed NCBI-disease
//! excerpts and the disease dictionary generated from its training mentions.

mod common;

use std::path::{Path, PathBuf};

use common::{biolore, disease_dictionary, index_dictionary, ok};

use serde_json::Value;

/// The first `docs` documents of the committed NCBI-disease dev excerpt, and the committed
/// disease dictionary (612 concepts named by NCBI-disease's training mentions).
fn fixture(dir: &Path, docs: usize) -> (PathBuf, PathBuf) {
    let dev = std::fs::read_to_string(common::fixture("ncbi-disease/NCBIdevelopset_first50.txt"))
        .unwrap();
    let blocks: Vec<&str> = dev
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .take(docs)
        .collect();
    let corpus = dir.join("dev-subset.txt");
    std::fs::write(&corpus, blocks.join("\n\n") + "\n").unwrap();
    (corpus, disease_dictionary())
}

/// `link --format pubtator -k 1` over `corpus`: one JSON record per annotation.
fn link_pubtator(index: &Path, corpus: &Path) -> Vec<Value> {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = ok(biolore(&[
        "link",
        "--index",
        &s(index),
        "--format",
        "pubtator",
        "--input",
        &s(corpus),
        "-k",
        "1",
    ]));
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn import_build_link_and_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, dict) = fixture(tmp.path(), 15);
    let index = index_dictionary(&dict, tmp.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();

    let out = ok(biolore(&[
        "link",
        "--index",
        &s(&index),
        "--top-k",
        "3",
        "Wilson disease",
        "Wilson's disease",
    ]));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        let c = l["candidates"].as_array().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0]["id"], "MESH:D006527", "{l}");
    }

    let errors = tmp.path().join("errors.jsonl");
    let eval_json = |extra: &[&str]| -> Value {
        let (index, corpus, errors) = (s(&index), s(&corpus), s(&errors));
        let mut args = vec![
            "eval", "link", "--index", &index, "--corpus", &corpus, "--json", "--errors", &errors,
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(ok(biolore(&args)).trim()).unwrap()
    };
    let report = eval_json(&[]);
    let (acc1, acc5, n) = (
        report["acc1"].as_f64().unwrap(),
        report["acc5"].as_f64().unwrap(),
        report["n"].as_u64().unwrap(),
    );
    assert!(n > 50, "{report}");
    assert!(
        (0.5..=1.0).contains(&acc1) && acc5 >= acc1 && acc5 <= 1.0,
        "{report}"
    );
    let error_lines = std::fs::read_to_string(&errors).unwrap().lines().count();
    assert_eq!(error_lines, ((1.0 - acc1) * n as f64).round() as usize);
    assert_eq!(report["abbreviation_expansion"], true);

    // The HNSW graph gives (nearly) the same answers on this small index.
    let approx = eval_json(&["--approximate"]);
    assert!(
        (approx["acc1"].as_f64().unwrap() - acc1).abs() <= 0.02,
        "{approx} vs {report}"
    );

    // Training mentions as extra names can only help on this corpus' own mentions.
    let augmented = eval_json(&["--add-mentions", &s(&corpus)]);
    assert!(augmented["added_names"].as_u64().unwrap() > 0);
    assert!(augmented["acc1"].as_f64().unwrap() > acc1, "{augmented}");

    // JSONL mentions with their document as context: abbreviations resolve, fields are kept.
    let jsonl = tmp.path().join("mentions.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": \"m1\", \"mention\": \"WD\", \"context\": \"Wilson disease (WD) is a copper disorder.\"}\n",
    )
    .unwrap();
    let out = ok(biolore(&[
        "link",
        "--index",
        &s(&index),
        "--format",
        "jsonl",
        "--input",
        &s(&jsonl),
        "-k",
        "1",
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["id"], "m1");
    assert_eq!(v["query"], "Wilson disease");
    assert!(v.get("context").is_none());
    assert_eq!(v["candidates"][0]["id"], "MESH:D006527", "{v}");

    // PubTator input links every annotated mention, with abbreviations expanded.
    let linked = link_pubtator(&index, &corpus);
    assert!(linked.len() as u64 >= n);
    assert!(
        linked.iter().any(|l| l.get("query").is_some()),
        "some abbreviation was expanded"
    );
}

/// `link --format pubtator` and `eval link` go through one query preparation: on the same
/// documents, rank-1 predictions scored by the protocol give eval's acc@1 exactly — composites
/// included, which `link` now splits as `eval` does.
#[test]
fn link_and_eval_agree_on_the_same_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let (corpus, dict) = fixture(tmp.path(), 50);
    let index = index_dictionary(&dict, tmp.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let report: Value = serde_json::from_str(
        ok(biolore(&[
            "eval",
            "link",
            "--index",
            &s(&index),
            "--corpus",
            &s(&corpus),
            "--json",
            "--errors",
            &s(&tmp.path().join("errors.jsonl")),
        ]))
        .trim(),
    )
    .unwrap();
    let linked = link_pubtator(&index, &corpus);
    let docs = biolore_text::pubtator::read(&corpus).unwrap();
    let annotations: Vec<&biolore_text::Annotation> =
        docs.iter().flat_map(|d| d.annotations.iter()).collect();
    assert_eq!(linked.len(), annotations.len());
    let (mut n, mut hits, mut composites) = (0usize, 0usize, 0usize);
    for (a, l) in annotations.iter().zip(&linked) {
        assert_eq!(l["start"], a.span.start, "{l}");
        let gold = biolore_link::eval::gold_units(&a.ids);
        if gold.is_empty() {
            continue;
        }
        n += 1;
        let top: Vec<String> = match l.get("parts") {
            Some(parts) => {
                composites += 1;
                parts
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["candidates"][0]["id"].as_str().unwrap().to_string())
                    .collect()
            }
            None => vec![l["candidates"][0]["id"].as_str().unwrap().to_string()],
        };
        hits += usize::from(
            gold.iter()
                .all(|unit| top.iter().any(|id| unit.contains(id))),
        );
    }
    assert_eq!(n as u64, report["n"].as_u64().unwrap(), "{report}");
    assert!(composites > 0 && composites as u64 <= report["composites_split"].as_u64().unwrap());
    let acc1 = report["acc1"].as_f64().unwrap();
    assert_eq!(
        hits,
        (acc1 * n as f64).round() as usize,
        "link {hits}/{n} vs {report}"
    );
    eprintln!("link and eval agree: {hits}/{n} correct at rank 1 ({composites} composites split)");
}

#[test]
fn malformed_dictionary_lines_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dict = tmp.path().join("bad.txt");
    std::fs::write(&dict, "D006527||Wilson Disease\nno separator here\n").unwrap();
    let kb = tmp.path().join("k.kb");
    let o = biolore(&[
        "kb",
        "import",
        "--format",
        "biosyn",
        dict.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
        "--on-error",
        "fail",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.txt:2"), "{err}");
    assert!(!kb.exists());
    let o = biolore(&[
        "kb",
        "import",
        "--format",
        "biosyn",
        dict.to_str().unwrap(),
        "--out",
        kb.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 malformed lines skipped"));
    let o = biolore(&[
        "link",
        "--index",
        tmp.path().join("nothing").to_str().unwrap(),
        "x",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an index"));
}

#[test]
fn kb_merge_combines_files_and_names_a_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    for (dict, lines) in [
        (
            "a.txt",
            "D006527||Wilson Disease\nD003920||Diabetes Mellitus\n",
        ),
        (
            "b.txt",
            "D006527||Hepatolenticular Degeneration\nD001943||Breast Neoplasms\n",
        ),
    ] {
        std::fs::write(path(dict), lines).unwrap();
        let kb = path(&dict.replace(".txt", ".kb"));
        let o = biolore(&["kb", "import", "--format", "biosyn", &path(dict), "-o", &kb]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = biolore(&[
        "kb",
        "merge",
        "-o",
        &path("ab.kb"),
        &path("a.kb"),
        &path("b.kb"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 concepts (1 merged by a shared id)"));
    let o = biolore(&["kb", "info", &path("ab.kb")]);
    let info = String::from_utf8_lossy(&o.stdout);
    assert!(
        info.contains("concepts: 3") && info.contains("names: 4"),
        "{info}"
    );

    let o = biolore(&[
        "kb",
        "merge",
        "-o",
        &path("bad.kb"),
        &path("a.kb"),
        &path("a.txt"),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("a.txt"));
    assert!(!tmp.path().join("bad.kb").exists());
}
