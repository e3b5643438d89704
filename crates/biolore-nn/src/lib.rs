//! biolore's model library: transformer blocks, encoder and decoder architectures, heads,
//! devices and weight loading, for inference and training alike.
//!
//! Layers from the bottom up: [`kernels`] (BLAS GEMM, vectorised GELU) → [`blocks`] (linear,
//! norms, attention, rotary positions, KV cache, feed-forwards) → [`models`] (BERT, MPNet,
//! XLM-RoBERTa encoders; Llama and Qwen2 decoders) → [`heads`] (token classification, greedy
//! generation). [`weights`] and [`gguf`] read checkpoints; [`device`] parses `--device`.

pub mod blocks;
pub mod device;
pub mod error;
pub mod gguf;
pub mod heads;
pub mod json;
pub mod kernels;
pub mod models;
pub mod runtime;
pub mod weights;

pub use device::parse_device;
pub use error::{ModelError, Result};
