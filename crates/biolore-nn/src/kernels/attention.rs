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
        if !bias.is_empty() {
            let b = &bias[r * bias_stride..r * bias_stride + width];
            for (s, &bv) in row.iter_mut().zip(b) {
                *s += bv;
            }
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
    /// Adds the bias to each row of `width` scores (query row `r` takes `bias[r·bias_stride..]`;
    /// an empty `bias` adds nothing) and replaces the row by its softmax, at the widest vector
    /// width the CPU has.
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
        let bias_stride = if bq == 1 { 0 } else { t };
        let c = OutPtr(out.as_mut_ptr());
        let head = |job: usize| {
            let (bi, h) = (job / heads, job % heads);
            let at = bi * t * hidden + h * head_dim;
            let bias_at = (if bb == 1 { 0 } else { bi }) * bh * bq * t
                + (if bh == 1 { 0 } else { h }) * bq * t;
            // SAFETY: q, k and v hold `t` rows of `hidden` from `at - h·head_dim`, so this
            // head's `t × head_dim` blocks lie inside them; the output block is this head's
            // columns of this batch item's rows, which no other job writes, and `out` outlives
            // every job.
            unsafe {
                attend_head(
                    (
                        qd.as_ptr().add(at),
                        kd.as_ptr().add(at),
                        vd.as_ptr().add(at),
                    ),
                    c.at(at),
                    (t, head_dim, hidden),
                    (&biasd[bias_at..], bias_stride),
                )
            }
        };
        run_jobs(b * heads, head);
    }
    Tensor::from_vec(out, (b, t, hidden), q.device()).map(Some)
}

/// One head of one sequence: `len` query rows attend to as many key and value rows (each
/// block `len × head_dim` at row stride `ld`), query row `r` adding `bias[r·bias_stride..]`
/// (an empty `bias` adds nothing), and the context goes to `c` (row stride `ld`). The scores
/// use this thread's buffer.
///
/// # Safety
/// `q`, `k` and `v` must point to `len` readable rows of `head_dim` floats at row stride `ld`,
/// `c` to as many writable rows that nothing else touches during the call; every size and
/// stride must fit in `i32`, and `bias` (when not empty) must hold `len` rows at `bias_stride`.
unsafe fn attend_head(
    (q, k, v): (*const f32, *const f32, *const f32),
    c: *mut f32,
    (len, head_dim, ld): (usize, usize, usize),
    (bias, bias_stride): (&[f32], usize),
) {
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut scores = SCORES.take();
    scores.resize(len * len, 0.0);
    super::gemm::sgemm_strided(
        true,
        (len, len, head_dim),
        scale,
        (q, ld),
        (k, ld),
        (scores.as_mut_ptr(), len),
    );
    bias_softmax(&mut scores, bias, len, bias_stride);
    super::gemm::sgemm_strided(
        false,
        (len, head_dim, len),
        1.0,
        (scores.as_ptr(), len),
        (v, ld),
        (c, ld),
    );
    SCORES.set(scores);
}

/// Runs `head` for jobs `0..jobs`, shared among the idle workers when the calling thread may
/// split its kernels ([`crate::runtime::kernel_split`]).
fn run_jobs(jobs: usize, head: impl Fn(usize) + Sync + Send) {
    let parts = crate::runtime::kernel_split().min(jobs);
    if parts > 1 {
        use rayon::prelude::*;
        (0..jobs)
            .into_par_iter()
            .with_min_len(jobs.div_ceil(parts))
            .for_each(head);
    } else {
        (0..jobs).for_each(head);
    }
}

thread_local! {
    /// This thread's attention scores, reused by every head it runs.
    static SCORES: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The relative-position bias of MPNet for [`attend_rows`]: `[heads, t, t]` for the batch's
/// padded length `t`; a sequence of length `l` takes the top-left `l × l` block of each head's.
#[derive(Debug, Clone, Copy)]
pub struct HeadBias<'a> {
    /// The biases, head after head.
    pub data: &'a [f32],
    /// The padded length `t`.
    pub t: usize,
}

/// `softmax(q kᵀ / √d + bias) v` for every head of every sequence of a ragged batch, for
/// inference: `q`, `k` and `v` hold the real tokens only, `[rows, hidden]` with `heads` heads
/// side by side, sequence `s` on rows `starts[s]..starts[s + 1]`; each sequence attends to itself
/// alone, so no padding mask is needed. The context goes into `out` `[rows, hidden]`. False
/// (and `out` untouched) when no BLAS is loaded or the sizes don't match. With idle workers
/// (see [`crate::runtime::kernel_split`]) the (sequence, head) pairs are shared among them.
pub fn attend_rows(
    (q, k, v): (&[f32], &[f32], &[f32]),
    (heads, hidden): (usize, usize),
    starts: &[usize],
    bias: Option<HeadBias<'_>>,
    out: &mut [f32],
) -> bool {
    let rows = starts.last().copied().unwrap_or(0);
    let longest = starts.windows(2).map(|w| w[1].saturating_sub(w[0])).max();
    let sizes_fit = heads > 0
        && hidden > 0
        && hidden % heads == 0
        && starts.first() == Some(&0)
        && starts.windows(2).all(|w| w[0] <= w[1])
        && [q.len(), k.len(), v.len(), out.len()]
            .iter()
            .all(|&len| Some(len) == rows.checked_mul(hidden))
        && i32::try_from(rows * hidden).is_ok()
        && bias.is_none_or(|b| {
            longest.is_some_and(|l| l <= b.t)
                && Some(b.data.len()) == b.t.checked_mul(b.t).and_then(|tt| tt.checked_mul(heads))
        });
    if !super::gemm::available() || !sizes_fit {
        return false;
    }
    let head_dim = hidden / heads;
    let c = OutPtr(out.as_mut_ptr());
    let head = |job: usize| {
        let (s, h) = (job / heads, job % heads);
        let (first, len) = (starts[s], starts[s + 1] - starts[s]);
        if len == 0 {
            return;
        }
        let at = first * hidden + h * head_dim;
        let bias = match bias {
            Some(b) => (&b.data[h * b.t * b.t..], b.t),
            None => (&[][..], 0),
        };
        // SAFETY: the sequence's `len` rows of `hidden` from row `first` lie inside q, k and v
        // (checked above), so this head's `len × head_dim` blocks do; the output block is this
        // head's columns of this sequence's rows, which no other job writes, and `out`
        // outlives every job.
        unsafe {
            attend_head(
                (q.as_ptr().add(at), k.as_ptr().add(at), v.as_ptr().add(at)),
                c.at(at),
                (len, head_dim, hidden),
                bias,
            )
        }
    };
    run_jobs((starts.len() - 1) * heads, head);
    true
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
