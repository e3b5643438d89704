//! Service routes: `GET /health`, `GET /info`, `GET /metrics`, and the JSON 404/405 answers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// The routes, for messages.
pub const ROUTES: &str =
    "POST /v1/embeddings, POST /embed (and POST /), POST /similarity, POST /link, POST /extract, GET /health, GET /info, GET /metrics";

/// Answers `GET /health`: 200 while the inference thread runs, 503 otherwise.
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    if state.batcher.is_running() {
        Json(json!({"status": "ok"})).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "inference_stopped",
            "the inference thread is not running",
        )
        .into_response()
    }
}

/// Answers `GET /info`: the model, the limits and the index.
pub async fn info(State(state): State<Arc<AppState>>) -> Json<Value> {
    let spec = state.encoder.spec();
    let limits = &state.limits;
    let index = state.linker.as_ref().map(|linker| {
        let m = linker.index().manifest();
        json!({
            "path": linker.index().dir().display().to_string(),
            "model": m.model,
            "kb_source": m.kb_source,
            "concepts": m.concepts,
            "names": linker.index().names().len(),
            "dim": m.dim,
            "approximate": linker.is_approximate() && linker.index().has_graph(),
        })
    });
    Json(json!({
        "model_id": state.model_id,
        "model_path": spec.folder.display().to_string(),
        "model_type": spec.config.model_type,
        "dimension": state.encoder.dim(),
        "precision": state.encoder.precision().as_str(),
        "max_seq_length": spec.max_seq_length,
        "pooling": spec.pooling.as_str(),
        "normalize": spec.normalize,
        "version": env!("CARGO_PKG_VERSION"),
        "max_input_length": spec.max_seq_length,
        "max_client_batch_size": limits.max_inputs,
        "max_batch_tokens": limits.max_batch_tokens,
        "max_concurrent_requests": limits.max_queue,
        "limits": limits,
        "index": index,
    }))
}

/// Answers `GET /metrics` in the OpenMetrics text format Prometheus scrapes.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// 404 for paths that are not routes.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown_route",
        format!("no route {method} {}; routes: {ROUTES}", uri.path()),
    )
}

/// 405 for routes called with the wrong method.
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        format!("{} does not take {method}; routes: {ROUTES}", uri.path()),
    )
}
