//! Architectures built from the blocks: encoders (BERT, MPNet, RoBERTa/XLM-R) producing token
//! states, and decoders (Llama family, Qwen2) producing next-token logits.

pub mod bert;
pub mod config;
pub mod decoder;
pub mod decoder_checkpoint;
pub mod decoder_config;
pub mod encoder;
pub mod encoder_layer;
pub mod encoder_rows;
pub mod mpnet;

pub use config::{Architecture, TransformerConfig};
pub use decoder::Decoder;
pub use decoder_checkpoint::DecoderCheckpoint;
pub use decoder_config::{DecoderArchitecture, DecoderConfig};
pub use encoder::Transformer;
