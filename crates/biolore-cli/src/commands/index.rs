//! `biolore index build`: embed a KB's names into a persistent, resumable index.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use biolore_index::{BuildOptions, IndexError};
use clap::{Args, Subcommand};

use super::ModelArgs;
use crate::progress;

/// `biolore index` subcommands.
#[derive(Subcommand, Debug)]
pub enum IndexCommand {
    /// Embed every distinct name of a KB (resumes an interrupted build), or import their
    /// vectors from a Parquet file (`--vectors`).
    Build(BuildArgs),
    /// Write the distinct names an index of a KB holds (to embed elsewhere, e.g. on Spark).
    Names(NamesArgs),
}

/// Arguments of `biolore index names`.
#[derive(Args, Debug)]
pub struct NamesArgs {
    /// KB file from `biolore kb import`.
    #[arg(long)]
    pub kb: PathBuf,
    /// Output: Parquet (`.parquet`, a `text` column), JSONL (`.jsonl`, `{"text"}`) or text (one per line).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Include names of obsolete concepts (as `index build --include-obsolete`).
    #[arg(long)]
    pub include_obsolete: bool,
}

/// Arguments of `biolore index build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// KB file from `biolore kb import`.
    #[arg(long)]
    pub kb: PathBuf,
    /// Output index folder.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Names embedded per chunk (the unit written to disk and resumed from).
    #[arg(long, default_value_t = 2048)]
    pub chunk: usize,
    /// Index names of obsolete concepts too.
    #[arg(long)]
    pub include_obsolete: bool,
    /// Also build an approximate HNSW graph (for large KBs; search with `--approximate`).
    #[arg(long)]
    pub hnsw: bool,
    /// HNSW links per node (M).
    #[arg(long, default_value_t = 32)]
    pub hnsw_m: usize,
    /// HNSW candidate list size while building.
    #[arg(long, default_value_t = 200)]
    pub hnsw_ef_construction: usize,
    /// Take the vectors from this Parquet file (or folder of `*.parquet` parts, as Spark and Ray
    /// write) instead of embedding: a text column (the
    /// names `biolore index names` lists) and an embedding column, as `biolore embed`, the Python
    /// package on Spark or Ray, or any tool writes them; --model names the model that made them.
    #[arg(long)]
    pub vectors: Option<PathBuf>,
    /// The text column of --vectors.
    #[arg(long, default_value = "text")]
    pub vectors_text: String,
    /// The embedding column of --vectors.
    #[arg(long, default_value = "embedding")]
    pub vectors_embedding: String,
    /// How to store the vectors: f32, or int8 (one byte per dimension and a scale per vector,
    /// 4× smaller; quantized once every name is embedded, which also converts a finished f32
    /// index given as --out in place).
    #[arg(long, value_enum, default_value_t = IndexPrecision::F32)]
    pub precision: IndexPrecision,
    /// The encoder's precision (`--precision` of the other commands; here `--precision` is the
    /// index's): f32, or int8 dense layers.
    #[arg(long, value_enum, default_value_t = super::EncoderPrecision::F32)]
    pub encoder_precision: super::EncoderPrecision,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Storage precision of index vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IndexPrecision {
    /// float32 (exact).
    F32,
    /// int8 with a float scale per vector.
    Int8,
}

impl From<IndexPrecision> for biolore_index::Precision {
    fn from(p: IndexPrecision) -> Self {
        match p {
            IndexPrecision::F32 => biolore_index::Precision::F32,
            IndexPrecision::Int8 => biolore_index::Precision::Int8,
        }
    }
}

/// Prints what an int8 quantization did.
fn report_quantized(report: Option<&biolore_index::quantized::QuantizeReport>) {
    if let Some(q) = report {
        eprintln!(
            "quantized {} vectors to int8 in {:.1}s (smallest cosine to float32 {:.5})",
            q.rows, q.seconds, q.min_cosine
        );
    }
}

/// Runs `biolore index …`.
pub fn run(command: IndexCommand) -> Result<()> {
    let args = match command {
        IndexCommand::Build(args) => args,
        IndexCommand::Names(args) => return names(&args),
    };
    let kb = biolore_kb::store::open(&args.kb)?;
    let encoder = args.model.load_with(args.encoder_precision.into())?;
    let options = BuildOptions {
        chunk: args.chunk.max(1),
        limits: args.model.limits(),
        include_obsolete: args.include_obsolete,
        hnsw: args.hnsw.then_some(biolore_index::HnswParams {
            max_connections: args.hnsw_m,
            ef_construction: args.hnsw_ef_construction,
            ..biolore_index::HnswParams::default()
        }),
        precision: args.precision.into(),
    };
    match &args.vectors {
        Some(vectors) => import_vectors(&kb, &encoder, &args, vectors, &options),
        None => build_with_progress(&kb, &encoder, &args.model.model, &args.out, &options),
    }
}

/// `index build --vectors`: the index from a Parquet file of (name, vector) rows.
fn import_vectors(
    kb: &biolore_kb::KnowledgeBase,
    encoder: &biolore_encoder::Encoder,
    args: &BuildArgs,
    vectors: &std::path::Path,
    options: &BuildOptions,
) -> Result<()> {
    use biolore_columnar::{embedding_rows, require_column, text_column, NullText};
    let started = std::time::Instant::now();
    let files = parquet_parts(vectors)?;
    let mut import = biolore_index::VectorImport::create(
        kb,
        &args.model.model,
        &encoder.spec().folder,
        encoder.dim(),
        &args.out,
        args.include_obsolete,
    )
    .with_context(|| format!("creating {}", args.out.display()))?;
    let bar = progress::bar(0, "vectors", 0);
    let mut total = 0u64;
    for file in &files {
        let batches = biolore_columnar::ParquetBatches::open(file, 8192)?;
        require_column(&batches.schema(), &args.vectors_text)
            .and_then(|()| require_column(&batches.schema(), &args.vectors_embedding))
            .with_context(|| format!("reading {}", file.display()))?;
        total += batches.rows();
        bar.set_length(total);
        let mut first_row = 0u64;
        for batch in batches {
            let batch = batch?;
            let texts = text_column(&batch, &args.vectors_text, first_row, NullText::Skip)?;
            let rows = embedding_rows(&batch, &args.vectors_embedding)
                .with_context(|| format!("reading {}", file.display()))?;
            for (i, (text, vector)) in texts.iter().zip(&rows).enumerate() {
                let (Some(text), Some(vector)) = (text, vector) else {
                    continue;
                };
                import
                    .add(text, vector)
                    .with_context(|| format!("{} row {}", file.display(), first_row + i as u64))?;
            }
            first_row += batch.num_rows() as u64;
            bar.inc(batch.num_rows() as u64);
        }
    }
    bar.finish_and_clear();
    let report = import.finish(options).with_context(|| {
        format!(
            "importing {} into {}",
            vectors.display(),
            args.out.display()
        )
    })?;
    eprintln!(
        "{}: {} names from {} vectors of {} ({} not names of the KB, {} repeated) in {:.1}s, {:.1} MB",
        args.out.display(),
        report.names,
        report.read,
        vectors.display(),
        report.unknown,
        report.duplicates,
        started.elapsed().as_secs_f64(),
        report.bytes as f64 / 1e6
    );
    report_quantized(report.quantized.as_ref());
    Ok(())
}

/// The Parquet files of `path`: the file itself, or the `*.parquet` parts of a folder (as Spark
/// and Ray write a dataset), in name order.
fn parquet_parts(path: &std::path::Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && biolore_columnar::is_parquet(p))
        .collect();
    parts.sort();
    anyhow::ensure!(
        !parts.is_empty(),
        "{} holds no .parquet file",
        path.display()
    );
    Ok(parts)
}

/// `index names`: the distinct names of a KB, in index order.
fn names(args: &NamesArgs) -> Result<()> {
    let kb = biolore_kb::store::open(&args.kb)?;
    let table = biolore_index::NameTable::from_kb(&kb, args.include_obsolete);
    let texts: Vec<&str> = table.names.iter().map(|e| e.text.as_str()).collect();
    if biolore_columnar::is_parquet(&args.output) {
        use std::sync::Arc;
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "text",
            arrow_schema::DataType::Utf8,
            false,
        )]));
        let mut sink = biolore_columnar::ParquetSink::create(&args.output, schema.clone())?;
        for chunk in texts.chunks(65_536) {
            let column = Arc::new(arrow_array::StringArray::from(chunk.to_vec()));
            sink.write(&biolore_columnar::RecordBatch::try_new(
                schema.clone(),
                vec![column],
            )?)?;
        }
        sink.finish()?;
    } else {
        let jsonl = args.output.extension().is_some_and(|e| e == "jsonl");
        let mut out = String::with_capacity(texts.iter().map(|t| t.len() + 12).sum());
        for t in &texts {
            if jsonl {
                out.push_str(&serde_json::json!({ "text": t }).to_string());
            } else {
                out.push_str(&t.replace('\n', " "));
            }
            out.push('\n');
        }
        let partial = crate::output::partial_path(&args.output);
        std::fs::write(&partial, out).with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, &args.output)
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    eprintln!(
        "{} distinct names of {} concepts → {}",
        texts.len(),
        kb.len(),
        args.output.display()
    );
    Ok(())
}

/// Builds (or resumes) an index with a progress bar; Ctrl-C stops after the current chunk.
pub fn build_with_progress(
    kb: &biolore_kb::KnowledgeBase,
    encoder: &biolore_encoder::Encoder,
    model: &str,
    out: &std::path::Path,
    options: &BuildOptions,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // First Ctrl-C: finish the current chunk and stop cleanly; a second one exits at once.
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the current chunk (Ctrl-C again to quit now)");
        });
    }
    let bar = progress::bar(0, "names", 0);
    let result = biolore_index::build(
        kb,
        encoder,
        model,
        out,
        options,
        &stop,
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    );
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            let rate = if report.seconds > 0.0 {
                report.embedded as f64 / report.seconds
            } else {
                0.0
            };
            eprintln!(
                "{}: {} names ({} embedded now, {} resumed) in {:.1}s ({:.0} names/s), {:.1} MB",
                out.display(),
                report.names,
                report.embedded,
                report.resumed_from,
                report.seconds,
                rate,
                report.bytes as f64 / 1e6
            );
            report_quantized(report.quantized.as_ref());
            Ok(())
        }
        Err(IndexError::Interrupted { done, total }) => {
            anyhow::bail!(
                "interrupted after {done} of {total} names; run the same command again to resume"
            )
        }
        Err(e) => Err(e).with_context(|| format!("building {}", out.display())),
    }
}
