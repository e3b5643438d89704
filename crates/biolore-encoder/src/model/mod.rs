//! Encoder model code: configuration, layers, BERT and MPNet.

pub mod attention;
pub mod bert;
pub mod config;
pub mod gelu;
pub mod layer;
pub mod layers;
pub mod mpnet;
pub mod transformer;

pub use config::{Architecture, TransformerConfig};
pub use transformer::Transformer;
