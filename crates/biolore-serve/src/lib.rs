//! biolore's HTTP service: OpenAI- and TEI-compatible embeddings, similarity and concept linking.
//!
//! The request path reads from the modules: [`router`] (routes, API key, metrics, limits) →
//! [`routes`] (one file per interface) → [`state`] (check, admit, tokenize) → [`queue`] (the
//! dynamic batcher and its inference thread) → the encoder. [`server`] binds and shuts down
//! gracefully (the matching load generator is the CLI's `biolore loadtest`).

pub mod auth;
pub mod body;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod queue;
pub mod router;
pub mod routes;
pub mod server;
pub mod state;

pub use error::{ApiError, Result, ServeError};
pub use limits::Limits;
pub use router::router;
pub use server::{shutdown_signal, Server};
pub use state::{AppState, ServedIndex};
