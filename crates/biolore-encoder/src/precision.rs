//! Encoder precision: float32, or int8 dense layers calibrated once when the model loads.
//!
//! `int8` quantizes every dense layer of the transformer per output channel and its inputs per
//! token at run time (the integer GEMM of `biolore-nn`). Transformer activations have a few
//! channels far larger than the rest, which would leave the others a handful of levels; so
//! before quantizing, the encoder runs its float model over a built-in calibration set (48
//! biomedical names, definitions and clinical sentences), records each layer's largest input
//! per channel, and migrates those outliers into the weights (SmoothQuant, alpha 0.5).

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use crate::batching::BatchLimits;
use crate::encoder::Encoder;
use crate::error::{EncoderError, Result};

/// The texts the int8 conversion calibrates on.
const CALIBRATION: &str = include_str!("int8_calibration.txt");

/// Numeric precision of the encoder's dense layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Precision {
    /// Float32 everywhere (bit-level parity with sentence-transformers).
    #[default]
    F32,
    /// Int8 dense layers (CPU only), float32 for the rest.
    Int8,
}

impl Precision {
    /// The name the command line uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Precision {
    type Err = EncoderError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" | "fp32" => Ok(Precision::F32),
            "int8" | "i8" => Ok(Precision::Int8),
            other => Err(EncoderError::InvalidArgument(format!(
                "unknown precision '{other}' (expected f32 or int8)"
            ))),
        }
    }
}

/// How the int8 conversion treats outliers.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Options {
    /// SmoothQuant's migration strength (0: none; 0.5: split evenly between inputs and weights).
    pub alpha: f32,
    /// Layer roles kept in float32 (`attention.query`, `attention.key`, `attention.value`,
    /// `attention.output`, `intermediate`, `output`).
    pub keep_f32: Vec<String>,
}

impl Default for Int8Options {
    fn default() -> Self {
        Self {
            alpha: 0.5,
            keep_f32: Vec::new(),
        }
    }
}

impl Int8Options {
    /// The defaults, overridden by `BIOLORE_INT8_ALPHA` and `BIOLORE_INT8_KEEP` (comma-separated
    /// roles) for experiments.
    pub fn from_env() -> Self {
        let mut options = Self::default();
        if let Some(alpha) = std::env::var("BIOLORE_INT8_ALPHA")
            .ok()
            .and_then(|v| v.trim().parse::<f32>().ok())
        {
            options.alpha = alpha.clamp(0.0, 1.0);
        }
        if let Ok(keep) = std::env::var("BIOLORE_INT8_KEEP") {
            options.keep_f32 = keep
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        options
    }
}

/// What the int8 conversion did.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Report {
    /// Dense layers converted.
    pub converted: usize,
    /// Dense layers kept in float32.
    pub kept: usize,
    /// Bytes of the converted layers' float weights.
    pub float_bytes: usize,
    /// Bytes of their int8 codes, scales and biases.
    pub int8_bytes: usize,
    /// Seconds the calibration and conversion took.
    pub seconds: f64,
}

/// Calibrates `encoder` on the built-in texts and converts its dense layers to int8.
pub(crate) fn quantize(encoder: &mut Encoder, options: &Int8Options) -> Result<Int8Report> {
    if !encoder.device().is_cpu() {
        return Err(EncoderError::InvalidArgument(
            "int8 precision runs on the CPU only (use --device cpu, or f32 on the GPU)".into(),
        ));
    }
    let started = Instant::now();
    let texts: Vec<&str> = CALIBRATION
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let ranges: Vec<_> = encoder
        .transformer_mut()
        .linears_mut()
        .into_iter()
        .map(|(_, _, linear)| linear.record_inputs())
        .collect();
    let limits = BatchLimits {
        max_texts: 8,
        max_tokens: 4096,
    };
    let calibrated = encoder.embed_with_progress(&texts, limits, |_| {});
    for (_, _, linear) in encoder.transformer_mut().linears_mut() {
        linear.stop_recording();
    }
    calibrated
        .map_err(|e| EncoderError::InvalidArgument(format!("int8 calibration failed: {e}")))?;
    let mut report = Int8Report {
        converted: 0,
        kept: 0,
        float_bytes: 0,
        int8_bytes: 0,
        seconds: 0.0,
    };
    for ((_, role, linear), range) in encoder
        .transformer_mut()
        .linears_mut()
        .into_iter()
        .zip(ranges)
    {
        if options.keep_f32.iter().any(|k| k == role) {
            report.kept += 1;
            continue;
        }
        let maxima = range.maxima();
        let converted = linear.to_int8(Some(&maxima), options.alpha)?;
        if let (Some(w), Some(q)) = (linear.weight(), converted.int8_weight()) {
            report.float_bytes += w.elem_count() * 4;
            report.int8_bytes += q.packed().bytes();
        }
        *linear = converted;
        report.converted += 1;
    }
    report.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        converted = report.converted,
        kept = report.kept,
        float_mb = report.float_bytes as f64 / 1e6,
        int8_mb = report.int8_bytes as f64 / 1e6,
        seconds = report.seconds,
        kernel = biolore_nn::kernels::int8_gemm::kernel().name(),
        "int8 encoder"
    );
    Ok(report)
}
