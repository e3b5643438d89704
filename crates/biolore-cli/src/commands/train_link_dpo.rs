//! `biolore train link-dpo`: ANGEL's negative-aware stage. The training mentions are split into
//! chunks; each chunk is mined with the current generator (its top k under the name trie), the
//! (correct, wrong) pairs are trained with DPO against the positive-only generator, and dev
//! acc@1 after each chunk selects the model and stops the run when it no longer rises.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use biolore_link::generative::GenerativeLinker;
use biolore_link::PromptSettings;
use biolore_nn::heads::LanguageModel;
use biolore_train::link_pairs::{gold_mentions, GoldMention};
use biolore_train::preference::{
    mine_preferences, preference_examples, sample_mentions, Dpo, MiningStats, PreferencePair,
};
use biolore_train::{TrainConfig, TrainableDecoder};
use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::train::{run_phase, write_jsonl, LinkDpoArgs};

/// Files of a chunk folder that are the run's records, not the model.
const NOT_MODEL: &[&str] = &[
    "preferences.jsonl",
    "link-examples.jsonl",
    "mining.json",
    "dev-eval.json",
    "training_log.jsonl",
    "training_state.json",
    "training_config.toml",
    "loss.svg",
];

/// Dev accuracy of one generator.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct DevScore {
    acc1: f64,
    acc5: f64,
    n: usize,
    seconds: f64,
}

/// What one chunk did.
#[derive(Debug, Clone, Serialize)]
struct ChunkReport {
    chunk: usize,
    folder: PathBuf,
    mining: MiningStats,
    steps: usize,
    dev: Option<DevScore>,
}

/// The run's record, written to `OUT/dpo-report.json`.
#[derive(Debug, Serialize)]
struct Report {
    reference: PathBuf,
    reference_dev: Option<DevScore>,
    chunks: Vec<ChunkReport>,
    selected: PathBuf,
    stopped_early: bool,
}

/// Runs `train link-dpo`.
pub fn link_dpo(args: LinkDpoArgs) -> Result<()> {
    super::set_threads(args.train.threads)?;
    let defaults = TrainConfig {
        batch_size: 8,
        micro_batch: 2,
        lr: 1e-5,
        max_length: 160,
        checkpoint_every: 25,
        ..TrainConfig::default()
    };
    let config = args.train.config_over(defaults)?;
    anyhow::ensure!(args.chunks > 0, "--chunks must be at least 1");
    anyhow::ensure!(
        args.generator.is_dir(),
        "--generator {}: expected the folder `train link-generative` wrote (the positive-only model, also the DPO reference)",
        args.generator.display()
    );
    let queries = biolore_link::QueryOptions {
        expand_abbreviations: !args.no_abbreviations,
    };
    let docs = biolore_text::read(&args.corpus, biolore_text::Format::from_path(&args.corpus))
        .with_context(|| format!("reading the corpus {}", args.corpus.display()))?;
    let index = Arc::new(
        biolore_index::Index::open(&args.index)
            .with_context(|| format!("opening the index {}", args.index.display()))?,
    );
    let (mut mentions, stats) = gold_mentions(&docs, index.kb(), queries);
    if mentions.is_empty() {
        return Err(anyhow::Error::new(
            biolore_train::link_pairs::no_usable_mentions(&stats),
        ))
        .with_context(|| format!("training from {}", args.corpus.display()));
    }
    sample_mentions(&mut mentions, args.mentions, config.seed);
    let dev_docs = match &args.dev {
        Some(path) => {
            let mut d = biolore_text::read(path, biolore_text::Format::from_path(path))
                .with_context(|| format!("reading the dev corpus {}", path.display()))?;
            if args.dev_docs > 0 {
                d.truncate(args.dev_docs);
            }
            Some(d)
        }
        None => None,
    };
    let device = args.train.device.device()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let dev = |folder: &Path, cache: &Path| -> Result<Option<DevScore>> {
        dev_docs
            .as_deref()
            .map(|docs| dev_score(folder, &index, docs, queries, args.top, &device, cache))
            .transpose()
    };
    let reference_dev = dev(&args.generator, &args.out.join("reference-dev-eval.json"))?;
    let reference = TrainableDecoder::load(&args.generator, &device)
        .with_context(|| format!("loading the reference {}", args.generator.display()))?;
    let per_chunk = mentions.len().div_ceil(args.chunks);
    eprintln!(
        "link-dpo: {} distinct mentions in {} chunk(s) of ≤{per_chunk}; top {}, β {}",
        mentions.len(),
        args.chunks,
        args.top,
        args.beta
    );
    let mut current = args.generator.clone();
    let mut best = (reference_dev.map(|d| d.acc1), args.generator.clone());
    let mut reports = Vec::new();
    let mut stopped_early = false;
    for (c, part) in mentions.chunks(per_chunk).enumerate() {
        let dir = args.out.join(format!("chunk-{}", c + 1));
        let (pairs, mining) = chunk_preferences(&dir, &current, &index, part, args.top, &device)?;
        eprintln!(
            "chunk {}: {} mentions — rank 1 correct {}, correct lower {}, absent {} → {} preference pairs",
            c + 1,
            mining.mentions,
            mining.correct_first,
            mining.correct_lower,
            mining.correct_absent,
            mining.pairs
        );
        if pairs.is_empty() {
            continue;
        }
        let mut bar: Option<indicatif::ProgressBar> = None;
        let examples = preference_examples(
            &pairs,
            &reference,
            config.max_length,
            config.micro_batch.max(1) * 4,
            &mut |done, total| {
                bar.get_or_insert_with(|| {
                    crate::progress::bar(total, "pairs scored by the reference", 64)
                })
                .set_position(done as u64)
            },
        )
        .context("scoring the pairs with the reference")?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let mut chunk_config = config.clone();
        if args.train.steps.is_none() {
            chunk_config.steps = ((args.epochs * examples.len() as f64)
                / chunk_config.batch_size.max(1) as f64)
                .ceil()
                .max(1.0) as usize;
        }
        let policy = TrainableDecoder::load(&current, &device)
            .and_then(|m| m.freeze_layers(chunk_config.freeze_layers))
            .with_context(|| format!("loading {}", current.display()))?;
        let mut objective = Dpo::new(&examples, &chunk_config, args.beta)?;
        let outcome = run_phase(&policy, &mut objective, &chunk_config, &dir, "pairs")?;
        drop(policy);
        if outcome.interrupted {
            return Ok(());
        }
        save_prompt(&current, &dir)?;
        let score = dev(&dir, &dir.join("dev-eval.json"))?;
        reports.push(ChunkReport {
            chunk: c + 1,
            folder: dir.clone(),
            mining,
            steps: chunk_config.steps,
            dev: score,
        });
        current = dir.clone();
        match (score, best.0) {
            (Some(s), Some(b)) if s.acc1 <= b => {
                eprintln!(
                    "dev acc@1 {:.4} does not beat {:.4}: stopping early",
                    s.acc1, b
                );
                stopped_early = true;
                break;
            }
            (s, _) => best = (s.map(|s| s.acc1), dir),
        }
    }
    copy_model(&best.1, &args.out)?;
    save_prompt(&best.1, &args.out)?;
    let report = Report {
        reference: args.generator.clone(),
        reference_dev,
        chunks: reports,
        selected: best.1.clone(),
        stopped_early,
    };
    let path = args.out.join("dpo-report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "selected {}{} → {} (report: {})",
        best.1.display(),
        best.0
            .map(|a| format!(" (dev acc@1 {a:.4})"))
            .unwrap_or_default(),
        args.out.display(),
        path.display()
    );
    Ok(())
}

/// The chunk's preference pairs: read back when an earlier run mined them, else mined with
/// the generator in `model` and written to `dir`.
fn chunk_preferences(
    dir: &Path,
    model: &Path,
    index: &Arc<biolore_index::Index>,
    mentions: &[GoldMention],
    top: usize,
    device: &Device,
) -> Result<(Vec<PreferencePair>, MiningStats)> {
    let path = dir.join("preferences.jsonl");
    let stats_path = dir.join("mining.json");
    if let (Ok(text), Ok(stats)) = (
        std::fs::read_to_string(&path),
        std::fs::read_to_string(&stats_path),
    ) {
        let pairs = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .with_context(|| format!("{} line {}", path.display(), i + 1))
            })
            .collect::<Result<Vec<PreferencePair>>>()?;
        let stats: MiningStats = serde_json::from_str(&stats)
            .with_context(|| format!("reading {}", stats_path.display()))?;
        return Ok((pairs, stats));
    }
    let linker = generative_linker(model, index, top, device)?;
    let mut bar: Option<indicatif::ProgressBar> = None;
    let (pairs, stats) = mine_preferences(&linker, mentions, top, &mut |done, total| {
        bar.get_or_insert_with(|| crate::progress::bar(total, "mentions mined", 16))
            .set_position(done as u64)
    })
    .with_context(|| format!("mining preference pairs with {}", model.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_jsonl(&pairs, &path)?;
    std::fs::write(&stats_path, serde_json::to_string_pretty(&stats)?)
        .with_context(|| format!("cannot write {}", stats_path.display()))?;
    Ok((pairs, stats))
}

/// The generator in `folder` over `index`'s KB names, prompting as it was trained to.
fn generative_linker(
    folder: &Path,
    index: &Arc<biolore_index::Index>,
    beams: usize,
    device: &Device,
) -> Result<GenerativeLinker> {
    let model = LanguageModel::load(folder, false, device)
        .with_context(|| format!("loading the generator {}", folder.display()))?;
    let prompt = PromptSettings::load(folder)?;
    Ok(GenerativeLinker::new(Arc::new(model), index.clone(), beams)?.with_prompt(prompt))
}

/// Gives the model in `to` the prompt settings of the generator in `from` (DPO keeps the prompt).
fn save_prompt(from: &Path, to: &Path) -> Result<()> {
    PromptSettings::load(from)?
        .save(to)
        .with_context(|| format!("saving the prompt settings in {}", to.display()))
}

/// Dev acc@1/acc@5 of the generator in `folder` (read from `cache` when an earlier run wrote it).
fn dev_score(
    folder: &Path,
    index: &Arc<biolore_index::Index>,
    docs: &[biolore_text::Document],
    queries: biolore_link::QueryOptions,
    beams: usize,
    device: &Device,
    cache: &Path,
) -> Result<DevScore> {
    if let Ok(text) = std::fs::read_to_string(cache) {
        if let Ok(score) = serde_json::from_str::<DevScore>(&text) {
            return Ok(score);
        }
    }
    let linker = generative_linker(folder, index, beams, device)?;
    let began = std::time::Instant::now();
    let report = biolore_link::evaluate(&linker, docs, queries)
        .with_context(|| format!("evaluating {} on the dev corpus", folder.display()))?;
    let score = DevScore {
        acc1: report.acc1,
        acc5: report.acc5,
        n: report.n,
        seconds: began.elapsed().as_secs_f64(),
    };
    eprintln!(
        "dev: {} acc@1 {:.4} acc@5 {:.4} (n {}, {:.0}s)",
        folder.display(),
        score.acc1,
        score.acc5,
        score.n,
        score.seconds
    );
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(cache, serde_json::to_string_pretty(&score)?)
        .with_context(|| format!("cannot write {}", cache.display()))?;
    Ok(score)
}

/// Copies the model files of `from` (not the run's records or checkpoints) into `to`. A chunk
/// folder of this run (`from` inside `to`) is hard-linked where the file system allows it: its
/// weights are replaced by rename, never written in place, so the two cannot change each other.
/// The user's reference generator is always copied.
fn copy_model(from: &Path, to: &Path) -> Result<()> {
    let link = from.starts_with(to);
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let is_record = name.to_str().is_some_and(|n| NOT_MODEL.contains(&n));
        if entry.file_type()?.is_file() && !is_record {
            let target = to.join(&name);
            if target.exists() {
                std::fs::remove_file(&target)
                    .with_context(|| format!("cannot replace {}", target.display()))?;
            }
            if link && std::fs::hard_link(entry.path(), &target).is_ok() {
                continue;
            }
            std::fs::copy(entry.path(), &target).with_context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    target.display()
                )
            })?;
        }
    }
    Ok(())
}
