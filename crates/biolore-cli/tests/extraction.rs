//! `label`, `train extractor`, `extract` and `eval extract` end to end on the committed synthetic
//! ADE fixture, all-MiniLM-L6-v2 and SmolLM2 (the test teacher).

mod common;

use common::server::{post, serve};
use common::{biolore, fixture, ok};

fn s(p: &std::path::Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

#[test]
fn train_evaluate_and_extract_over_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let student = dir.path().join("student");
    let data = fixture("ade-synthetic");
    ok(biolore(&[
        "train",
        "extractor",
        "--data",
        &s(&data),
        "--steps",
        "40",
        "--batch-size",
        "12",
        "--micro-batch",
        "6",
        "--lr",
        "1e-4",
        "--out",
        &s(&student),
    ]));
    let report: serde_json::Value = serde_json::from_str(&ok(biolore(&[
        "eval",
        "extract",
        "--gold",
        &s(&data),
        "--model",
        &s(&student),
        "--json",
    ])))
    .unwrap();
    for key in [
        "relation_strict_f1",
        "relation_lenient_f1",
        "drug_f1",
        "effect_f1",
        "n_sentences",
    ] {
        assert!(report[key].is_number(), "{key} missing: {report}");
        assert!(
            report["all_sentences"][key].is_number(),
            "all_sentences.{key} missing"
        );
    }
    assert_eq!(report["n_sentences"], 24);
    assert_eq!(report["all_sentences"]["n_sentences"], 36);
    assert!(
        report["relation_strict_f1"].as_f64().unwrap() > 0.6,
        "{report}"
    );

    // PubTator in, PubTator out: annotations at document offsets, ADE relations between them.
    let pubtator = dir.path().join("docs.txt");
    std::fs::write(
        &pubtator,
        "1|t|Drug safety report.\n1|a|A 45-year-old man developed rhabdomyolysis while taking simvastatin. Blood cultures were negative and the fever resolved.\n\n",
    )
    .unwrap();
    let out = ok(biolore(&[
        "extract",
        "--model",
        &s(&student),
        "--format",
        "pubtator",
        "--input",
        &s(&pubtator),
    ]));
    let docs = biolore_text::pubtator::parse(std::path::Path::new("out"), &out).unwrap();
    assert_eq!(docs.len(), 1);
    assert!(docs[0].misaligned().is_empty(), "{out}");
    let kinds: Vec<&str> = docs[0]
        .annotations
        .iter()
        .map(|a| a.span.kind.as_str())
        .collect();
    assert!(
        kinds.contains(&"Drug") && kinds.contains(&"Effect"),
        "{out}"
    );
    assert!(docs[0].relations.iter().any(|r| r.kind == "ADE"), "{out}");

    // JSONL in: the records come back with relations; blank lines are skipped.
    let jsonl = dir.path().join("notes.jsonl");
    std::fs::write(&jsonl, "{\"id\": \"n1\", \"text\": \"Cisplatin-associated ototoxicity is dose dependent.\", \"ward\": 3}\n\n{\"text\": \"\"}\n").unwrap();
    let out = ok(biolore(&[
        "extract",
        "--model",
        &s(&student),
        "--format",
        "jsonl",
        "--input",
        &s(&jsonl),
    ]));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["ward"], 3);
    assert!(
        lines[0]["relations"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{out}"
    );
    assert!(lines[1]["relations"]
        .as_array()
        .is_some_and(|r| r.is_empty()));

    // The server answers /extract with what the CLI writes.
    let server = serve(&["--extractor", &s(&student)], &[]);
    let body = r#"{"texts": ["Cisplatin-associated ototoxicity is dose dependent.", ""], "ids": ["n1", "e"]}"#;
    let answer = post(&server.url, "/extract", body, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let v = answer.json();
    assert_eq!(v["results"][0]["id"], "n1");
    assert_eq!(v["results"][0]["relations"], lines[0]["relations"]);
    assert_eq!(v["results"][1]["relations"], serde_json::json!([]));
    let m = post(
        &server.url,
        "/extract",
        r#"{"texts": ["a"], "ids": ["1", "2"]}"#,
        None,
    )
    .error(400, "invalid_field");
    assert!(m.contains("`ids`"), "{m}");
    post(&server.url, "/extract", r#"{"texts": []}"#, None).error(400, "empty_input");
    drop(server);

    // A bad JSONL line is an error naming it.
    std::fs::write(&jsonl, "{\"id\": 1}\n").unwrap();
    let o = biolore(&[
        "extract",
        "--model",
        &s(&student),
        "--format",
        "jsonl",
        "--input",
        &s(&jsonl),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("notes.jsonl:1"),
        "{err}"
    );
}

#[test]
fn a_local_teacher_labels_and_its_labels_are_scored() {
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.jsonl");
    let data = fixture("ade-synthetic");
    let args = [
        "label",
        "--input",
        &s(&data),
        "--positives",
        "2",
        "--negatives",
        "1",
        "--max-tokens",
        "48",
        "--teacher-model",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "--out",
        &s(&labels),
    ];
    let first = biolore(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let lines = std::fs::read_to_string(&labels).unwrap();
    assert_eq!(lines.lines().count(), 3);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("labels.jsonl.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["asked"], 3);
    // The rerun is answered from the cache.
    ok(biolore(&args));
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("labels.jsonl.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (summary["cached"].as_u64(), summary["asked"].as_u64()),
        (Some(3), Some(0))
    );
    // The teacher's labels are scored against the gold sentences they cover.
    let report: serde_json::Value = serde_json::from_str(&ok(biolore(&[
        "eval",
        "extract",
        "--gold",
        &s(&data),
        "--predictions",
        &s(&labels),
        "--json",
    ])))
    .unwrap();
    assert_eq!(report["all_sentences"]["n_sentences"], 3);
    assert_eq!(report["gold_without_prediction"], 33);
}

#[test]
fn gold_files_with_spans_past_the_text_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let gold = dir.path().join("gold.jsonl");
    std::fs::write(
        &gold,
        "{\"text\": \"Short.\", \"relations\": [{\"drug\": {\"start\": 0, \"end\": 5, \"text\": \"Short\"}, \"effect\": {\"start\": 40, \"end\": 45, \"text\": \"x\"}}]}\n",
    )
    .unwrap();
    let o = biolore(&[
        "eval",
        "extract",
        "--gold",
        &s(&gold),
        "--predictions",
        &s(&gold),
        "--json",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("gold.jsonl:1") && err.contains("past the text"),
        "{err}"
    );
}
