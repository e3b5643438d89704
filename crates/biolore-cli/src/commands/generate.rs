//! `biolore generate`: greedy text generation with a decoder (GGUF file or Hugging Face folder).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use biolore_nn::heads::{ChatMessage, LanguageModel};
use clap::Args;

/// The decoder used when none is named (fetched by `scripts/setup.sh`).
pub use biolore_encoder::resolve::DEFAULT_DECODER;

/// Arguments of `biolore generate`.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// The text: a user message for instruction models (with --raw, the prompt as it is).
    pub text: String,
    /// Decoder: a GGUF file, a Hugging Face folder, or a name under $BIOLORE_MODELS.
    #[arg(long, short = 'm', env = "BIOLORE_DECODER", default_value = DEFAULT_DECODER)]
    pub model: String,
    /// A system message (instruction models; default: the template's own).
    #[arg(long)]
    pub system: Option<String>,
    /// Use the text as the prompt, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// Most new tokens.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Dequantize a GGUF file to float32 (as training does) instead of running its quantized weights.
    #[arg(long)]
    pub float: bool,
    /// Print one JSON object (text, token counts, timings) instead of streaming the text.
    #[arg(long)]
    pub json: bool,
    /// Threads for the matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

/// Finds a decoder: an existing path, else a file or folder under the models directory.
pub fn resolve_decoder(spec: &str) -> Result<PathBuf> {
    Ok(biolore_encoder::resolve::resolve_decoder(spec)?)
}

/// Runs `biolore generate`.
pub fn run(args: GenerateArgs) -> Result<()> {
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    if let Some(n) = args.threads {
        // Generation runs one sequence: the kernels, not batches, use the threads.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let path = resolve_decoder(&args.model)?;
    let device = args.device.device()?;
    let model = LanguageModel::load(&path, !args.float, &device)
        .with_context(|| format!("loading decoder {}", path.display()))?;
    let prompt = if args.raw {
        args.text.clone()
    } else {
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(ChatMessage::system(system.clone()));
        }
        messages.push(ChatMessage::user(args.text.clone()));
        model.chat_prompt(&messages)?
    };
    let ids = model.encode(&prompt)?;
    let mut out = std::io::stdout().lock();
    let mut generated: Vec<u32> = Vec::new();
    let mut shown = 0usize;
    let mut write_error = None;
    let generation = model.generate(&ids, args.max_tokens, |token| {
        if args.json || write_error.is_some() {
            return;
        }
        generated.push(token);
        // Decode everything so far and print what is new (tokens may split characters).
        if let Ok(text) = model.decode(&generated) {
            if text.len() > shown && text.is_char_boundary(shown) {
                if let Err(e) = out
                    .write_all(&text.as_bytes()[shown..])
                    .and_then(|_| out.flush())
                {
                    write_error = Some(e);
                }
                shown = text.len();
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(e).context("writing to stdout");
    }
    let text = model.decode(&generation.ids)?;
    if args.json {
        let json = serde_json::json!({
            "text": text,
            "prompt_tokens": generation.prompt_tokens,
            "generated_tokens": generation.ids.len(),
            "stopped": generation.stopped,
            "prefill_seconds": generation.prefill_secs,
            "decode_seconds": generation.decode_secs,
            "tokens_per_second": generation.tokens_per_sec(),
        });
        writeln!(out, "{json}")?;
    } else {
        writeln!(out)?;
        eprintln!(
            "{} prompt tokens in {:.2} s; {} new tokens at {:.1} tokens/s{}",
            generation.prompt_tokens,
            generation.prefill_secs,
            generation.ids.len(),
            generation.tokens_per_sec(),
            if generation.stopped {
                ""
            } else {
                " (token limit)"
            }
        );
    }
    Ok(())
}
