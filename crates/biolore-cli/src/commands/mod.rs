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
use biolore_encoder::{resolve_model, BatchLimits, Encoder, DEFAULT_MODEL};
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

    /// Sets the thread count, resolves and loads the model.
    pub fn load(&self) -> Result<Encoder> {
        set_threads(self.threads)?;
        let folder: PathBuf = resolve_model(&self.model)?;
        Encoder::load(&folder, &self.device.device()?)
            .with_context(|| format!("loading model from {}", folder.display()))
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
