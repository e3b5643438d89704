//! biolore's encoder engine: load sentence-transformer models (MPNet, BERT) and turn text into vectors.
//!
//! The data path reads from the modules: [`tokens`] → [`model`] → [`pooling`], driven by
//! [`encoder::Encoder`] with length-sorted [`batching`]; [`folder`], [`weights`] and [`resolve`]
//! find and read model folders; [`gemm`] holds the fast CPU matrix product.

pub mod batching;
pub mod encoder;
pub mod error;
pub mod folder;
pub mod gemm;
pub mod model;
pub mod pooling;
pub mod resolve;
pub mod runtime;
pub mod text;
pub mod tokens;
pub mod weights;

pub use batching::BatchLimits;
pub use encoder::{cosine, Embeddings, Encoder};
pub use error::{EncoderError, Result};
pub use folder::ModelSpec;
pub use pooling::Pooling;
pub use resolve::{resolve_model, DEFAULT_MODEL};
