//! `label`, `train extractor`, `extract` and `eval extract` end to end on the committed synthetic
//! ADE fixture, all-MiniLM-L6-v2 and SmolLM2 (the test teacher).

mod common;

use common::server::{post, serve};
use common::{biolore, fixture, index_dictionary, ok};

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

    // Parquet in, Parquet out: columns kept, `relations` added as JSONL gives them.
    {
        use arrow_array::cast::AsArray;
        use arrow_array::types::Int64Type;
        use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
        use std::sync::Arc;
        let input = dir.path().join("notes.parquet");
        let batch = RecordBatch::try_from_iter([
            (
                "ward",
                Arc::new(Int64Array::from(vec![3, 4, 5])) as Arc<dyn Array>,
            ),
            (
                "text",
                Arc::new(StringArray::from(vec![
                    Some("Cisplatin-associated ototoxicity is dose dependent."),
                    None,
                    Some(""),
                ])) as Arc<dyn Array>,
            ),
        ])
        .unwrap();
        let mut sink = biolore_columnar::ParquetSink::create(&input, batch.schema()).unwrap();
        sink.write(&batch).unwrap();
        sink.finish().unwrap();
        let output = dir.path().join("notes.ade.parquet");
        let run = |extra: &[&str]| {
            let mut a = vec![
                "extract".to_string(),
                "--model".into(),
                s(&student),
                "--input".into(),
                s(&input),
                "--out".into(),
                s(&output),
            ];
            a.extend(extra.iter().map(|x| x.to_string()));
            biolore(&a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let refused = run(&[]);
        assert!(!refused.status.success());
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("row 1"), "{err}");
        assert!(!output.exists());
        ok(run(&["--null-text", "skip"]));
        let batches: Vec<RecordBatch> = biolore_columnar::ParquetBatches::open(&output, 100)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let out = &batches[0];
        let names: Vec<&str> = out
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["ward", "text", "relations"]);
        let list = out.column(2).as_list::<i32>();
        assert!(list.is_null(1) && list.value(2).is_empty());
        let first = list.value(0);
        let items = first.as_struct();
        let expected = lines[0]["relations"].as_array().unwrap();
        assert_eq!(items.len(), expected.len());
        let drug = items.column_by_name("drug").unwrap().as_struct();
        assert_eq!(
            drug.column(0).as_primitive::<Int64Type>().value(0),
            expected[0]["drug"]["start"].as_i64().unwrap()
        );
        assert_eq!(
            drug.column(2).as_string::<i32>().value(0),
            expected[0]["drug"]["text"].as_str().unwrap()
        );
    }

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

    // Spans linked to concepts: effects to a disease index, drugs to a drug index.
    let kb_dir = |name: &str, lines: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let dict = d.join("dict.txt");
        std::fs::write(&dict, lines).unwrap();
        index_dictionary(&dict, &d)
    };
    let effects = kb_dir(
        "effects",
        "D012206||Rhabdomyolysis\nD056486||Chemical and Drug Induced Liver Injury|hepatotoxicity\nD006311||Hearing Loss|ototoxicity\nD005334||Fever\n",
    );
    let drugs = kb_dir(
        "drugs",
        "D019821||Simvastatin\nD002945||Cisplatin\nD007538||Isoniazid\n",
    );
    let text = dir.path().join("case.txt");
    std::fs::write(
        &text,
        "A 45-year-old man developed rhabdomyolysis while taking simvastatin.\n",
    )
    .unwrap();
    let out = dir.path().join("case.jsonl");
    std::fs::write(&out, "earlier output\n").unwrap();
    let linked = |extra: &[&str]| {
        let (model, text, out, effects, drugs) =
            (s(&student), s(&text), s(&out), s(&effects), s(&drugs));
        let mut args = vec![
            "extract",
            "--model",
            &model,
            "--input",
            &text,
            "--out",
            &out,
            "--effect-index",
            &effects,
            "--drug-index",
            &drugs,
        ];
        args.extend_from_slice(extra);
        biolore(&args)
    };
    ok(linked(&[]));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    let r = &line["relations"][0];
    assert_eq!(r["effect"]["text"], "rhabdomyolysis", "{line}");
    assert_eq!(r["effect_concept"]["id"], "MESH:D012206", "{line}");
    assert_eq!(r["drug_concept"]["id"], "MESH:D019821", "{line}");
    assert!(
        r["effect_concept"]["score"].as_f64().unwrap() > 0.9,
        "{line}"
    );
    // A threshold above every score leaves the spans unlinked.
    ok(linked(&["--min-link-score", "1.01"]));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    assert!(
        line["relations"][0].get("effect_concept").is_none(),
        "{line}"
    );
    // A missing index fails before anything is written; the earlier output stays whole.
    std::fs::write(&out, "earlier output\n").unwrap();
    let o = biolore(&[
        "extract",
        "--model",
        &s(&student),
        "--input",
        &s(&text),
        "--out",
        &s(&out),
        "--effect-index",
        &s(&dir.path().join("nowhere")),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "earlier output\n");

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

#[test]
fn self_training_rounds_learn_from_confident_predictions_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let student = dir.path().join("student");
    let data = fixture("ade-synthetic");
    let args = [
        "train",
        "extractor",
        "--data",
        &s(&data),
        "--limit",
        "12",
        "--steps",
        "20",
        "--batch-size",
        "12",
        "--micro-batch",
        "6",
        "--lr",
        "1e-4",
        "--self-train",
        &s(&data),
        "--rounds",
        "1",
        "--min-score",
        "0.5",
        "--out",
        &s(&student),
    ];
    let o = biolore(&args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    // The 12 labelled sentences are not pseudo-labelled again: 36 - 12 = 24 remain.
    assert!(
        err.contains("round 1: of 24 unlabelled sentences")
            && err.contains("12 were labelled already"),
        "{err}"
    );
    let round0 = student.join("self-train/round-0");
    for f in [
        "extractor.safetensors",
        "extractor.json",
        "model.safetensors",
    ] {
        assert!(round0.join(f).is_file(), "round 0 lacks {f}");
        assert!(student.join(f).is_file(), "the final student lacks {f}");
    }
    let pseudo = std::fs::read_to_string(student.join("self-train/pseudo-1.jsonl")).unwrap();
    for line in pseudo.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for r in v["relations"].as_array().unwrap() {
            assert!(r["score"].as_f64().unwrap() >= 0.5, "{line}");
        }
    }
    // The final student extracts; a rerun finds both rounds done.
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
    assert!(report["relation_lenient_f1"].is_number(), "{report}");
    let again = biolore(&args);
    let err = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(again.status.success(), "{err}");
    assert_eq!(err.matches("already trained").count(), 2, "{err}");
    let mut bad = args.to_vec();
    let at = bad.iter().position(|a| *a == "0.5").unwrap();
    bad[at] = "1.5";
    let refused = biolore(&bad);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--min-score"));
}
