//! `biolore`: biomedical sentence embeddings and similarity from the command line.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;
mod input;
mod load_generator;
mod output;
mod progress;
mod workloads;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Fast native biomedical text models: encoders (BioLORD, MPNet, BERT, XLM-R) and decoders.
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
    /// Generate text with a decoder language model (GGUF or Hugging Face folder), greedily.
    Generate(commands::generate::GenerateArgs),
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
    /// Ask a teacher language model for the (drug, adverse effect) relations of sentences.
    Label(Box<commands::label::LabelArgs>),
    /// Extract (drug, adverse effect) relations with a trained extractor.
    Extract(commands::extract::ExtractArgs),
    /// Evaluate against annotated corpora and rated concept pairs.
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
    /// Train models with the BioLORD recipe (pairs, contrastive, distill).
    #[command(subcommand)]
    Train(Box<commands::train::TrainCommand>),
    /// Average the weights of models of one architecture (a model soup).
    Average(commands::train::AverageArgs),
    /// Serve embeddings, similarity and linking over HTTP (OpenAI and TEI compatible).
    Serve(Box<commands::serve::ServeArgs>),
    /// Load-test a server on this machine: texts/s and latency at several concurrencies.
    Loadtest(Box<commands::loadtest::LoadtestArgs>),
}

/// Tells the allocator to keep freed memory for reuse instead of returning it to the OS.
///
/// Encoding and training allocate and free tensors of the same sizes over and over; returning
/// them makes every new tensor page-fault again, which cost a third of training time here.
fn keep_freed_memory() {
    // mimalloc's `mi_option_purge_delay` is the option just before `use_numa_nodes` (15);
    // -1 means never purge.
    let purge_delay = libmimalloc_sys::mi_option_use_numa_nodes - 1;
    unsafe { libmimalloc_sys::mi_option_set(purge_delay, -1) };
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    keep_freed_memory();
    biolore_encoder::resolve::register_blas_dir();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Embed(args) => commands::embed::run(args),
        Command::Generate(args) => commands::generate::run(args),
        Command::Similarity(args) => commands::similarity::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Kb(c) => commands::kb::run(c),
        Command::Index(c) => commands::index::run(c),
        Command::Link(args) => commands::link::run(args),
        Command::Label(args) => commands::label::run(*args),
        Command::Extract(args) => commands::extract::run(args),
        Command::Eval(c) => commands::eval::run(c),
        Command::Train(c) => commands::train::run(*c),
        Command::Average(args) => commands::train::average(args),
        Command::Serve(args) => commands::serve::run(*args),
        Command::Loadtest(args) => commands::loadtest::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
