//! `POST /extract`: texts → (drug, adverse effect) relations, as `biolore extract` writes them.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use biolore_extract::documents::extract_documents;
use biolore_extract::AdeSentence;
use biolore_text::Document;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::texts_from;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /extract` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRequest {
    /// A text or a list of texts (sentences, abstracts, notes).
    pub texts: Value,
    /// An id for each text (default: its position, from 1).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

/// `POST /extract` response.
#[derive(Debug, Serialize)]
pub struct ExtractResponse {
    /// The extractor's folder name.
    pub model: String,
    /// One result per text, in order: `id`, `text`, `relations` (character offsets).
    pub results: Vec<AdeSentence>,
}

/// Answers `POST /extract`.
pub async fn extract(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<ExtractRequest>,
) -> Result<Json<ExtractResponse>, ApiError> {
    let Some(extractor) = state.extractor.clone() else {
        return Err(ApiError::invalid(
            "no_extractor",
            "this server has no extractor: start it with `biolore serve --extractor DIR`",
        ));
    };
    let texts = texts_from("texts", req.texts)?;
    state.limits.check_texts("texts", &texts)?;
    let ids = match req.ids {
        Some(ids) if ids.len() != texts.len() => {
            return Err(ApiError::invalid(
                "invalid_field",
                format!("`ids` has {} entries for {} texts", ids.len(), texts.len()),
            ))
        }
        Some(ids) => ids,
        None => (1..=texts.len()).map(|i| i.to_string()).collect(),
    };
    let docs: Vec<Document> = ids
        .iter()
        .zip(&texts)
        .map(|(id, text)| Document::from_text(id, text))
        .collect();
    let model = extractor
        .encoder()
        .spec()
        .folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let results =
        tokio::task::spawn_blocking(move || extract_documents(&extractor, &docs, 32, &mut |_| {}))
            .await
            .map_err(|_| ApiError::internal("extraction failed"))?
            .map_err(|e| ApiError::internal(format!("extraction failed: {e}")))?;
    Ok(Json(ExtractResponse { model, results }))
}
