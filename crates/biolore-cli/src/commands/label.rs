//! `biolore label`: ask a teacher language model which (drug, adverse effect) relations each
//! sentence states; answers cached on disk, written as a labels file (JSONL) for `train extractor`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use biolore_extract::ade::Selection;
use biolore_extract::teacher::cache::AnswerCache;
use biolore_extract::teacher::local::LocalTeacher;
use biolore_extract::teacher::openai::{OpenAiOptions, OpenAiTeacher};
use biolore_extract::teacher::{label, LabelOptions, Prices, Teacher};
use biolore_extract::AdeSentence;
use clap::{Args, ValueEnum};

/// Kinds of teacher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TeacherKind {
    /// A GGUF instruction model (or decoder folder) run by biolore itself.
    Local,
    /// An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp's server).
    Openai,
}

/// Which sentences of a corpus to take.
#[derive(Args, Debug, Clone)]
pub struct SelectionArgs {
    /// A uniform random sample of this many sentences (no gold label is used to choose them).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Take this many sentences with relations (ADE: from DRUG-AE.rel); a seeded sample.
    #[arg(long)]
    pub positives: Option<usize>,
    /// Take this many sentences without relations (ADE: from ADE-NEG.txt); a seeded sample.
    #[arg(long)]
    pub negatives: Option<usize>,
    /// Seed of the samples.
    #[arg(long, default_value_t = 13)]
    pub sample_seed: u64,
}

impl SelectionArgs {
    /// The library's selection.
    pub fn selection(&self) -> Selection {
        Selection {
            limit: self.limit,
            positives: self.positives,
            negatives: self.negatives,
            seed: self.sample_seed,
        }
    }
}

/// How to reach the teacher.
#[derive(Args, Debug, Clone)]
pub struct TeacherArgs {
    /// Which teacher.
    #[arg(long, value_enum, default_value = "local")]
    pub teacher: TeacherKind,
    /// Local: a GGUF file, a decoder folder or a name under ./models. OpenAI: the model name.
    #[arg(long = "teacher-model", default_value = super::generate::DEFAULT_DECODER)]
    pub teacher_model: String,
    /// Base URL of the OpenAI-compatible endpoint (up to /v1).
    #[arg(
        long,
        env = "OPENAI_BASE_URL",
        default_value = "https://api.openai.com/v1"
    )]
    pub base_url: String,
    /// API key (sent as a bearer token; not needed by most local servers).
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Requests in flight at once (default: 4 for an endpoint, 1 for a local model, whose kernels use every core).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seconds before a request is abandoned and retried.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Retries after 429, 5xx, timeouts and dropped connections.
    #[arg(long, default_value_t = 4)]
    pub retries: usize,
    /// First backoff in milliseconds (doubles each retry; Retry-After wins).
    #[arg(long, default_value_t = 1000)]
    pub backoff_ms: u64,
    /// Most answer tokens.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Do not ask for JSON mode (`response_format`), for servers that reject it.
    #[arg(long)]
    pub no_json_mode: bool,
    /// Price per million prompt tokens (for the cost in the summary).
    #[arg(long)]
    pub price_input: Option<f64>,
    /// Price per million answer tokens.
    #[arg(long)]
    pub price_output: Option<f64>,
    /// Folder of cached answers (default: OUT with `.cache` added).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

impl TeacherArgs {
    /// Builds the teacher the flags describe.
    pub fn teacher(&self) -> Result<Box<dyn Teacher>> {
        Ok(match self.teacher {
            TeacherKind::Local => {
                let path = super::generate::resolve_decoder(&self.teacher_model)?;
                let device = self.device.device()?;
                Box::new(
                    LocalTeacher::load(
                        &path,
                        self.max_tokens,
                        self.concurrency.unwrap_or(1),
                        &device,
                    )
                    .with_context(|| format!("loading the teacher {}", path.display()))?,
                )
            }
            TeacherKind::Openai => Box::new(OpenAiTeacher::new(OpenAiOptions {
                base_url: self.base_url.clone(),
                model: self.teacher_model.clone(),
                api_key: self.api_key.clone(),
                concurrency: self.concurrency.unwrap_or(4).max(1),
                timeout_secs: self.timeout,
                retries: self.retries,
                backoff_ms: self.backoff_ms,
                max_tokens: self.max_tokens,
                json_mode: !self.no_json_mode,
            })),
        })
    }

    /// Prices, when both were given.
    pub fn prices(&self) -> Option<Prices> {
        Some(Prices {
            input: self.price_input?,
            output: self.price_output?,
        })
    }
}

/// Arguments of `biolore label`.
#[derive(Args, Debug)]
pub struct LabelArgs {
    /// Sentences: an ADE corpus folder (DRUG-AE.rel, ADE-NEG.txt), a JSONL file of
    /// `{"text": …}` lines, or plain text (one sentence per line). Gold relations are ignored.
    #[arg(long, short = 'i')]
    pub input: PathBuf,
    /// Labels file to write (JSONL: id, text, relations; a summary beside it).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    #[command(flatten)]
    pub select: SelectionArgs,
    #[command(flatten)]
    pub teacher: TeacherArgs,
}

/// Runs `biolore label`.
pub fn run(args: LabelArgs) -> Result<()> {
    let sentences: Vec<AdeSentence> =
        biolore_extract::inputs::read_sentences(&args.input, &args.select.selection())
            .with_context(|| format!("reading sentences from {}", args.input.display()))?
            .into_iter()
            .map(|(s, _)| AdeSentence::new(&s.id, &s.text))
            .collect();
    anyhow::ensure!(
        !sentences.is_empty(),
        "no sentences in {}",
        args.input.display()
    );
    let teacher = args.teacher.teacher()?;
    let cache_dir = args
        .teacher
        .cache
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.cache", args.out.display())));
    let cache = AnswerCache::open(&cache_dir)?;
    let partial = crate::output::partial_path(&args.out);
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let bar = crate::progress::bar(sentences.len(), "sentences", 2);
    bar.set_message(teacher.identity());
    let stop = super::train::stop_flag();
    let summary = label(
        teacher.as_ref(),
        Some(&cache),
        &sentences,
        &LabelOptions::default(),
        args.teacher.prices(),
        Some(&stop),
        &mut |s| {
            serde_json::to_writer(&mut w, s)
                .map_err(|e| biolore_extract::ExtractError::Invalid(e.to_string()))?;
            w.write_all(b"\n")
                .and_then(|_| w.flush())
                .map_err(|e| biolore_extract::ExtractError::io(&partial, e))?;
            bar.inc(1);
            Ok(())
        },
    );
    bar.finish_and_clear();
    let summary = summary.with_context(|| {
        format!(
            "labelling stopped; answers so far are cached in {} — run the same command to go on",
            cache_dir.display()
        )
    })?;
    drop(w);
    if summary.interrupted {
        eprintln!(
            "interrupted after {} sentences (answers cached in {}); run the same command to go on",
            summary.sentences,
            cache_dir.display()
        );
        return Ok(());
    }
    std::fs::rename(&partial, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let summary_path = PathBuf::from(format!("{}.summary.json", args.out.display()));
    let json = serde_json::to_string_pretty(&summary)?;
    std::fs::write(&summary_path, &json)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    eprintln!(
        "{} sentences ({} asked at {:.2}/s, {} from the cache, {} failed, {} repaired): {} relations, {} strings not found in the text → {}",
        summary.sentences,
        summary.asked,
        summary.sentences_per_second,
        summary.cached,
        summary.failed,
        summary.repaired,
        summary.relations,
        summary.unaligned,
        args.out.display()
    );
    if let Some(cost) = summary.cost {
        eprintln!(
            "tokens: {} prompt, {} answer; cost {cost:.4}",
            summary.prompt_tokens, summary.completion_tokens
        );
    }
    Ok(())
}
