//! The router: routes, JSON 404/405, API-key check, metrics, body limit, panic safety net.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::routes::{extract, link, openai, service, tei};
use crate::state::AppState;

/// The application: every route with its middleware, over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        // TEI answers `POST /` with its model's task (embed, for an embedding model);
        // huggingface_hub's InferenceClient posts there.
        .route("/", post(tei::embed))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/embed", post(tei::embed))
        .route("/similarity", post(tei::similarity))
        .route("/link", post(link::link))
        .route("/extract", post(extract::extract))
        .route("/health", get(service::health))
        .route("/info", get(service::info))
        .route("/metrics", get(service::metrics))
        .fallback(service::not_found)
        .method_not_allowed_fallback(service::wrong_method)
        .layer(from_fn_with_state(state.clone(), crate::auth::require_key))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::internal("the server failed on this request").into_response()
        }))
        .layer(from_fn_with_state(state.clone(), limit_in_flight))
        .layer(from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Middleware: counts each request by route and status and times it.
async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    state
        .metrics
        .observe_request(&route, status, started.elapsed());
    tracing::debug!(
        route,
        status,
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// Middleware: 429 before reading a body when twice `--max-queue` requests are in progress, so
/// bodies waiting for admission cannot grow without bound; `GET` routes (health, info,
/// metrics) always pass, so monitoring works under overload. A refused body is read and
/// discarded (up to the body limit, for at most two seconds, never stored) before the answer:
/// closing on a client that is still sending would reset its connection, and it would never
/// see the 429 and its `Retry-After`.
async fn limit_in_flight(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if req.method() == Method::GET {
        return next.run(req).await;
    }
    match state.in_flight.admit() {
        Ok(_permit) => next.run(req).await,
        Err(busy) => {
            let limit = state.limits.max_body_bytes;
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                discard_body(req.into_body(), limit),
            )
            .await;
            busy.into_response()
        }
    }
}

/// Reads and drops a body's bytes, stopping after `limit` bytes or at the first error.
async fn discard_body(mut body: axum::body::Body, limit: usize) {
    use http_body_util::BodyExt;
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen += data.len();
            if seen > limit {
                break;
            }
        }
    }
}
