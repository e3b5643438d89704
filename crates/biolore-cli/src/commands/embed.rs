//! `biolore embed`: texts in, vectors out (JSONL, .npy or Parquet), in input order.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use biolore_columnar::{is_parquet, NullText};
use clap::{Args, ValueEnum};

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
    /// JSONL field (or Parquet column) holding the text.
    #[arg(long, default_value = "text")]
    pub field: String,
    /// Write here instead of stdout; a name ending in .npy writes a float32 matrix, one ending
    /// in .parquet the input's columns (a Parquet input's, a JSONL input's fields, or the texts
    /// as --field) and `embedding` (list<float32>). A Parquet input is written as Parquet.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Parquet input: a null text is an error naming its row, or (`skip`) a null embedding.
    #[arg(long, value_enum, default_value_t = NullTextArg::Error)]
    pub null_text: NullTextArg,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub precision: super::PrecisionArgs,
}

/// What a null text in a Parquet input becomes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NullTextArg {
    /// Stop with an error naming the row.
    Error,
    /// Write a null embedding and count it.
    Skip,
}

impl From<NullTextArg> for NullText {
    fn from(a: NullTextArg) -> Self {
        match a {
            NullTextArg::Error => NullText::Error,
            NullTextArg::Skip => NullText::Skip,
        }
    }
}

/// The column Parquet outputs hold the vectors in.
pub const EMBEDDING_COLUMN: &str = "embedding";

/// Runs `biolore embed`.
pub fn run(args: EmbedArgs) -> Result<()> {
    if let Some(input) = args.input.as_deref().filter(|p| is_parquet(p)) {
        return embed_parquet(&args, input);
    }
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
    if let Some(output) = args.output.as_deref().filter(|p| is_parquet(p)) {
        return embed_rows_to_parquet(&args, &inputs, output);
    }
    let encoder = args.model.load_with(args.precision.precision())?;
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

/// `embed` of texts or JSONL records into Parquet: a JSONL input keeps every field as a column
/// (types inferred over all records), plain texts become the column named by `--field`; then
/// `embedding`, written to `OUTPUT.partial` and renamed when complete.
fn embed_rows_to_parquet(args: &EmbedArgs, inputs: &[InputText], output: &Path) -> Result<()> {
    let records: Option<Vec<_>> = inputs.iter().map(|t| t.record.as_ref()).collect();
    let source = args
        .input
        .as_deref()
        .map_or_else(|| "the texts".to_string(), |p| p.display().to_string());
    let in_schema = match &records {
        Some(records) => biolore_columnar::records_schema(records)
            .with_context(|| format!("{source}: inferring the columns of its records"))?,
        None => biolore_columnar::texts_schema(&args.field),
    };
    let schema = biolore_columnar::schema_with_embeddings(&in_schema, EMBEDDING_COLUMN)
        .with_context(|| source.clone())?;
    let encoder = args.model.load_with(args.precision.precision())?;
    let limits = args.model.limits();
    let mut sink = biolore_columnar::ParquetSink::create(output, schema)?;
    let bar = progress::bar(inputs.len(), "texts", 256);
    for (k, chunk) in inputs.chunks(CHUNK).enumerate() {
        let first = k * CHUNK;
        let texts: Vec<&str> = chunk.iter().map(|t| t.text.as_str()).collect();
        // The rows first: a record that does not fit stops the run before any embedding.
        let batch = match &records {
            Some(records) => biolore_columnar::records_batch(
                &in_schema,
                &records[first..first + chunk.len()],
                first as u64,
            )
            .with_context(|| source.clone())?,
            None => biolore_columnar::texts_batch(&in_schema, &texts)?,
        };
        let vectors = encoder.embed_with_progress(&texts, limits, |n| bar.inc(n as u64))?;
        let column: Vec<Option<&[f32]>> = vectors.rows().map(Some).collect();
        sink.write(&biolore_columnar::with_embeddings(
            &batch,
            EMBEDDING_COLUMN,
            &column,
            encoder.dim(),
        )?)?;
    }
    bar.finish_and_clear();
    let rows = sink.finish()?;
    tracing::info!(rows, output = %output.display(), "wrote Parquet");
    Ok(())
}

/// `embed` over a Parquet file: row group by row group, every input column kept and
/// `embedding` appended, written to `OUTPUT.partial` and renamed when complete.
fn embed_parquet(args: &EmbedArgs, input: &Path) -> Result<()> {
    if !args.texts.is_empty() {
        bail!("give texts as arguments or with --input, not both");
    }
    let output = crate::output::parquet_output(args.output.as_deref(), input)?;
    let batches = biolore_columnar::ParquetBatches::open(input, CHUNK)?;
    let in_schema = batches.schema();
    biolore_columnar::require_column(&in_schema, &args.field)
        .with_context(|| format!("{} (--field)", input.display()))?;
    let schema = biolore_columnar::schema_with_embeddings(&in_schema, EMBEDDING_COLUMN)
        .with_context(|| format!("{}", input.display()))?;
    let encoder = args.model.load_with(args.precision.precision())?;
    let limits = args.model.limits();
    let mut sink = biolore_columnar::ParquetSink::create(output, schema)?;
    let bar = progress::bar(batches.rows() as usize, "texts", 256);
    let (mut first, mut nulls) = (0u64, 0u64);
    for batch in batches {
        let batch = batch?;
        let texts =
            biolore_columnar::text_column(&batch, &args.field, first, args.null_text.into())
                .with_context(|| format!("{}", input.display()))?;
        let present: Vec<&str> = texts.iter().flatten().copied().collect();
        let vectors = if present.is_empty() {
            None
        } else {
            Some(encoder.embed_with_progress(&present, limits, |n| bar.inc(n as u64))?)
        };
        let mut rows = vectors.iter().flat_map(|v| v.rows());
        let column: Vec<Option<&[f32]>> =
            texts.iter().map(|t| t.and_then(|_| rows.next())).collect();
        let missing = column.iter().filter(|v| v.is_none()).count() as u64;
        bar.inc(missing);
        nulls += missing;
        sink.write(&biolore_columnar::with_embeddings(
            &batch,
            EMBEDDING_COLUMN,
            &column,
            encoder.dim(),
        )?)?;
        first += batch.num_rows() as u64;
    }
    bar.finish_and_clear();
    let rows = sink.finish()?;
    if nulls > 0 {
        eprintln!("embed: {nulls} of {rows} rows had a null text; their embedding is null");
    }
    tracing::info!(rows, nulls, output = %output.display(), "wrote Parquet");
    Ok(())
}
