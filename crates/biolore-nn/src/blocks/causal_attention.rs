//! Causal self-attention of decoder models: rotary positions, grouped-query heads, a KV cache.

use std::sync::Arc;

use candle_core::Tensor;

use super::kv_cache::KvCache;
use super::linear::Linear;
use super::mask::causal_bias;
use super::rope::RotaryEmbedding;

/// Query, key, value and output projections of one decoder attention block.
#[derive(Debug, Clone)]
pub struct CausalSelfAttention {
    /// Query projection `[heads·head_dim, hidden]`.
    pub query: Linear,
    /// Key projection `[kv_heads·head_dim, hidden]`.
    pub key: Linear,
    /// Value projection `[kv_heads·head_dim, hidden]`.
    pub value: Linear,
    /// Output projection `[hidden, heads·head_dim]`.
    pub output: Linear,
    /// Number of query heads.
    pub heads: usize,
    /// Number of key/value heads (fewer than `heads` for grouped-query attention).
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Rotary position tables shared by every layer.
    pub rope: Arc<RotaryEmbedding>,
}

/// Repeats each of `kv_heads` key/value heads `groups` times: `[b, kv, t, d]` → `[b, kv·groups, t, d]`.
pub fn repeat_kv(x: &Tensor, groups: usize) -> candle_core::Result<Tensor> {
    if groups == 1 {
        return Ok(x.clone());
    }
    let (b, kv, t, d) = x.dims4()?;
    x.unsqueeze(2)?
        .broadcast_as((b, kv, groups, t, d))?
        .reshape((b, kv * groups, t, d))
}

impl CausalSelfAttention {
    /// Attends over `x` `[batch, t, hidden]`, the tokens at positions `offset..offset + t`.
    ///
    /// With a `cache`, keys and values of earlier positions come from it and this step's are
    /// appended; `offset` must then equal the cache's length. `padding` is an optional additive
    /// bias broadcastable to `[batch, heads, t, offset + t]`.
    pub fn forward(
        &self,
        x: &Tensor,
        offset: usize,
        cache: Option<&mut KvCache>,
        padding: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let split = |y: Tensor, heads: usize| -> candle_core::Result<Tensor> {
            y.reshape((b, t, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(x)?, self.heads)?;
        let k = split(self.key.forward(x)?, self.kv_heads)?;
        let v = split(self.value.forward(x)?, self.kv_heads)?;
        let q = self.rope.apply(&q, offset)?;
        let k = self.rope.apply(&k, offset)?;
        let (k, v) = match cache {
            Some(cache) => {
                if cache.len() != offset {
                    candle_core::bail!(
                        "the KV cache holds {} positions but the step starts at {offset}",
                        cache.len()
                    )
                }
                cache.append(&k, &v)?
            }
            None => (k, v),
        };
        let groups = self.heads / self.kv_heads.max(1);
        let k = repeat_kv(&k, groups)?.contiguous()?;
        let v = repeat_kv(&v, groups)?.contiguous()?;
        let total = k.dim(2)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        if t > 1 {
            scores = scores.broadcast_add(&causal_bias(t, total - t, x.device())?)?;
        }
        if let Some(p) = padding {
            scores = scores.broadcast_add(p)?;
        }
        let probs = if scores.track_op() {
            crate::kernels::softmax::softmax_last_dim_differentiable(&scores)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores.contiguous()?)?
        };
        let context = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((
            b,
            t,
            self.heads * self.head_dim,
        ))?;
        self.output.forward(&context)
    }
}
