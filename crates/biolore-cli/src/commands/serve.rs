//! `biolore serve`: the HTTP service (OpenAI and TEI embeddings, similarity, linking).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use biolore_encoder::{resolve_model, Encoder, DEFAULT_MODEL};
use biolore_index::Index;
use biolore_serve::{AppState, Limits, ServedIndex, Server};
use clap::Args;

/// Arguments of `biolore serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Model: a folder, a name under $BIOLORE_MODELS (default ./models), or a hub id
    /// (default: the index's model with --index, else the default model).
    #[arg(long, short = 'm', env = "BIOLORE_MODEL")]
    pub model: Option<String>,
    /// Concept index for `/link` (from `biolore index build`, with the same model).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// Search the index's HNSW graph instead of exactly.
    #[arg(long)]
    pub approximate: bool,
    /// Trained extractor for `/extract` (from `biolore train extractor`).
    #[arg(long)]
    pub extractor: Option<PathBuf>,
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one and prints it).
    #[arg(long, short = 'p', default_value_t = 8080)]
    pub port: u16,
    /// Require `Authorization: Bearer KEY` on every route but /health.
    #[arg(long, env = "BIOLORE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Model name in responses and /info (default: the --model value).
    #[arg(long)]
    pub served_model_name: Option<String>,
    #[command(flatten)]
    pub choice: super::link::LinkerChoiceArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Inference worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub device: super::DeviceArgs,
    #[command(flatten)]
    pub precision: super::PrecisionArgs,
}

/// The request limits, as options.
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Most texts (or mentions) per request; more is 413.
    #[arg(long, default_value_t = Limits::default().max_inputs)]
    pub max_inputs: usize,
    /// Most characters per text; longer is 413.
    #[arg(long, default_value_t = Limits::default().max_chars)]
    pub max_chars: usize,
    /// Most requests queued or being encoded at once; more is 429 with Retry-After.
    #[arg(long, default_value_t = Limits::default().max_queue)]
    pub max_queue: usize,
    /// Most tokens per inference batch across requests.
    #[arg(long, default_value_t = Limits::default().max_batch_tokens)]
    pub max_batch_tokens: usize,
    /// Most bytes per request body; more is 413.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Seconds a request may wait for its vectors; longer is 503.
    #[arg(long, default_value_t = Limits::default().request_timeout.as_secs_f64())]
    pub request_timeout: f64,
}

impl LimitArgs {
    /// The limits the options describe.
    pub fn limits(&self) -> Result<Limits> {
        anyhow::ensure!(
            self.request_timeout.is_finite() && self.request_timeout > 0.0,
            "--request-timeout must be a positive number of seconds"
        );
        for (name, v) in [
            ("--max-inputs", self.max_inputs),
            ("--max-chars", self.max_chars),
            ("--max-queue", self.max_queue),
            ("--max-batch-tokens", self.max_batch_tokens),
            ("--max-body-bytes", self.max_body_bytes),
        ] {
            anyhow::ensure!(v > 0, "{name} must be at least 1");
        }
        Ok(Limits {
            max_inputs: self.max_inputs,
            max_chars: self.max_chars,
            max_queue: self.max_queue,
            max_batch_tokens: self.max_batch_tokens,
            max_body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs_f64(self.request_timeout),
            ..Limits::default()
        })
    }
}

/// Loads the model and index and assembles the server's state.
pub fn state(args: &ServeArgs) -> Result<Arc<AppState>> {
    super::set_threads(args.threads)?;
    let limits = args.limits.limits()?;
    let index = match &args.index {
        Some(dir) => {
            Some(Index::open(dir).with_context(|| format!("opening index {}", dir.display()))?)
        }
        None => None,
    };
    let (folder, model_id) = match (&args.model, &index) {
        (Some(m), _) => (resolve_model(m)?, m.clone()),
        (None, Some(index)) => {
            let m = index.manifest();
            (PathBuf::from(&m.model_path), m.model.clone())
        }
        (None, None) => (resolve_model(DEFAULT_MODEL)?, DEFAULT_MODEL.to_string()),
    };
    let precision = args.precision.precision();
    let encoder = Encoder::load_with_precision(&folder, &args.device.device()?, precision)
        .with_context(|| format!("loading model from {} ({precision})", folder.display()))?;
    if let Some(index) = &index {
        anyhow::ensure!(
            encoder.dim() == index.dim(),
            "model {} gives {}-d vectors but the index {} holds {}-d vectors",
            folder.display(),
            encoder.dim(),
            index.dir().display(),
            index.dim()
        );
        if args.approximate && !index.has_graph() {
            tracing::warn!(
                "{} has no HNSW graph: searching exactly",
                index.dir().display()
            );
        }
    }
    let model_id = args.served_model_name.clone().unwrap_or(model_id);
    let index = index.map(|index| ServedIndex {
        index,
        approximate: args.approximate,
    });
    let device = args.device.device()?;
    let mut state = AppState::new(encoder, model_id, limits, index, args.api_key.clone())?;
    if args.choice.linker != super::link::LinkerArg::Dense {
        let dense = state.linker.clone().context(
            "--linker generative|hybrid needs --index (the KB whose names the generator writes)",
        )?;
        state.ranker = Some(args.choice.open(dense, &device)?);
    }
    if let Some(dir) = &args.extractor {
        let extractor = biolore_extract::Extractor::load(dir, &device)
            .with_context(|| format!("loading the extractor {}", dir.display()))?;
        state.extractor = Some(Arc::new(extractor));
    }
    Ok(Arc::new(state))
}

/// A multi-threaded async runtime for the HTTP side (the model runs on its own thread).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("biolore-http")
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `biolore serve` until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> Result<()> {
    let state = state(&args)?;
    let loopback = args
        .host
        .parse::<std::net::IpAddr>()
        .map_or(args.host == "localhost", |ip| ip.is_loopback());
    if !loopback && state.api_key.is_none() {
        tracing::warn!(
            "listening on {} without an API key: anyone who can reach it can use it",
            args.host
        );
    }
    runtime()?.block_on(async move {
        let server = Server::bind(&args.host, args.port, state.clone()).await?;
        let addr = server.local_addr()?;
        let mut out = std::io::stdout();
        writeln!(
            out,
            "biolore serve: listening on http://{addr} (model {}{})",
            state.model_id,
            match (state.linker.is_some(), state.extractor.is_some()) {
                (true, true) => ", with /link and /extract",
                (true, false) => ", with /link",
                (false, true) => ", with /extract",
                (false, false) => "",
            }
        )?;
        out.flush()?;
        server.run(biolore_serve::shutdown_signal()).await?;
        eprintln!("biolore serve: stopped");
        Ok(())
    })
}
