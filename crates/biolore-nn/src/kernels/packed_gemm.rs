//! The float32 GEMM for inference with weights packed once at load: `y = x Wᵀ + b`.
//!
//! A BLAS `sgemm` copies both operands into its own panel layout on every call. For a dense
//! layer the weight never changes, so [`PackedF32`] lays it out once, in panels of [`PANEL`]
//! output columns with the inputs running down each panel, and the kernels here read it in
//! place: no copy per call, and a batch of one reads each weight once, which is what bounds its
//! latency. Activations are read where they lie.
//!
//! Every output is `(Σₖ x[i,k]·W[j,k]) + b[j]`, the sum taken in order of `k` with fused
//! multiply-adds starting from zero, and the bias added last. The AVX-512F kernel (12 rows × 32
//! columns in 24 registers), the AVX2 + FMA kernel (6 rows × 16 columns) and the portable loop
//! therefore give the same bits, whatever the cache blocking or the split across threads. The
//! kernel follows the element-wise kernels' level ([`super::simd::level`], capped by
//! `BIOLORE_SIMD`); below AVX2 the caller keeps the BLAS, and `BIOLORE_GEMM=blas` keeps it
//! everywhere (see [`enabled`]).

use std::ops::Range;

use super::gemm::{Epilogue, OutPtr};
use super::simd::Level;

/// Output columns per packed panel (two 512-bit registers per row; the AVX2 kernel takes a
/// panel as two halves of 16 columns).
pub const PANEL: usize = 32;
/// Inputs per cache block: one panel's block (`KC × PANEL` floats, 32 KiB) stays in L1 while
/// every row tile of a row block runs over it.
const KC: usize = 256;
/// Rows per cache block: the activations' block (`MC × KC` floats, 96 KiB) stays in L2 while
/// every panel runs over it.
const MC: usize = 96;
/// Rows per AVX-512 tile.
const MR_512: usize = 12;
/// Rows per AVX2 tile.
const MR_256: usize = 6;
/// Multiply-adds below which a product is not split across threads.
const MIN_SPLIT_WORK: usize = 1 << 20;
/// Alignment of the packed data, in floats (one 64-byte cache line).
const ALIGN: usize = 16;

/// A weight matrix `[n, k]` (PyTorch's `[out, in]`) and its bias, laid out for the kernels.
///
/// Layout: `⌈n / PANEL⌉` panels, each `k` rows of [`PANEL`] floats (columns past `n` are zero),
/// starting on a cache line.
#[derive(Debug)]
pub struct PackedF32 {
    n: usize,
    k: usize,
    panels: usize,
    /// The panels, from `offset` on (so that they start on a cache line).
    data: Vec<f32>,
    offset: usize,
    /// The bias padded to whole panels (empty without one).
    bias: Vec<f32>,
}

impl PackedF32 {
    /// Packs a row-major `[n, k]` matrix and an optional bias `[n]`; `None` when the sizes
    /// don't match.
    pub fn pack(w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Option<Self> {
        if w.len() != n.checked_mul(k)? || n == 0 || k == 0 || bias.is_some_and(|b| b.len() != n) {
            return None;
        }
        let panels = n.div_ceil(PANEL);
        let mut data = vec![0f32; panels * k * PANEL + ALIGN];
        let offset = (ALIGN - (data.as_ptr() as usize / 4) % ALIGN) % ALIGN;
        {
            let packed = &mut data[offset..offset + panels * k * PANEL];
            for (j, row) in w.chunks_exact(k).enumerate() {
                let (p, col) = (j / PANEL, j % PANEL);
                let panel = &mut packed[p * k * PANEL..(p + 1) * k * PANEL];
                for (kk, &v) in row.iter().enumerate() {
                    panel[kk * PANEL + col] = v;
                }
            }
        }
        let bias = match bias {
            Some(b) => {
                let mut padded = b.to_vec();
                padded.resize(panels * PANEL, 0.0);
                padded
            }
            None => Vec::new(),
        };
        Some(Self {
            n,
            k,
            panels,
            data,
            offset,
            bias,
        })
    }

    /// Number of outputs (`n`).
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Number of inputs (`k`).
    pub fn cols(&self) -> usize {
        self.k
    }

    /// Whether the layer has a bias.
    pub fn has_bias(&self) -> bool {
        !self.bias.is_empty()
    }

    /// The weight back in its row-major `[n, k]` layout.
    pub fn unpack(&self) -> Vec<f32> {
        let packed = self.panels_data();
        let mut w = vec![0f32; self.n * self.k];
        for (j, row) in w.chunks_exact_mut(self.k).enumerate() {
            let (p, col) = (j / PANEL, j % PANEL);
            for (kk, v) in row.iter_mut().enumerate() {
                *v = packed[p * self.k * PANEL + kk * PANEL + col];
            }
        }
        w
    }

    /// The bias (`None` without one).
    pub fn bias(&self) -> Option<&[f32]> {
        (!self.bias.is_empty()).then(|| &self.bias[..self.n])
    }

    fn panels_data(&self) -> &[f32] {
        &self.data[self.offset..self.offset + self.panels * self.k * PANEL]
    }
}

/// Whether the packed kernels run on this CPU at the current level (AVX2 + FMA or wider).
pub fn available() -> bool {
    super::simd::level() >= Level::Avx2
}

/// Whether encoders pack their float32 weights for these kernels at load: when they run here
/// ([`available`]) and `BIOLORE_GEMM` is not `blas` (which keeps the per-call BLAS path).
pub fn enabled() -> bool {
    available()
        && !std::env::var("BIOLORE_GEMM").is_ok_and(|v| v.trim().eq_ignore_ascii_case("blas"))
}

/// `out = x Wᵀ + b` for row-major `x` `[m, k]` and `out` `[m, n]`, then `epilogue` over the
/// output, at the current level; false (and `out` untouched) when the sizes don't match, `m` is
/// 0 or the CPU is below AVX2.
///
/// When the calling thread may split its kernels ([`crate::runtime::kernel_split`]) and the
/// product is large enough, the panels are shared among that many parts on the rayon pool.
pub fn gemm(
    x: &[f32],
    m: usize,
    w: &PackedF32,
    out: &mut [f32],
    epilogue: Option<Epilogue<'_>>,
) -> bool {
    if !available() {
        return false;
    }
    gemm_at(super::simd::level(), x, m, w, out, epilogue)
}

/// [`gemm`] at a given level (clamped to what the CPU has; the portable loop below AVX2).
pub fn gemm_at(
    level: Level,
    x: &[f32],
    m: usize,
    w: &PackedF32,
    out: &mut [f32],
    epilogue: Option<Epilogue<'_>>,
) -> bool {
    let (n, k) = (w.n, w.k);
    if m == 0 || Some(x.len()) != m.checked_mul(k) || Some(out.len()) != m.checked_mul(n) {
        return false;
    }
    let level = level.min(super::simd::level_supported());
    let parts = crate::runtime::kernel_split().min(w.panels).max(1);
    let c = OutPtr(out.as_mut_ptr());
    let job = Job {
        level,
        x,
        m,
        w,
        c,
        epilogue,
    };
    if parts == 1 || m * n * k < MIN_SPLIT_WORK {
        // SAFETY: `x` is `[m, k]`, `out` `[m, n]` (checked above) and exclusively borrowed.
        unsafe { job.run(0..w.panels) };
        return true;
    }
    let per_part = w.panels.div_ceil(parts);
    use rayon::prelude::*;
    (0..w.panels.div_ceil(per_part))
        .into_par_iter()
        .for_each(|part| {
            let first = part * per_part;
            // SAFETY: each part writes only the columns of its own panels, and `out` outlives
            // the parallel loop.
            unsafe { job.run(first..(first + per_part).min(w.panels)) };
        });
    true
}

/// One product, shared by the parts that compute its panels.
#[derive(Clone, Copy)]
struct Job<'a> {
    level: Level,
    x: &'a [f32],
    m: usize,
    w: &'a PackedF32,
    c: OutPtr,
    epilogue: Option<Epilogue<'a>>,
}

impl Job<'_> {
    /// Computes the output columns of `panels` for every row, then runs the epilogue on them.
    ///
    /// # Safety
    /// `c` must point to the `[m, n]` output, and no other thread may touch these columns.
    unsafe fn run(&self, panels: Range<usize>) {
        let (n, k) = (self.w.n, self.w.k);
        let packed = self.w.panels_data().as_ptr();
        let first_col = panels.start * PANEL;
        let last_col = (panels.end * PANEL).min(n);
        for i0 in (0..self.m).step_by(MC) {
            let mc = MC.min(self.m - i0);
            for k0 in (0..k).step_by(KC) {
                let kc = KC.min(k - k0);
                let last = k0 + kc == k;
                for p in panels.clone() {
                    let cols = PANEL.min(n - p * PANEL);
                    let bias = if last && self.w.has_bias() {
                        self.w.bias.as_ptr().add(p * PANEL)
                    } else {
                        std::ptr::null()
                    };
                    let tile = Tile {
                        a: self.x.as_ptr().add(i0 * k + k0),
                        lda: k,
                        b: packed.add(p * k * PANEL + k0 * PANEL),
                        kc,
                        c: self.c.at(i0 * n + p * PANEL),
                        ldc: n,
                        first: k0 == 0,
                        bias,
                    };
                    run_tiles(self.level, &tile, mc, cols);
                }
            }
            if let Some(f) = self.epilogue {
                for r in i0..i0 + mc {
                    f(std::slice::from_raw_parts_mut(
                        self.c.at(r * n + first_col),
                        last_col - first_col,
                    ));
                }
            }
        }
    }
}

/// One row block of one panel over one block of inputs.
#[derive(Clone, Copy)]
struct Tile {
    /// First activation, row stride `lda`.
    a: *const f32,
    lda: usize,
    /// The panel's first packed row of this input block (`kc` rows of [`PANEL`]).
    b: *const f32,
    kc: usize,
    /// First output, row stride `ldc`.
    c: *mut f32,
    ldc: usize,
    /// Whether this is the first input block (sums start from zero, else from `c`).
    first: bool,
    /// The panel's bias when this is the last input block, else null.
    bias: *const f32,
}

impl Tile {
    /// The same tile `rows` rows further down (may point one row block past the end when no
    /// rows are left, hence the wrapping arithmetic: such a tile is never read or written).
    fn down(&self, rows: usize) -> Tile {
        Tile {
            a: self.a.wrapping_add(rows * self.lda),
            c: self.c.wrapping_add(rows * self.ldc),
            ..*self
        }
    }
}

/// Runs `rows` rows of a panel's `cols` valid columns (a short last panel goes through a
/// full-width scratch tile).
unsafe fn run_tiles(level: Level, tile: &Tile, rows: usize, cols: usize) {
    if cols == PANEL {
        return run_rows(level, tile, rows);
    }
    let mut scratch = [0f32; MR_512 * PANEL];
    let mut r = 0;
    while r < rows {
        let h = MR_512.min(rows - r);
        let t = tile.down(r);
        for i in 0..h {
            if !t.first {
                std::ptr::copy_nonoverlapping(
                    t.c.add(i * t.ldc),
                    scratch.as_mut_ptr().add(i * PANEL),
                    cols,
                );
            }
        }
        let s = Tile {
            c: scratch.as_mut_ptr(),
            ldc: PANEL,
            ..t
        };
        run_rows(level, &s, h);
        for i in 0..h {
            std::ptr::copy_nonoverlapping(
                scratch.as_ptr().add(i * PANEL),
                t.c.add(i * t.ldc),
                cols,
            );
        }
        r += h;
    }
}

/// Runs `rows` rows of a full panel with the level's kernel.
unsafe fn run_rows(level: Level, tile: &Tile, rows: usize) {
    #[cfg(target_arch = "x86_64")]
    match level {
        Level::Avx512 => return x86::rows_512(tile, rows),
        Level::Avx2 => return x86::rows_256(tile, rows),
        Level::Base => {}
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    portable_rows(tile, rows)
}

/// The portable kernel: the same fused multiply-adds in the same order, one value at a time.
unsafe fn portable_rows(tile: &Tile, rows: usize) {
    for i in 0..rows {
        for j in 0..PANEL {
            let c = tile.c.add(i * tile.ldc + j);
            let mut acc = if tile.first { 0.0 } else { *c };
            for kk in 0..tile.kc {
                acc = (*tile.a.add(i * tile.lda + kk)).mul_add(*tile.b.add(kk * PANEL + j), acc);
            }
            if !tile.bias.is_null() {
                acc += *tile.bias.add(j);
            }
            *c = acc;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Tile, MR_256, MR_512, PANEL};
    use std::arch::x86_64::*;

    /// Runs `rows` rows in tiles of [`MR_512`] (the last one shorter).
    pub(super) unsafe fn rows_512(tile: &Tile, rows: usize) {
        let mut r = 0;
        while r + MR_512 <= rows {
            tile_512::<MR_512>(&tile.down(r));
            r += MR_512;
        }
        let t = tile.down(r);
        match rows - r {
            0 => {}
            1 => tile_512::<1>(&t),
            2 => tile_512::<2>(&t),
            3 => tile_512::<3>(&t),
            4 => tile_512::<4>(&t),
            5 => tile_512::<5>(&t),
            6 => tile_512::<6>(&t),
            7 => tile_512::<7>(&t),
            8 => tile_512::<8>(&t),
            9 => tile_512::<9>(&t),
            10 => tile_512::<10>(&t),
            _ => tile_512::<11>(&t),
        }
    }

    /// `R` rows × 32 columns in two 512-bit registers per row.
    #[target_feature(enable = "avx512f")]
    unsafe fn tile_512<const R: usize>(t: &Tile) {
        let mut lo = [_mm512_setzero_ps(); R];
        let mut hi = [_mm512_setzero_ps(); R];
        if !t.first {
            for i in 0..R {
                lo[i] = _mm512_loadu_ps(t.c.add(i * t.ldc));
                hi[i] = _mm512_loadu_ps(t.c.add(i * t.ldc + 16));
            }
        }
        for kk in 0..t.kc {
            let b0 = _mm512_loadu_ps(t.b.add(kk * PANEL));
            let b1 = _mm512_loadu_ps(t.b.add(kk * PANEL + 16));
            for i in 0..R {
                let a = _mm512_set1_ps(*t.a.add(i * t.lda + kk));
                lo[i] = _mm512_fmadd_ps(a, b0, lo[i]);
                hi[i] = _mm512_fmadd_ps(a, b1, hi[i]);
            }
        }
        if !t.bias.is_null() {
            let b0 = _mm512_loadu_ps(t.bias);
            let b1 = _mm512_loadu_ps(t.bias.add(16));
            for i in 0..R {
                lo[i] = _mm512_add_ps(lo[i], b0);
                hi[i] = _mm512_add_ps(hi[i], b1);
            }
        }
        for i in 0..R {
            _mm512_storeu_ps(t.c.add(i * t.ldc), lo[i]);
            _mm512_storeu_ps(t.c.add(i * t.ldc + 16), hi[i]);
        }
    }

    /// Runs `rows` rows in tiles of [`MR_256`], each panel as two halves of 16 columns.
    pub(super) unsafe fn rows_256(tile: &Tile, rows: usize) {
        for half in [0, 16] {
            let h = Tile {
                b: tile.b.add(half),
                c: tile.c.add(half),
                bias: if tile.bias.is_null() {
                    tile.bias
                } else {
                    tile.bias.add(half)
                },
                ..*tile
            };
            let mut r = 0;
            while r + MR_256 <= rows {
                tile_256::<MR_256>(&h.down(r));
                r += MR_256;
            }
            let t = h.down(r);
            match rows - r {
                0 => {}
                1 => tile_256::<1>(&t),
                2 => tile_256::<2>(&t),
                3 => tile_256::<3>(&t),
                4 => tile_256::<4>(&t),
                _ => tile_256::<5>(&t),
            }
        }
    }

    /// `R` rows × 16 columns (of a 32-column panel) in two 256-bit registers per row.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile_256<const R: usize>(t: &Tile) {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        if !t.first {
            for i in 0..R {
                lo[i] = _mm256_loadu_ps(t.c.add(i * t.ldc));
                hi[i] = _mm256_loadu_ps(t.c.add(i * t.ldc + 8));
            }
        }
        for kk in 0..t.kc {
            let b0 = _mm256_loadu_ps(t.b.add(kk * PANEL));
            let b1 = _mm256_loadu_ps(t.b.add(kk * PANEL + 8));
            for i in 0..R {
                let a = _mm256_set1_ps(*t.a.add(i * t.lda + kk));
                lo[i] = _mm256_fmadd_ps(a, b0, lo[i]);
                hi[i] = _mm256_fmadd_ps(a, b1, hi[i]);
            }
        }
        if !t.bias.is_null() {
            let b0 = _mm256_loadu_ps(t.bias);
            let b1 = _mm256_loadu_ps(t.bias.add(8));
            for i in 0..R {
                lo[i] = _mm256_add_ps(lo[i], b0);
                hi[i] = _mm256_add_ps(hi[i], b1);
            }
        }
        for i in 0..R {
            _mm256_storeu_ps(t.c.add(i * t.ldc), lo[i]);
            _mm256_storeu_ps(t.c.add(i * t.ldc + 8), hi[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..rows * cols)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    /// The product in f64, for a tolerance check.
    fn reference(
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        m: usize,
        n: usize,
        k: usize,
    ) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|kk| x[i * k + kk] as f64 * w[j * k + kk] as f64)
                    .sum();
                out[i * n + j] = (s + b.map_or(0.0, |b| b[j] as f64)) as f32;
            }
        }
        out
    }

    #[test]
    fn every_level_gives_the_same_bits_and_the_product() {
        // Odd sizes: short row tiles, a short last panel, a short last input block.
        for &(m, n, k, bias) in &[
            (1, 32, 8, true),
            (5, 45, 300, true),
            (13, 64, 257, false),
            (97, 70, 513, true),
            (25, 96, 33, true),
        ] {
            let x = matrix(m, k, 1 + m as u64);
            let w = matrix(n, k, 7 + n as u64);
            let b = matrix(1, n, 3);
            let packed = PackedF32::pack(&w, n, k, bias.then_some(&b[..])).unwrap();
            let want = reference(&x, &w, bias.then_some(&b[..]), m, n, k);
            let mut base = vec![f32::NAN; m * n];
            assert!(gemm_at(Level::Base, &x, m, &packed, &mut base, None));
            for (got, want) in base.iter().zip(&want) {
                assert!((got - want).abs() <= 1e-4, "{m}x{n}x{k}: {got} vs {want}");
            }
            for level in crate::kernels::simd::Level::supported() {
                let mut out = vec![f32::NAN; m * n];
                assert!(gemm_at(level, &x, m, &packed, &mut out, None));
                let same = out
                    .iter()
                    .zip(&base)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{m}x{n}x{k} at {}", level.name());
            }
        }
    }

    #[test]
    fn splitting_across_threads_changes_no_bit() {
        let (m, n, k) = (40, 256, 384);
        let x = matrix(m, k, 11);
        let w = matrix(n, k, 12);
        let b = matrix(1, n, 13);
        let packed = PackedF32::pack(&w, n, k, Some(&b)).unwrap();
        let mut one = vec![0f32; m * n];
        crate::runtime::with_kernel_split(1, || {
            gemm_at(Level::Base, &x, m, &packed, &mut one, None)
        });
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for level in crate::kernels::simd::Level::supported() {
            let mut split = vec![0f32; m * n];
            let epilogue = |v: &mut [f32]| v.iter_mut().for_each(|x| *x *= 2.0);
            pool.install(|| {
                crate::runtime::with_kernel_split(3, || {
                    gemm_at(level, &x, m, &packed, &mut split, Some(&epilogue))
                })
            });
            let same = split
                .iter()
                .zip(&one)
                .all(|(a, b)| a.to_bits() == (b * 2.0).to_bits());
            assert!(same, "at {}", level.name());
        }
    }

    #[test]
    fn unpacking_gives_the_weight_back_and_bad_sizes_are_refused() {
        let w = matrix(45, 7, 5);
        let b = matrix(1, 45, 6);
        let packed = PackedF32::pack(&w, 45, 7, Some(&b)).unwrap();
        assert_eq!(packed.unpack(), w);
        assert_eq!(packed.bias(), Some(&b[..]));
        assert!(PackedF32::pack(&w, 45, 8, None).is_none());
        assert!(PackedF32::pack(&w, 45, 7, Some(&b[..44])).is_none());
        let mut out = vec![0f32; 3];
        assert!(!gemm_at(Level::Base, &w[..14], 2, &packed, &mut out, None));
    }
}
