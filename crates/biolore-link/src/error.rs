//! Typed errors of the linking library.

/// What can go wrong while linking or evaluating.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The encoder failed.
    #[error(transparent)]
    Encoder(#[from] biolore_encoder::EncoderError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] biolore_index::IndexError),
    /// A corpus file is malformed.
    #[error(transparent)]
    Pubtator(#[from] crate::pubtator::PubtatorError),
}

/// Result alias of the linking library.
pub type Result<T, E = LinkError> = std::result::Result<T, E>;
