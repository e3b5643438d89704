//! `POST /v1/embeddings`: OpenAI's embeddings API.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::texts_from;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// The request body (OpenAI's fields; `model` and `user` are accepted and not used).
#[derive(Debug, Deserialize)]
pub struct EmbeddingsRequest {
    /// A string or a list of strings.
    #[serde(default)]
    pub input: Value,
    /// The model the client asked for (the served model answers whatever it is).
    #[serde(default)]
    pub model: Option<String>,
    /// `float` (default) or `base64` (little-endian f32 bytes).
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Vector size; only the model's own dimension is accepted.
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// End-user id (ignored).
    #[serde(default)]
    pub user: Option<String>,
}

/// One vector as a list of floats or a base64 string.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Vector {
    /// `encoding_format: float`.
    Float(Vec<f32>),
    /// `encoding_format: base64`.
    Base64(String),
}

/// One item of `data`.
#[derive(Debug, Serialize)]
pub struct EmbeddingItem {
    /// Always `embedding`.
    pub object: &'static str,
    /// Position of the text in `input`.
    pub index: usize,
    /// The vector.
    pub embedding: Vector,
}

/// Token counts.
#[derive(Debug, Serialize)]
pub struct Usage {
    /// Tokens of the inputs (special tokens included).
    pub prompt_tokens: usize,
    /// Same as `prompt_tokens`.
    pub total_tokens: usize,
}

/// The response body.
#[derive(Debug, Serialize)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: &'static str,
    /// One item per input, in order.
    pub data: Vec<EmbeddingItem>,
    /// The served model's id.
    pub model: String,
    /// Token counts.
    pub usage: Usage,
}

/// Little-endian f32 bytes in standard base64 (what OpenAI's clients decode).
pub fn base64_vector(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Answers `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "invalid_encoding_format",
                format!("`encoding_format` must be \"float\" or \"base64\", not \"{other}\""),
            ))
        }
    };
    if let Some(d) = req.dimensions {
        if d != state.batcher.dim() {
            return Err(ApiError::invalid(
                "invalid_dimensions",
                format!(
                    "`dimensions` is {d} but {} gives {}-d vectors",
                    state.model_id,
                    state.batcher.dim()
                ),
            ));
        }
    }
    let texts = texts_from("input", req.input)?;
    let encoded = state.encode("input", texts, true).await?;
    let data = (0..encoded.len())
        .map(|i| EmbeddingItem {
            object: "embedding",
            index: i,
            embedding: if base64 {
                Vector::Base64(base64_vector(encoded.row(i)))
            } else {
                Vector::Float(encoded.row(i).to_vec())
            },
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data,
        model: state.model_id.clone(),
        usage: Usage {
            prompt_tokens: encoded.tokens,
            total_tokens: encoded.tokens,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_little_endian_f32() {
        let s = base64_vector(&[1.0, -2.5]);
        let bytes = base64::engine::general_purpose::STANDARD.decode(s).unwrap();
        assert_eq!(bytes, [0, 0, 128, 63, 0, 0, 32, 192]);
    }
}
