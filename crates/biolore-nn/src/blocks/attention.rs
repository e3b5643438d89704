//! Multi-head self-attention as BERT and MPNet compute it.

use candle_core::Tensor;

use super::dropout::Dropout;
use super::linear::Linear;

/// Query, key, value and output projections of one attention block.
#[derive(Debug, Clone)]
pub struct SelfAttention {
    /// Query projection.
    pub query: Linear,
    /// Key projection.
    pub key: Linear,
    /// Value projection.
    pub value: Linear,
    /// Output projection.
    pub output: Linear,
    /// Number of heads.
    pub heads: usize,
    /// Dropout on attention probabilities.
    pub dropout: Dropout,
}

impl SelfAttention {
    /// Attends over `x` `[batch, seq, hidden]` with an additive `bias` broadcastable to
    /// `[batch, heads, seq, seq]` (padding mask, plus MPNet's relative-position bias).
    pub fn forward(&self, x: &Tensor, bias: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let (b, t, hidden) = x.dims3()?;
        let head_dim = hidden / self.heads;
        let split = |y: Tensor| -> candle_core::Result<Tensor> {
            y.reshape((b, t, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (
            self.query.forward(x)?,
            self.key.forward(x)?,
            self.value.forward(x)?,
        );
        let tracked = [&q, &k, &v, bias].iter().any(|t| t.track_op());
        if !train && !tracked {
            if let Some(context) = crate::kernels::attention::attend(&q, &k, &v, bias, self.heads)?
            {
                return self.output.forward(&context);
            }
        }
        let (q, k, v) = (split(q)?, split(k)?, split(v)?);
        let scale = 1.0 / (head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(bias)?;
        let tracked = scores.track_op();
        let probs = if tracked {
            crate::kernels::softmax::softmax_last_dim_differentiable(&scores)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let probs = self.dropout.forward(&probs, train)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, hidden))?;
        self.output.forward(&context)
    }
}
