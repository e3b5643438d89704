//! `biolore extract`: (drug, adverse effect) relations with a trained student, over plain text,
//! JSONL, PubTator or BioC JSON; spans at character offsets of the original text.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use biolore_extract::documents::{annotate, document_sentences, extract_documents};
use biolore_extract::{link_relations, Extractor, SpanLinkers};
use biolore_link::{open_linker, LinkerOptions, OpenedLinker};
use biolore_text::Document;
use clap::{Args, ValueEnum};

/// Input (and output) formats of `biolore extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExtractFormat {
    /// One text per line → JSONL (`id`, `text`, `relations`).
    Text,
    /// JSONL records with a `text` field (and `id`) → the records with `relations` added.
    Jsonl,
    /// PubTator documents → PubTator with Drug/Effect annotations and ADE relation lines.
    Pubtator,
    /// BioC JSON → BioC JSON with annotations and relations.
    Bioc,
}

/// Arguments of `biolore extract`.
#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// Texts to read ('-' for stdin).
    #[arg(long, short = 'i', default_value = "-")]
    pub input: PathBuf,
    /// Input format (the output is the same format).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ExtractFormat,
    /// Where to write (default: stdout); written to FILE.partial and renamed when complete.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Trained extractor folder (from `biolore train extractor`).
    #[arg(long, short = 'm')]
    pub model: PathBuf,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Documents read and written per round (bounds the memory on large inputs).
    #[arg(long, default_value_t = 256)]
    pub chunk: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Link effect spans to this index (from `biolore index build`: MEDIC, HPO, …); each
    /// relation gets `effect_concept` (PubTator/BioC: the annotation's concept id).
    #[arg(long)]
    pub effect_index: Option<PathBuf>,
    /// Link drug spans to this index (a drug KB's, built with `biolore index build`).
    #[arg(long)]
    pub drug_index: Option<PathBuf>,
    /// Leave a span unlinked when its best concept's cosine is below this.
    #[arg(long, default_value_t = 0.0)]
    pub min_link_score: f32,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

/// Opens an index given to `--effect-index` / `--drug-index` (never builds one).
fn open_index(dir: &std::path::Path, device: &candle_core::Device) -> Result<OpenedLinker> {
    let options = LinkerOptions {
        index: Some(dir.to_path_buf()),
        ..LinkerOptions::default()
    };
    let mut no_build = |_: &biolore_kb::KnowledgeBase,
                        _: &biolore_encoder::Encoder,
                        _: &str,
                        _: &std::path::Path|
     -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Err("no index to build here".into())
    };
    open_linker(&options, device, &mut no_build)
        .with_context(|| format!("opening the index {}", dir.display()))
}

type Record = Option<serde_json::Map<String, serde_json::Value>>;

/// One line of text or JSONL input as a document (and the record to echo); `None` for blank lines.
fn line_document(
    format: ExtractFormat,
    source: &str,
    n: usize,
    line: &str,
) -> Result<Option<(Document, Record)>> {
    let line = line.trim_end_matches('\r');
    if line.trim().is_empty() {
        return Ok(None);
    }
    if format == ExtractFormat::Text {
        return Ok(Some((Document::from_text(&n.to_string(), line), None)));
    }
    let record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
        .with_context(|| format!("{source}:{n}: expected a JSON object with a \"text\" field"))?;
    let text = record
        .get("text")
        .and_then(|t| t.as_str())
        .with_context(|| format!("{source}:{n}: no string field \"text\""))?;
    let id = record
        .get("id")
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .unwrap_or_else(|| n.to_string());
    Ok(Some((Document::from_text(&id, text), Some(record.clone()))))
}

/// Counts what was extracted and writes each document's result as it comes.
struct Writer {
    out: crate::output::TextOut,
    format: ExtractFormat,
    bioc: Vec<Document>,
    documents: usize,
    sentences: usize,
    relations: usize,
    effects: Option<OpenedLinker>,
    drugs: Option<OpenedLinker>,
    min_link_score: f32,
}

impl Writer {
    fn chunk(
        &mut self,
        extractor: &Extractor,
        batch: usize,
        docs: &[(Document, Record)],
        bar: &indicatif::ProgressBar,
    ) -> Result<()> {
        let plain: Vec<Document> = docs.iter().map(|(d, _)| d.clone()).collect();
        let base = self.sentences;
        let mut found = extract_documents(extractor, &plain, batch, &mut |n| {
            bar.set_position((base + n) as u64)
        })?;
        if self.effects.is_some() || self.drugs.is_some() {
            link_relations(
                &mut found,
                SpanLinkers {
                    effects: self.effects.as_ref().map(|o| &o.linker),
                    drugs: self.drugs.as_ref().map(|o| &o.linker),
                    min_score: self.min_link_score,
                },
            )?;
        }
        self.sentences += plain
            .iter()
            .map(|d| document_sentences(d).len())
            .sum::<usize>();
        for ((doc, record), f) in docs.iter().zip(&found) {
            self.documents += 1;
            self.relations += f.relations.len();
            match self.format {
                ExtractFormat::Text => writeln!(self.out, "{}", serde_json::to_string(f)?)?,
                ExtractFormat::Jsonl => {
                    let mut record = record.clone().unwrap_or_default();
                    record.insert("relations".into(), serde_json::to_value(&f.relations)?);
                    writeln!(self.out, "{}", serde_json::Value::Object(record))?;
                }
                ExtractFormat::Pubtator => {
                    biolore_text::pubtator::write(&mut self.out, &[annotate(doc, f)])?
                }
                ExtractFormat::Bioc => self.bioc.push(annotate(doc, f)),
            }
        }
        self.out.flush()?;
        Ok(())
    }
}

/// Runs `biolore extract`.
pub fn run(args: ExtractArgs) -> Result<()> {
    super::set_threads(args.threads)?;
    let device = args.device.device()?;
    let extractor = Extractor::load(&args.model, &device)
        .with_context(|| format!("loading the extractor {}", args.model.display()))?;
    let out = crate::output::TextOut::open(args.out.as_deref())?;
    let mut writer = Writer {
        out,
        format: args.format,
        bioc: Vec::new(),
        documents: 0,
        sentences: 0,
        relations: 0,
        effects: args
            .effect_index
            .as_deref()
            .map(|d| open_index(d, &device))
            .transpose()?,
        drugs: args
            .drug_index
            .as_deref()
            .map(|d| open_index(d, &device))
            .transpose()?,
        min_link_score: args.min_link_score,
    };
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {pos} sentences {per_sec} {elapsed}")
    {
        bar.set_style(style);
    }
    let chunk = args.chunk.max(1);
    match args.format {
        ExtractFormat::Text | ExtractFormat::Jsonl => {
            // Line by line, a chunk of documents at a time: memory stays bounded on any input size.
            let stdin = args.input == std::path::Path::new("-");
            let source = if stdin {
                "<stdin>".to_string()
            } else {
                args.input.display().to_string()
            };
            let reader: Box<dyn std::io::BufRead> = if stdin {
                Box::new(std::io::BufReader::new(std::io::stdin()))
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&args.input)
                        .with_context(|| format!("cannot read {source}"))?,
                ))
            };
            let mut pending = Vec::new();
            for (i, line) in reader.lines().enumerate() {
                let line =
                    line.with_context(|| format!("{source}:{}: cannot read (not UTF-8?)", i + 1))?;
                let line = if i == 0 {
                    line.trim_start_matches('\u{feff}').to_string()
                } else {
                    line
                };
                if let Some(d) = line_document(args.format, &source, i + 1, &line)? {
                    pending.push(d);
                }
                if pending.len() >= chunk {
                    writer.chunk(&extractor, args.batch_size, &pending, &bar)?;
                    pending.clear();
                }
            }
            writer.chunk(&extractor, args.batch_size, &pending, &bar)?;
        }
        ExtractFormat::Pubtator | ExtractFormat::Bioc => {
            let (source, bytes) = crate::input::read_source(Some(&args.input))?;
            let path = std::path::Path::new(&source);
            let text = biolore_text::error::decode(path, bytes)?;
            let format = if args.format == ExtractFormat::Pubtator {
                biolore_text::Format::Pubtator
            } else {
                biolore_text::Format::BiocJson
            };
            let docs: Vec<(Document, Record)> = biolore_text::parse(path, &text, format)?
                .into_iter()
                .map(|d| (d, None))
                .collect();
            for part in docs.chunks(chunk) {
                writer.chunk(&extractor, args.batch_size, part, &bar)?;
            }
        }
    }
    if args.format == ExtractFormat::Bioc {
        biolore_text::bioc::write(&mut writer.out, &writer.bioc)?;
    }
    let Writer {
        out,
        documents,
        sentences,
        relations,
        ..
    } = writer;
    out.finish()?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{documents} documents, {sentences} sentences in {secs:.1}s ({:.1} sentences/s): {relations} relations",
        sentences as f64 / secs.max(1e-9),
    );
    Ok(())
}
