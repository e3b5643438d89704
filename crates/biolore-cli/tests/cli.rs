//! End-to-end tests of the `biolore` binary on real models and the shared reference fixtures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{floats, repo_root};
use serde_json::Value;

mod common;

/// An installed model; a missing model fails the test (never a skip).
fn model(name: &str) -> PathBuf {
    let dir = repo_root().join("models").join(name);
    assert!(
        dir.join("model.safetensors").is_file(),
        "model {name} is not installed: run scripts/setup.sh (the README's test command does)"
    );
    dir
}

fn biolore(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_biolore"));
    cmd.args(args)
        .current_dir(repo_root())
        .env("BIOLORE_MODELS", repo_root().join("models"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("biolore runs");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(bytes) = stdin {
            pipe.write_all(bytes).expect("write stdin");
        }
    }
    child.wait_with_output().expect("biolore finishes")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn jsonl(o: &Output) -> Vec<Value> {
    String::from_utf8(o.stdout.clone())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// The texts and embeddings of the sentence-transformers reference fixture for `model`.
fn reference(model: &str) -> Vec<(String, Vec<f32>)> {
    let path = repo_root().join("fixtures/reference/reference_embeddings.json");
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    all["models"][model]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["text"].as_str().expect("text").to_string(),
                floats(&i["embedding"]),
            )
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// The binary (fast GEMM, worker threads, length batching) reproduces sentence-transformers.
fn check_jsonl_parity(name: &str) {
    check_jsonl_against_reference(name, &[], 2e-4, 0.99999);
}

/// `embed --jsonl` with `extra` flags gives every reference text a vector within `max_diff`
/// (largest coordinate difference) and `min_cosine` of sentence-transformers'.
fn check_jsonl_against_reference(name: &str, extra: &[&str], max_diff: f32, min_cosine: f32) {
    let reference = reference(name);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut body = String::new();
    for (i, (text, _)) in reference.iter().enumerate() {
        body.push_str(&serde_json::json!({"id": i, "text": text}).to_string());
        body.push('\n');
    }
    std::fs::write(&input, body).unwrap();
    let m = model(name);
    let mut args = vec![
        "embed",
        "--model",
        m.to_str().unwrap(),
        "--jsonl",
        "--input",
        input.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = biolore(&args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = jsonl(&out);
    assert_eq!(lines.len(), reference.len());
    for (i, (line, (text, want))) in lines.iter().zip(&reference).enumerate() {
        assert_eq!(line["id"], i, "records keep their fields and order");
        assert_eq!(line["text"].as_str(), Some(text.as_str()));
        let got = floats(&line["embedding"]);
        let (diff, cos) = (max_abs_diff(&got, want), cosine(&got, want));
        assert!(
            diff <= max_diff && cos >= min_cosine,
            "{name} {extra:?} {text:?}: max diff {diff}, cosine {cos}"
        );
    }
}

#[test]
fn embed_int8_keeps_the_reference_vectors() {
    // int8 dense layers: every reference vector within cosine 0.999 (the target).
    for name in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"] {
        check_jsonl_against_reference(name, &["--precision", "int8"], 0.02, 0.999);
    }
}

#[test]
fn embed_jsonl_matches_reference_in_order_minilm() {
    check_jsonl_parity("all-MiniLM-L6-v2");
}

#[test]
fn embed_jsonl_matches_reference_in_order_mpnet() {
    check_jsonl_parity("all-mpnet-base-v2");
}

#[test]
fn embed_arguments_stdin_and_npy_agree() {
    let m = model("all-MiniLM-L6-v2");
    let m = m.to_str().unwrap();
    let texts = [
        "Wilson disease",
        "hepatolenticular degeneration",
        "cat scratch fever",
    ];
    let from_args = jsonl(&biolore(
        &["embed", "--model", m, texts[0], texts[1], texts[2]],
        None,
    ));
    let stdin = texts.join("\n") + "\n";
    let from_stdin = jsonl(&biolore(&["embed", "--model", m], Some(stdin.as_bytes())));
    assert_eq!(from_args.len(), 3);
    assert_eq!(from_args, from_stdin);

    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("v.npy");
    let out = biolore(
        &["embed", "--model", m, "--output", npy.to_str().unwrap()],
        Some(stdin.as_bytes()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&npy).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY\x01\x00"));
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + header_len]);
    assert!(header.contains("'shape': (3, 384)"), "{header}");
    let data: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(data.len(), 3 * 384);
    for (i, line) in from_args.iter().enumerate() {
        assert!(max_abs_diff(&data[i * 384..(i + 1) * 384], &floats(&line["embedding"])) < 1e-6);
    }
}

#[test]
fn invalid_utf8_is_reported_with_its_line_and_keeps_existing_output() {
    let m = model("all-MiniLM-L6-v2");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("notes.txt");
    std::fs::write(&input, b"fever\ncough \xff\xfe\n").unwrap();
    let output = dir.path().join("out.jsonl");
    std::fs::write(&output, "previous results\n").unwrap();
    let out = biolore(
        &[
            "embed",
            "--model",
            m.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("notes.txt:2: invalid UTF-8"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "previous results\n"
    );
}

#[test]
fn malformed_jsonl_is_reported_with_its_line() {
    let m = model("all-MiniLM-L6-v2");
    let out = biolore(
        &["embed", "--model", m.to_str().unwrap(), "--jsonl"],
        Some(b"{\"text\": \"fever\"}\n{\"text\": \"cough\"\n"),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("<stdin>:2: malformed JSON"),
        "{}",
        stderr(&out)
    );
    let out = biolore(
        &["embed", "--model", m.to_str().unwrap(), "--jsonl"],
        Some(b"{\"note\": \"fever\"}\n"),
    );
    assert!(
        stderr(&out).contains("<stdin>:1: missing field \"text\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn empty_input_writes_nothing_and_succeeds() {
    let m = model("all-MiniLM-L6-v2");
    let out = biolore(&["embed", "--model", m.to_str().unwrap()], Some(b""));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("v.npy");
    let out = biolore(
        &[
            "embed",
            "--model",
            m.to_str().unwrap(),
            "--jsonl",
            "--output",
            npy.to_str().unwrap(),
        ],
        Some(b""),
    );
    assert!(out.status.success());
    assert!(!npy.exists());
}

#[test]
fn similarity_prints_a_table_and_json() {
    let m = model("all-MiniLM-L6-v2");
    let m = m.to_str().unwrap();
    let texts = ["Cat scratch injury", "Cat scratch disease", "Bartonellosis"];
    let out = biolore(
        &["similarity", "--model", m, texts[0], texts[1], texts[2]],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[1].starts_with("[1] Cat scratch injury") && lines[1].contains("1.0000"));
    let out = biolore(
        &[
            "similarity",
            "--json",
            "--model",
            m,
            texts[0],
            texts[1],
            texts[2],
        ],
        None,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let matrix: Vec<Vec<f32>> = v["matrix"].as_array().unwrap().iter().map(floats).collect();
    for (i, row) in matrix.iter().enumerate() {
        assert!((row[i] - 1.0).abs() < 1e-5);
        for (j, value) in row.iter().enumerate() {
            assert!((value - matrix[j][i]).abs() < 1e-6);
        }
    }
    // A base model sees word overlap: the injury is nearer the disease than its synonym Bartonellosis.
    assert!(matrix[0][1] > matrix[0][2]);
}

#[test]
fn model_errors_are_clear() {
    let out = biolore(&["embed", "--model", "no-such-model", "x"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("setup.sh"), "{}", stderr(&out));

    // A corrupt weights file is named in the error.
    let dir = tempfile::tempdir().unwrap();
    let src = model("all-MiniLM-L6-v2");
    for f in [
        "config.json",
        "tokenizer.json",
        "modules.json",
        "sentence_bert_config.json",
    ] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
    std::fs::copy(
        src.join("1_Pooling/config.json"),
        dir.path().join("1_Pooling/config.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("model.safetensors"), b"truncated").unwrap();
    let out = biolore(
        &["embed", "--model", dir.path().to_str().unwrap(), "x"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("model.safetensors"),
        "{}",
        stderr(&out)
    );

    // A hub id that is neither cached nor reachable fails at once with a message.
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_biolore"))
        .args(["embed", "--model", "FremyCompany/BioLORD-2023", "x"])
        .env("HF_HUB_CACHE", cache.path())
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("FremyCompany/BioLORD-2023") && err.contains("unreachable"),
        "{err}"
    );
}

#[test]
fn hub_ids_resolve_from_the_local_cache() {
    // Lay out a hub cache whose snapshot is the installed MiniLM model.
    let cache = tempfile::tempdir().unwrap();
    let repo = cache
        .path()
        .join("models--sentence-transformers--all-MiniLM-L6-v2");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abcd").unwrap();
    std::fs::create_dir_all(repo.join("snapshots")).unwrap();
    let snapshot = repo.join("snapshots/0123abcd");
    copy_dir(&model("all-MiniLM-L6-v2"), &snapshot);
    let out = Command::new(env!("CARGO_BIN_EXE_biolore"))
        .args([
            "embed",
            "--model",
            "sentence-transformers/all-MiniLM-L6-v2",
            "fever",
        ])
        .env("HF_HUB_CACHE", cache.path())
        .env("BIOLORE_MODELS", cache.path().join("none"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(jsonl(&out)[0]["embedding"].as_array().unwrap().len(), 384);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Writes a Parquet file with an `id` column and a `text` column (nulls where `None`).
fn write_parquet(path: &Path, texts: &[Option<&str>]) {
    use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            std::sync::Arc::new(Int64Array::from_iter_values(0..texts.len() as i64))
                as std::sync::Arc<dyn Array>,
        ),
        (
            "text",
            std::sync::Arc::new(StringArray::from(texts.to_vec())) as std::sync::Arc<dyn Array>,
        ),
    ])
    .unwrap();
    let mut sink = biolore_columnar::ParquetSink::create(path, batch.schema()).unwrap();
    sink.write(&batch).unwrap();
    sink.finish().unwrap();
}

/// Every row of a Parquet file: (id, embedding or None).
fn read_embeddings(path: &Path) -> Vec<(i64, Option<Vec<f32>>)> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int64Type};
    use arrow_array::Array;
    let mut rows = Vec::new();
    for batch in biolore_columnar::ParquetBatches::open(path, 1000).unwrap() {
        let batch = batch.unwrap();
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            ["id", "text", "embedding"],
            "input columns kept, embedding added"
        );
        let ids = batch.column(0).as_primitive::<Int64Type>();
        let list = batch.column(2).as_list::<i32>();
        for i in 0..batch.num_rows() {
            let v = list.is_valid(i).then(|| {
                list.value(i)
                    .as_primitive::<Float32Type>()
                    .values()
                    .to_vec()
            });
            rows.push((ids.value(i), v));
        }
    }
    rows
}

#[test]
fn parquet_in_parquet_out_keeps_columns_and_matches_jsonl() {
    let m = model("all-MiniLM-L6-v2");
    let m = m.to_str().unwrap();
    let reference = reference("all-MiniLM-L6-v2");
    // More rows than one reading chunk holds, so batches stream.
    let texts: Vec<&str> = (0..5000)
        .map(|i| reference[i % reference.len()].0.as_str())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("names.parquet");
    write_parquet(&input, &texts.iter().map(|t| Some(*t)).collect::<Vec<_>>());
    let output = dir.path().join("vectors.parquet");
    let out = biolore(
        &[
            "embed",
            "--model",
            m,
            "--input",
            input.to_str().unwrap(),
            "--field",
            "text",
            "--output",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = read_embeddings(&output);
    assert_eq!(rows.len(), texts.len());
    for (i, (id, v)) in rows.iter().enumerate() {
        assert_eq!(*id, i as i64, "rows keep their order");
        let (_, want) = &reference[i % reference.len()];
        let v = v.as_ref().expect("a vector");
        assert!(
            cosine(v, want) >= 0.99999 && max_abs_diff(v, want) <= 2e-4,
            "row {i}"
        );
    }

    // A null text: an error naming the row (the earlier output stays), or a null embedding.
    let nulls = dir.path().join("nulls.parquet");
    write_parquet(&nulls, &[Some("fever"), None, Some("cough")]);
    let out = biolore(
        &[
            "embed",
            "--model",
            m,
            "--input",
            nulls.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("row 1"), "{}", stderr(&out));
    assert_eq!(
        read_embeddings(&output).len(),
        texts.len(),
        "the earlier output is kept"
    );
    assert!(!dir.path().join("vectors.parquet.partial").exists());
    let out = biolore(
        &[
            "embed",
            "--model",
            m,
            "--input",
            nulls.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--null-text",
            "skip",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 of 3 rows had a null text"),
        "{}",
        stderr(&out)
    );
    let rows = read_embeddings(&output);
    assert!(rows[0].1.is_some() && rows[1].1.is_none() && rows[2].1.is_some());

    // A missing column is named with the columns there are.
    let out = biolore(
        &[
            "embed",
            "--model",
            m,
            "--input",
            nulls.to_str().unwrap(),
            "--field",
            "body",
            "--output",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        stderr(&out).contains("no column \"body\"") && stderr(&out).contains("id, text"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn jsonl_and_text_inputs_write_parquet_with_their_fields() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int64Type};
    use arrow_array::Array;
    let m = model("all-MiniLM-L6-v2");
    let m = m.to_str().unwrap();
    let reference = reference("all-MiniLM-L6-v2");
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("names.jsonl");
    let mut body = String::new();
    for (i, (text, _)) in reference.iter().enumerate() {
        // `source` only on some records: a nullable column.
        let mut record = serde_json::json!({"id": i, "text": text});
        if i % 2 == 0 {
            record["source"] = serde_json::json!("even");
        }
        body.push_str(&format!("{record}\n"));
    }
    std::fs::write(&jsonl, body).unwrap();
    let output = dir.path().join("vectors.parquet");
    let out = biolore(
        &[
            "embed",
            "--model",
            m,
            "--jsonl",
            "--input",
            jsonl.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut seen = 0;
    for batch in biolore_columnar::ParquetBatches::open(&output, 1000).unwrap() {
        let batch = batch.unwrap();
        let mut names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["embedding", "id", "source", "text"],
            "every field kept"
        );
        let ids = batch
            .column_by_name("id")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        let source = batch.column_by_name("source").unwrap().clone();
        let list = batch
            .column_by_name("embedding")
            .unwrap()
            .as_list::<i32>()
            .clone();
        for row in 0..batch.num_rows() {
            let i = ids.value(row) as usize;
            assert_eq!(i, seen, "rows keep their order");
            assert_eq!(source.is_null(row), i % 2 == 1);
            let v = list.value(row);
            let v = v.as_primitive::<Float32Type>().values();
            assert!(cosine(v, &reference[i].1) >= 0.99999, "row {i}");
            seen += 1;
        }
    }
    assert_eq!(seen, reference.len());

    // Plain text lines: one column named by --field, then `embedding`.
    let text = dir.path().join("names.txt");
    std::fs::write(&text, "heart attack\nfever\n").unwrap();
    let out = biolore(
        &[
            "embed",
            "--model",
            m,
            "--input",
            text.to_str().unwrap(),
            "--field",
            "name",
            "--output",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let batch = biolore_columnar::ParquetBatches::open(&output, 1000)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let names: Vec<&str> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["name", "embedding"]);
    assert_eq!(batch.num_rows(), 2);
}
