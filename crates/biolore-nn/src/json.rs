//! Reading a model folder's JSON files with errors that name the file.

use std::path::Path;

use crate::error::{ModelError, Result};

/// Reads and parses a JSON file; a missing file, unreadable file or bad JSON names the path.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ModelError::MissingFile {
            path: path.to_path_buf(),
            hint: "the model folder needs this file".into(),
        },
        _ => ModelError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::InvalidConfig {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
