//! `biolore train pairs|contrastive|distill|lm` and `biolore average`: the BioLORD training
//! recipe, and language-model fine-tuning of decoders.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use biolore_encoder::resolve_model;
use biolore_kb::KnowledgeBase;
use biolore_train::config::DistillLoss;
use biolore_train::contrastive::Contrastive;
use biolore_train::distill::Distill;
use biolore_train::language_model::LanguageModeling;
use biolore_train::log::StepReport;
use biolore_train::pairs::{build_pairs, count_by_kind, PairOptions};
use biolore_train::recipes;
use biolore_train::trainer::{train, Outcome};
use biolore_train::{PairKind, TrainConfig, Trainable};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::kb::{load_source, Format};

/// `biolore train` subcommands.
#[derive(Subcommand, Debug)]
pub enum TrainCommand {
    /// Write the training pairs a KB gives (JSONL), to inspect them.
    Pairs(PairsArgs),
    /// Phase 1: contrastive learning on (name, definition/description/synonym) pairs.
    Contrastive(ContrastiveArgs),
    /// Phase 2: self-distillation from a phase-1 teacher, keeping general sentences near the base model.
    Distill(DistillArgs),
    /// Fine-tune a decoder (GGUF or Hugging Face folder) on prompt/completion pairs (JSONL).
    Lm(LmArgs),
    /// Fine-tune a dense linker on a corpus' annotated mentions (gold names, hard negatives mined from an index).
    LinkDense(LinkDenseArgs),
    /// Train a generator to write the KB name of a mention's concept (generative linking).
    LinkGenerative(LinkGenerativeArgs),
    /// Train a generator on its own mistakes (ANGEL): DPO on (correct, wrong) names from its top k.
    LinkDpo(LinkDpoArgs),
    /// Train an adverse-drug-event extractor (encoder + pair tagger) on a labels file or a gold corpus.
    Extractor(ExtractorArgs),
}

/// Arguments of `biolore train extractor`.
#[derive(Args, Debug)]
pub struct ExtractorArgs {
    /// Training sentences: a labels file from `biolore label` (distillation), or an ADE corpus
    /// folder / JSONL with gold relations (supervised).
    #[arg(long)]
    pub data: PathBuf,
    /// Encoder to start from (a sentence-transformers folder or name), or a trained extractor.
    #[arg(long, short = 'm', default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    /// Output folder (the student; checkpoints under checkpoints/).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Passes over the data when --steps is not given.
    #[arg(long, default_value_t = 4.0)]
    pub epochs: f64,
    #[command(flatten)]
    pub select: super::label::SelectionArgs,
    #[command(flatten)]
    pub self_train: SelfTrainArgs,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Self-training rounds of `biolore train extractor`.
#[derive(Args, Debug)]
pub struct SelfTrainArgs {
    /// Unlabelled sentences for self-training (an ADE folder, JSONL or text; any relations in
    /// them are ignored). Each round, the student labels them and trains again on --data plus its
    /// confident predictions.
    #[arg(long)]
    pub self_train: Option<PathBuf>,
    /// Self-training rounds (with --self-train).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// A sentence joins a round when every relation the student finds scores at least this
    /// (sentences where it finds none join as negatives; the rest are left out).
    #[arg(long, default_value_t = 0.9)]
    pub min_score: f64,
    /// A uniform sample of this many unlabelled sentences.
    #[arg(long)]
    pub self_train_limit: Option<usize>,
    /// Passes over teacher labels plus pseudo-labels in each round (default: --epochs).
    #[arg(long)]
    pub self_train_epochs: Option<f64>,
}

/// Arguments of `biolore train link-dense`.
#[derive(Args, Debug)]
pub struct LinkDenseArgs {
    /// Index of the KB to link to, built with the model to train: its concepts give the gold
    /// names, and its ranking the hard negatives.
    #[arg(long)]
    pub index: PathBuf,
    /// Training corpus with gold concept ids (PubTator; `.json` BioC; `.jsonl` documents).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Model to start from (default: the model the index was built with).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Output folder (a sentence-transformers model; checkpoints under checkpoints/).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Passes over the pairs when --steps is not given.
    #[arg(long, default_value_t = 2.0)]
    pub epochs: f64,
    /// Concepts ranked per mention when mining its hard negative (0: in-batch negatives only).
    #[arg(long, default_value_t = 10)]
    pub negatives_depth: usize,
    /// Do not expand abbreviations defined in the documents.
    #[arg(long)]
    pub no_abbreviations: bool,
    /// Also write the pairs (JSONL, with their negatives) to this file.
    #[arg(long)]
    pub pairs_out: Option<PathBuf>,
    /// In-batch score scale.
    #[arg(long)]
    pub scale: Option<f64>,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Arguments of `biolore train link-generative`.
#[derive(Args, Debug)]
pub struct LinkGenerativeArgs {
    /// Index of the KB to link to (its KB gives the target names; any model's index will do).
    #[arg(long)]
    pub index: PathBuf,
    /// Training corpus with gold concept ids (PubTator; `.json` BioC; `.jsonl` documents).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Decoder to start from: a GGUF file (dequantized to float32), a folder, or a name under ./models.
    #[arg(long, short = 'm', default_value = super::generate::DEFAULT_DECODER)]
    pub model: String,
    /// Output folder (a Hugging Face decoder folder; checkpoints under checkpoints/).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Target names per mention: the gold concept's names closest to it (ANGEL: 3).
    #[arg(long, default_value_t = 3)]
    pub synonyms: usize,
    /// Also this many KB-guided examples (a synonym or a definition → its concept's preferred
    /// name), sampled.
    #[arg(long, default_value_t = 0)]
    pub kb_examples: usize,
    /// Characters of the document shown either side of the mention, which is marked
    /// `START … END` (ANGEL); 0 shows the mention alone. Saved with the generator.
    #[arg(long, default_value_t = biolore_link::mention_context::DEFAULT_CONTEXT_CHARS)]
    pub context_chars: usize,
    /// Passes over the examples when --steps is not given.
    #[arg(long, default_value_t = 1.0)]
    pub epochs: f64,
    /// Do not expand abbreviations defined in the documents.
    #[arg(long)]
    pub no_abbreviations: bool,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Arguments of `biolore train link-dpo`.
#[derive(Args, Debug)]
pub struct LinkDpoArgs {
    /// Index of the KB to link to (its KB gives the names the generator may write).
    #[arg(long)]
    pub index: PathBuf,
    /// Training corpus with gold concept ids (the one the generator was trained on).
    #[arg(long)]
    pub corpus: PathBuf,
    /// The positive-only generator (`train link-generative`'s folder): the start and the DPO reference.
    #[arg(long)]
    pub generator: PathBuf,
    /// Output folder: the selected generator, one folder per chunk (chunk-1, …) and dpo-report.json.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Chunks the mentions are split into: each is mined with the model trained on the ones before.
    #[arg(long, default_value_t = 2)]
    pub chunks: usize,
    /// Names the constrained search ranks per mention when mining.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// DPO temperature β.
    #[arg(long, default_value_t = biolore_train::preference::DEFAULT_BETA)]
    pub beta: f64,
    /// Mine a seeded sample of this many distinct mentions (0: all).
    #[arg(long, default_value_t = 0)]
    pub mentions: usize,
    /// Passes over each chunk's pairs when --steps is not given.
    #[arg(long, default_value_t = 1.0)]
    pub epochs: f64,
    /// Development corpus: acc@1 after each chunk picks the model and stops when it no longer rises.
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Evaluate on the first N documents of --dev only (0: all).
    #[arg(long, default_value_t = 0)]
    pub dev_docs: usize,
    /// Do not expand abbreviations defined in the documents.
    #[arg(long)]
    pub no_abbreviations: bool,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Arguments of `biolore train lm`.
#[derive(Args, Debug)]
pub struct LmArgs {
    /// Decoder to start from: a GGUF file (dequantized to float32), a folder, or a name under ./models.
    #[arg(long, short = 'm', default_value = super::generate::DEFAULT_DECODER)]
    pub model: String,
    /// Training data, JSONL: `{"prompt": …, "completion": …}` or `{"text": …}` per line.
    #[arg(long)]
    pub data: PathBuf,
    /// Wrap each prompt in the model's chat template (the completion becomes the assistant's answer).
    #[arg(long)]
    pub chat: bool,
    /// Output folder (a Hugging Face decoder folder; checkpoints under checkpoints/).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Where the KB comes from.
#[derive(Args, Debug, Clone)]
pub struct KbArgs {
    /// KB file from `biolore kb import`, or a terminology file when --kb-format is given.
    #[arg(long)]
    pub kb: PathBuf,
    /// Read --kb directly as this terminology format instead of a KB file.
    #[arg(long, value_enum)]
    pub kb_format: Option<Format>,
}

impl KbArgs {
    /// Opens the KB.
    pub fn open(&self) -> Result<KnowledgeBase> {
        match self.kb_format {
            None => biolore_kb::store::open(&self.kb)
                .with_context(|| format!("opening the KB {}", self.kb.display())),
            Some(format) => {
                let loaded = load_source(
                    format,
                    std::slice::from_ref(&self.kb),
                    biolore_kb::Policy::Skip,
                    &Default::default(),
                )?;
                anyhow::ensure!(
                    !loaded.kb.is_empty(),
                    "no concepts in {}",
                    self.kb.display()
                );
                Ok(loaded.kb)
            }
        }
    }
}

/// Kinds of pairs, as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Name ↔ definition.
    Definition,
    /// Name ↔ description generated from parents and relations.
    Description,
    /// Name ↔ preferred name.
    Synonym,
}

impl From<KindArg> for PairKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Definition => PairKind::Definition,
            KindArg::Description => PairKind::Description,
            KindArg::Synonym => PairKind::Synonym,
        }
    }
}

/// Arguments of `biolore train pairs`.
#[derive(Args, Debug)]
pub struct PairsArgs {
    #[command(flatten)]
    pub kb: KbArgs,
    /// Output JSONL file (one pair per line).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Kinds of pairs (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "definition,description,synonym"
    )]
    pub pairs: Vec<KindArg>,
    /// Names paired with each definition and description.
    #[arg(long, default_value_t = 4)]
    pub names_per_text: usize,
}

/// Settings shared by both phases; each overrides the config file and the defaults.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// TOML file of training settings (keys as in `training_config.toml` of a trained model).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Optimisation steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Pairs (phase 1) or concept names (phase 2) per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Texts per forward pass, as a memory budget: micro-batches hold texts of similar length
    /// within micro-batch × max-length padded tokens (DPO and the extractor: this many texts).
    #[arg(long)]
    pub micro_batch: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Fraction of the steps used for warm-up.
    #[arg(long)]
    pub warmup_ratio: Option<f64>,
    /// Tokens per text in training.
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Seed of data order and dropout.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Steps between checkpoints.
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Kinds of pairs (comma-separated): definition, description, synonym.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub pairs: Option<Vec<KindArg>>,
    /// Switch dropout off.
    #[arg(long)]
    pub no_dropout: bool,
    /// Keep the embeddings and this many lower transformer layers as they are (faster steps).
    #[arg(long)]
    pub freeze_layers: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

impl TrainArgs {
    /// The settings: defaults, then the file, then the flags.
    pub fn config(&self) -> Result<TrainConfig> {
        self.config_over(TrainConfig::default())
    }

    /// The settings: `defaults` (a command's own), then the file, then the flags.
    pub fn config_over(&self, defaults: TrainConfig) -> Result<TrainConfig> {
        let mut c = match &self.config {
            Some(p) => TrainConfig::from_file(p)?,
            None => defaults,
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field.clone() { c.$field = v; } )* };
        }
        set!(
            steps,
            batch_size,
            micro_batch,
            lr,
            warmup_ratio,
            max_length,
            seed,
            checkpoint_every,
            freeze_layers
        );
        if let Some(k) = &self.pairs {
            c.pairs = k.iter().map(|&k| k.into()).collect();
        }
        if self.no_dropout {
            c.dropout = false;
        }
        c.validate()?;
        Ok(c)
    }
}

/// Arguments of `biolore train contrastive`.
#[derive(Args, Debug)]
pub struct ContrastiveArgs {
    #[command(flatten)]
    pub kb: KbArgs,
    /// Model to start from: a folder, a name under ./models, or a hub id.
    #[arg(long, short = 'm', default_value = biolore_encoder::DEFAULT_MODEL)]
    pub model: String,
    /// Output folder (a sentence-transformers model; checkpoints under checkpoints/).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// In-batch score scale.
    #[arg(long)]
    pub scale: Option<f64>,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Which weights the phase-2 student starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StudentInit {
    /// The teacher (the phase-1 model).
    Teacher,
    /// The base model.
    Base,
}

/// Arguments of `biolore train distill`.
#[derive(Args, Debug)]
pub struct DistillArgs {
    #[command(flatten)]
    pub kb: KbArgs,
    /// The frozen teacher (the phase-1 model).
    #[arg(long)]
    pub teacher: String,
    /// The original base model, which anchors general sentences.
    #[arg(long)]
    pub base: String,
    /// Output folder.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// General sentences: PubTator corpora or plain text, one sentence per line (repeatable).
    #[arg(long)]
    pub sentences: Vec<PathBuf>,
    /// Weights the student starts from.
    #[arg(long, value_enum, default_value = "teacher")]
    pub init: StudentInit,
    /// Weight of the concept term.
    #[arg(long)]
    pub concept_weight: Option<f64>,
    /// Weight of the sentence term.
    #[arg(long)]
    pub sentence_weight: Option<f64>,
    /// Sentences per step.
    #[arg(long)]
    pub sentences_per_step: Option<usize>,
    /// Loss of both terms: cosine or mse.
    #[arg(long)]
    pub distill_loss: Option<String>,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Arguments of `biolore average`.
#[derive(Args, Debug)]
pub struct AverageArgs {
    /// Output folder.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Weight of each model (comma-separated; default equal).
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<f64>>,
    /// Models of one architecture (folders or names under ./models).
    #[arg(required = true, num_args = 2..)]
    pub models: Vec<String>,
}

/// Runs `biolore train …`.
pub fn run(command: TrainCommand) -> Result<()> {
    match command {
        TrainCommand::Pairs(args) => pairs(args),
        TrainCommand::Contrastive(args) => contrastive(args),
        TrainCommand::Distill(args) => distill(args),
        TrainCommand::Lm(args) => language_model(args),
        TrainCommand::LinkDense(args) => link_dense(args),
        TrainCommand::LinkGenerative(args) => link_generative(args),
        TrainCommand::LinkDpo(args) => super::train_link_dpo::link_dpo(args),
        TrainCommand::Extractor(args) => extractor(args),
    }
}

fn language_model(args: LmArgs) -> Result<()> {
    super::set_threads(args.train.threads)?;
    let config = args.train.config()?;
    let path = super::generate::resolve_decoder(&args.model)?;
    let device = args.train.device.device()?;
    let recipes::LanguageModelRun { model, examples } =
        recipes::language_model(&path, &args.data, args.chat, &config, &device)
            .with_context(|| format!("preparing to train {}", path.display()))?;
    let mut objective = LanguageModeling::new(&examples, &config)?;
    let params = model.parameters();
    eprintln!(
        "language model: {} examples ({} completion tokens); {} of {} parameters trained",
        examples.len(),
        examples.iter().map(|e| e.targets()).sum::<usize>(),
        params.trainable_count(),
        params.count()
    );
    run_phase(&model, &mut objective, &config, &args.out, "examples")?;
    Ok(())
}

fn extractor(args: ExtractorArgs) -> Result<()> {
    super::set_threads(args.train.threads)?;
    let sentences: Vec<biolore_extract::AdeSentence> =
        biolore_extract::inputs::read_sentences(&args.data, &args.select.selection())
            .with_context(|| format!("reading {}", args.data.display()))?
            .into_iter()
            .map(|(s, _)| s)
            .filter(|s| s.failed.is_none())
            .collect();
    anyhow::ensure!(
        !sentences.is_empty(),
        "no usable sentences in {} (all failed or empty)",
        args.data.display()
    );
    let st = &args.self_train;
    anyhow::ensure!(
        (0.0..=1.0).contains(&st.min_score),
        "--min-score must lie between 0 and 1, not {}",
        st.min_score
    );
    let base = model_folder(&args.model)?;
    let device = args.train.device.device()?;
    let Some(unlabelled_path) = &st.self_train else {
        train_extractor_round(&args, &base, &sentences, args.epochs, &args.out, &device)?;
        return Ok(());
    };
    anyhow::ensure!(
        st.rounds >= 1,
        "--rounds must be at least 1 with --self-train"
    );
    let selection = biolore_extract::ade::Selection {
        limit: st.self_train_limit,
        // Another sample than the labelled one's when both come from one corpus.
        seed: args.select.sample_seed ^ 0x5e1f,
        ..Default::default()
    };
    let candidates: Vec<biolore_extract::AdeSentence> =
        biolore_extract::inputs::read_sentences(unlabelled_path, &selection)
            .with_context(|| format!("reading {}", unlabelled_path.display()))?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
    let (pool, overlapping) =
        biolore_extract::self_training::unlabelled_pool(candidates, &sentences);
    anyhow::ensure!(
        !pool.is_empty(),
        "no unlabelled sentences left in {} ({overlapping} are among the labelled ones)",
        unlabelled_path.display()
    );
    // Round 0 (teacher labels only) and the middle rounds live under OUT/self-train; the last
    // round trains into OUT itself. Each folder resumes on its own.
    let rounds_dir = args.out.join("self-train");
    let round_dir = |r: usize| {
        if r == st.rounds {
            args.out.clone()
        } else {
            rounds_dir.join(format!("round-{r}"))
        }
    };
    train_extractor_round(
        &args,
        &base,
        &sentences,
        args.epochs,
        &round_dir(0),
        &device,
    )?;
    let epochs = st.self_train_epochs.unwrap_or(args.epochs);
    for round in 1..=st.rounds {
        let previous = round_dir(round - 1);
        let student = biolore_extract::Extractor::load(&previous, &device).with_context(|| {
            format!(
                "loading the round {} student {}",
                round - 1,
                previous.display()
            )
        })?;
        let bar = crate::progress::bar(pool.len(), "sentences pseudo-labelled", 64);
        let (pseudo, mut summary) = biolore_extract::self_training::pseudo_label(
            &student,
            &pool,
            st.min_score,
            32,
            &mut |done| bar.set_position(done as u64),
        )
        .with_context(|| {
            format!(
                "round {round}: the student labelling {}",
                unlabelled_path.display()
            )
        })?;
        bar.finish_and_clear();
        summary.overlapping = overlapping;
        let pseudo_path = rounds_dir.join(format!("pseudo-{round}.jsonl"));
        write_jsonl(&pseudo, &pseudo_path)?;
        eprintln!(
            "round {round}: of {} unlabelled sentences, {} kept with {} relations, {} kept as negatives, {} uncertain (a relation under {}) left out; {overlapping} were labelled already → {}",
            summary.read,
            summary.positive,
            summary.relations,
            summary.negative,
            summary.uncertain,
            st.min_score,
            pseudo_path.display()
        );
        let mut data = sentences.clone();
        data.extend(pseudo);
        train_extractor_round(&args, &previous, &data, epochs, &round_dir(round), &device)?;
    }
    Ok(())
}

/// One training run of the extractor from `base` on `sentences` into `out`.
fn train_extractor_round(
    args: &ExtractorArgs,
    base: &Path,
    sentences: &[biolore_extract::AdeSentence],
    epochs: f64,
    out: &Path,
    device: &candle_core::Device,
) -> Result<()> {
    let defaults = TrainConfig {
        batch_size: 16,
        micro_batch: 8,
        lr: 2e-4,
        max_length: 128,
        checkpoint_every: 50,
        ..TrainConfig::default()
    };
    let mut config = args.train.config_over(defaults)?;
    if args.train.steps.is_none() {
        config.steps = ((epochs * sentences.len() as f64) / config.batch_size.max(1) as f64)
            .ceil()
            .max(1.0) as usize;
    }
    let model = biolore_extract::TrainableExtractor::load(base, config.seed, device)
        .with_context(|| format!("loading {}", base.display()))?;
    let mut objective = biolore_extract::training::Tagging::new(&model, sentences, &config)?;
    let relations: usize = sentences.iter().map(|s| s.relations.len()).sum();
    eprintln!(
        "extractor: {} sentences ({} with relations, {relations} relations) from {}; {} steps of {}; {} parameters",
        objective.len(),
        sentences.iter().filter(|s| !s.relations.is_empty()).count(),
        args.data.display(),
        config.steps,
        config.batch_size,
        model.parameters().count()
    );
    run_phase(&model, &mut objective, &config, out, "sentences")?;
    Ok(())
}

fn link_dense(args: LinkDenseArgs) -> Result<()> {
    super::set_threads(args.train.threads)?;
    let defaults = TrainConfig {
        lr: 2e-5,
        max_length: 32,
        checkpoint_every: 50,
        ..TrainConfig::default()
    };
    let mut config = args.train.config_over(defaults)?;
    if let Some(s) = args.scale {
        config.scale = s;
    }
    let queries = biolore_link::QueryOptions {
        expand_abbreviations: !args.no_abbreviations,
    };
    let docs = biolore_text::read(&args.corpus, biolore_text::Format::from_path(&args.corpus))
        .with_context(|| format!("reading the corpus {}", args.corpus.display()))?;
    let device = args.train.device.device()?;
    let options = biolore_link::LinkerOptions {
        index: Some(args.index.clone()),
        queries,
        ..Default::default()
    };
    let opened = biolore_link::open_linker(&options, &device, &mut biolore_link::build_quietly)
        .with_context(|| format!("opening the index {}", args.index.display()))?;
    let folder = match &args.model {
        Some(m) => model_folder(m)?,
        None => PathBuf::from(&opened.linker.index().manifest().model_path),
    };
    let mut bar: Option<ProgressBar> = None;
    let mining = biolore_train::link_pairs::LinkPairOptions {
        search_depth: args.negatives_depth,
        queries,
    };
    let (pairs, stats) =
        biolore_train::link_pairs::link_pairs(&docs, &opened.linker, mining, &mut |done, total| {
            bar.get_or_insert_with(|| {
                crate::progress::bar(total, "mentions searched for hard negatives", 64)
            })
            .set_position(done as u64)
        })
        .with_context(|| format!("making training pairs from {}", args.corpus.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    drop(opened);
    eprintln!(
        "link-dense: {} pairs ({} with a hard negative; the index ranks the gold concept first for {}) from {} annotations; left out: {} without id, {} composite, {} unknown to the KB, {} repeated",
        stats.pairs,
        stats.with_negative,
        stats.ranked_first,
        stats.annotations,
        stats.without_id,
        stats.composites,
        stats.unknown_concept,
        stats.duplicates
    );
    if let Some(path) = &args.pairs_out {
        write_jsonl(&pairs, path)?;
    }
    if args.train.steps.is_none() {
        config.steps = ((args.epochs * pairs.len() as f64) / config.batch_size.max(1) as f64)
            .ceil()
            .max(1.0) as usize;
    }
    let model = biolore_train::TrainableModel::load(&folder, &device)
        .and_then(|m| m.freeze_layers(config.freeze_layers))
        .with_context(|| format!("loading {}", folder.display()))?;
    let mut objective = Contrastive::new(&pairs, &config)?;
    eprintln!(
        "{} steps of {} ({} batches per epoch) from {}; {} of {} parameters trained",
        config.steps,
        config.batch_size,
        objective.batches_per_epoch(),
        folder.display(),
        model.trainable_count(),
        model.parameter_count()
    );
    run_phase(&model, &mut objective, &config, &args.out, "pairs")?;
    Ok(())
}

fn link_generative(args: LinkGenerativeArgs) -> Result<()> {
    super::set_threads(args.train.threads)?;
    let defaults = TrainConfig {
        batch_size: 16,
        micro_batch: 4,
        lr: 5e-5,
        max_length: 160,
        checkpoint_every: 50,
        ..TrainConfig::default()
    };
    let mut config = args.train.config_over(defaults)?;
    let docs = biolore_text::read(&args.corpus, biolore_text::Format::from_path(&args.corpus))
        .with_context(|| format!("reading the corpus {}", args.corpus.display()))?;
    let index = biolore_index::Index::open(&args.index)
        .with_context(|| format!("opening the index {}", args.index.display()))?;
    let kb = index.kb();
    let queries = biolore_link::QueryOptions {
        expand_abbreviations: !args.no_abbreviations,
    };
    let (mentions, stats) = biolore_train::link_pairs::gold_mentions(&docs, kb, queries);
    if mentions.is_empty() {
        return Err(anyhow::Error::new(
            biolore_train::link_pairs::no_usable_mentions(&stats),
        ))
        .with_context(|| format!("training from {}", args.corpus.display()));
    }
    let prompt = biolore_link::PromptSettings {
        context_chars: args.context_chars,
    };
    let mut examples =
        biolore_train::link_pairs::generation_examples(&mentions, kb, args.synonyms, prompt);
    let from_corpus = examples.len();
    examples.extend(biolore_train::link_pairs::kb_examples(
        kb,
        args.kb_examples,
        config.seed,
    ));
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let data = args.out.join("link-examples.jsonl");
    write_jsonl(&examples, &data)?;
    eprintln!(
        "link-generative: {} distinct mentions ({} repeated, {} composite, {} unknown to the KB left out) → {from_corpus} corpus examples + {} KB examples → {}",
        mentions.len(),
        stats.duplicates,
        stats.composites,
        stats.unknown_concept,
        examples.len() - from_corpus,
        data.display()
    );
    if args.train.steps.is_none() {
        config.steps = ((args.epochs * examples.len() as f64) / config.batch_size.max(1) as f64)
            .ceil()
            .max(1.0) as usize;
    }
    let path = super::generate::resolve_decoder(&args.model)?;
    let device = args.train.device.device()?;
    let recipes::LanguageModelRun { model, examples } =
        recipes::language_model(&path, &data, true, &config, &device)
            .with_context(|| format!("preparing to train {}", path.display()))?;
    let mut objective = LanguageModeling::new(&examples, &config)?;
    let params = model.parameters();
    eprintln!(
        "{} steps of {}; {} of {} parameters trained",
        config.steps,
        config.batch_size,
        params.trainable_count(),
        params.count()
    );
    run_phase(&model, &mut objective, &config, &args.out, "examples")?;
    prompt
        .save(&args.out)
        .with_context(|| format!("saving the prompt settings in {}", args.out.display()))?;
    Ok(())
}

/// Writes serializable records as JSONL, atomically.
pub(super) fn write_jsonl<T: serde::Serialize>(records: &[T], path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let partial = crate::output::partial_path(path);
    {
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut w = std::io::BufWriter::new(file);
        for r in records {
            serde_json::to_writer(&mut w, r)?;
            std::io::Write::write_all(&mut w, b"\n")?;
        }
        std::io::Write::flush(&mut w)?;
    }
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

fn pairs(args: PairsArgs) -> Result<()> {
    let kb = args.kb.open()?;
    let options = PairOptions {
        kinds: args.pairs.iter().map(|&k| k.into()).collect(),
        names_per_text: args.names_per_text,
        ..Default::default()
    };
    let pairs = build_pairs(&kb, &options);
    write_jsonl(&pairs, &args.out)?;
    let counts = count_by_kind(&pairs);
    eprintln!(
        "{} pairs ({} definition, {} description, {} synonym) from {} concepts → {}",
        pairs.len(),
        counts.get(&PairKind::Definition).unwrap_or(&0),
        counts.get(&PairKind::Description).unwrap_or(&0),
        counts.get(&PairKind::Synonym).unwrap_or(&0),
        kb.len(),
        args.out.display()
    );
    Ok(())
}

fn model_folder(name: &str) -> Result<PathBuf> {
    resolve_model(name).with_context(|| format!("finding model '{name}'"))
}

/// A flag set by Ctrl-C (a second Ctrl-C quits at once).
pub fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: saving a checkpoint after this step (Ctrl-C again to quit now)");
    });
    stop
}

fn step_bar(config: &TrainConfig, unit: &'static str) -> ProgressBar {
    let pb = ProgressBar::new(config.steps as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {bar:30.cyan/blue} step {pos}/{len} {msg} elapsed {elapsed} ETA {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(format!("starting ({unit}/s after the first step)"));
    pb
}

pub(super) fn run_phase<M: Trainable>(
    model: &M,
    objective: &mut dyn biolore_train::trainer::Objective<M>,
    config: &TrainConfig,
    out: &Path,
    unit: &'static str,
) -> Result<Outcome> {
    let stop = stop_flag();
    let bar = step_bar(config, unit);
    let mut observer = |r: &StepReport| {
        bar.set_position(r.step as u64);
        bar.set_message(format!(
            "loss {:.4} lr {:.2e} {:.1} {unit}/s",
            r.loss, r.lr, r.items_per_s
        ));
        tracing::debug!(
            step = r.step,
            loss = r.loss,
            lr = r.lr,
            grad_norm = r.grad_norm,
            "step"
        );
    };
    let outcome = train(model, objective, config, out, Some(&stop), &mut observer)
        .with_context(|| format!("training into {}", out.display()))?;
    bar.finish_and_clear();
    if outcome.interrupted {
        eprintln!(
            "stopped after step {} of {}; the checkpoint is in {} — run the same command to resume",
            outcome.steps_done,
            config.steps,
            biolore_train::checkpoint::folder(out).display()
        );
    } else if outcome.resumed_from == Some(outcome.steps_done) && outcome.final_loss.is_nan() {
        eprintln!(
            "already trained ({} steps with these settings and data) → {}",
            outcome.steps_done,
            out.display()
        );
    } else {
        eprintln!(
            "{} steps{} in {:.0}s: {:.2} {unit}/s, final loss {:.4} → {}",
            outcome.steps_done,
            outcome
                .resumed_from
                .map(|s| format!(" (resumed at step {s})"))
                .unwrap_or_default(),
            outcome.seconds,
            outcome.items_per_s,
            outcome.final_loss,
            out.display()
        );
    }
    Ok(outcome)
}

fn contrastive(args: ContrastiveArgs) -> Result<()> {
    super::set_threads(args.train.threads)?;
    let mut config = args.train.config()?;
    if let Some(s) = args.scale {
        config.scale = s;
    }
    let kb = args.kb.open()?;
    let folder = model_folder(&args.model)?;
    let device = args.train.device.device()?;
    let recipes::ContrastiveRun { model, pairs } =
        recipes::contrastive(&kb, &folder, &config, &device)
            .with_context(|| format!("preparing to train {}", folder.display()))?;
    let mut objective = Contrastive::new(&pairs, &config)?;
    eprintln!(
        "phase 1: {} pairs from {} concepts, {} batches of {} per epoch; {} of {} parameters trained",
        pairs.len(),
        kb.len(),
        objective.batches_per_epoch(),
        config.batch_size,
        model.trainable_count(),
        model.parameter_count()
    );
    run_phase(&model, &mut objective, &config, &args.out, "pairs")?;
    Ok(())
}

fn distill(args: DistillArgs) -> Result<()> {
    super::set_threads(args.train.threads)?;
    let mut config = args.train.config()?;
    if let Some(w) = args.concept_weight {
        config.concept_weight = w;
    }
    if let Some(w) = args.sentence_weight {
        config.sentence_weight = w;
    }
    if let Some(n) = args.sentences_per_step {
        config.sentences_per_step = n;
    }
    if let Some(l) = &args.distill_loss {
        config.distill_loss = match l.as_str() {
            "cosine" => DistillLoss::Cosine,
            "mse" => DistillLoss::Mse,
            other => anyhow::bail!("--distill-loss must be cosine or mse, not '{other}'"),
        };
    }
    let kb = args.kb.open()?;
    let teacher_folder = model_folder(&args.teacher)?;
    let base_folder = model_folder(&args.base)?;
    let device = args.train.device.device()?;
    let recipes::DistillRun {
        model,
        teacher,
        base,
        items,
        sentences,
        student_folder,
    } = recipes::distill(
        &kb,
        &teacher_folder,
        &base_folder,
        args.init == StudentInit::Base,
        &args.sentences,
        &config,
        &device,
    )
    .context("preparing phase 2")?;
    let n_items = items.len();
    let n_sentences = sentences.len();
    let mut objective = Distill::new(&items, sentences, teacher, base, &config)?;
    eprintln!(
        "phase 2: {n_items} definition/description targets, {n_sentences} general sentences; student from {}",
        student_folder.display()
    );
    run_phase(&model, &mut objective, &config, &args.out, "items")?;
    Ok(())
}

/// Runs `biolore average`.
pub fn average(args: AverageArgs) -> Result<()> {
    let folders = args
        .models
        .iter()
        .map(|m| model_folder(m))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Path> = folders.iter().map(PathBuf::as_path).collect();
    biolore_train::average::average(&refs, args.weights.as_deref(), &args.out)
        .with_context(|| format!("averaging into {}", args.out.display()))?;
    eprintln!("averaged {} models → {}", folders.len(), args.out.display());
    Ok(())
}
