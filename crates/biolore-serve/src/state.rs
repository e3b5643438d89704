//! What every handler shares: the model, the queue, the limits, the metrics and the index; and
//! the one path texts take to vectors (check → admit → tokenize → queue → vectors).

use std::sync::Arc;

use axum::http::StatusCode;
use biolore_encoder::Encoder;
use biolore_index::Index;

use crate::error::{ApiError, Result};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::queue::{Admission, Batcher};

/// A concept index served by `/link`.
pub struct ServedIndex {
    /// The index (built with the served model).
    pub index: Index,
    /// Search its HNSW graph instead of exactly.
    pub approximate: bool,
}

impl std::fmt::Debug for ServedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedIndex")
            .field("dir", &self.index.dir())
            .field("approximate", &self.approximate)
            .finish()
    }
}

/// Everything the server needs to answer requests.
#[derive(Debug)]
pub struct AppState {
    /// The model (handlers use its tokenizer; the inference thread runs it).
    pub encoder: Arc<Encoder>,
    /// The name clients see for the model (`model` in OpenAI responses, `model_id` in `/info`).
    pub model_id: String,
    /// The queue in front of the inference thread.
    pub batcher: Batcher,
    /// How many requests are inside (queued or encoding).
    pub admission: Admission,
    /// How many requests are in progress over HTTP, on the routes that take bodies.
    pub in_flight: Admission,
    /// Limits on requests.
    pub limits: Limits,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The linker for `/link` (the served model and index), if an index is served.
    pub linker: Option<biolore_link::Linker>,
    /// A generative or hybrid linker that answers `/link` instead of the dense one (it runs
    /// its own model calls, outside the batching queue).
    pub ranker: Option<Arc<dyn biolore_link::MentionRanker>>,
    /// The adverse-drug-event extractor for `/extract`, if one is served.
    pub extractor: Option<Arc<biolore_extract::Extractor>>,
    /// The API key clients must send, if any.
    pub api_key: Option<String>,
}

/// Vectors for one request's texts.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// Row-major `[texts, dim]`.
    pub vectors: Vec<f32>,
    /// Vector dimension.
    pub dim: usize,
    /// Tokens the texts were encoded as (special tokens included).
    pub tokens: usize,
}

impl Encoded {
    /// The vector of text `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.vectors.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AppState {
    /// Starts the inference thread and assembles the state.
    pub fn new(
        encoder: Encoder,
        model_id: String,
        limits: Limits,
        index: Option<ServedIndex>,
        api_key: Option<String>,
    ) -> Result<Self> {
        let encoder = Arc::new(encoder);
        let metrics = Arc::new(Metrics::new());
        let batcher = Batcher::start(
            encoder.clone(),
            limits.max_queue,
            limits.max_batch_tokens,
            metrics.clone(),
        )?;
        Ok(Self {
            encoder: encoder.clone(),
            model_id,
            batcher,
            admission: Admission::new(limits.max_queue),
            in_flight: Admission::new(limits.max_in_flight()),
            limits,
            metrics,
            linker: index.map(|served| {
                biolore_link::Linker::new(
                    encoder.clone(),
                    Arc::new(served.index),
                    biolore_encoder::BatchLimits::default(),
                )
                .approximate(served.approximate)
            }),
            ranker: None,
            extractor: None,
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    /// Vectors for `texts` (the request field `field`), in order.
    ///
    /// Texts are checked against the limits, admitted (429 when the server is full), tokenized
    /// off the async workers (cut at the model's max_seq_length, or 413 when `truncate` is false
    /// and one is longer), and encoded by the inference thread; 503 past the request timeout.
    pub async fn encode(
        &self,
        field: &str,
        texts: Vec<String>,
        truncate: bool,
    ) -> std::result::Result<Encoded, ApiError> {
        self.limits.check_texts(field, &texts)?;
        let _permit = self.admission.admit()?;
        let work = async {
            let tokens = self.tokenize(field, texts, truncate).await?;
            let count = tokens.iter().map(Vec::len).sum();
            let vectors = self.batcher.encode(tokens).await?;
            Ok(Encoded {
                vectors,
                dim: self.batcher.dim(),
                tokens: count,
            })
        };
        match tokio::time::timeout(self.limits.request_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "timeout",
                    format!(
                        "the request was not answered within {:.0} s; retry later or send fewer texts",
                        self.limits.request_timeout.as_secs_f64()
                    ),
                )
            }),
        }
    }

    async fn tokenize(
        &self,
        field: &str,
        texts: Vec<String>,
        truncate: bool,
    ) -> std::result::Result<Vec<Vec<u32>>, ApiError> {
        let encoder = self.encoder.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let tokenizer = encoder.tokenizer();
            texts
                .iter()
                .map(|t| tokenizer.encode_checked(t))
                .collect::<biolore_encoder::Result<Vec<_>>>()
        })
        .await
        .map_err(|_| ApiError::internal("tokenization failed"))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
        let max_len = self.encoder.tokenizer().max_len();
        let mut tokens = Vec::with_capacity(checked.len());
        for (i, (ids, cut)) in checked.into_iter().enumerate() {
            if cut && !truncate {
                return Err(ApiError::too_large(
                    "input_too_long",
                    format!(
                        "`{field}[{i}]` is longer than the model's {max_len} tokens; \
                         send `\"truncate\": true` to cut it"
                    ),
                ));
            }
            tokens.push(ids);
        }
        Ok(tokens)
    }
}
