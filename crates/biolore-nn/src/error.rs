//! Typed errors of the model library (and of the encoder library, which re-exports them).

use std::path::PathBuf;

/// Everything that can go wrong while resolving, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file the model folder needs is absent.
    #[error("missing file {path}: {hint}")]
    MissingFile {
        /// The file that was looked for.
        path: PathBuf,
        /// What the file is for, or how to get it.
        hint: String,
    },
    /// A file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A JSON configuration file is malformed or lacks a field.
    #[error("invalid {path}: {message}")]
    InvalidConfig {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The model folder describes something biolore does not support.
    #[error("unsupported model in {path}: {message}")]
    Unsupported {
        /// The file that describes the model.
        path: PathBuf,
        /// What is not supported.
        message: String,
    },
    /// The weights file is corrupt or lacks a tensor the architecture needs.
    #[error("invalid weights in {path}: {message}")]
    InvalidWeights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer failed to load or to encode a text.
    #[error("tokenizer error ({context}): {message}")]
    Tokenizer {
        /// Where it happened: the tokenizer file or the text index.
        context: String,
        /// The tokenizer's message.
        message: String,
    },
    /// A model name could not be resolved to a folder.
    #[error("cannot resolve model '{name}': {message}")]
    Resolve {
        /// The name given by the user.
        name: String,
        /// Why it could not be resolved, and what to do.
        message: String,
    },
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Invalid arguments to an API call.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result alias of the model library.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
