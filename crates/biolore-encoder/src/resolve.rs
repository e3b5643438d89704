//! Turning a `--model` argument into a local model folder.
//!
//! In order: an existing folder; a model installed under the models directory
//! (`BIOLORE_MODELS`, default `./models`); a hub id in the local Hugging Face cache
//! (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`); a download from
//! the hub with hf-hub (skipped when `HF_HUB_OFFLINE=1`; fails fast when the hub is unreachable).

use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{EncoderError, Result};

/// The model used when none is named: BioLORD-2023's base model.
pub const DEFAULT_MODEL: &str = "all-mpnet-base-v2";

/// Files fetched from the hub for a sentence-transformers model (those that exist).
const HUB_FILES: [&str; 7] = [
    "config.json",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

/// The directory holding installed models: `BIOLORE_MODELS`, else `./models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("BIOLORE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models"))
}

/// The decoder `biolore generate` and the generative linker use when none is named (fetched by
/// `scripts/setup.sh smollm2`).
pub const DEFAULT_DECODER: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// A decoder (a GGUF file or a Hugging Face folder): an existing path, else a file or folder
/// under the models directory; otherwise an error listing the GGUF files installed there.
pub fn resolve_decoder(spec: &str) -> Result<PathBuf> {
    let path = PathBuf::from(spec);
    if path.exists() {
        return Ok(path);
    }
    let dir = models_dir();
    let installed = dir.join(spec);
    if installed.exists() {
        return Ok(installed);
    }
    let mut known: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".gguf"))
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    Err(EncoderError::Resolve {
        name: spec.to_string(),
        message: format!(
            "no decoder of that name: not a path, and not under {} (GGUF files there: {}; `scripts/setup.sh smollm2` installs {DEFAULT_DECODER})",
            dir.display(),
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        ),
    })
}

/// Tells the GEMM kernels to look for the OpenBLAS that `scripts/setup.sh` installs under the models directory.
pub fn register_blas_dir() {
    biolore_nn::kernels::gemm::add_search_dir(&models_dir().join(".lib"));
}

/// The Hugging Face hub cache directory.
pub fn hf_cache_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("HF_HOME") {
        return Some(PathBuf::from(p).join("hub"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
}

/// Resolves a folder path, installed short name or hub id (`org/name[@revision]`) to a folder.
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(EncoderError::Resolve {
            name: spec.into(),
            message: "empty model name".into(),
        });
    }
    let as_path = Path::new(spec);
    if as_path.is_dir() {
        return Ok(as_path.to_path_buf());
    }
    let (id, revision) = match spec.split_once('@') {
        Some((id, rev)) => (id, rev),
        None => (spec, "main"),
    };
    let models = models_dir();
    let short = id.rsplit('/').next().unwrap_or(id);
    for candidate in [models.join(id), models.join(short)] {
        if candidate.join("config.json").is_file() {
            return Ok(candidate);
        }
    }
    let is_hub_id = id.split('/').count() == 2 && !id.starts_with('.') && !id.starts_with('/');
    if !is_hub_id {
        return Err(EncoderError::Resolve {
            name: spec.into(),
            message: format!(
                "no such folder, and no model '{short}' in {} (installed: {}). \
                 Run scripts/setup.sh to install the default models, or pass a folder or a hub id like FremyCompany/BioLORD-2023",
                models.display(),
                installed_models(&models).join(", ")
            ),
        });
    }
    if let Some(cache) = hf_cache_dir() {
        if let Some(found) = find_in_hf_cache(&cache, id, revision) {
            return Ok(found);
        }
    }
    if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        return Err(EncoderError::Resolve {
            name: spec.into(),
            message: "not in the local Hugging Face cache and HF_HUB_OFFLINE is set".into(),
        });
    }
    download_from_hub(id, revision)
}

/// Names of the model folders under `dir`.
pub fn installed_models(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("config.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    if names.is_empty() {
        names.push("none".into());
    }
    names
}

/// Looks up `models--org--name/snapshots/<commit>` in a hub cache, following `refs/<revision>`.
pub fn find_in_hf_cache(cache: &Path, id: &str, revision: &str) -> Option<PathBuf> {
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    let commit = std::fs::read_to_string(repo.join("refs").join(revision))
        .ok()
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| revision.to_string());
    let dir = snapshots.join(commit);
    dir.join("config.json").is_file().then_some(dir)
}

/// Checks within a few seconds that the hub's host accepts connections.
fn hub_reachable(endpoint: &str) -> std::result::Result<(), String> {
    let host = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("huggingface.co");
    let with_port = if host.contains(':') {
        host.to_string()
    } else if endpoint.starts_with("http://") {
        format!("{host}:80")
    } else {
        format!("{host}:443")
    };
    let addrs = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("no address for {host}");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Downloads a model's files with hf-hub into the Hugging Face cache and returns the snapshot folder.
fn download_from_hub(id: &str, revision: &str) -> Result<PathBuf> {
    let endpoint =
        std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".to_string());
    let fail = |message: String| EncoderError::Resolve {
        name: id.into(),
        message,
    };
    hub_reachable(&endpoint).map_err(|e| {
        fail(format!(
            "not in the local Hugging Face cache, and the hub is unreachable ({e}). \
             Download the model elsewhere and pass its folder, or put it under the models directory"
        ))
    })?;
    let mut builder = hf_hub::api::sync::ApiBuilder::from_env().with_endpoint(endpoint);
    if let Some(cache) = hf_cache_dir() {
        builder = builder.with_cache_dir(cache);
    }
    let api = builder
        .with_progress(true)
        .build()
        .map_err(|e| fail(format!("hub client: {e}")))?;
    let repo = api.repo(hf_hub::Repo::with_revision(
        id.to_string(),
        hf_hub::RepoType::Model,
        revision.to_string(),
    ));
    let config = repo
        .get("config.json")
        .map_err(|e| fail(format!("downloading config.json: {e}")))?;
    for file in HUB_FILES.iter().skip(1) {
        if let Err(e) = repo.get(file) {
            tracing::debug!("{id}: optional file {file} not fetched: {e}");
        }
    }
    if repo.get("model.safetensors").is_err() {
        repo.get("pytorch_model.bin").map_err(|e| {
            fail(format!(
                "downloading weights (model.safetensors or pytorch_model.bin): {e}"
            ))
        })?;
    }
    config
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| fail("unexpected cache layout".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_snapshots_in_a_hub_cache() {
        let cache = tempfile::tempdir().unwrap();
        let repo = cache.path().join("models--FremyCompany--BioLORD-2023");
        let snap = repo.join("snapshots/abc123");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        assert_eq!(
            find_in_hf_cache(cache.path(), "FremyCompany/BioLORD-2023", "main"),
            Some(snap.clone())
        );
        assert_eq!(
            find_in_hf_cache(cache.path(), "FremyCompany/BioLORD-2023", "abc123"),
            Some(snap)
        );
        assert_eq!(find_in_hf_cache(cache.path(), "x/y", "main"), None);
    }

    #[test]
    fn unknown_short_names_explain_what_to_do() {
        let e = resolve_model("no-such-model-xyz").unwrap_err().to_string();
        assert!(e.contains("setup.sh"), "{e}");
    }
}
