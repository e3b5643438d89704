//! int8 index vectors: one signed byte per dimension and one float scale per vector, 4× smaller
//! than float32, scored against the float query (no second rounding of the query).
//!
//! Layout inside an index folder: `vectors.i8` (row-major codes) and `vector-scales.f32`
//! (little-endian, one per row); a vector is `scale · codes`. `scale = max |x| / 127`, so every
//! component keeps 8 bits of its row's range; for unit vectors of 384–768 dimensions the cosine
//! error is about 1e-3 of the gap between neighbours (README, Quantized index).

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{io_error, IndexError, Result};

/// The int8 codes of an int8 index.
pub const CODES_FILE: &str = "vectors.i8";
/// The per-vector scales of an int8 index.
pub const SCALES_FILE: &str = "vector-scales.f32";

/// How index vectors are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float32 rows (`vectors.f32`).
    #[default]
    F32,
    /// int8 rows with a float scale each (`vectors.i8`, `vector-scales.f32`).
    Int8,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        })
    }
}

/// Quantizes `row` into `codes` (same length); returns the scale (0, with zero codes, for a
/// zero row or one with a non-finite value).
pub fn quantize_row(row: &[f32], codes: &mut [i8]) -> f32 {
    let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || row.iter().any(|x| !x.is_finite()) {
        codes.iter_mut().for_each(|c| *c = 0);
        return 0.0;
    }
    let scale = max / 127.0;
    let inverse = 1.0 / scale;
    for (c, x) in codes.iter_mut().zip(row) {
        *c = (x * inverse).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// Writes `scale · codes` into `out` (same length).
pub fn dequantize_row(codes: &[i8], scale: f32, out: &mut [f32]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = scale * c as f32;
    }
}

/// `query · codes` (the caller multiplies by the row's scale).
#[inline]
pub fn dot_codes(query: &[f32], codes: &[i8]) -> f32 {
    let mut out = [0f32];
    score_codes(query, codes, &[1.0], &mut out, 1);
    out[0]
}

/// Scores every row of `codes` (rows of `query.len()` codes, one scale each) against `query`:
/// `out[r · stride] = scales[r] · (query · codes[r])`. Uses the widest vector instructions this
/// CPU has (AVX-512F, else AVX2 + FMA, else the portable loop), chosen once per call.
pub fn score_codes(query: &[f32], codes: &[i8], scales: &[f32], out: &mut [f32], stride: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { score_codes_avx512(query, codes, scales, out, stride) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { score_codes_avx2(query, codes, scales, out, stride) };
        }
    }
    score_codes_portable(query, codes, scales, out, stride)
}

/// [`score_codes`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn score_codes_avx512(
    query: &[f32],
    codes: &[i8],
    scales: &[f32],
    out: &mut [f32],
    stride: usize,
) {
    score_codes_portable(query, codes, scales, out, stride)
}

/// [`score_codes`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn score_codes_avx2(
    query: &[f32],
    codes: &[i8],
    scales: &[f32],
    out: &mut [f32],
    stride: usize,
) {
    score_codes_portable(query, codes, scales, out, stride)
}

/// The row loop behind [`score_codes`].
#[inline(always)]
fn score_codes_portable(
    query: &[f32],
    codes: &[i8],
    scales: &[f32],
    out: &mut [f32],
    stride: usize,
) {
    let dim = query.len().max(1);
    for ((row, &scale), o) in codes
        .chunks_exact(dim)
        .zip(scales)
        .zip(out.iter_mut().step_by(stride.max(1)))
    {
        *o = scale * dot_codes_portable(query, row);
    }
}

/// The loop behind [`dot_codes`]: 16 independent lanes the compiler turns into vector code
/// for whichever instruction set the calling function enables.
#[inline(always)]
fn dot_codes_portable(query: &[f32], codes: &[i8]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let (q16, c16) = (query.chunks_exact(LANES), codes.chunks_exact(LANES));
    let (qr, cr) = (q16.remainder(), c16.remainder());
    for (q, c) in q16.zip(c16) {
        for j in 0..LANES {
            acc[j] += q[j] * c[j] as f32;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (q, &c) in qr.iter().zip(cr) {
        s += q * c as f32;
    }
    s
}

/// What [`quantize_folder`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeReport {
    /// Rows quantized.
    pub rows: usize,
    /// Seconds it took.
    pub seconds: f64,
    /// Smallest cosine between a float row and its int8 copy.
    pub min_cosine: f32,
}

/// Rows read and written per step (bounded memory at any index size).
const ROWS_PER_STEP: usize = 4096;

/// Quantizes the complete float index in `dir` (`rows` vectors of `dim`) into int8 files
/// (`vectors.f32` is left in place). Files are written under temporary names and renamed, so an
/// interrupted run leaves the float index intact; the caller records int8 in the manifest and
/// then removes the float file.
pub fn quantize_folder(
    dir: &Path,
    rows: usize,
    dim: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<QuantizeReport> {
    let start = std::time::Instant::now();
    let source = dir.join(crate::build::VECTORS_FILE);
    let codes_path = dir.join(CODES_FILE);
    let scales_path = dir.join(SCALES_FILE);
    let codes_tmp = codes_path.with_extension("i8.partial");
    let scales_tmp = scales_path.with_extension("f32.partial");
    let expected = (rows * dim * 4) as u64;
    let len = std::fs::metadata(&source).map_err(io_error(&source))?.len();
    if len != expected {
        return Err(IndexError::Invalid {
            path: source,
            message: format!("{len} bytes, expected {expected} ({rows} rows of {dim})"),
        });
    }
    let mut reader = BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(&source).map_err(io_error(&source))?,
    );
    let mut codes_out = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&codes_tmp).map_err(io_error(&codes_tmp))?,
    );
    let mut scales_out =
        BufWriter::new(std::fs::File::create(&scales_tmp).map_err(io_error(&scales_tmp))?);
    let mut bytes = vec![0u8; ROWS_PER_STEP * dim * 4];
    let mut row = vec![0f32; dim];
    let mut codes = vec![0i8; dim];
    let mut back = vec![0f32; dim];
    let mut min_cosine = 1f32;
    let mut done = 0;
    progress(0, rows);
    while done < rows {
        let n = ROWS_PER_STEP.min(rows - done);
        let chunk = &mut bytes[..n * dim * 4];
        reader.read_exact(chunk).map_err(io_error(&source))?;
        for r in 0..n {
            for (x, b) in row.iter_mut().zip(chunk[r * dim * 4..].chunks_exact(4)) {
                *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            let scale = quantize_row(&row, &mut codes);
            if scale > 0.0 {
                dequantize_row(&codes, scale, &mut back);
                min_cosine = min_cosine.min(biolore_encoder::cosine(&row, &back));
            }
            let as_bytes: &[u8] = bytemuck::cast_slice(&codes);
            codes_out
                .write_all(as_bytes)
                .map_err(io_error(&codes_tmp))?;
            scales_out
                .write_all(&scale.to_le_bytes())
                .map_err(io_error(&scales_tmp))?;
        }
        done += n;
        progress(done, rows);
    }
    finish(codes_out, &codes_tmp, &codes_path)?;
    finish(scales_out, &scales_tmp, &scales_path)?;
    Ok(QuantizeReport {
        rows,
        seconds: start.elapsed().as_secs_f64(),
        min_cosine,
    })
}

/// Flushes and syncs a temporary file, then renames it into place.
fn finish(mut w: BufWriter<std::fs::File>, tmp: &Path, path: &Path) -> Result<()> {
    w.flush().map_err(io_error(tmp))?;
    let file = w.into_inner().map_err(|e| IndexError::Io {
        path: tmp.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_error(tmp))?;
    std::fs::rename(tmp, path).map_err(io_error(path))
}

/// Reads the per-vector scales of an int8 index (`rows` of them).
pub fn read_scales(dir: &Path, rows: usize) -> Result<Vec<f32>> {
    let path = dir.join(SCALES_FILE);
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    if bytes.len() != rows * 4 {
        return Err(IndexError::Invalid {
            path,
            message: format!("{} bytes, expected {} scales", bytes.len(), rows),
        });
    }
    let scales: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = scales.iter().position(|s| !s.is_finite() || *s < 0.0) {
        return Err(IndexError::Invalid {
            path,
            message: format!("scale {i} is {}", scales[i]),
        });
    }
    Ok(scales)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn round_trip_keeps_the_direction() {
        for dim in [7, 384, 768] {
            let v = unit(dim as u64, dim);
            let mut codes = vec![0i8; dim];
            let scale = quantize_row(&v, &mut codes);
            assert!(codes.iter().any(|&c| c == 127 || c == -127));
            let mut back = vec![0f32; dim];
            dequantize_row(&codes, scale, &mut back);
            assert!(
                biolore_encoder::cosine(&v, &back) > 0.9995,
                "dim {dim}: {}",
                biolore_encoder::cosine(&v, &back)
            );
        }
    }

    #[test]
    fn zero_and_non_finite_rows_get_scale_zero() {
        let mut codes = vec![1i8; 4];
        assert_eq!(quantize_row(&[0.0; 4], &mut codes), 0.0);
        assert_eq!(codes, vec![0; 4]);
        assert_eq!(quantize_row(&[f32::NAN, 1.0, 0.0, 0.0], &mut codes), 0.0);
    }

    #[test]
    fn dot_matches_the_float_dot_of_the_dequantized_row() {
        for dim in [5, 16, 383, 768] {
            let (q, v) = (unit(1, dim), unit(2, dim));
            let mut codes = vec![0i8; dim];
            let scale = quantize_row(&v, &mut codes);
            let mut back = vec![0f32; dim];
            dequantize_row(&codes, scale, &mut back);
            let exact: f32 = q.iter().zip(&back).map(|(a, b)| a * b).sum();
            let got = scale * dot_codes(&q, &codes);
            assert!((exact - got).abs() < 1e-5, "dim {dim}: {exact} vs {got}");
            assert!((dot_codes(&q, &codes) - dot_codes_portable(&q, &codes)).abs() < 1e-3);
        }
    }

    #[test]
    fn folder_quantization_writes_codes_and_scales_and_reports_the_worst_row() {
        let dir = std::env::temp_dir().join(format!("biolore-quantize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (rows, dim) = (5000, 24);
        let mut bytes = Vec::new();
        for r in 0..rows {
            for x in unit(r as u64, dim) {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        std::fs::write(dir.join(crate::build::VECTORS_FILE), &bytes).unwrap();
        let mut calls = 0;
        let report = quantize_folder(&dir, rows, dim, &mut |_, _| calls += 1).unwrap();
        assert_eq!(report.rows, rows);
        assert!(calls >= 3);
        assert!(report.min_cosine > 0.999, "{}", report.min_cosine);
        assert_eq!(
            std::fs::metadata(dir.join(CODES_FILE)).unwrap().len(),
            (rows * dim) as u64
        );
        assert_eq!(read_scales(&dir, rows).unwrap().len(), rows);
        assert!(read_scales(&dir, rows + 1).is_err());
        let wrong = quantize_folder(&dir, rows + 1, dim, &mut |_, _| {}).unwrap_err();
        assert!(wrong.to_string().contains("expected"), "{wrong}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
