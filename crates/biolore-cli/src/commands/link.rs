//! `biolore link`: mentions (or PubTator documents) → ranked concepts, as JSONL.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use biolore_encoder::{BatchLimits, Encoder};
use biolore_link::inputs::mention_record;
use biolore_link::{
    merge_parts, open_linker, read_mentions, Candidate, LinkerOptions, MentionFormat,
    MentionRecord, OpenedLinker, PreparedMention, QueryOptions,
};
use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use crate::input::read_source;

/// Options shared by the commands that search an index.
#[derive(Args, Debug, Clone)]
pub struct IndexArgs {
    /// Index folder from `biolore index build` (default for `link`: the default terminology, HPO).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Model for the mentions (default: the model the index was built with).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Search the index's HNSW graph instead of exactly (build it with `index build --hnsw`).
    #[arg(long)]
    pub approximate: bool,
    /// Do not expand abbreviations defined in the documents (Schwartz–Hearst).
    #[arg(long)]
    pub no_abbreviations: bool,
    /// Add the annotated mentions of a PubTator training corpus as names of their concepts.
    #[arg(long)]
    pub add_mentions: Option<PathBuf>,
    /// Most texts per batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

impl IndexArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> LinkerOptions {
        LinkerOptions {
            index: self.index.clone(),
            model: self.model.clone(),
            approximate: self.approximate,
            add_mentions: self.add_mentions.clone(),
            queries: self.queries(),
            limits: BatchLimits {
                max_texts: self.batch_size.max(1),
                ..BatchLimits::default()
            },
            data_dir: None,
        }
    }

    /// How mentions become queries.
    pub fn queries(&self) -> QueryOptions {
        QueryOptions {
            expand_abbreviations: !self.no_abbreviations,
        }
    }

    /// Opens the index (building the default one with a progress bar on first use) and its
    /// model, and applies `--add-mentions`.
    pub fn open(&self) -> Result<OpenedLinker> {
        super::set_threads(self.threads)?;
        let device = self.device.device()?;
        let mut builder =
            |kb: &biolore_kb::KnowledgeBase,
             encoder: &Encoder,
             model: &str,
             out: &Path|
             -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
                eprintln!(
                "building the default index (HPO) with {model} into {} — once; later runs reuse it",
                out.display()
            );
                super::index::build_with_progress(
                    kb,
                    encoder,
                    model,
                    out,
                    &biolore_index::BuildOptions::default(),
                )
                .map_err(Into::into)
            };
        let options = self.options();
        open_linker(&options, &device, &mut builder).with_context(|| match &options.index {
            Some(dir) => format!("opening the index {}", dir.display()),
            None => "opening the default index".to_string(),
        })
    }
}

/// Input formats of `biolore link --input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkFormat {
    /// One mention per line.
    Text,
    /// JSONL objects with `mention` and optionally `context` (the document, for abbreviations).
    Jsonl,
    /// PubTator documents: every annotated mention is linked (composites part by part).
    Pubtator,
    /// BioC JSON documents: every annotated mention is linked (composites part by part).
    Bioc,
}

/// Arguments of `biolore link`.
#[derive(Args, Debug)]
pub struct LinkArgs {
    /// Mentions to link (instead of --input).
    pub mentions: Vec<String>,
    /// Read mentions from FILE ('-' for stdin).
    #[arg(long, short = 'i')]
    pub input: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LinkFormat,
    /// Concepts per mention.
    #[arg(long, short = 'k', default_value_t = 5)]
    pub top_k: usize,
    /// Print a readable list instead of JSONL.
    #[arg(long)]
    pub pretty: bool,
    #[command(flatten)]
    pub index: IndexArgs,
}

fn candidates_json(cands: &[Candidate]) -> Value {
    Value::Array(
        cands
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "matched": c.matched, "score": c.score}))
            .collect(),
    )
}

/// Reads the mentions of `biolore link` (arguments or `--input` in `--format`), prepared by the
/// linking library.
fn records(args: &LinkArgs, queries: QueryOptions) -> Result<Vec<MentionRecord>> {
    if !args.mentions.is_empty() {
        anyhow::ensure!(
            args.input.is_none(),
            "give mentions as arguments or with --input, not both"
        );
        return Ok(args
            .mentions
            .iter()
            .map(|m| mention_record(m, None, false, Map::new(), queries))
            .collect());
    }
    let (source, bytes) = read_source(args.input.as_deref())?;
    let format = match args.format {
        LinkFormat::Text => MentionFormat::Text,
        LinkFormat::Jsonl => MentionFormat::Jsonl,
        LinkFormat::Pubtator => MentionFormat::Pubtator,
        LinkFormat::Bioc => MentionFormat::Bioc,
    };
    Ok(read_mentions(Path::new(&source), bytes, format, queries)?)
}

/// Runs `biolore link`.
pub fn run(args: LinkArgs) -> Result<()> {
    let records = records(&args, args.index.queries())?;
    if records.is_empty() {
        return Ok(());
    }
    let opened = args.index.open()?;
    let prepared: Vec<PreparedMention> = records.iter().map(|r| r.prepared.clone()).collect();
    let k = args.top_k.max(1);
    let results = opened.linker.link_prepared(&prepared, k)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (record, parts) in records.into_iter().zip(results) {
        let MentionRecord { fields, prepared } = record;
        let mut fields = Value::Object(fields);
        let query = prepared.parts.join(" | ");
        let cands = if parts.len() == 1 {
            parts[0].clone()
        } else {
            merge_parts(&parts, k)
        };
        if args.pretty {
            writeln!(out, "{query}")?;
            for (rank, c) in cands.iter().enumerate() {
                let via = if c.matched != c.name {
                    format!("  (via \"{}\")", c.matched)
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "  {}. {:<16} {:<50} {:.3}{via}",
                    rank + 1,
                    c.id,
                    c.name,
                    c.score
                )?;
            }
        } else {
            if prepared.was_expanded() {
                fields["query"] = Value::String(prepared.expanded.clone());
            }
            if prepared.parts.len() > 1 {
                fields["parts"] = Value::Array(
                    prepared
                        .parts
                        .iter()
                        .zip(&parts)
                        .map(|(p, c)| json!({"query": p, "candidates": candidates_json(c)}))
                        .collect(),
                );
            }
            fields["candidates"] = candidates_json(&cands);
            serde_json::to_writer(&mut out, &fields)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}
