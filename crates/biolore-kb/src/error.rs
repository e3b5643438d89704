//! Typed errors of the knowledge-base library.

use std::path::PathBuf;

/// What can go wrong reading or writing a knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// A file cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A malformed line or record, under the `fail` policy.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A stored KB file is corrupt or of another version.
    #[error("invalid knowledge base {path}: {message}")]
    InvalidStore {
        /// The KB file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The input held no concept at all.
    #[error("no concepts found in {0}")]
    Empty(String),
}

/// Result alias of the knowledge-base library.
pub type Result<T, E = KbError> = std::result::Result<T, E>;

/// Wraps an I/O error with its file.
pub fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> KbError + '_ {
    move |source| KbError::Io {
        path: path.to_path_buf(),
        source,
    }
}
