//! `biolore loadtest`: concurrent clients against a server on this machine (one it starts itself,
//! or a running one on loopback), reporting texts/s, latency percentiles and errors per level.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::load_generator::{run_level, warm_up, LevelReport, LoadOptions, Route};
use anyhow::{Context, Result};
use biolore_serve::Server;
use clap::{Args, ValueEnum};

use super::serve::{runtime, state, ServeArgs};

/// Routes the load test can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouteArg {
    /// `POST /embed` (TEI).
    Embed,
    /// `POST /v1/embeddings` (OpenAI).
    Openai,
    /// `POST /link` (needs --index).
    Link,
}

/// Arguments of `biolore loadtest`.
#[derive(Args, Debug)]
pub struct LoadtestArgs {
    /// A running server (loopback only); without it, one is started here on a free port.
    #[arg(long)]
    pub url: Option<String>,
    /// Route to call.
    #[arg(long, value_enum, default_value = "embed")]
    pub route: RouteArg,
    /// Concurrent clients, one level each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
    pub clients: Vec<usize>,
    /// Seconds per level.
    #[arg(long, default_value_t = 15.0)]
    pub duration: f64,
    /// Most requests per level.
    #[arg(long, default_value_t = 100_000)]
    pub max_requests: usize,
    /// Texts per request.
    #[arg(long, default_value_t = 1)]
    pub texts_per_request: usize,
    /// Texts to send, one per line (default: NCBI-disease dev sentences, or its mentions for
    /// --route link, from --data).
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// Folder with the shared evaluation data.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The server to start when --url is not given (its --port and --host are ignored).
    #[command(flatten)]
    pub serve: ServeArgs,
}

fn texts(args: &LoadtestArgs) -> Result<Vec<String>> {
    if let Some(path) = &args.texts {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let texts: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        anyhow::ensure!(
            !texts.is_empty(),
            "{}: no texts (one per line)",
            path.display()
        );
        return Ok(texts);
    }
    let corpus = args.data.join("ncbi-disease/NCBIdevelopset_corpus.txt");
    anyhow::ensure!(
        corpus.is_file(),
        "{} is missing: give the texts with --texts FILE",
        corpus.display()
    );
    if args.route == RouteArg::Link {
        mentions(&corpus)
    } else {
        crate::workloads::pubtator_sentences(&corpus, 2000)
    }
}

fn mentions(corpus: &Path) -> Result<Vec<String>> {
    let docs = biolore_text::pubtator::read(corpus)?;
    Ok(docs
        .iter()
        .flat_map(|d| d.annotations.iter().map(|a| a.span.text.clone()))
        .collect())
}

fn print_table(route: Route, reports: &[LevelReport]) {
    println!(
        "route {}: {:>7} {:>8} {:>8} {:>10} {:>9} {:>9} {:>9}  errors",
        route.path(),
        "clients",
        "requests",
        "texts",
        "texts/s",
        "p50 ms",
        "p95 ms",
        "p99 ms"
    );
    for r in reports {
        let errors: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        println!(
            "{:>w$} {:>7} {:>8} {:>8} {:>10.1} {:>9.1} {:>9.1} {:>9.1}  {}",
            "",
            r.clients,
            r.ok,
            r.texts,
            r.texts_per_second,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            if errors.is_empty() {
                "0".into()
            } else {
                errors.join(", ")
            },
            w = route.path().len() + 7,
        );
    }
    if let (Some(first), Some(last)) = (reports.first(), reports.last()) {
        if first.texts_per_second > 0.0 && reports.len() > 1 {
            println!(
                "throughput at {} clients is {:.2}× that at {}",
                last.clients,
                last.texts_per_second / first.texts_per_second,
                first.clients
            );
        }
    }
}

/// Runs `biolore loadtest`.
pub fn run(args: LoadtestArgs) -> Result<()> {
    anyhow::ensure!(
        args.duration.is_finite() && args.duration > 0.0,
        "--duration must be a positive number of seconds"
    );
    anyhow::ensure!(
        args.clients.iter().all(|&c| (1..=1024).contains(&c)),
        "--clients must be between 1 and 1024"
    );
    let route = match args.route {
        RouteArg::Embed => Route::Embed,
        RouteArg::Openai => Route::Openai,
        RouteArg::Link => Route::Link,
    };
    let texts = texts(&args)?;
    let mut options = LoadOptions {
        url: args.url.clone().unwrap_or_default(),
        route,
        texts,
        texts_per_request: args.texts_per_request.max(1),
        duration: Duration::from_secs_f64(args.duration),
        max_requests: args.max_requests.max(1),
        api_key: args.serve.api_key.clone(),
    };
    let measure = |options: &LoadOptions| -> Result<Vec<LevelReport>> {
        warm_up(options)?;
        let mut reports = Vec::new();
        for &clients in &args.clients {
            eprintln!("loadtest: {clients} clients for {:.0} s …", args.duration);
            reports.push(run_level(options, clients)?);
        }
        Ok(reports)
    };
    let reports = match &args.url {
        Some(url) => {
            options.url = crate::load_generator::loopback_url(url)?;
            measure(&options)?
        }
        None => {
            let state = state(&args.serve)?;
            let rt = runtime()?;
            let server = rt.block_on(Server::bind("127.0.0.1", 0, state))?;
            options.url = format!("http://{}", server.local_addr()?);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving = rt.spawn(server.run(async {
                let _ = stopped.await;
            }));
            let reports = measure(&options);
            let _ = stop.send(());
            rt.block_on(serving)
                .context("the server task failed")?
                .context("the server failed")?;
            reports?
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"route": route.path(), "texts_per_request": options.texts_per_request, "levels": reports})
        );
    } else {
        print_table(route, &reports);
    }
    Ok(())
}
