//! Transformer building blocks shared by inference and training: dense layers, norms,
//! activations, dropout, masks, rotary positions, attention (bidirectional and causal), the
//! KV cache and feed-forwards. Every block runs on the device its weights live on.

pub mod activation;
pub mod attention;
pub mod causal_attention;
pub mod dropout;
pub mod feed_forward;
pub mod kv_cache;
pub mod linear;
pub mod mask;
pub mod norm;
pub mod rope;

pub use activation::Activation;
pub use attention::SelfAttention;
pub use causal_attention::CausalSelfAttention;
pub use dropout::{seed_dropout, Dropout};
pub use feed_forward::SwiGlu;
pub use kv_cache::{DecoderCache, KvCache};
pub use linear::{Linear, LinearWeight};
pub use mask::{attention_bias, causal_bias};
pub use norm::{LayerNorm, RmsNorm};
pub use rope::{RopeStyle, RotaryEmbedding};
