//! Multi-head self-attention as BERT and MPNet compute it.

use candle_core::Tensor;

use super::dropout::Dropout;
use super::linear::Linear;
use crate::kernels::attention::{attend_rows, HeadBias};

/// The buffers [`SelfAttention::forward_rows`] writes its projections and context into, kept
/// by the caller between passes.
#[derive(Debug, Default)]
pub struct AttentionBuffers {
    /// Queries `[rows, hidden]`.
    pub q: Vec<f32>,
    /// Keys `[rows, hidden]`.
    pub k: Vec<f32>,
    /// Values `[rows, hidden]`.
    pub v: Vec<f32>,
    /// The heads' context `[rows, hidden]`, before the output projection.
    pub context: Vec<f32>,
}

impl AttentionBuffers {
    /// Bytes the buffers hold on to.
    pub fn capacity_bytes(&self) -> usize {
        [&self.q, &self.k, &self.v, &self.context]
            .iter()
            .map(|b| b.capacity() * 4)
            .sum()
    }
}

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

    /// The attention of a ragged batch for inference, in the caller's buffers: `x` holds the
    /// real tokens only, `[rows, hidden]`, sequence `s` on rows `starts[s]..starts[s + 1]`;
    /// each sequence attends to itself (MPNet adds `bias`), and the output projection goes
    /// into `out` `[rows, hidden]`. Needs packed or int8 projections
    /// ([`Linear::runs_on_rows`]) and the BLAS (for the heads' products).
    pub fn forward_rows(
        &self,
        x: &[f32],
        starts: &[usize],
        bias: Option<HeadBias<'_>>,
        buffers: &mut AttentionBuffers,
        out: &mut [f32],
    ) -> candle_core::Result<()> {
        let rows = starts.last().copied().unwrap_or(0);
        let len = x.len();
        for buffer in [
            &mut buffers.q,
            &mut buffers.k,
            &mut buffers.v,
            &mut buffers.context,
        ] {
            buffer.resize(len, 0.0);
        }
        self.query.forward_rows(x, rows, &mut buffers.q, None)?;
        self.key.forward_rows(x, rows, &mut buffers.k, None)?;
        self.value.forward_rows(x, rows, &mut buffers.v, None)?;
        let qkv = (&buffers.q[..], &buffers.k[..], &buffers.v[..]);
        let shape = (self.heads, self.query.out_dim());
        if !attend_rows(qkv, shape, starts, bias, &mut buffers.context) {
            candle_core::bail!("attention on rows needs the BLAS and matching sizes")
        }
        self.output.forward_rows(&buffers.context, rows, out, None)
    }
}
