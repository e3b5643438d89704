//! `biolore index build`: embed a KB's names into a persistent, resumable index.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use biolore_index::{BuildOptions, IndexError};
use clap::{Args, Subcommand};

use super::ModelArgs;
use crate::progress;

/// `biolore index` subcommands.
#[derive(Subcommand, Debug)]
pub enum IndexCommand {
    /// Embed every distinct name of a KB (resumes an interrupted build).
    Build(BuildArgs),
}

/// Arguments of `biolore index build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// KB file from `biolore kb import`.
    #[arg(long)]
    pub kb: PathBuf,
    /// Output index folder.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Names embedded per chunk (the unit written to disk and resumed from).
    #[arg(long, default_value_t = 2048)]
    pub chunk: usize,
    /// Index names of obsolete concepts too.
    #[arg(long)]
    pub include_obsolete: bool,
    /// Also build an approximate HNSW graph (for large KBs; search with `--approximate`).
    #[arg(long)]
    pub hnsw: bool,
    /// HNSW links per node (M).
    #[arg(long, default_value_t = 32)]
    pub hnsw_m: usize,
    /// HNSW candidate list size while building.
    #[arg(long, default_value_t = 200)]
    pub hnsw_ef_construction: usize,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Runs `biolore index …`.
pub fn run(command: IndexCommand) -> Result<()> {
    let IndexCommand::Build(args) = command;
    let kb = biolore_kb::store::open(&args.kb)?;
    let encoder = args.model.load()?;
    let options = BuildOptions {
        chunk: args.chunk.max(1),
        limits: args.model.limits(),
        include_obsolete: args.include_obsolete,
        hnsw: args.hnsw.then_some(biolore_index::HnswParams {
            max_connections: args.hnsw_m,
            ef_construction: args.hnsw_ef_construction,
            ..biolore_index::HnswParams::default()
        }),
    };
    build_with_progress(&kb, &encoder, &args.model.model, &args.out, &options)
}

/// Builds (or resumes) an index with a progress bar; Ctrl-C stops after the current chunk.
pub fn build_with_progress(
    kb: &biolore_kb::KnowledgeBase,
    encoder: &biolore_encoder::Encoder,
    model: &str,
    out: &std::path::Path,
    options: &BuildOptions,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // First Ctrl-C: finish the current chunk and stop cleanly; a second one exits at once.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the current chunk (Ctrl-C again to quit now)");
        });
    }
    let bar = progress::bar(0, "names", 0);
    let result = biolore_index::build(
        kb,
        encoder,
        model,
        out,
        options,
        &stop,
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    );
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            let rate = if report.seconds > 0.0 {
                report.embedded as f64 / report.seconds
            } else {
                0.0
            };
            eprintln!(
                "{}: {} names ({} embedded now, {} resumed) in {:.1}s ({:.0} names/s), {:.1} MB",
                out.display(),
                report.names,
                report.embedded,
                report.resumed_from,
                report.seconds,
                rate,
                report.bytes as f64 / 1e6
            );
            Ok(())
        }
        Err(IndexError::Interrupted { done, total }) => {
            anyhow::bail!(
                "interrupted after {done} of {total} names; run the same command again to resume"
            )
        }
        Err(e) => Err(e).with_context(|| format!("building {}", out.display())),
    }
}
