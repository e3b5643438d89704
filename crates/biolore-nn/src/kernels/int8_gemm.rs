//! Integer GEMM for int8 inference: `y = x Wᵀ + b` with `x` quantized at run time and `W` once,
//! both in groups of [`GROUP`] consecutive inputs with a scale each (per token and group for
//! `x`, per output column and group for `W`, as GGML's Q8_0 does), products summed exactly in
//! 32 bits within a group and the groups summed in float.
//!
//! Per-token or per-column scales alone leave transformer activations too few levels: a few
//! channels are far larger than the rest (all-mpnet-base-v2's vectors fell to cosine 0.984 with
//! them); groups of 32 keep each outlier's damage to its own group.
//!
//! Three kernels compute the same integer sums: AVX-512 VNNI (`vpdpbusd`: 64 multiply-adds of
//! unsigned activations by signed weights per instruction, with the +128 offset of the
//! activations taken back out per column), AVX2 + FMA (`vpmaddubsw` + `vpmaddwd` on sign-folded
//! operands, which cannot saturate because both sides stay within ±127) and a portable loop.
//! The float steps are the same fused multiply-adds in the same order in all three, so every CPU
//! gives bit-identical outputs. The kernel is chosen once at run time;
//! `BIOLORE_INT8_KERNEL=portable`, `avx2` or `vnni` forces one the CPU supports.

use std::sync::OnceLock;

/// Inputs that share one scale (in activations and in weights).
pub const GROUP: usize = 32;
/// Output columns per packed block (one 512-bit register of 32-bit sums).
const BLOCK: usize = 16;
/// Blocks per panel: the columns one micro-kernel call covers (weights are padded to this).
const PANEL_BLOCKS: usize = 3;
/// Columns per panel.
const PANEL: usize = BLOCK * PANEL_BLOCKS;
/// Rows of activations kept hot while a row chunk sweeps every panel.
const ROW_CHUNK: usize = 64;
/// Multiply-adds below which a product is not split across threads.
const MIN_SPLIT_WORK: usize = 1 << 20;

/// An integer kernel, by the instructions it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernel {
    /// AVX-512F/BW + VNNI (`vpdpbusd`).
    Vnni,
    /// AVX2 (`vpmaddubsw`, `vpmaddwd`).
    Avx2,
    /// Plain Rust, any CPU.
    Portable,
}

impl Int8Kernel {
    /// The kernel's name as `BIOLORE_INT8_KERNEL` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Int8Kernel::Vnni => "vnni",
            Int8Kernel::Avx2 => "avx2",
            Int8Kernel::Portable => "portable",
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn supported(self) -> bool {
        match self {
            Int8Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Vnni => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every kernel this CPU can run, fastest first.
    pub fn all_supported() -> Vec<Int8Kernel> {
        [Int8Kernel::Vnni, Int8Kernel::Avx2, Int8Kernel::Portable]
            .into_iter()
            .filter(|k| k.supported())
            .collect()
    }
}

/// The kernel int8 products use: `BIOLORE_INT8_KERNEL` when this CPU supports it, else the
/// fastest this CPU has.
pub fn kernel() -> Int8Kernel {
    static KERNEL: OnceLock<Int8Kernel> = OnceLock::new();
    *KERNEL.get_or_init(|| {
        let forced = std::env::var("BIOLORE_INT8_KERNEL").ok().and_then(|v| {
            Int8Kernel::all_supported()
                .into_iter()
                .find(|k| k.name() == v.trim().to_ascii_lowercase())
        });
        let chosen = forced.unwrap_or(Int8Kernel::all_supported()[0]);
        tracing::info!("int8 GEMM kernel: {}", chosen.name());
        chosen
    })
}

/// A weight matrix `[n, k]` quantized per output column and group of [`GROUP`] inputs to signed
/// 8 bits and packed for the kernels, with its bias.
///
/// Layout: panels of [`PANEL`] columns, each [`PANEL_BLOCKS`] blocks of 16 columns; a block is
/// `k/4` runs of 64 bytes (16 columns × 4 consecutive inputs). Scales and offsets are stored
/// group-major (`[group][column]`). Columns past `n` and inputs past `k` are zero.
#[derive(Debug, Clone)]
pub struct PackedWeight {
    n: usize,
    k: usize,
    /// `k` rounded up to a whole group.
    kp: usize,
    /// `n` rounded up to a whole panel.
    np: usize,
    data: Vec<i8>,
    /// `[group][column]` scales.
    scales: Vec<f32>,
    /// `[group][column]`: 128 · the group's code sum (the activations' offset, taken back out).
    compensation: Vec<i32>,
    bias: Vec<f32>,
}

impl PackedWeight {
    /// Quantizes a row-major `[n, k]` matrix (PyTorch's `[out, in]`) and an optional bias `[n]`.
    ///
    /// Each group of a row gets the scale `max |w| / 127` and codes `round(w / scale)`.
    pub fn quantize(w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Self {
        let kp = k.div_ceil(GROUP) * GROUP;
        let np = n.div_ceil(PANEL) * PANEL;
        let groups = kp / GROUP;
        let mut data = vec![0i8; np * kp];
        let mut scales = vec![0f32; groups * np];
        let mut compensation = vec![0i32; groups * np];
        let mut b = vec![0f32; np];
        let mut codes = [0i8; GROUP];
        for j in 0..n.min(w.len() / k.max(1)) {
            let row = &w[j * k..(j + 1) * k];
            for (g, chunk) in row.chunks(GROUP).enumerate() {
                let scale = quantize_group(chunk, &mut codes);
                let mut sum = 0i32;
                for (t, &q) in codes.iter().enumerate().take(chunk.len()) {
                    data[pack_index(j, g * GROUP + t, kp)] = q;
                    sum += i32::from(q);
                }
                scales[g * np + j] = scale;
                compensation[g * np + j] = 128 * sum;
            }
            b[j] = bias.and_then(|b| b.get(j)).copied().unwrap_or(0.0);
        }
        Self {
            n,
            k,
            kp,
            np,
            data,
            scales,
            compensation,
            bias: b,
        }
    }

    /// Output columns.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Inputs per column.
    pub fn cols(&self) -> usize {
        self.k
    }

    /// Bytes held (codes, scales, offsets, bias).
    pub fn bytes(&self) -> usize {
        self.data.len() + 8 * self.scales.len() + 4 * self.bias.len()
    }

    /// The float matrix `[n, k]` the codes stand for (`code · scale`).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut w = vec![0f32; self.n * self.k];
        for j in 0..self.n {
            for kk in 0..self.k {
                let scale = self.scales[(kk / GROUP) * self.np + j];
                w[j * self.k + kk] = f32::from(self.data[pack_index(j, kk, self.kp)]) * scale;
            }
        }
        w
    }

    /// The bias (zeros where the layer has none).
    pub fn bias(&self) -> &[f32] {
        &self.bias[..self.n]
    }
}

/// Where weight `(j, kk)` lives in the packed codes.
fn pack_index(j: usize, kk: usize, kp: usize) -> usize {
    (j / BLOCK) * kp * BLOCK + (kk / 4) * 4 * BLOCK + (j % BLOCK) * 4 + kk % 4
}

/// Codes `round(v / scale)` in −127…127 of one group, and its scale `max |v| / 127` (0 for
/// an all-zero group).
#[inline(always)]
fn quantize_group(values: &[f32], codes: &mut [i8]) -> f32 {
    let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let inverse = if max > 0.0 { 127.0 / max } else { 0.0 };
    for (c, &v) in codes.iter_mut().zip(values) {
        *c = round_code(v * inverse) as i8;
    }
    max / 127.0
}

/// [`quantize_group`] of one whole group into offset codes (`code + 128` as `u8`, the form
/// `vpdpbusd` multiplies), written so that it vectorises: the same codes and scale.
#[inline(always)]
fn quantize_full_group(values: &[f32; GROUP], codes: &mut [u8; GROUP]) -> f32 {
    const HALF: usize = GROUP / 2;
    let mut lanes = [0f32; HALF];
    for (i, l) in lanes.iter_mut().enumerate() {
        *l = values[i].abs().max(values[i + HALF].abs());
    }
    let mut width = HALF;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] = lanes[i].max(lanes[i + width]);
        }
    }
    let max = lanes[0];
    let inverse = if max > 0.0 { 127.0 / max } else { 0.0 };
    // Clamped first, then rounded by the float adder: the code is then the low bits of the
    // sum, read with integer instructions (a float-to-int conversion would not vectorise).
    const MAGIC: f32 = 12_582_912.0;
    let magic_bits = MAGIC.to_bits() as i32;
    for (c, &v) in codes.iter_mut().zip(values) {
        let rounded = (v * inverse).clamp(-127.0, 127.0) + MAGIC;
        *c = ((rounded.to_bits() as i32).wrapping_sub(magic_bits) as i8 as u8) ^ 0x80;
    }
    max / 127.0
}

/// `v` (within ±127.5) rounded to the nearest integer, ties to even, by the float adder's own
/// rounding (adding and removing 1.5·2²³), which vectorises on every x86-64 CPU where
/// `round_ties_even` calls the C library.
#[inline(always)]
fn round_code(v: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    ((v + MAGIC) - MAGIC).clamp(-127.0, 127.0) as i32
}

/// One call's worth of activation quantization: `x` (rows of `k` inputs, optionally
/// multiplied by `multipliers`) into offset codes `data` (`kp` per row) and per-group `scales`,
/// with `scaled` as scratch for the multiplied row.
struct RowsJob<'a> {
    x: &'a [f32],
    k: usize,
    kp: usize,
    multipliers: Option<&'a [f32]>,
    data: &'a mut [u8],
    scales: &'a mut [f32],
    scaled: &'a mut [f32],
}

/// Runs a [`RowsJob`] (inlined into the copies compiled for wider vectors).
#[inline(always)]
fn quantize_rows_body(job: RowsJob<'_>) {
    let RowsJob {
        x,
        k,
        kp,
        multipliers,
        data,
        scales,
        scaled,
    } = job;
    let groups = kp / GROUP;
    let mut group_codes = [0i8; GROUP];
    let full = k / GROUP;
    let multipliers = multipliers.filter(|m| m.len() == k);
    for ((row, codes), row_scales) in x
        .chunks_exact(k)
        .zip(data.chunks_exact_mut(kp))
        .zip(scales.chunks_exact_mut(groups))
    {
        // Whole groups: fixed-size arrays, so each step is a few vector instructions.
        for (g, scale) in row_scales.iter_mut().enumerate().take(full) {
            let at = g * GROUP;
            let mut values = [0f32; GROUP];
            values.copy_from_slice(&row[at..at + GROUP]);
            if let Some(mult) = multipliers {
                for (v, &f) in values.iter_mut().zip(&mult[at..at + GROUP]) {
                    *v *= f;
                }
            }
            let dst: &mut [u8; GROUP] = match (&mut codes[at..at + GROUP]).try_into() {
                Ok(d) => d,
                Err(_) => continue,
            };
            *scale = quantize_full_group(&values, dst);
        }
        if full * GROUP == k {
            continue;
        }
        // The last, partial group.
        let row: &[f32] = match multipliers {
            Some(mult) if mult.len() == k => {
                for ((s, &v), &f) in scaled.iter_mut().zip(row).zip(mult) {
                    *s = v * f;
                }
                &*scaled
            }
            _ => row,
        };
        for ((chunk, dst), scale) in row
            .chunks(GROUP)
            .zip(codes.chunks_exact_mut(GROUP))
            .zip(row_scales.iter_mut())
            .skip(full)
        {
            *scale = quantize_group(chunk, &mut group_codes);
            for (d, &q) in dst.iter_mut().zip(&group_codes).take(chunk.len()) {
                *d = (q as u8) ^ 0x80;
            }
        }
    }
}

/// Defines `$name`, [`quantize_rows_body`] compiled with the target features `$features`
/// (callers check that the CPU has them).
macro_rules! quantize_rows_for {
    ($name:ident, $features:literal) => {
        #[doc = concat!("[`quantize_rows_body`] compiled for ", $features, ".")]
        ///
        /// # Safety
        /// The CPU has those features.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(job: RowsJob<'_>) {
            quantize_rows_body(job)
        }
    };
}

quantize_rows_for!(quantize_rows_avx512, "avx512f,avx512bw");
quantize_rows_for!(quantize_rows_avx2, "avx2");

/// Rows of activations quantized to 8 bits per group of [`GROUP`] inputs, stored offset by +128
/// as `u8` (the form `vpdpbusd` multiplies) and padded with zeros (128) to whole groups.
#[derive(Debug, Clone, Default)]
pub struct QuantizedRows {
    m: usize,
    kp: usize,
    data: Vec<u8>,
    /// `[row][group]` scales.
    scales: Vec<f32>,
    /// Scratch for a row multiplied by the layer's input multipliers.
    scaled: Vec<f32>,
}

impl QuantizedRows {
    /// Quantizes the row-major `[m, k]` matrix `x`, each input first multiplied by
    /// `multipliers[k]` when given.
    pub fn quantize(x: &[f32], m: usize, k: usize, multipliers: Option<&[f32]>) -> Self {
        let mut rows = Self::default();
        rows.fill(x, m, k, multipliers);
        rows
    }

    /// [`QuantizedRows::quantize`] into this buffer, reusing its allocation.
    pub fn fill(&mut self, x: &[f32], m: usize, k: usize, multipliers: Option<&[f32]>) {
        let kp = k.div_ceil(GROUP) * GROUP;
        let groups = kp / GROUP;
        self.m = m;
        self.kp = kp;
        self.data.clear();
        self.data.resize(m * kp, 128);
        self.scales.clear();
        self.scales.resize(m * groups, 0.0);
        if multipliers.is_some() {
            self.scaled.resize(k, 0.0);
        }
        let rows = m.min(x.len() / k.max(1));
        let job = RowsJob {
            x: &x[..rows * k],
            k,
            kp,
            multipliers,
            data: &mut self.data[..],
            scales: &mut self.scales[..],
            scaled: &mut self.scaled[..],
        };
        #[cfg(target_arch = "x86_64")]
        {
            use super::simd::{level, Level};
            if level() == Level::Avx512 && std::arch::is_x86_feature_detected!("avx512bw") {
                // SAFETY: the CPU has AVX-512F/BW (checked just above).
                return unsafe { quantize_rows_avx512(job) };
            }
            if level() >= Level::Avx2 && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { quantize_rows_avx2(job) };
            }
        }
        quantize_rows_body(job)
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.m
    }
}

/// `out = a Wᵀ + b` for quantized rows `a` `[m, k]` and packed `w`, into row-major `out` `[m, n]`.
///
/// Splits the panels across the current rayon pool when the calling thread may split its
/// kernels ([`crate::runtime::kernel_split`]) and the product is large enough.
pub fn gemm(a: &QuantizedRows, w: &PackedWeight, out: &mut [f32]) {
    gemm_with(kernel(), a, w, out)
}

/// [`gemm`] with a chosen kernel (which must be [`Int8Kernel::supported`]; else the portable
/// kernel runs).
pub fn gemm_with(kernel: Int8Kernel, a: &QuantizedRows, w: &PackedWeight, out: &mut [f32]) {
    let (m, n) = (a.m, w.n);
    if m == 0 || n == 0 || a.kp != w.kp || out.len() < m * n {
        return;
    }
    let kernel = if kernel.supported() {
        kernel
    } else {
        Int8Kernel::Portable
    };
    let panels = n.div_ceil(PANEL);
    let parts = crate::runtime::kernel_split().min(panels).max(1);
    let out_ptr = OutPtr(out.as_mut_ptr());
    if parts == 1 || m * n * w.k < MIN_SPLIT_WORK {
        // SAFETY: `out` holds m·n floats and is exclusively borrowed; panels 0..panels cover n.
        unsafe { run_panels(kernel, a, w, 0..panels, out_ptr) };
        return;
    }
    let per_part = panels.div_ceil(parts);
    use rayon::prelude::*;
    (0..panels.div_ceil(per_part))
        .into_par_iter()
        .for_each(|part| {
            let first = part * per_part;
            let range = first..(first + per_part).min(panels);
            // SAFETY: each part writes only the columns of its own panels, and `out` outlives
            // the parallel loop.
            unsafe { run_panels(kernel, a, w, range, out_ptr) };
        });
}

/// A pointer to the output that parts write disjoint columns of.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: the parts of one product write disjoint column ranges (see `gemm_with`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The raw pointer (a method, so closures capture the whole `OutPtr`).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// One micro-kernel call's rows and panel.
struct Tile<'a> {
    a: &'a QuantizedRows,
    w: &'a PackedWeight,
    /// First row.
    row: usize,
    /// First column (a multiple of [`PANEL`]).
    col: usize,
    out: *mut f32,
}

impl Tile<'_> {
    /// Columns of block `b` of this tile that exist in the output (0 for padding).
    fn valid(&self, b: usize) -> usize {
        self.w.n.saturating_sub(self.col + b * BLOCK).min(BLOCK)
    }

    /// Groups per row.
    fn groups(&self) -> usize {
        self.w.kp / GROUP
    }

    /// The scale of row `r` of the tile in group `g`.
    fn row_scale(&self, r: usize, g: usize) -> f32 {
        self.a.scales[(self.row + r) * self.groups() + g]
    }
}

/// Rows per micro-kernel call of each kernel.
fn tile_rows(kernel: Int8Kernel) -> usize {
    match kernel {
        Int8Kernel::Vnni => 4,
        Int8Kernel::Avx2 => 2,
        Int8Kernel::Portable => 4,
    }
}

/// Computes the output columns of `panels` for every row.
///
/// # Safety
/// `out` must point to `m·n` floats whose columns in `panels` nothing else touches meanwhile.
unsafe fn run_panels(
    kernel: Int8Kernel,
    a: &QuantizedRows,
    w: &PackedWeight,
    panels: std::ops::Range<usize>,
    out: OutPtr,
) {
    let m = a.m;
    for chunk in (0..m).step_by(ROW_CHUNK) {
        let chunk_end = (chunk + ROW_CHUNK).min(m);
        for panel in panels.clone() {
            let mut row = chunk;
            while row < chunk_end {
                let rows = tile_rows(kernel).min(chunk_end - row);
                let tile = Tile {
                    a,
                    w,
                    row,
                    col: panel * PANEL,
                    out: out.get(),
                };
                match kernel {
                    #[cfg(target_arch = "x86_64")]
                    Int8Kernel::Vnni => x86::vnni_tile(&tile, rows),
                    #[cfg(target_arch = "x86_64")]
                    Int8Kernel::Avx2 => x86::avx2_tile(&tile, rows),
                    _ => portable_tile(&tile, rows),
                }
                row += rows;
            }
        }
    }
}

/// The packed codes of block `b` of the tile's panel.
fn block_codes<'a>(tile: &Tile<'a>, b: usize) -> &'a [i8] {
    let kp = tile.w.kp;
    let start = (tile.col / BLOCK + b) * kp * BLOCK;
    &tile.w.data[start..start + kp * BLOCK]
}

/// The portable tile: `rows` rows × one panel.
///
/// # Safety
/// As [`run_panels`]: the tile's output cells are this call's alone.
unsafe fn portable_tile(tile: &Tile<'_>, rows: usize) {
    let (kp, n, np) = (tile.w.kp, tile.w.n, tile.w.np);
    for r in 0..rows {
        let i = tile.row + r;
        let arow = &tile.a.data[i * kp..(i + 1) * kp];
        for b in 0..PANEL_BLOCKS {
            let valid = tile.valid(b);
            if valid == 0 {
                continue;
            }
            let codes = block_codes(tile, b);
            let j0 = tile.col + b * BLOCK;
            let mut y = [0f32; BLOCK];
            for g in 0..tile.groups() {
                let mut sums = [0i32; BLOCK];
                for run in g * GROUP / 4..(g + 1) * GROUP / 4 {
                    let a4 = &arow[run * 4..run * 4 + 4];
                    let w = &codes[run * 4 * BLOCK..(run + 1) * 4 * BLOCK];
                    for (l, s) in sums.iter_mut().enumerate() {
                        for t in 0..4 {
                            *s += i32::from(a4[t]) * i32::from(w[l * 4 + t]);
                        }
                    }
                }
                let row_scale = tile.row_scale(r, g);
                for (l, (acc, s)) in y.iter_mut().zip(sums).enumerate() {
                    let j = j0 + l;
                    let sum = (s - tile.w.compensation[g * np + j]) as f32;
                    *acc = sum.mul_add(row_scale * tile.w.scales[g * np + j], *acc);
                }
            }
            let dst = tile.out.add(i * n + j0);
            for (l, v) in y.iter().enumerate().take(valid) {
                *dst.add(l) = v + tile.w.bias[j0 + l];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The x86-64 tiles (AVX-512 VNNI and AVX2).

    use std::arch::x86_64::*;

    use super::{block_codes, Tile, BLOCK, GROUP, PANEL_BLOCKS};

    /// Runs the VNNI tile for `rows` (1–4) rows.
    ///
    /// # Safety
    /// The CPU has AVX-512F/BW/VNNI; the tile's output cells are this call's alone.
    pub(super) unsafe fn vnni_tile(tile: &Tile<'_>, rows: usize) {
        match rows {
            4 => vnni::<4>(tile),
            3 => vnni::<3>(tile),
            2 => vnni::<2>(tile),
            _ => vnni::<1>(tile),
        }
    }

    /// `MR` rows × one panel (3 blocks of 16 columns) with `vpdpbusd`, group by group.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn vnni<const MR: usize>(tile: &Tile<'_>) {
        let (kp, np, n) = (tile.w.kp, tile.w.np, tile.w.n);
        let a = tile.a.data.as_ptr().add(tile.row * kp);
        let b = [
            block_codes(tile, 0).as_ptr(),
            block_codes(tile, 1).as_ptr(),
            block_codes(tile, 2).as_ptr(),
        ];
        let j0 = tile.col;
        let mut y = [[_mm512_setzero_ps(); PANEL_BLOCKS]; MR];
        for g in 0..tile.groups() {
            let mut acc = [[_mm512_setzero_si512(); PANEL_BLOCKS]; MR];
            for run in g * GROUP / 4..(g + 1) * GROUP / 4 {
                let off = run * 4 * BLOCK;
                let w0 = _mm512_loadu_si512(b[0].add(off) as *const _);
                let w1 = _mm512_loadu_si512(b[1].add(off) as *const _);
                let w2 = _mm512_loadu_si512(b[2].add(off) as *const _);
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let x = (a.add(r * kp + run * 4) as *const i32).read_unaligned();
                    let x = _mm512_set1_epi32(x);
                    acc_r[0] = _mm512_dpbusd_epi32(acc_r[0], x, w0);
                    acc_r[1] = _mm512_dpbusd_epi32(acc_r[1], x, w1);
                    acc_r[2] = _mm512_dpbusd_epi32(acc_r[2], x, w2);
                }
            }
            for blk in 0..PANEL_BLOCKS {
                let j = g * np + j0 + blk * BLOCK;
                let comp = _mm512_loadu_si512(tile.w.compensation.as_ptr().add(j) as *const _);
                let wscale = _mm512_loadu_ps(tile.w.scales.as_ptr().add(j));
                for r in 0..MR {
                    let scale = _mm512_mul_ps(_mm512_set1_ps(tile.row_scale(r, g)), wscale);
                    let sums = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][blk], comp));
                    y[r][blk] = _mm512_fmadd_ps(sums, scale, y[r][blk]);
                }
            }
        }
        for blk in 0..PANEL_BLOCKS {
            let valid = tile.valid(blk);
            if valid == 0 {
                continue;
            }
            let j = j0 + blk * BLOCK;
            let mask: __mmask16 = if valid == BLOCK {
                0xFFFF
            } else {
                (1u16 << valid) - 1
            };
            let bias = _mm512_loadu_ps(tile.w.bias.as_ptr().add(j));
            for (r, y_r) in y.iter().enumerate() {
                let v = _mm512_add_ps(y_r[blk], bias);
                _mm512_mask_storeu_ps(tile.out.add((tile.row + r) * n + j), mask, v);
            }
        }
    }

    /// Runs the AVX2 tile for `rows` (1–2) rows, block by block.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; the tile's output cells are this call's alone.
    pub(super) unsafe fn avx2_tile(tile: &Tile<'_>, rows: usize) {
        for b in 0..PANEL_BLOCKS {
            if tile.valid(b) == 0 {
                continue;
            }
            match rows {
                2 => avx2::<2>(tile, b),
                _ => avx2::<1>(tile, b),
            }
        }
    }

    /// `MR` rows × block `b` (16 columns, two 256-bit halves) with `vpmaddubsw` + `vpmaddwd`.
    ///
    /// Activations are stored +128; flipping the top bit gives the signed code `x`. The sums
    /// use `|x| · (w · sign x)`, whose pairs stay within ±2·127·127 and so never saturate; they
    /// are the true sums, with no offset to take out.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2<const MR: usize>(tile: &Tile<'_>, b: usize) {
        let (kp, np, n) = (tile.w.kp, tile.w.np, tile.w.n);
        let a = tile.a.data.as_ptr().add(tile.row * kp);
        let codes = block_codes(tile, b).as_ptr();
        let flip = _mm256_set1_epi8(-128);
        let ones = _mm256_set1_epi16(1);
        let j0 = tile.col + b * BLOCK;
        let mut y = [[_mm256_setzero_ps(); 2]; MR];
        for g in 0..tile.groups() {
            let mut acc = [[_mm256_setzero_si256(); 2]; MR];
            for run in g * GROUP / 4..(g + 1) * GROUP / 4 {
                let off = run * 4 * BLOCK;
                let w_lo = _mm256_loadu_si256(codes.add(off) as *const _);
                let w_hi = _mm256_loadu_si256(codes.add(off + 32) as *const _);
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let x = (a.add(r * kp + run * 4) as *const i32).read_unaligned();
                    let x = _mm256_xor_si256(_mm256_set1_epi32(x), flip);
                    let magnitude = _mm256_abs_epi8(x);
                    let lo = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w_lo, x));
                    let hi = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(w_hi, x));
                    acc_r[0] = _mm256_add_epi32(acc_r[0], _mm256_madd_epi16(lo, ones));
                    acc_r[1] = _mm256_add_epi32(acc_r[1], _mm256_madd_epi16(hi, ones));
                }
            }
            for h in 0..2 {
                let j = g * np + j0 + h * 8;
                let wscale = _mm256_loadu_ps(tile.w.scales.as_ptr().add(j));
                for r in 0..MR {
                    let scale = _mm256_mul_ps(_mm256_set1_ps(tile.row_scale(r, g)), wscale);
                    let sums = _mm256_cvtepi32_ps(acc[r][h]);
                    y[r][h] = _mm256_fmadd_ps(sums, scale, y[r][h]);
                }
            }
        }
        let valid = tile.valid(b);
        for (r, y_r) in y.iter().enumerate() {
            let mut v = [0f32; BLOCK];
            for (h, y_h) in y_r.iter().enumerate() {
                let bias = _mm256_loadu_ps(tile.w.bias.as_ptr().add(j0 + h * 8));
                _mm256_storeu_ps(v.as_mut_ptr().add(h * 8), _mm256_add_ps(*y_h, bias));
            }
            let dst = tile.out.add((tile.row + r) * n + j0);
            std::ptr::copy_nonoverlapping(v.as_ptr(), dst, valid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random matrix in ±1, with every 97th value ×`outlier`.
    fn matrix(rows: usize, cols: usize, seed: u64, outlier: f32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..rows * cols)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((state >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0;
                if i % 97 == 0 {
                    v * outlier
                } else {
                    v
                }
            })
            .collect()
    }

    /// Every kernel gives the same bits, close to the float product, on awkward shapes.
    #[test]
    fn kernels_agree_exactly_and_track_the_float_product() {
        for &(m, n, k) in &[(1, 5, 3), (7, 50, 33), (13, 100, 64), (70, 97, 130)] {
            let x = matrix(m, k, 1, 20.0);
            let w = matrix(n, k, 2, 20.0);
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01).collect();
            let packed = PackedWeight::quantize(&w, n, k, Some(&bias));
            let rows = QuantizedRows::quantize(&x, m, k, None);
            let mut reference = vec![0f32; m * n];
            gemm_with(Int8Kernel::Portable, &rows, &packed, &mut reference);
            for kernel in Int8Kernel::all_supported() {
                let mut out = vec![f32::NAN; m * n];
                gemm_with(kernel, &rows, &packed, &mut out);
                assert_eq!(
                    out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    reference.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{} differs on {m}x{n}x{k}",
                    kernel.name()
                );
            }
            // Against the float product (without outliers, which need smoothing): errors are
            // a small share of each row's magnitude.
            let (x, w) = (matrix(m, k, 1, 1.0), matrix(n, k, 2, 1.0));
            let packed = PackedWeight::quantize(&w, n, k, Some(&bias));
            let rows = QuantizedRows::quantize(&x, m, k, None);
            let mut reference = vec![0f32; m * n];
            gemm(&rows, &packed, &mut reference);
            for i in 0..m {
                let exact: Vec<f32> = (0..n)
                    .map(|j| (0..k).map(|t| x[i * k + t] * w[j * k + t]).sum::<f32>() + bias[j])
                    .collect();
                let norm = exact.iter().map(|v| v * v).sum::<f32>().sqrt();
                let err = exact
                    .iter()
                    .zip(&reference[i * n..(i + 1) * n])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
                    .sqrt();
                assert!(err <= 0.02 * norm, "row {i}: error {err} vs norm {norm}");
            }
        }
    }

    #[test]
    fn splitting_across_threads_changes_no_bit() {
        let (m, n, k) = (3, 700, 512);
        let (x, w) = (matrix(m, k, 5, 4.0), matrix(n, k, 6, 4.0));
        let packed = PackedWeight::quantize(&w, n, k, None);
        let rows = QuantizedRows::quantize(&x, m, k, None);
        let mut whole = vec![0f32; m * n];
        gemm(&rows, &packed, &mut whole);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let mut split = vec![0f32; m * n];
        pool.install(|| crate::runtime::with_kernel_split(3, || gemm(&rows, &packed, &mut split)));
        assert_eq!(whole, split);
    }

    #[test]
    fn dequantized_weights_round_trip_within_half_a_step() {
        let (n, k) = (20, 70);
        let w = matrix(n, k, 3, 20.0);
        let packed = PackedWeight::quantize(&w, n, k, None);
        let back = packed.dequantize();
        for j in 0..n {
            for t in 0..k {
                let step = packed.scales[(t / GROUP) * packed.np + j];
                assert!((w[j * k + t] - back[j * k + t]).abs() <= step * 0.5 + 1e-6);
            }
        }
        assert_eq!(packed.bias(), vec![0.0; n].as_slice());
    }

    #[test]
    fn whole_groups_quantize_as_single_groups_do() {
        let x = matrix(7, GROUP, 11, 30.0);
        for row in x.chunks_exact(GROUP) {
            let mut codes = [0i8; GROUP];
            let scale = quantize_group(row, &mut codes);
            let mut offset = [0u8; GROUP];
            let values: [f32; GROUP] = row.try_into().unwrap();
            assert_eq!(quantize_full_group(&values, &mut offset), scale);
            for (c, o) in codes.iter().zip(offset) {
                assert_eq!((*c as u8) ^ 0x80, o);
            }
        }
        let mut zeros = [0u8; GROUP];
        assert_eq!(quantize_full_group(&[0.0; GROUP], &mut zeros), 0.0);
        assert!(zeros.iter().all(|&z| z == 128));
    }

    #[test]
    fn zero_rows_give_the_bias() {
        let (m, n, k) = (2, 3, 8);
        let w = matrix(n, k, 4, 20.0);
        let packed = PackedWeight::quantize(&w, n, k, Some(&[1.0, 2.0, 3.0]));
        let rows = QuantizedRows::quantize(&vec![0.0; m * k], m, k, None);
        let mut out = vec![0f32; m * n];
        gemm(&rows, &packed, &mut out);
        assert_eq!(out, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    }
}
