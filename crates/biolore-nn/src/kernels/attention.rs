//! Inference self-attention on the CPU, head by head, without reshaping anything.
//!
//! candle's path splits the query, key and value projections into heads (a transposed copy of
//! each), multiplies, scales, adds the bias and takes the softmax (a pass and a buffer each),
//! then transposes the context back: eight passes over the activations besides the two
//! products. Here each head's columns are read in place from the `[batch, seq, hidden]`
//! projections by strided BLAS products (the scale folded into the first), the bias and softmax
//! are one vectorised pass over each row of scores, and the context is written straight into
//! its head's columns of the output.

use candle_core::{Device, Tensor};

use super::gelu::exp_neg;
use super::gemm::OutPtr;
use super::simd::{lane_sum, multiversion, LANES};
use super::storage_f32;

#[inline(always)]
fn lane_max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = a.max(v);
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a = a.max(v);
    }
    acc.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

#[inline(always)]
fn bias_softmax_body(scores: &mut [f32], bias: &[f32], width: usize, bias_stride: usize) {
    for (r, row) in scores.chunks_exact_mut(width).enumerate() {
        let b = &bias[r * bias_stride..r * bias_stride + width];
        for (s, &bv) in row.iter_mut().zip(b) {
            *s += bv;
        }
        let max = lane_max(row);
        for s in row.iter_mut() {
            *s = exp_neg(*s - max);
        }
        let inv = 1.0 / lane_sum(row, |v| v);
        for s in row.iter_mut() {
            *s *= inv;
        }
    }
}

multiversion!(
    /// Adds the bias to each row of `width` scores (query row `r` takes `bias[r·bias_stride..]`)
    /// and replaces the row by its softmax, at the widest vector width the CPU has.
    pub fn bias_softmax / bias_softmax_at (
        scores: &mut [f32],
        bias: &[f32],
        width: usize,
        bias_stride: usize,
    ) => bias_softmax_body
);

/// `softmax(q kᵀ / √d + bias) v` for every head, for inference: `q`, `k`, `v` are the
/// projections `[batch, seq, hidden]` (heads side by side in `hidden`) and `bias` is
/// broadcastable to `[batch, heads, seq, seq]` (the padding mask `[batch, 1, 1, seq]`, or with
/// MPNet's relative positions `[batch, heads, seq, seq]`). Returns the context
/// `[batch, seq, hidden]`, or `None` (the caller uses candle) when no BLAS is loaded or the
/// tensors are not contiguous f32 CPU tensors of those shapes. With idle workers (see
/// [`crate::runtime::kernel_split`]) the heads are shared among them.
pub fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: &Tensor,
    heads: usize,
) -> candle_core::Result<Option<Tensor>> {
    let on_cpu = |t: &Tensor| matches!(t.device(), Device::Cpu);
    if !super::gemm::available()
        || ![q, k, v, bias].into_iter().all(on_cpu)
        || heads == 0
        || k.shape() != q.shape()
        || v.shape() != q.shape()
    {
        return Ok(None);
    }
    let (b, t, hidden) = q.dims3()?;
    let Ok((bb, bh, bq, bt)) = bias.dims4() else {
        return Ok(None);
    };
    let fits = |dim: usize, full: usize| dim == 1 || dim == full;
    if hidden % heads != 0
        || !fits(bb, b)
        || !fits(bh, heads)
        || !fits(bq, t)
        || bt != t
        || i32::try_from(b * t * hidden).is_err()
    {
        return Ok(None);
    }
    let head_dim = hidden / heads;
    let bias = bias.contiguous()?;
    let mut out = vec![0f32; b * t * hidden];
    {
        let guards = [q, k, v, &bias].map(|t| t.storage_and_layout());
        let [Some(qd), Some(kd), Some(vd), Some(biasd)] =
            guards.each_ref().map(|(s, l)| storage_f32(s, l))
        else {
            return Ok(None);
        };
        if [qd, kd, vd].iter().any(|d| d.len() != b * t * hidden) || biasd.len() != bb * bh * bq * t
        {
            return Ok(None);
        }
        let scale = 1.0 / (head_dim as f32).sqrt();
        let bias_stride = if bq == 1 { 0 } else { t };
        let c = OutPtr(out.as_mut_ptr());
        let head = |job: usize, scores: &mut Vec<f32>| {
            let (bi, h) = (job / heads, job % heads);
            let at = bi * t * hidden + h * head_dim;
            let bias_at = (if bb == 1 { 0 } else { bi }) * bh * bq * t
                + (if bh == 1 { 0 } else { h }) * bq * t;
            scores.resize(t * t, 0.0);
            // SAFETY: q and k hold `t` rows of `hidden` from `at - h·head_dim`, so this head's
            // `t × head_dim` blocks lie inside them; `scores` holds `t × t`.
            unsafe {
                super::gemm::sgemm_strided(
                    true,
                    (t, t, head_dim),
                    scale,
                    (qd.as_ptr().add(at), hidden),
                    (kd.as_ptr().add(at), hidden),
                    (scores.as_mut_ptr(), t),
                );
            }
            bias_softmax(scores, &biasd[bias_at..], t, bias_stride);
            // SAFETY: v's block for this head lies inside v as above; the output block is
            // this head's columns of this batch item's rows, which no other job writes, and
            // `out` outlives every job.
            unsafe {
                super::gemm::sgemm_strided(
                    false,
                    (t, head_dim, t),
                    1.0,
                    (scores.as_ptr(), t),
                    (vd.as_ptr().add(at), hidden),
                    (c.at(at), hidden),
                );
            }
        };
        let jobs = b * heads;
        let parts = crate::runtime::kernel_split().min(jobs);
        if parts > 1 {
            use rayon::prelude::*;
            (0..jobs)
                .into_par_iter()
                .with_min_len(jobs.div_ceil(parts))
                .for_each_init(Vec::new, |scores, job| head(job, scores));
        } else {
            let mut scores = Vec::new();
            for job in 0..jobs {
                head(job, &mut scores);
            }
        }
    }
    Tensor::from_vec(out, (b, t, hidden), q.device()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_gives_the_same_bits_at_every_width() {
        let width = 37;
        let scores: Vec<f32> = (0..width * 5)
            .map(|i| ((i * 31) % 97) as f32 / 9.0 - 4.0)
            .collect();
        let bias: Vec<f32> = (0..width)
            .map(|i| if i > 30 { f32::MIN } else { 0.0 })
            .collect();
        let mut base = scores.clone();
        bias_softmax_at(super::super::simd::Level::Base, &mut base, &bias, width, 0);
        for row in base.chunks_exact(width) {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5);
            assert!(row[31..].iter().all(|&p| p < 1e-30));
        }
        for level in super::super::simd::Level::supported() {
            let mut s = scores.clone();
            bias_softmax_at(level, &mut s, &bias, width, 0);
            assert!(
                s.iter().zip(&base).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{level:?}"
            );
        }
    }
}
