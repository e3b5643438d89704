//! One file per subcommand, plus the options they share.

pub mod bench;
pub mod embed;
pub mod eval;
pub mod eval_extract;
pub mod extract;
pub mod generate;
pub mod index;
pub mod kb;
pub mod label;
pub mod link;
pub mod loadtest;
pub mod serve;
pub mod similarity;
pub mod train;
pub mod train_link_dpo;

use std::path::PathBuf;

use anyhow::{Context, Result};
use biolore_encoder::{resolve_model, BatchLimits, Encoder, Precision, DEFAULT_MODEL};
use candle_core::Device;
use clap::Args;

/// Options for choosing and running a model.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: a folder, a name under $BIOLORE_MODELS (default ./models), or a hub id.
    #[arg(long, short = 'm', env = "BIOLORE_MODEL", default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Most texts per batch (32 measured fastest on a 2-core CPU).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Most padded tokens per batch (texts are grouped by length under this budget).
    #[arg(long, default_value_t = 8192)]
    pub max_batch_tokens: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// The `--precision` option of the commands that run a sentence encoder.
#[derive(Args, Debug, Clone)]
pub struct PrecisionArgs {
    /// Precision of the encoder's dense layers: f32, or int8 (CPU; weights quantized at load,
    /// inputs per token at run time, in groups of 32 values; about 2× faster on CPUs with
    /// AVX-512 VNNI, vectors within cosine 0.999 of f32).
    #[arg(long = "precision", value_enum, env = "BIOLORE_PRECISION", default_value_t = EncoderPrecision::F32)]
    pub encoder_precision: EncoderPrecision,
}

/// Precision of the encoder's dense layers, as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncoderPrecision {
    /// float32 (parity with sentence-transformers).
    F32,
    /// int8 dense layers (CPU only).
    Int8,
}

impl From<EncoderPrecision> for Precision {
    fn from(p: EncoderPrecision) -> Self {
        match p {
            EncoderPrecision::F32 => Precision::F32,
            EncoderPrecision::Int8 => Precision::Int8,
        }
    }
}

impl PrecisionArgs {
    /// The library's precision.
    pub fn precision(&self) -> Precision {
        self.encoder_precision.into()
    }
}

/// The `--device` option of every command that runs a model.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Where the model runs: cpu, cuda or cuda:N (cuda needs a build with `--features cuda`).
    #[arg(long, env = "BIOLORE_DEVICE", default_value = "cpu")]
    pub device: String,
}

impl DeviceArgs {
    /// The device the option names.
    pub fn device(&self) -> Result<Device> {
        Ok(biolore_nn::parse_device(&self.device)?)
    }
}

impl ModelArgs {
    /// The batch limits the options describe.
    pub fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_texts: self.batch_size.max(1),
            max_tokens: self.max_batch_tokens.max(1),
        }
    }

    /// Sets the thread count, resolves and loads the model at `precision`.
    pub fn load_with(&self, precision: Precision) -> Result<Encoder> {
        set_threads(self.threads)?;
        let folder: PathBuf = resolve_model(&self.model)?;
        Encoder::load_with_precision(&folder, &self.device.device()?, precision)
            .with_context(|| format!("loading model from {} ({precision})", folder.display()))
    }
}

/// Sets up the inference threads (must run before any parallel work).
pub fn set_threads(n: Option<usize>) -> Result<()> {
    if n == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    biolore_nn::runtime::init(n);
    Ok(())
}
