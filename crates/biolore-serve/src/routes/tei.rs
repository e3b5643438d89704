//! Hugging Face text-embeddings-inference routes: `POST /embed` and `POST /similarity`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::{normalize, texts_from};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

fn yes() -> bool {
    true
}

/// `POST /embed` body.
#[derive(Debug, Deserialize)]
pub struct EmbedRequest {
    /// A string or a list of strings.
    #[serde(default)]
    pub inputs: Value,
    /// L2-normalise the vectors (default true).
    #[serde(default = "yes")]
    pub normalize: bool,
    /// Cut texts at the model's max_seq_length (default true); false answers 413 instead.
    #[serde(default = "yes")]
    pub truncate: bool,
}

/// Answers `POST /embed` with one vector per input.
pub async fn embed(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<EmbedRequest>,
) -> Result<Json<Vec<Vec<f32>>>, ApiError> {
    let texts = texts_from("inputs", req.inputs)?;
    let encoded = state.encode("inputs", texts, req.truncate).await?;
    let vectors = (0..encoded.len())
        .map(|i| {
            let mut v = encoded.row(i).to_vec();
            if req.normalize {
                normalize(&mut v);
            }
            v
        })
        .collect();
    Ok(Json(vectors))
}

/// The texts of a similarity request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarityInputs {
    /// The text the others are compared with.
    pub source_sentence: String,
    /// The texts to score.
    pub sentences: Vec<String>,
}

/// `POST /similarity` body (TEI's shape).
#[derive(Debug, Deserialize)]
pub struct SimilarityRequest {
    /// The source text and the texts to compare.
    pub inputs: SimilarityInputs,
    /// Cut texts at the model's max_seq_length (default true).
    #[serde(default = "yes")]
    pub truncate: bool,
}

/// Answers `POST /similarity`: the cosine similarity of the source text with each text.
pub async fn similarity(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<SimilarityRequest>,
) -> Result<Json<Vec<f32>>, ApiError> {
    let SimilarityInputs {
        source_sentence,
        sentences,
    } = req.inputs;
    if sentences.is_empty() {
        return Err(ApiError::invalid(
            "empty_input",
            "`inputs.sentences` is empty: give at least one text to compare",
        ));
    }
    let mut texts = Vec::with_capacity(sentences.len() + 1);
    texts.push(source_sentence);
    texts.extend(sentences);
    let encoded = state.encode("inputs", texts, req.truncate).await?;
    let source = encoded.row(0);
    let scores = (1..encoded.len())
        .map(|i| biolore_encoder::cosine(source, encoded.row(i)))
        .collect();
    Ok(Json(scores))
}
