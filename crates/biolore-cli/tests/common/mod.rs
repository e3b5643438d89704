//! Helpers for the end-to-end tests that run the `biolore` binary on real models and data.

#![allow(dead_code)]

pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A committed test input under `fixtures/`.
pub fn fixture(p: &str) -> PathBuf {
    repo_root().join("fixtures").join(p)
}

/// The disease dictionary generated from NCBI-disease's training mentions (BioSyn format; see
/// fixtures/README.md): the tests' stand-in for MEDIC, which may not be redistributed.
pub fn disease_dictionary() -> PathBuf {
    fixture("ncbi-disease/disease-dictionary.txt")
}

/// Runs the binary in the repository root with `./models` as the models folder.
pub fn biolore(args: &[&str]) -> Output {
    let minilm = repo_root().join("models/all-MiniLM-L6-v2");
    assert!(
        minilm.join("model.safetensors").is_file(),
        "run scripts/setup.sh"
    );
    Command::new(env!("CARGO_BIN_EXE_biolore"))
        .args(args)
        .current_dir(repo_root())
        .env("BIOLORE_MODELS", repo_root().join("models"))
        .output()
        .expect("biolore runs")
}

/// The standard output of a successful run (the test fails with its stderr otherwise).
pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8")
}

/// The numbers of a JSON list, as f32.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Imports a BioSyn dictionary into `dir/medic.kb` and indexes it with MiniLM into
/// `dir/medic.idx`; returns the index folder.
pub fn index_dictionary(dict: &Path, dir: &Path) -> PathBuf {
    let kb = dir.join("medic.kb");
    let index = dir.join("medic.idx");
    let s = |p: &Path| p.to_str().expect("UTF-8 path").to_string();
    ok(biolore(&[
        "kb",
        "import",
        "--format",
        "biosyn",
        &s(dict),
        "--out",
        &s(&kb),
    ]));
    ok(biolore(&[
        "index",
        "build",
        "--kb",
        &s(&kb),
        "--model",
        "all-MiniLM-L6-v2",
        "--out",
        &s(&index),
    ]));
    index
}
