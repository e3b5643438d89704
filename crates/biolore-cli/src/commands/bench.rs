//! `biolore bench`: encoding throughput on fixed workloads (texts/s, tokens/s, GFLOP/s).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use biolore_encoder::Encoder;
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::ModelArgs;
use crate::workloads;

/// A fixed benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Disease names from MEDIC (short texts, ~10 tokens).
    Medic,
    /// Sentences of NCBI-disease abstracts (~30 tokens).
    Ncbi,
}

/// Arguments of `biolore bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Workloads to run.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [Workload::Medic, Workload::Ncbi])]
    pub workload: Vec<Workload>,
    /// Texts per workload.
    #[arg(long, default_value_t = 2000)]
    pub limit: usize,
    /// Timed passes per workload (the best is reported).
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Folder with the shared evaluation data.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write each workload's texts to DIR/<workload>.txt (one per line) and stop, so that
    /// another engine (`compare_ort.py`) can run the very same texts.
    #[arg(long, value_name = "DIR")]
    pub write_texts: Option<PathBuf>,
    /// Benchmark linking against this index instead of encoding: single-mention latency
    /// (p50/p99) and batch throughput on the NCBI-disease dev mentions.
    #[arg(long)]
    pub link_index: Option<PathBuf>,
    /// With --link-index: also report recall@10 of its exact nearest names against this index
    /// of the same KB and model (e.g. an int8 index against its float32 original).
    #[arg(long, requires = "link_index")]
    pub recall_against: Option<PathBuf>,
    /// With --precision int8: also run the float32 model on the same texts, alternating passes,
    /// and report the speed ratio and the cosine of each int8 vector to its float32 one.
    #[arg(long)]
    pub against_f32: bool,
    /// The linker benchmarked with --link-index (dense, generative or hybrid).
    #[command(flatten)]
    pub linker: super::link::LinkerChoiceArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub precision: super::PrecisionArgs,
}

/// One workload's measurement.
#[derive(Debug, Serialize)]
pub struct BenchResult {
    model: String,
    workload: String,
    texts: usize,
    tokens: usize,
    mean_tokens: f64,
    seconds: f64,
    texts_per_s: f64,
    tokens_per_s: f64,
    gflop_per_s: f64,
    threads: usize,
    batch_size: usize,
    max_batch_tokens: usize,
    gemm: String,
    precision: String,
    /// With --against-f32: float32 texts/s, int8 ÷ float32 speed, smallest and mean cosine.
    #[serde(skip_serializing_if = "Option::is_none")]
    against_f32: Option<AgainstF32>,
}

/// The float32 model beside the int8 one on the same texts.
#[derive(Debug, Serialize)]
struct AgainstF32 {
    f32_texts_per_s: f64,
    speedup: f64,
    min_cosine: f32,
    mean_cosine: f64,
}

/// Floating-point operations of one forward pass over sequences of the given lengths.
pub fn encoder_flops(encoder: &Encoder, lengths: &[usize]) -> f64 {
    let c = &encoder.spec().config;
    let (h, i, l) = (
        c.hidden_size as f64,
        c.intermediate_size as f64,
        c.num_hidden_layers as f64,
    );
    lengths
        .iter()
        .map(|&t| {
            let t = t as f64;
            // Projections and feed-forward: 2·(4H² + 2HI) per token; attention: 4·T·H per token.
            l * t * (2.0 * (4.0 * h * h + 2.0 * h * i) + 4.0 * t * h)
        })
        .sum()
}

/// The texts of workload `w`: the first `--limit` MEDIC names or NCBI-disease sentences.
fn workload_texts(args: &BenchArgs, w: Workload) -> Result<Vec<String>> {
    match w {
        Workload::Medic => {
            workloads::medic_names(&args.data.join("medic/medic_06Jul2012.txt"), args.limit)
        }
        Workload::Ncbi => workloads::pubtator_sentences(
            &args.data.join("ncbi-disease/NCBItrainset_corpus.txt"),
            args.limit,
        ),
    }
}

/// Writes each workload's texts to `DIR/<workload>.txt`, one per line (for other engines).
fn write_texts(args: &BenchArgs, dir: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for &w in &args.workload {
        let texts = workload_texts(args, w)?;
        if texts.is_empty() {
            bail!(
                "workload {w:?} is empty (data folder {})",
                args.data.display()
            );
        }
        let path = dir.join(format!("{}.txt", format!("{w:?}").to_lowercase()));
        let body: String = texts
            .iter()
            .map(|t| format!("{}\n", t.replace(['\n', '\r'], " ")))
            .collect();
        std::fs::write(&path, body).with_context(|| format!("cannot write {}", path.display()))?;
        println!("{} texts → {}", texts.len(), path.display());
    }
    Ok(())
}

/// Runs `biolore bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(dir) = &args.write_texts {
        return write_texts(&args, dir);
    }
    if let Some(index) = &args.link_index {
        return run_link(&args, index);
    }
    let encoder = args.model.load_with(args.precision.precision())?;
    let reference = if args.against_f32 {
        if encoder.precision() == biolore_encoder::Precision::F32 {
            bail!("--against-f32 compares an int8 model with its float32 original: add --precision int8");
        }
        Some(args.model.load_with(biolore_encoder::Precision::F32)?)
    } else {
        None
    };
    let threads = biolore_nn::runtime::workers();
    if !args.json {
        println!(
            "model {} ({}; {}; {} threads; GEMM: {})",
            args.model.model,
            encoder.spec().config.model_type,
            encoder.precision(),
            threads,
            encoder.gemm_name()
        );
        println!(
            "{:<8} {:>6} {:>8} {:>9} {:>10} {:>11} {:>9}",
            "workload", "texts", "mean tok", "seconds", "texts/s", "tokens/s", "GFLOP/s"
        );
    }
    for &w in &args.workload {
        let texts = workload_texts(&args, w)?;
        if texts.is_empty() {
            bail!(
                "workload {w:?} is empty (data folder {})",
                args.data.display()
            );
        }
        let tokens = encoder.tokenize(&texts)?;
        let lengths: Vec<usize> = tokens.iter().map(Vec::len).collect();
        let total_tokens: usize = lengths.iter().sum();
        // Warm-up: one small batch (allocations, thread pools, page faults of the weights).
        encoder.embed_tokens(
            &tokens[..tokens.len().min(32)],
            args.model.limits(),
            &mut |_| {},
        )?;
        let mut best = f64::INFINITY;
        let mut reference_best = f64::INFINITY;
        let mut vectors = None;
        let mut reference_vectors = None;
        for _ in 0..args.runs.max(1) {
            // The float32 pass first, then the measured model's, so both see the same machine.
            if let Some(reference) = &reference {
                let start = Instant::now();
                let tokens = reference.tokenize(&texts)?;
                let v = reference.embed_tokens(&tokens, args.model.limits(), &mut |_| {})?;
                reference_best = reference_best.min(start.elapsed().as_secs_f64());
                reference_vectors = Some(v);
            }
            let start = Instant::now();
            let tokens = encoder.tokenize(&texts)?;
            let v = encoder.embed_tokens(&tokens, args.model.limits(), &mut |_| {})?;
            best = best.min(start.elapsed().as_secs_f64());
            vectors = Some(v);
        }
        let against_f32 = match (&vectors, &reference_vectors) {
            (Some(v), Some(r)) => {
                let cosines: Vec<f32> = (0..v.len())
                    .map(|i| biolore_encoder::cosine(v.row(i), r.row(i)))
                    .collect();
                Some(AgainstF32 {
                    f32_texts_per_s: texts.len() as f64 / reference_best,
                    speedup: reference_best / best,
                    min_cosine: cosines.iter().copied().fold(f32::INFINITY, f32::min),
                    mean_cosine: cosines.iter().map(|&c| f64::from(c)).sum::<f64>()
                        / cosines.len().max(1) as f64,
                })
            }
            _ => None,
        };
        let result = BenchResult {
            model: args.model.model.clone(),
            workload: format!("{w:?}").to_lowercase(),
            texts: texts.len(),
            tokens: total_tokens,
            mean_tokens: total_tokens as f64 / texts.len() as f64,
            seconds: best,
            texts_per_s: texts.len() as f64 / best,
            tokens_per_s: total_tokens as f64 / best,
            gflop_per_s: encoder_flops(&encoder, &lengths) / best / 1e9,
            threads,
            batch_size: args.model.batch_size,
            max_batch_tokens: args.model.max_batch_tokens,
            gemm: encoder.gemm_name(),
            precision: encoder.precision().to_string(),
            against_f32,
        };
        if args.json {
            println!("{}", serde_json::to_string(&result)?);
        } else {
            println!(
                "{:<8} {:>6} {:>8.1} {:>9.2} {:>10.1} {:>11.0} {:>9.1}",
                result.workload,
                result.texts,
                result.mean_tokens,
                result.seconds,
                result.texts_per_s,
                result.tokens_per_s,
                result.gflop_per_s
            );
            if let Some(a) = &result.against_f32 {
                println!(
                    "         float32 {:.1} texts/s; int8 {:.2}× as fast; cosine to float32: min {:.5}, mean {:.6}",
                    a.f32_texts_per_s, a.speedup, a.min_cosine, a.mean_cosine
                );
            }
        }
    }
    Ok(())
}

/// Linking benchmark: mentions one at a time (latency) and all at once (throughput).
fn run_link(args: &BenchArgs, index_dir: &std::path::Path) -> Result<()> {
    use biolore_link::Linker;
    use std::sync::Arc;
    super::set_threads(args.model.threads)?;
    let index = biolore_index::Index::open(index_dir)?;
    let folder = std::path::PathBuf::from(&index.manifest().model_path);
    let encoder = biolore_encoder::Encoder::load_with_precision(
        &folder,
        &args.model.device.device()?,
        args.precision.precision(),
    )?;
    let docs =
        biolore_text::pubtator::read(&args.data.join("ncbi-disease/NCBIdevelopset_corpus.txt"))?;
    // Each mention with its context in the abstract (read by generators trained with it).
    let (mentions, contexts): (Vec<String>, Vec<Option<biolore_link::MentionContext>>) = docs
        .iter()
        .flat_map(|d| {
            let text = d.text();
            d.annotations
                .iter()
                .map(|a| {
                    let context = biolore_link::MentionContext::around(
                        &text,
                        a.span.start,
                        a.span.end,
                        biolore_link::mention_context::WIDE_CONTEXT_CHARS,
                    );
                    (a.span.text.clone(), context)
                })
                .collect::<Vec<_>>()
        })
        .take(args.limit)
        .unzip();
    if mentions.is_empty() {
        bail!("no mentions in {}", args.data.display());
    }
    let device = args.model.device.device()?;
    let linker = Linker::new(Arc::new(encoder), Arc::new(index), args.model.limits());
    let ranker = args.linker.open(linker.clone(), &device)?;
    let (encoder, index) = (linker.encoder().clone(), linker.index());
    let texts: Vec<_> = mentions
        .iter()
        .zip(&contexts)
        .map(|(m, c)| (m.as_str(), c.as_ref()))
        .collect();
    ranker.rank_in_context(&texts[..1], 5)?; // warm-up
    let mut latencies: Vec<f64> = Vec::with_capacity(mentions.len());
    for m in texts.iter().take(300) {
        let start = Instant::now();
        ranker.rank_in_context(std::slice::from_ref(m), 5)?;
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let mut best = f64::INFINITY;
    for _ in 0..args.runs.max(1) {
        let start = Instant::now();
        ranker.rank_in_context(&texts, 5)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    // With an HNSW graph: recall@10 of the approximate nearest names against exact search,
    // and the approximate single-mention latency.
    let mut ann = serde_json::Value::Null;
    // The mentions' vectors, embedded once for the recall checks below (only when one runs).
    let with_graph = index.has_graph() && ranker.kind() == "dense";
    let queries: Vec<Vec<f32>> = if with_graph || args.recall_against.is_some() {
        let vectors = encoder.embed(&mentions)?;
        vectors.rows().map(<[f32]>::to_vec).collect()
    } else {
        Vec::new()
    };
    if with_graph {
        let exact = index.nearest_names(&queries, 10);
        let start = Instant::now();
        let approx = index.nearest_names_approx(&queries, 10).unwrap_or_default();
        let search_ms = start.elapsed().as_secs_f64() * 1e3 / queries.len() as f64;
        let recall_at_10 = biolore_index::recall(&exact, &approx);
        let linker = linker.clone().approximate(true);
        let mut lat: Vec<f64> = Vec::new();
        for m in mentions.iter().take(300) {
            let start = Instant::now();
            linker.link(std::slice::from_ref(m), 5)?;
            lat.push(start.elapsed().as_secs_f64() * 1e3);
        }
        lat.sort_by(f64::total_cmp);
        let p = |x: f64| lat[((lat.len() - 1) as f64 * x).round() as usize];
        ann = serde_json::json!({
            "recall_at_10": recall_at_10,
            "queries": queries.len(),
            "search_ms_per_query": search_ms,
            "latency_p50_ms": p(0.5),
            "latency_p99_ms": p(0.99),
        });
    }
    // Against a reference index (an int8 index against its f32 original): recall@10 of the
    // exact nearest names.
    let mut reference = serde_json::Value::Null;
    if let Some(dir) = &args.recall_against {
        let other = biolore_index::Index::open(dir)?;
        if other.names().len() != index.names().len() || other.dim() != index.dim() {
            bail!(
                "{} has {} names of dimension {}, {} has {} of {}: not the same KB and model",
                dir.display(),
                other.names().len(),
                other.dim(),
                index_dir.display(),
                index.names().len(),
                index.dim()
            );
        }
        let exact = other.nearest_names(&queries, 10);
        let start = Instant::now();
        let got = index.nearest_names(&queries, 10);
        let search_ms = start.elapsed().as_secs_f64() * 1e3 / queries.len() as f64;
        reference = serde_json::json!({
            "index": dir.display().to_string(),
            "precision": other.precision().to_string(),
            "recall_at_10": biolore_index::recall(&exact, &got),
            "queries": queries.len(),
            "search_ms_per_query": search_ms,
        });
    }
    let result = serde_json::json!({
        "reference": reference,
        "precision": index.precision().to_string(),
        "hnsw": ann,
        "index": index_dir.display().to_string(),
        "linker": ranker.kind(),
        "model": index.manifest().model,
        "names": index.names().len(),
        "index_mb": biolore_index::build::folder_size(index_dir) as f64 / 1e6,
        "single_mentions": latencies.len(),
        "latency_p50_ms": pct(0.5),
        "latency_p99_ms": pct(0.99),
        "batch_mentions": mentions.len(),
        "batch_seconds": best,
        "batch_mentions_per_s": mentions.len() as f64 / best,
        "threads": biolore_nn::runtime::workers(),
    });
    if args.json {
        println!("{result}");
    } else {
        println!(
            "{} linker, index {} ({} names, {} vectors, {:.1} MB, model {})\nsingle mention: p50 {:.1} ms, p99 {:.1} ms ({} mentions)\nbatch: {} mentions in {:.2}s = {:.0} mentions/s",
            ranker.kind(),
            index_dir.display(),
            index.names().len(),
            index.precision(),
            result["index_mb"].as_f64().unwrap_or(0.0),
            index.manifest().model,
            pct(0.5),
            pct(0.99),
            latencies.len(),
            mentions.len(),
            best,
            mentions.len() as f64 / best
        );
        if !reference.is_null() {
            println!(
                "recall@10 {:.4} against {} ({} vectors; {} queries, batch search {:.2} ms per query)",
                reference["recall_at_10"].as_f64().unwrap_or(0.0),
                reference["index"].as_str().unwrap_or(""),
                reference["precision"].as_str().unwrap_or(""),
                reference["queries"],
                reference["search_ms_per_query"].as_f64().unwrap_or(0.0)
            );
        }
        if !result["hnsw"].is_null() {
            let h = &result["hnsw"];
            println!(
                "hnsw: recall@10 {:.4} vs exact ({} queries), {:.2} ms search per query; single mention p50 {:.1} ms, p99 {:.1} ms",
                h["recall_at_10"].as_f64().unwrap_or(0.0),
                h["queries"],
                h["search_ms_per_query"].as_f64().unwrap_or(0.0),
                h["latency_p50_ms"].as_f64().unwrap_or(0.0),
                h["latency_p99_ms"].as_f64().unwrap_or(0.0)
            );
        }
    }
    Ok(())
}
