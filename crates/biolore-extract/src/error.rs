//! Typed errors of the extraction library.

use std::path::{Path, PathBuf};

/// What can go wrong while labelling, training, extracting or evaluating.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A line of an input file is malformed.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A model folder or file is unusable.
    #[error("{path}: {message}")]
    Model {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A teacher failed in a way that stops the run (not a single bad answer).
    #[error("teacher: {0}")]
    Teacher(String),
    /// Input that cannot be used (empty, inconsistent).
    #[error("{0}")]
    Invalid(String),
    /// The encoder or the model library failed.
    #[error(transparent)]
    Encoder(#[from] biolore_encoder::EncoderError),
    /// Linking extracted spans failed.
    #[error("linking extracted spans: {0}")]
    Link(#[from] biolore_link::LinkError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] biolore_train::TrainError),
    /// A document file is malformed.
    #[error(transparent)]
    Text(#[from] biolore_text::TextError),
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl ExtractError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result alias of the extraction library.
pub type Result<T, E = ExtractError> = std::result::Result<T, E>;
