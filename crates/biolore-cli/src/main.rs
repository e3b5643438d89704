//! `biolore`: biomedical sentence embeddings and similarity from the command line.

mod commands;
mod input;
mod output;
mod progress;
mod workloads;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Fast native biomedical text encoders (BioLORD, MPNet, BERT).
#[derive(Parser, Debug)]
#[command(name = "biolore", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Embed texts into vectors (JSONL or .npy).
    Embed(commands::embed::EmbedArgs),
    /// Print the cosine similarity matrix of a few texts.
    Similarity(commands::similarity::SimilarityArgs),
    /// Measure encoding speed on fixed biomedical workloads.
    Bench(commands::bench::BenchArgs),
    /// Import terminologies into knowledge-base files.
    #[command(subcommand)]
    Kb(commands::kb::KbCommand),
    /// Build concept indexes.
    #[command(subcommand)]
    Index(commands::index::IndexCommand),
    /// Link mentions to concepts of an index.
    Link(commands::link::LinkArgs),
    /// Evaluate against annotated corpora.
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Embed(args) => commands::embed::run(args),
        Command::Similarity(args) => commands::similarity::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Kb(c) => commands::kb::run(c),
        Command::Index(c) => commands::index::run(c),
        Command::Link(args) => commands::link::run(args),
        Command::Eval(c) => commands::eval::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
