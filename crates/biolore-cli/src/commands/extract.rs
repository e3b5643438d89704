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
    /// Parquet input (`.parquet`): the column holding the text; the output (`--out
    /// FILE.parquet`) keeps every column and adds `relations`.
    #[arg(long, default_value = "text")]
    pub field: String,
    /// Parquet input: a null text is an error naming its row, or (`skip`) null relations.
    #[arg(long, value_enum, default_value_t = super::embed::NullTextArg::Error)]
    pub null_text: super::embed::NullTextArg,
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
    /// The relations of each document (spans linked when indexes were given), counted.
    fn extract(
        &mut self,
        extractor: &Extractor,
        batch: usize,
        plain: &[Document],
        bar: &indicatif::ProgressBar,
    ) -> Result<Vec<biolore_extract::AdeSentence>> {
        let base = self.sentences;
        let mut found = extract_documents(extractor, plain, batch, &mut |n| {
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
        self.documents += found.len();
        self.relations += found.iter().map(|f| f.relations.len()).sum::<usize>();
        Ok(found)
    }

    /// Extracts from a chunk of documents and writes each one's result.
    fn chunk(
        &mut self,
        extractor: &Extractor,
        batch: usize,
        docs: &[(Document, Record)],
        bar: &indicatif::ProgressBar,
    ) -> Result<()> {
        let plain: Vec<Document> = docs.iter().map(|(d, _)| d.clone()).collect();
        let found = self.extract(extractor, batch, &plain, bar)?;
        for ((doc, record), f) in docs.iter().zip(&found) {
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
    if !biolore_columnar::is_parquet(&args.input)
        && args
            .out
            .as_deref()
            .is_some_and(biolore_columnar::is_parquet)
    {
        anyhow::bail!(
            "--out {}: extract writes Parquet from a Parquet input only; write JSONL from {}",
            args.out
                .as_deref()
                .map_or_else(String::new, |p| p.display().to_string()),
            args.input.display()
        );
    }
    let device = args.device.device()?;
    let extractor = Extractor::load(&args.model, &device)
        .with_context(|| format!("loading the extractor {}", args.model.display()))?;
    let parquet = biolore_columnar::is_parquet(&args.input);
    // A Parquet input writes its own Parquet file (below); text formats go through this.
    let out = crate::output::TextOut::open(if parquet { None } else { args.out.as_deref() })?;
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
    if parquet {
        let rows = extract_parquet(&args, &extractor, &mut writer, &bar)?;
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{rows} rows, {} sentences in {secs:.1}s ({:.1} sentences/s): {} relations",
            writer.sentences,
            writer.sentences as f64 / secs.max(1e-9),
            writer.relations
        );
        return Ok(());
    }
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

/// `extract` over a Parquet file: row group by row group, every input column kept and
/// `relations` appended, written to `OUT.partial` and renamed when complete. Returns the rows.
fn extract_parquet(
    args: &ExtractArgs,
    extractor: &Extractor,
    writer: &mut Writer,
    bar: &indicatif::ProgressBar,
) -> Result<u64> {
    use biolore_columnar::{RelationCell, SpanCell};
    let input = args.input.as_path();
    let output = crate::output::parquet_output(args.out.as_deref(), input)?;
    let batches = biolore_columnar::ParquetBatches::open(input, args.chunk.max(1))?;
    let in_schema = batches.schema();
    biolore_columnar::require_column(&in_schema, &args.field)
        .with_context(|| format!("{} (--field)", input.display()))?;
    let schema = biolore_columnar::schema_with_relations(&in_schema, "relations")
        .with_context(|| format!("{}", input.display()))?;
    let mut sink = biolore_columnar::ParquetSink::create(output, schema)?;
    let (mut first, mut nulls) = (0u64, 0u64);
    for batch in batches {
        let batch = batch?;
        let texts =
            biolore_columnar::text_column(&batch, &args.field, first, args.null_text.into())
                .with_context(|| format!("{}", input.display()))?;
        let docs: Vec<Document> = texts
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| Document::from_text(&(first + i as u64).to_string(), t)))
            .collect();
        let found = writer.extract(extractor, args.batch_size, &docs, bar)?;
        let mut results = found.iter();
        let rows: Vec<Option<Vec<RelationCell>>> = texts
            .iter()
            .map(|t| {
                t.and_then(|_| results.next()).map(|f| {
                    f.relations
                        .iter()
                        .map(|r| RelationCell {
                            drug: SpanCell {
                                start: r.drug.start,
                                end: r.drug.end,
                                text: &r.drug.text,
                            },
                            effect: SpanCell {
                                start: r.effect.start,
                                end: r.effect.end,
                                text: &r.effect.text,
                            },
                            score: r.score.map(|s| s as f32),
                            drug_concept: r.drug_concept.as_ref().map(|c| c.id.as_str()),
                            effect_concept: r.effect_concept.as_ref().map(|c| c.id.as_str()),
                        })
                        .collect()
                })
            })
            .collect();
        nulls += rows.iter().filter(|r| r.is_none()).count() as u64;
        sink.write(&biolore_columnar::with_relations(
            &batch,
            "relations",
            &rows,
        )?)?;
        first += batch.num_rows() as u64;
    }
    let rows = sink.finish()?;
    if nulls > 0 {
        eprintln!("extract: {nulls} of {rows} rows had a null text; their relations are null");
    }
    Ok(rows)
}
