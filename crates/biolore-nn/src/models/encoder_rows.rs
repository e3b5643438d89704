//! The encoder's inference pass over the real tokens only, in buffers each thread keeps.
//!
//! The tensor pass (the one training differentiates) works on the padded batch
//! `[batch, seq, hidden]` and gives every step a fresh tensor: nine per layer. For inference
//! on the CPU with packed or int8 dense layers, [`super::Transformer`] instead gathers the
//! embeddings' real rows into one `[tokens, hidden]` matrix, runs every layer on it in the
//! buffers here (grown once, then reused by every layer and every batch the thread encodes),
//! lets each sequence attend to itself alone (no padding mask, no padded rows in the dense
//! layers), and scatters the states back to `[batch, seq, hidden]` at the end, zero at padded
//! positions. Each real token's arithmetic is the tensor pass's, in the same order.

use std::cell::Cell;

use candle_core::{DType, Tensor};

use crate::blocks::attention::AttentionBuffers;

/// The buffers of one thread's inference passes: the hidden states and every intermediate.
#[derive(Debug, Default)]
pub struct RowBuffers {
    /// The hidden states `[rows, hidden]`: the layers' input and, after each, its output.
    pub hidden: Vec<f32>,
    /// The next hidden states while a layer norm writes them `[rows, hidden]`.
    pub spare: Vec<f32>,
    /// A dense layer's output before its residual and layer norm `[rows, hidden]`.
    pub projected: Vec<f32>,
    /// The feed-forward's inner activations `[rows, intermediate]`.
    pub inner: Vec<f32>,
    /// The attention's projections and context.
    pub attention: AttentionBuffers,
}

impl RowBuffers {
    /// Bytes the buffers hold on to.
    fn capacity_bytes(&self) -> usize {
        [&self.hidden, &self.spare, &self.projected, &self.inner]
            .iter()
            .map(|b| b.capacity() * 4)
            .sum::<usize>()
            + self.attention.capacity_bytes()
    }
}

/// Buffers larger than this (a batch of long documents) are freed after the pass instead of
/// being kept for the next.
const KEEP_BYTES: usize = 128 << 20;

thread_local! {
    /// This thread's buffers between passes.
    static BUFFERS: Cell<RowBuffers> = Cell::new(RowBuffers::default());
}

/// Runs `f` with this thread's buffers. They are taken out of the thread's slot for the call,
/// so a pass that this thread starts while waiting inside another (rayon work stealing) gets
/// fresh buffers instead of sharing them.
pub(crate) fn with_buffers<R>(f: impl FnOnce(&mut RowBuffers) -> R) -> R {
    let mut buffers = BUFFERS.take();
    let result = f(&mut buffers);
    if buffers.capacity_bytes() <= KEEP_BYTES {
        BUFFERS.set(buffers);
    }
    result
}

/// Where each sequence's real tokens lie in a right-padded batch, and in the gathered rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ragged {
    /// Sequence `s` is rows `starts[s]..starts[s + 1]` of the gathered matrix.
    pub starts: Vec<usize>,
    /// The padded length of the batch.
    pub padded: usize,
}

impl Ragged {
    /// The layout of a `[batch, seq]` 0/1 `mask`, or `None` when a row is not right-padded
    /// (ones, then zeros), which the tensor pass then handles.
    pub fn from_mask(mask: &Tensor) -> candle_core::Result<Option<Self>> {
        let (_, padded) = mask.dims2()?;
        let rows = mask.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let mut starts = Vec::with_capacity(rows.len() + 1);
        starts.push(0);
        for row in &rows {
            let len = row.iter().take_while(|&&m| m == 1.0).count();
            if row[len..].iter().any(|&m| m != 0.0) {
                return Ok(None);
            }
            starts.push(starts[starts.len() - 1] + len);
        }
        Ok(Some(Self { starts, padded }))
    }

    /// Number of real tokens.
    pub fn rows(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// The real rows of padded `[batch, padded, width]` data into `out` `[rows, width]`.
    pub fn gather(&self, padded: &[f32], width: usize, out: &mut Vec<f32>) {
        out.clear();
        for (s, w) in self.starts.windows(2).enumerate() {
            let from = s * self.padded * width;
            out.extend_from_slice(&padded[from..from + (w[1] - w[0]) * width]);
        }
    }

    /// Rows `[rows, width]` back in padded `[batch, padded, width]` layout, zero where padded.
    pub fn scatter(&self, rows: &[f32], width: usize) -> Vec<f32> {
        let batch = self.starts.len().saturating_sub(1);
        let mut out = vec![0f32; batch * self.padded * width];
        for (s, w) in self.starts.windows(2).enumerate() {
            let to = s * self.padded * width;
            let len = (w[1] - w[0]) * width;
            out[to..to + len].copy_from_slice(&rows[w[0] * width..w[1] * width]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn ragged_layout_gathers_and_scatters_real_rows() {
        let mask = Tensor::new(&[[1u32, 1, 1], [1, 0, 0], [0, 0, 0]], &Device::Cpu).unwrap();
        let ragged = Ragged::from_mask(&mask).unwrap().unwrap();
        assert_eq!(ragged.starts, vec![0, 3, 4, 4]);
        assert_eq!(ragged.rows(), 4);
        let padded: Vec<f32> = (0..3 * 3 * 2).map(|i| i as f32).collect();
        let mut rows = Vec::new();
        ragged.gather(&padded, 2, &mut rows);
        assert_eq!(rows, vec![0., 1., 2., 3., 4., 5., 6., 7.]);
        let back = ragged.scatter(&rows, 2);
        let mut want = vec![0f32; 18];
        want[..8].copy_from_slice(&rows);
        assert_eq!(back, want);
    }

    #[test]
    fn masks_that_are_not_right_padded_are_left_to_the_tensor_pass() {
        let mask = Tensor::new(&[[0u32, 1, 1]], &Device::Cpu).unwrap();
        assert_eq!(Ragged::from_mask(&mask).unwrap(), None);
        let mask = Tensor::new(&[[1f32, 0.5, 0.0]], &Device::Cpu).unwrap();
        assert_eq!(Ragged::from_mask(&mask).unwrap(), None);
    }
}
