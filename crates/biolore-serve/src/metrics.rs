//! Prometheus metrics: requests by route and status, latency, batch sizes, queue depth, tokens.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a finished request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: String,
}

/// Labels of a route.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~33 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

/// The server's metrics, shared by the HTTP layer and the inference thread.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    batch_texts: Histogram,
    batch_tokens: Histogram,
    batch_seconds: Histogram,
    queue_depth: Gauge,
    tokens: Counter,
    texts: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `biolore_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("biolore");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by route",
            latency.clone(),
        );
        let batch_texts = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "batch_texts",
            "Texts per inference batch (across requests)",
            batch_texts.clone(),
        );
        let batch_tokens = Histogram::new(exponential_buckets(16.0, 2.0, 12));
        registry.register(
            "batch_tokens",
            "Tokens per inference batch (across requests)",
            batch_tokens.clone(),
        );
        let batch_seconds = latency_histogram();
        registry.register(
            "batch_duration_seconds",
            "Time the model took per inference batch",
            batch_seconds.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Requests waiting for the inference thread",
            queue_depth.clone(),
        );
        let tokens = Counter::default();
        registry.register("tokens", "Tokens encoded", tokens.clone());
        let texts = Counter::default();
        registry.register("texts", "Texts encoded", texts.clone());
        Self {
            registry,
            requests,
            latency,
            batch_texts,
            batch_tokens,
            batch_seconds,
            queue_depth,
            tokens,
            texts,
        }
    }

    /// Counts a finished request.
    pub fn observe_request(&self, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one inference batch.
    pub fn observe_batch(&self, texts: usize, tokens: usize, elapsed: Duration) {
        self.batch_texts.observe(texts as f64);
        self.batch_tokens.observe(tokens as f64);
        self.batch_seconds.observe(elapsed.as_secs_f64());
        self.texts.inc_by(texts as u64);
        self.tokens.inc_by(tokens as u64);
    }

    /// A request joined the queue.
    pub fn queued(&self) {
        self.queue_depth.inc();
    }

    /// A request left the queue (taken into a batch, or dropped).
    pub fn dequeued(&self) {
        self.queue_depth.dec();
    }

    /// The metrics in the Prometheus/OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_the_gauge() {
        let m = Metrics::new();
        m.observe_request("/embed", 200, Duration::from_millis(3));
        m.observe_request("/embed", 200, Duration::from_millis(5));
        m.observe_request("/embed", 429, Duration::from_millis(1));
        m.observe_batch(12, 300, Duration::from_millis(40));
        m.queued();
        m.queued();
        m.dequeued();
        let text = m.render();
        assert!(
            text.contains(r#"biolore_http_requests_total{route="/embed",status="200"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"biolore_http_requests_total{route="/embed",status="429"} 1"#));
        assert!(text.contains(r#"biolore_http_request_duration_seconds_count{route="/embed"} 3"#));
        assert!(text.contains("biolore_batch_texts_sum 12.0"), "{text}");
        assert!(text.contains("biolore_tokens_total 300"));
        assert!(text.contains("biolore_queue_depth 1"));
    }
}
