//! A bounded load generator for a biolore server on this machine: N clients send requests for a
//! fixed time, and the report gives texts/s, latency percentiles and errors.
//!
//! It only talks to loopback addresses (it is a benchmark, not a tool to load other hosts) and
//! every level stops by itself after its duration or request budget.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

/// Errors of the load generator.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The URL is not `http://HOST[:PORT]`.
    #[error("{url}: expected http://HOST[:PORT] (for example http://127.0.0.1:8080)")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The URL's host is not a loopback address.
    #[error("{url}: the load test only targets this machine (127.0.0.1, ::1 or localhost)")]
    NotLoopback {
        /// The URL given.
        url: String,
    },
    /// No texts to send.
    #[error("no texts to send")]
    NoTexts,
    /// The warm-up request failed, so measuring makes no sense.
    #[error("the server at {url} did not answer the warm-up request: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
}

/// Which route the clients call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// `POST /embed` (TEI).
    Embed,
    /// `POST /v1/embeddings` (OpenAI).
    Openai,
    /// `POST /link`.
    Link,
}

impl Route {
    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Route::Embed => "/embed",
            Route::Openai => "/v1/embeddings",
            Route::Link => "/link",
        }
    }

    /// A request body for these texts.
    fn body(self, texts: &[&str]) -> String {
        match self {
            Route::Embed => json!({"inputs": texts}),
            Route::Openai => json!({"input": texts, "model": "biolore"}),
            Route::Link => json!({"mentions": texts, "top_k": 5}),
        }
        .to_string()
    }
}

/// What to send and for how long.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Route to call.
    pub route: Route,
    /// Texts, sent in order and cycled.
    pub texts: Vec<String>,
    /// Texts per request.
    pub texts_per_request: usize,
    /// How long each concurrency level runs.
    pub duration: Duration,
    /// Most requests per level (a second bound besides the duration).
    pub max_requests: usize,
    /// API key to send, if the server has one.
    pub api_key: Option<String>,
}

/// The outcome of one concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct LevelReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Requests answered with 2xx.
    pub ok: usize,
    /// Failed requests by status (or `transport`).
    pub errors: BTreeMap<String, usize>,
    /// Texts embedded by successful requests.
    pub texts: usize,
    /// Wall time of the level.
    pub seconds: f64,
    /// Texts per second (successful requests only).
    pub texts_per_second: f64,
    /// Requests per second (successful requests only).
    pub requests_per_second: f64,
    /// Latency percentiles of successful requests, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// Checks that `url` is `http://` on a loopback host; returns it without a trailing slash.
pub fn loopback_url(url: &str) -> Result<String, LoadError> {
    let bad = || LoadError::BadUrl {
        url: url.to_string(),
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().ok_or_else(bad)?
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(bad());
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(LoadError::NotLoopback {
            url: url.to_string(),
        });
    }
    Ok(format!("http://{authority}"))
}

/// The value at quantile `q` of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One request's outcome: latency in ms, or the error label.
type Outcome = Result<f64, String>;

fn send(agent: &ureq::Agent, url: &str, key: Option<&str>, body: &str) -> Outcome {
    let started = Instant::now();
    let mut request = agent.post(url).set("Content-Type", "application/json");
    if let Some(key) = key {
        request = request.set("Authorization", &format!("Bearer {key}"));
    }
    match request.send_string(body) {
        Ok(response) => {
            let mut sink = Vec::new();
            response
                .into_reader()
                .read_to_end(&mut sink)
                .map_err(|_| "transport".to_string())?;
            Ok(started.elapsed().as_secs_f64() * 1000.0)
        }
        Err(ureq::Error::Status(code, response)) => {
            let _ = response.into_string();
            Err(code.to_string())
        }
        Err(ureq::Error::Transport(_)) => Err("transport".into()),
    }
}

/// The request bodies, cycling through the texts (none without texts).
fn bodies(options: &LoadOptions) -> Vec<String> {
    let per = options.texts_per_request.max(1);
    let n = options.texts.len();
    if n == 0 {
        return Vec::new();
    }
    let requests = n.div_ceil(per).max(1);
    (0..requests)
        .map(|r| {
            let texts: Vec<&str> = (0..per)
                .map(|j| options.texts[(r * per + j) % n].as_str())
                .collect();
            options.route.body(&texts)
        })
        .collect()
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .max_idle_connections_per_host(256)
        .build()
}

/// Sends one request to check the server answers (and to warm it up).
pub fn warm_up(options: &LoadOptions) -> Result<(), LoadError> {
    if options.texts.is_empty() {
        return Err(LoadError::NoTexts);
    }
    let base = loopback_url(&options.url)?;
    let body = bodies(options)
        .into_iter()
        .next()
        .ok_or(LoadError::NoTexts)?;
    let url = format!("{base}{}", options.route.path());
    send(&agent(), &url, options.api_key.as_deref(), &body)
        .map(|_| ())
        .map_err(|message| LoadError::Unreachable { url, message })
}

/// Runs `clients` concurrent clients until the duration or request budget is spent.
pub fn run_level(options: &LoadOptions, clients: usize) -> Result<LevelReport, LoadError> {
    if options.texts.is_empty() {
        return Err(LoadError::NoTexts);
    }
    let base = loopback_url(&options.url)?;
    let url = format!("{base}{}", options.route.path());
    let bodies = bodies(options);
    let per = options.texts_per_request.max(1);
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let deadline = started + options.duration;
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients.max(1))
            .map(|_| {
                let (url, bodies, next) = (&url, &bodies, &next);
                let key = options.api_key.as_deref();
                let max = options.max_requests;
                scope.spawn(move || {
                    let agent = agent();
                    let mut out = Vec::new();
                    while Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= max {
                            break;
                        }
                        out.push(send(&agent, url, key, &bodies[i % bodies.len()]));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let mut errors = BTreeMap::new();
    for o in outcomes {
        match o {
            Ok(ms) => latencies.push(ms),
            Err(label) => *errors.entry(label).or_insert(0) += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    let ok = latencies.len();
    Ok(LevelReport {
        clients,
        ok,
        errors,
        texts: ok * per,
        seconds,
        texts_per_second: (ok * per) as f64 / seconds.max(1e-9),
        requests_per_second: ok as f64 / seconds.max(1e-9),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_urls_are_accepted() {
        assert_eq!(
            loopback_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            loopback_url("http://localhost:9").unwrap(),
            "http://localhost:9"
        );
        assert_eq!(
            loopback_url("http://[::1]:8080").unwrap(),
            "http://[::1]:8080"
        );
        assert!(loopback_url("http://127.8.0.1").is_ok());
        assert!(matches!(
            loopback_url("http://10.0.0.5:8080"),
            Err(LoadError::NotLoopback { .. })
        ));
        assert!(matches!(
            loopback_url("http://example.com"),
            Err(LoadError::NotLoopback { .. })
        ));
        assert!(matches!(
            loopback_url("https://127.0.0.1"),
            Err(LoadError::BadUrl { .. })
        ));
        assert!(matches!(
            loopback_url("http://"),
            Err(LoadError::BadUrl { .. })
        ));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn bodies_cycle_through_the_texts() {
        let options = LoadOptions {
            url: "http://127.0.0.1:1".into(),
            route: Route::Embed,
            texts: vec!["a".into(), "b".into(), "c".into()],
            texts_per_request: 2,
            duration: Duration::from_secs(1),
            max_requests: 10,
            api_key: None,
        };
        assert_eq!(
            bodies(&options),
            vec![r#"{"inputs":["a","b"]}"#, r#"{"inputs":["c","a"]}"#]
        );
        let empty = LoadOptions {
            texts: Vec::new(),
            ..options
        };
        assert!(bodies(&empty).is_empty());
        assert!(matches!(warm_up(&empty), Err(LoadError::NoTexts)));
        assert!(matches!(run_level(&empty, 2), Err(LoadError::NoTexts)));
    }
}
