//! `biolore bench`: encoding throughput on fixed workloads (texts/s, tokens/s, GFLOP/s).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use biolore_encoder::Encoder;
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::ModelArgs;
use crate::workloads;

/// A fixed benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Disease names from MEDIC (short texts, ~10 tokens).
    Medic,
    /// Sentences of NCBI-disease abstracts (~30 tokens).
    Ncbi,
}

/// Arguments of `biolore bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Workloads to run.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [Workload::Medic, Workload::Ncbi])]
    pub workload: Vec<Workload>,
    /// Texts per workload.
    #[arg(long, default_value_t = 2000)]
    pub limit: usize,
    /// Timed passes per workload (the best is reported).
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Folder with the shared evaluation data.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// One workload's measurement.
#[derive(Debug, Serialize)]
pub struct BenchResult {
    model: String,
    workload: String,
    texts: usize,
    tokens: usize,
    mean_tokens: f64,
    seconds: f64,
    texts_per_s: f64,
    tokens_per_s: f64,
    gflop_per_s: f64,
    threads: usize,
    batch_size: usize,
    max_batch_tokens: usize,
    gemm: String,
}

/// Floating-point operations of one forward pass over sequences of the given lengths.
pub fn encoder_flops(encoder: &Encoder, lengths: &[usize]) -> f64 {
    let c = &encoder.spec().config;
    let (h, i, l) = (
        c.hidden_size as f64,
        c.intermediate_size as f64,
        c.num_hidden_layers as f64,
    );
    lengths
        .iter()
        .map(|&t| {
            let t = t as f64;
            // Projections and feed-forward: 2·(4H² + 2HI) per token; attention: 4·T·H per token.
            l * t * (2.0 * (4.0 * h * h + 2.0 * h * i) + 4.0 * t * h)
        })
        .sum()
}

/// Runs `biolore bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    let encoder = args.model.load()?;
    let threads = biolore_encoder::runtime::workers();
    if !args.json {
        println!(
            "model {} ({}; {} threads; GEMM: {})",
            args.model.model,
            encoder.spec().config.model_type,
            threads,
            biolore_encoder::gemm::backend_name()
        );
        println!(
            "{:<8} {:>6} {:>8} {:>9} {:>10} {:>11} {:>9}",
            "workload", "texts", "mean tok", "seconds", "texts/s", "tokens/s", "GFLOP/s"
        );
    }
    for &w in &args.workload {
        let texts = match w {
            Workload::Medic => {
                workloads::medic_names(&args.data.join("medic/medic_06Jul2012.txt"), args.limit)?
            }
            Workload::Ncbi => workloads::pubtator_sentences(
                &args.data.join("ncbi-disease/NCBItrainset_corpus.txt"),
                args.limit,
            )?,
        };
        if texts.is_empty() {
            bail!(
                "workload {w:?} is empty (data folder {})",
                args.data.display()
            );
        }
        let tokens = encoder.tokenize(&texts)?;
        let lengths: Vec<usize> = tokens.iter().map(Vec::len).collect();
        let total_tokens: usize = lengths.iter().sum();
        // Warm-up: one small batch (allocations, thread pools, page faults of the weights).
        encoder.embed_tokens(
            &tokens[..tokens.len().min(32)],
            args.model.limits(),
            &mut |_| {},
        )?;
        let mut best = f64::INFINITY;
        for _ in 0..args.runs.max(1) {
            let start = Instant::now();
            let tokens = encoder.tokenize(&texts)?;
            encoder.embed_tokens(&tokens, args.model.limits(), &mut |_| {})?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        let result = BenchResult {
            model: args.model.model.clone(),
            workload: format!("{w:?}").to_lowercase(),
            texts: texts.len(),
            tokens: total_tokens,
            mean_tokens: total_tokens as f64 / texts.len() as f64,
            seconds: best,
            texts_per_s: texts.len() as f64 / best,
            tokens_per_s: total_tokens as f64 / best,
            gflop_per_s: encoder_flops(&encoder, &lengths) / best / 1e9,
            threads,
            batch_size: args.model.batch_size,
            max_batch_tokens: args.model.max_batch_tokens,
            gemm: biolore_encoder::gemm::backend_name().to_string(),
        };
        if args.json {
            println!("{}", serde_json::to_string(&result)?);
        } else {
            println!(
                "{:<8} {:>6} {:>8.1} {:>9.2} {:>10.1} {:>11.0} {:>9.1}",
                result.workload,
                result.texts,
                result.mean_tokens,
                result.seconds,
                result.texts_per_s,
                result.tokens_per_s,
                result.gflop_per_s
            );
        }
    }
    Ok(())
}
