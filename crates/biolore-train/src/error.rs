//! Errors of the training crate.

use std::path::PathBuf;

/// What can go wrong while preparing, running or saving training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The encoder could not be loaded or run.
    #[error(transparent)]
    Encoder(#[from] biolore_encoder::EncoderError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A configuration file or value is wrong.
    #[error("{path}: {message}")]
    Config {
        /// The file (or the option) at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Linking (mining hard negatives) failed.
    #[error(transparent)]
    Link(#[from] biolore_link::LinkError),
    /// A document file is malformed.
    #[error(transparent)]
    Text(#[from] biolore_text::TextError),
    /// A data file has a bad line.
    #[error("{path}:{line}: {message}")]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Models that cannot be combined, or a checkpoint that does not fit the run.
    #[error("{0}")]
    Mismatch(String),
    /// Nothing to train on or evaluate.
    #[error("{0}")]
    Empty(String),
}

/// Result with [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;

impl TrainError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
