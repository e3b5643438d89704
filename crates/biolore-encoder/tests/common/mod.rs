//! Helpers for tests that run real models and read the shared fixtures.

#![allow(dead_code)]

use std::path::PathBuf;

/// The repository root. The first call also points the GEMM kernels at the OpenBLAS that
/// `scripts/setup.sh` installs beside the models (the library looks under `./models`, which
/// is not where tests run), before any test can load it without.
pub fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    static BLAS_DIR: std::sync::Once = std::sync::Once::new();
    BLAS_DIR.call_once(|| {
        let models = std::env::var_os("BIOLORE_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("models"));
        biolore_nn::kernels::gemm::add_search_dir(&models.join(".lib"));
    });
    root
}

/// Small fixtures committed with the repository (`fixtures/`).
pub fn fixtures() -> PathBuf {
    repo_root().join("fixtures")
}

/// A terminology installed by `scripts/setup.sh` under `data/terminologies` (or `$BIOLORE_DATA`);
/// a missing file fails the test.
pub fn terminology(name: &str) -> PathBuf {
    let path = std::env::var_os("BIOLORE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("data"))
        .join("terminologies")
        .join(name);
    assert!(
        path.is_file(),
        "{name} is not installed at {}: run scripts/setup.sh (the README's test command does)",
        path.display()
    );
    path
}

/// An installed model folder; a missing model fails the test (never a skip).
pub fn model_dir(name: &str) -> PathBuf {
    let root = repo_root();
    let dir = std::env::var_os("BIOLORE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models"))
        .join(name);
    assert!(
        dir.join("model.safetensors").is_file(),
        "model {name} is not installed at {}: run scripts/setup.sh (the README's test command does)",
        dir.display()
    );
    dir
}
