//! Errors of the document readers: every one names the file, and the line where there is one.

use std::path::{Path, PathBuf};

/// A document file that cannot be read or is malformed.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid UTF-8.
    #[error("{path}:{line}: invalid UTF-8")]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
    },
    /// A line or value is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A document is inconsistent (for formats without meaningful line numbers).
    #[error("{path}: document '{document}': {message}")]
    Document {
        /// The file.
        path: PathBuf,
        /// The document's id.
        document: String,
        /// What is wrong.
        message: String,
    },
}

/// Results of this crate.
pub type Result<T, E = TextError> = std::result::Result<T, E>;

impl TextError {
    /// A malformed line of `path`.
    pub fn malformed(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// Decodes `bytes` read from `path` as UTF-8, naming the line of the first invalid byte.
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count();
        TextError::Utf8 {
            path: path.to_path_buf(),
            line,
        }
    })
}

/// Reads a whole UTF-8 file.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| TextError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode(path, bytes)
}
