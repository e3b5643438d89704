//! biolore's sentence encoders: load sentence-transformer models (MPNet, BERT, XLM-RoBERTa) and
//! turn text into vectors.
//!
//! The data path reads from the modules: [`tokens`] → the model library's encoder
//! architectures (`biolore-nn`) → [`pooling`], driven by [`encoder::Encoder`] with
//! length-sorted [`batching`]; [`folder`] and [`resolve`] find and read model folders.

pub mod batching;
pub mod encoder;
pub mod error;
pub mod folder;
pub mod pooling;
pub mod precision;
pub mod resolve;
pub mod tokens;

pub use batching::BatchLimits;
pub use encoder::{cosine, Embeddings, Encoder};
pub use error::{EncoderError, Result};
pub use folder::ModelSpec;
pub use pooling::Pooling;
pub use precision::{Int8Options, Int8Report, Precision};
pub use resolve::{resolve_model, DEFAULT_MODEL};
pub use tokens::{TextTokenizer, Token};
