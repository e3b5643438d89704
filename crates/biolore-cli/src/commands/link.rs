//! `biolore link`: mentions (or PubTator documents, or a Parquet column) → ranked concepts, as
//! JSONL (or Parquet).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use biolore_columnar::{is_parquet, CandidateCell, NullText};
use biolore_encoder::{BatchLimits, Encoder};
use biolore_link::inputs::mention_record;
use biolore_link::{
    merge_parts, open_linker, prepare_mention, read_mentions, Candidate, LinkerOptions,
    MentionFormat, MentionRecord, OpenedLinker, PreparedMention, QueryOptions,
};
use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use crate::input::read_source;

/// Mentions per Parquet batch.
const PARQUET_CHUNK: usize = 4096;

/// The column Parquet outputs hold the ranked concepts in.
pub const CANDIDATES_COLUMN: &str = "candidates";

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
    #[command(flatten)]
    pub precision: super::PrecisionArgs,
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
            precision: self.precision.precision(),
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

/// Linker kinds, as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkerArg {
    /// Nearest names by sentence vectors (the index's model).
    Dense,
    /// A decoder writes a KB name, constrained by the trie of the KB's names (needs --generator).
    Generative,
    /// The generator re-scores the dense linker's top concepts (needs --generator).
    Hybrid,
}

/// Which linker answers, and its generator.
#[derive(Args, Debug, Clone)]
pub struct LinkerChoiceArgs {
    /// Which linker ranks the concepts.
    #[arg(long, value_enum, default_value = "dense")]
    pub linker: LinkerArg,
    /// The generator for --linker generative|hybrid: a folder from `train link-generative` or
    /// `train lm`, a GGUF file, or a name under ./models.
    #[arg(long)]
    pub generator: Option<String>,
    /// Beam size of the constrained search.
    #[arg(long, default_value_t = biolore_link::generative::DEFAULT_BEAMS)]
    pub beams: usize,
    /// Dense candidates the hybrid re-scores.
    #[arg(long, default_value_t = biolore_link::hybrid::DEFAULT_DEPTH)]
    pub hybrid_depth: usize,
    /// The generator's share of the hybrid's score, between 0 and 1.
    #[arg(long, default_value_t = 0.5)]
    pub hybrid_weight: f32,
}

impl LinkerChoiceArgs {
    /// The chosen linker over `dense`'s index.
    pub fn open(
        &self,
        dense: biolore_link::Linker,
        device: &candle_core::Device,
    ) -> Result<std::sync::Arc<dyn biolore_link::MentionRanker>> {
        let kind = match self.linker {
            LinkerArg::Dense => biolore_link::LinkerKind::Dense,
            LinkerArg::Generative => biolore_link::LinkerKind::Generative,
            LinkerArg::Hybrid => biolore_link::LinkerKind::Hybrid,
        };
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.hybrid_weight),
            "--hybrid-weight must lie between 0 and 1, not {}",
            self.hybrid_weight
        );
        let options = match &self.generator {
            Some(g) => {
                let path = super::generate::resolve_decoder(g)?;
                let mut o = biolore_link::GeneratorOptions::new(path);
                o.beams = self.beams;
                o.depth = self.hybrid_depth;
                o.weight = self.hybrid_weight;
                Some(o)
            }
            None => None,
        };
        biolore_link::open_ranker(kind, dense, options.as_ref(), device).with_context(
            || match &self.generator {
                Some(g) => format!("opening the generator {g}"),
                None => "opening the linker".to_string(),
            },
        )
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
    /// Write here instead of stdout (written to FILE.partial, renamed when complete). A name
    /// ending in .parquet writes the input's columns (a Parquet input's, or each mention
    /// record's fields) and `candidates`; a Parquet input is written as Parquet.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Parquet input: the column holding the mention.
    #[arg(long, default_value = "mention")]
    pub field: String,
    /// Parquet input: the column holding each mention's context (abbreviations are expanded
    /// from it); used when the column exists.
    #[arg(long, default_value = "context")]
    pub context_field: String,
    /// Parquet input: a null mention is an error naming its row, or (`skip`) null candidates.
    #[arg(long, value_enum, default_value_t = super::embed::NullTextArg::Error)]
    pub null_text: super::embed::NullTextArg,
    #[command(flatten)]
    pub index: IndexArgs,
    #[command(flatten)]
    pub choice: LinkerChoiceArgs,
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
    if let Some(input) = args.input.as_deref().filter(|p| is_parquet(p)) {
        return link_parquet(&args, input);
    }
    let records = records(&args, args.index.queries())?;
    if records.is_empty() {
        return Ok(());
    }
    let opened = args.index.open()?;
    let ranker = args
        .choice
        .open(opened.linker.clone(), &args.index.device.device()?)?;
    let prepared: Vec<PreparedMention> = records.iter().map(|r| r.prepared.clone()).collect();
    let k = args.top_k.max(1);
    if let Some(output) = args.output.as_deref().filter(|p| is_parquet(p)) {
        anyhow::ensure!(
            !args.pretty,
            "--pretty writes text; it cannot go to a Parquet --output"
        );
        // The columns first: records that do not fit stop the run before any ranking.
        let fields: Vec<&Map<String, Value>> = records.iter().map(|r| &r.fields).collect();
        let in_schema = biolore_columnar::records_schema(&fields)
            .context("inferring the columns of the mention records")?;
        let schema = biolore_columnar::schema_with_candidates(&in_schema, CANDIDATES_COLUMN)?;
        let ranked: Vec<Vec<Candidate>> = ranker
            .rank_prepared(&prepared, k)?
            .into_iter()
            .map(|p| merged(p, k))
            .collect();
        return write_records_parquet(&fields, &in_schema, schema, &ranked, output);
    }
    let results = ranker.rank_prepared(&prepared, k)?;
    let mut out = crate::output::TextOut::open(args.output.as_deref())?;
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
    out.finish()
}

/// One mention's candidates from its parts' (a composite's parts merged, best first).
fn merged(parts: Vec<Vec<Candidate>>, k: usize) -> Vec<Candidate> {
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        merge_parts(&parts, k)
    }
}

/// Candidates as the Parquet column's cells.
fn cells_of(cands: &[Candidate]) -> Vec<CandidateCell<'_>> {
    cands
        .iter()
        .map(|c| CandidateCell {
            id: &c.id,
            name: &c.name,
            matched: &c.matched,
            score: c.score,
        })
        .collect()
}

/// `link` of text, JSONL, PubTator or BioC mentions into Parquet: each mention record's `fields`
/// (under `in_schema`: those its JSONL output has, types inferred over all records) and its
/// `ranked` candidates under `schema`, written to `OUTPUT.partial` and renamed when complete.
fn write_records_parquet(
    fields: &[&Map<String, Value>],
    in_schema: &biolore_columnar::SchemaRef,
    schema: biolore_columnar::SchemaRef,
    ranked: &[Vec<Candidate>],
    output: &Path,
) -> Result<()> {
    const ROWS: usize = 4096;
    let mut sink = biolore_columnar::ParquetSink::create(output, schema)?;
    for (i, (fields, ranked)) in fields.chunks(ROWS).zip(ranked.chunks(ROWS)).enumerate() {
        let batch = biolore_columnar::records_batch(in_schema, fields, (i * ROWS) as u64)
            .context("a mention record")?;
        let cells: Vec<Option<Vec<CandidateCell>>> =
            ranked.iter().map(|cands| Some(cells_of(cands))).collect();
        sink.write(&biolore_columnar::with_candidates(
            &batch,
            CANDIDATES_COLUMN,
            &cells,
        )?)?;
    }
    let rows = sink.finish()?;
    tracing::info!(rows, output = %output.display(), "wrote Parquet");
    Ok(())
}

/// `link` over a Parquet file: batch by batch, every input column kept and `candidates`
/// appended (rank order), written to `OUTPUT.partial` and renamed when complete.
fn link_parquet(args: &LinkArgs, input: &Path) -> Result<()> {
    anyhow::ensure!(
        args.mentions.is_empty(),
        "give mentions as arguments or with --input, not both"
    );
    let output = crate::output::parquet_output(args.output.as_deref(), input)?;
    let batches = biolore_columnar::ParquetBatches::open(input, PARQUET_CHUNK)?;
    let in_schema = batches.schema();
    biolore_columnar::require_column(&in_schema, &args.field)
        .with_context(|| format!("{} (--field)", input.display()))?;
    let context = in_schema
        .field_with_name(&args.context_field)
        .is_ok()
        .then_some(args.context_field.as_str());
    let schema = biolore_columnar::schema_with_candidates(&in_schema, CANDIDATES_COLUMN)
        .with_context(|| format!("{}", input.display()))?;
    let opened = args.index.open()?;
    let ranker = args
        .choice
        .open(opened.linker.clone(), &args.index.device.device()?)?;
    let queries = args.index.queries();
    let k = args.top_k.max(1);
    let mut sink = biolore_columnar::ParquetSink::create(output, schema)?;
    let bar = crate::progress::bar(batches.rows() as usize, "mentions", 256);
    let (mut first, mut nulls) = (0u64, 0u64);
    for batch in batches {
        let batch = batch?;
        let mentions =
            biolore_columnar::text_column(&batch, &args.field, first, args.null_text.into())
                .with_context(|| format!("{}", input.display()))?;
        let contexts = match context {
            Some(c) => biolore_columnar::text_column(&batch, c, first, NullText::Skip)
                .with_context(|| format!("{}", input.display()))?,
            None => vec![None; batch.num_rows()],
        };
        let prepared: Vec<PreparedMention> = mentions
            .iter()
            .zip(&contexts)
            .filter_map(|(m, c)| m.map(|m| prepare_mention(m, *c, false, queries)))
            .collect();
        let mut results = ranker.rank_prepared(&prepared, k)?.into_iter();
        let ranked: Vec<Option<Vec<Candidate>>> = mentions
            .iter()
            .map(|m| m.and_then(|_| results.next()).map(|parts| merged(parts, k)))
            .collect();
        let cells: Vec<Option<Vec<CandidateCell>>> =
            ranked.iter().map(|r| r.as_deref().map(cells_of)).collect();
        nulls += cells.iter().filter(|c| c.is_none()).count() as u64;
        sink.write(&biolore_columnar::with_candidates(
            &batch,
            CANDIDATES_COLUMN,
            &cells,
        )?)?;
        bar.inc(batch.num_rows() as u64);
        first += batch.num_rows() as u64;
    }
    bar.finish_and_clear();
    let rows = sink.finish()?;
    if nulls > 0 {
        eprintln!("link: {nulls} of {rows} rows had a null mention; their candidates are null");
    }
    Ok(())
}
