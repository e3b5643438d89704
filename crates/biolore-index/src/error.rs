//! Typed errors of the index library.

use std::path::PathBuf;

/// What can go wrong building or opening an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A file of the index cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The index folder is incomplete, corrupt or of another kind.
    #[error("invalid index {path}: {message}")]
    Invalid {
        /// The index folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The encoder failed.
    #[error(transparent)]
    Encoder(#[from] biolore_encoder::EncoderError),
    /// The knowledge base failed to load or save.
    #[error(transparent)]
    Kb(#[from] biolore_kb::KbError),
    /// The build was interrupted (it resumes on the next run).
    #[error("interrupted after {done} of {total} names; run the same command again to resume")]
    Interrupted {
        /// Names embedded so far.
        done: usize,
        /// Names in all.
        total: usize,
    },
}

/// Result alias of the index library.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

/// Wraps an I/O error with its path.
pub fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}
