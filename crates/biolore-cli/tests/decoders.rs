//! End-to-end tests of the decoder commands (`generate`, `train lm`) and of an XLM-RoBERTa
//! folder through `embed`.

use std::path::Path;

use common::{biolore, floats, ok, repo_root};
use serde_json::Value;

mod common;

/// The SmolLM2 reference chat answer (transformers, float32, greedy, 24 tokens).
const REFERENCE_ANSWER: &str = "One of the most well-known side effects of ibuprofen is the risk of bleeding. This is a serious side effect that";

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).expect("one JSON object")
}

#[test]
fn generate_answers_a_chat_prompt_like_the_reference_library() {
    let out = json(&ok(biolore(&[
        "generate",
        "Name one common side effect of ibuprofen.",
        "--float",
        "--max-tokens",
        "24",
        "--json",
    ])));
    assert_eq!(out["text"], REFERENCE_ANSWER);
    assert_eq!(out["generated_tokens"], 24);
    assert_eq!(out["prompt_tokens"], 38);
    // Quantized (the default) it still answers about ibuprofen, and streams plain text.
    let text = ok(biolore(&[
        "generate",
        "Name one common side effect of ibuprofen.",
        "--max-tokens",
        "12",
    ]));
    assert!(text.starts_with("One of the most"), "{text}");
}

#[test]
fn generate_explains_bad_models_and_devices() {
    let o = biolore(&["generate", "hi", "--model", "no-such-model.gguf"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("no-such-model.gguf") && e.contains("setup.sh"));
    let o = biolore(&["generate", "hi", "--device", "cuda"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("without CUDA support"),
        "{e}"
    );
    let o = biolore(&["generate", "hi", "--device", "tpu"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected cpu, cuda or cuda:N"));
}

#[test]
fn train_lm_fine_tunes_smollm2_into_a_folder_generate_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.jsonl");
    let lines: Vec<String> = [
        ("heart attack", "myocardial infarction"),
        ("high blood pressure", "hypertension"),
        ("kidney failure", "renal insufficiency"),
        ("stroke", "cerebrovascular accident"),
    ]
    .iter()
    .map(|(m, c)| {
        serde_json::json!({"prompt": format!("Mention: {m}\nConcept:"), "completion": format!(" {c}")})
            .to_string()
    })
    .collect();
    std::fs::write(&data, lines.join("\n")).unwrap();
    let out = dir.path().join("sft");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = biolore(&[
        "train",
        "lm",
        "--data",
        &s(&data),
        "--out",
        &s(&out),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--micro-batch",
        "1",
        "--lr",
        "1e-5",
        "--freeze-layers",
        "28",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("parameters trained"), "{err}");
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let answer = json(&ok(biolore(&[
        "generate",
        "--model",
        &s(&out),
        "--raw",
        "Mention: stroke\nConcept:",
        "--max-tokens",
        "3",
        "--json",
    ])));
    assert_eq!(answer["generated_tokens"], 3);
    // A line that is neither form is an error naming the file and line.
    std::fs::write(&data, "{\"prompt\": \"x\"}\n").unwrap();
    let o = biolore(&[
        "train",
        "lm",
        "--data",
        &s(&data),
        "--out",
        &s(&dir.path().join("bad")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("data.jsonl") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn embed_runs_an_xlm_roberta_folder_with_reference_vectors() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("fixtures/reference/xlmr-tiny.reference.json"))
            .unwrap(),
    )
    .unwrap();
    let items = reference["items"].as_array().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("texts.jsonl");
    let lines: Vec<String> = items
        .iter()
        .map(|i| serde_json::json!({"text": i["text"]}).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let stdout = ok(biolore(&[
        "embed",
        "--model",
        "fixtures/reference/xlmr-tiny",
        "--jsonl",
        "--input",
        input.to_str().unwrap(),
    ]));
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), items.len());
    for (row, item) in rows.iter().zip(items) {
        let got = floats(&row["embedding"]);
        let want = floats(&item["embedding"]);
        assert_eq!(got.len(), 64);
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 2e-4, "{:?}: {diff}", item["text"]);
    }
}
