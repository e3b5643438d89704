//! The index manifest: what was embedded with which model, and whether the build finished.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{io_error, IndexError, Result};

/// Version of the on-disk layout.
pub const FORMAT: u32 = 1;

/// `manifest.json` of an index folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub format: u32,
    /// The model as given (`--model`).
    pub model: String,
    /// The model folder it resolved to.
    pub model_path: String,
    /// Vector dimension.
    pub dim: usize,
    /// Number of distinct names.
    pub names: usize,
    /// Number of concepts in the KB.
    pub concepts: usize,
    /// Fingerprint of the name table (a resumed build must match it).
    pub fingerprint: u64,
    /// Where the KB came from.
    pub kb_source: String,
    /// True once every name is embedded.
    pub complete: bool,
    /// Seconds spent embedding (summed over resumed runs).
    pub embed_seconds: f64,
    /// How the vectors are stored (f32 when absent: indexes built before int8 existed).
    #[serde(default)]
    pub precision: crate::quantized::Precision,
}

impl Manifest {
    /// Reads `manifest.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(io_error(path))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| IndexError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if m.format != FORMAT {
            return Err(IndexError::Invalid {
                path: path.to_path_buf(),
                message: format!("layout version {} (this biolore reads {FORMAT})", m.format),
            });
        }
        Ok(m)
    }

    /// Writes `manifest.json` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(self).map_err(|e| IndexError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(io_error(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_error(path))
    }
}
