//! Typed errors of the linking library.

use std::path::PathBuf;

/// What can go wrong while linking or evaluating.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The encoder or the generator (both model-library errors) failed.
    #[error(transparent)]
    Encoder(#[from] biolore_encoder::EncoderError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] biolore_index::IndexError),
    /// A knowledge base could not be imported or opened.
    #[error(transparent)]
    Kb(#[from] biolore_kb::KbError),
    /// A corpus file is malformed.
    #[error(transparent)]
    Text(#[from] biolore_text::TextError),
    /// A file or folder the linker needs is missing or unusable.
    #[error("{path}: {message}")]
    Path {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The model and the index do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// Building the default index failed.
    #[error("building {path}: {source}")]
    Build {
        /// The index folder.
        path: PathBuf,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result alias of the linking library.
pub type Result<T, E = LinkError> = std::result::Result<T, E>;
