//! `biolore embed`: texts in, vectors out (JSONL or .npy), in input order.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use super::ModelArgs;
use crate::input::{parse_jsonl, parse_plain, read_source, InputText};
use crate::output::Sink;
use crate::progress;

/// Texts per chunk: tokenized, batched by length and written before the next chunk starts.
const CHUNK: usize = 4096;

/// Arguments of `biolore embed`.
#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// Texts to embed (instead of --input or stdin).
    pub texts: Vec<String>,
    /// Read texts from FILE ('-' for stdin); one per line, or JSONL with --jsonl.
    #[arg(long, short = 'i')]
    pub input: Option<PathBuf>,
    /// Input lines are JSON objects; the text is in --field.
    #[arg(long)]
    pub jsonl: bool,
    /// JSONL field holding the text.
    #[arg(long, default_value = "text")]
    pub field: String,
    /// Write here instead of stdout; a name ending in .npy writes a float32 matrix.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Runs `biolore embed`.
pub fn run(args: EmbedArgs) -> Result<()> {
    let inputs: Vec<InputText> = if !args.texts.is_empty() {
        if args.input.is_some() {
            bail!("give texts as arguments or with --input, not both");
        }
        args.texts
            .iter()
            .map(|t| InputText {
                text: t.clone(),
                record: None,
            })
            .collect()
    } else {
        let (source, bytes) = read_source(args.input.as_deref())?;
        if args.jsonl {
            parse_jsonl(&source, &bytes, &args.field)?
        } else {
            parse_plain(&source, &bytes)?
        }
    };
    if inputs.is_empty() {
        tracing::info!("no input texts; nothing to write");
        return Ok(());
    }
    let encoder = args.model.load()?;
    let limits = args.model.limits();
    let mut sink = Sink::open(args.output.as_deref(), inputs.len(), encoder.dim())?;
    let bar = progress::bar(inputs.len(), "texts", 256);
    for chunk in inputs.chunks(CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|t| t.text.as_str()).collect();
        let vectors = encoder.embed_with_progress(&texts, limits, |n| bar.inc(n as u64))?;
        for (input, v) in chunk.iter().zip(vectors.rows()) {
            sink.write(input, v)?;
        }
    }
    bar.finish_and_clear();
    sink.finish()
}
