//! `POST /link`: mentions (with their document, for abbreviations) → ranked concepts.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use biolore_link::{prepare_mention, QueryOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kind;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

fn five() -> usize {
    5
}

fn yes() -> bool {
    true
}

/// `POST /link` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Mentions: strings, or objects `{"mention": …, "context": …}`.
    pub mentions: Value,
    /// Document text for every string mention (abbreviations defined there are expanded).
    #[serde(default)]
    pub context: Option<String>,
    /// Concepts per mention (default 5).
    #[serde(default = "five")]
    pub top_k: usize,
    /// Expand abbreviations defined in the context (default true).
    #[serde(default = "yes")]
    pub abbreviations: bool,
}

/// One ranked concept.
#[derive(Debug, Serialize)]
pub struct LinkedConcept {
    /// Concept id.
    pub id: String,
    /// Preferred name.
    pub name: String,
    /// The concept's name closest to the mention.
    pub matched: String,
    /// Cosine similarity of the mention (or its expansion) and `matched`.
    pub score: f32,
}

/// One mention's result.
#[derive(Debug, Serialize)]
pub struct LinkResult {
    /// The mention as sent.
    pub mention: String,
    /// The text searched, when abbreviation expansion changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Concepts, best first.
    pub candidates: Vec<LinkedConcept>,
}

/// `POST /link` response.
#[derive(Debug, Serialize)]
pub struct LinkResponse {
    /// The served model's id.
    pub model: String,
    /// One result per mention, in order.
    pub results: Vec<LinkResult>,
}

/// The `(mention, context)` pairs of a `/link` body's `mentions` field (`shared` is the
/// body's `context`, used by mentions without their own).
pub fn mentions_from(
    value: Value,
    shared: Option<&str>,
) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let items = match value {
        Value::Array(items) => items,
        Value::String(s) => vec![Value::String(s)],
        Value::Null => {
            return Err(ApiError::invalid(
                "missing_field",
                "`mentions` is missing: give a list of mentions",
            ))
        }
        other => {
            return Err(ApiError::invalid(
                "invalid_field",
                format!("`mentions` must be a list, not {}", kind(&other)),
            ))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(m) => Ok((m, shared.map(String::from))),
            Value::Object(mut o) => {
                let mention = match o.remove("mention") {
                    Some(Value::String(m)) => m,
                    Some(other) => {
                        return Err(ApiError::invalid(
                            "invalid_field",
                            format!("`mentions[{i}].mention` must be a string, not {}", kind(&other)),
                        ))
                    }
                    None => {
                        return Err(ApiError::invalid(
                            "missing_field",
                            format!("`mentions[{i}]` has no `mention`"),
                        ))
                    }
                };
                let context = match o.remove("context") {
                    Some(Value::String(c)) => Some(c),
                    None | Some(Value::Null) => shared.map(String::from),
                    Some(other) => {
                        return Err(ApiError::invalid(
                            "invalid_field",
                            format!("`mentions[{i}].context` must be a string, not {}", kind(&other)),
                        ))
                    }
                };
                if let Some(key) = o.keys().next() {
                    return Err(ApiError::invalid(
                        "invalid_field",
                        format!("`mentions[{i}]` has an unknown field `{key}` (expected `mention`, `context`)"),
                    ));
                }
                Ok((mention, context))
            }
            other => Err(ApiError::invalid(
                "invalid_field",
                format!("`mentions[{i}]` must be a string or an object, not {}", kind(&other)),
            )),
        })
        .collect()
}

/// Answers `POST /link`.
pub async fn link(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<LinkRequest>,
) -> Result<Json<LinkResponse>, ApiError> {
    let Some(linker) = state.linker.clone() else {
        return Err(ApiError::invalid(
            "no_index",
            "this server has no concept index: start it with `biolore serve --index DIR`",
        ));
    };
    if req.top_k == 0 || req.top_k > state.limits.max_top_k {
        return Err(ApiError::invalid(
            "invalid_top_k",
            format!("`top_k` must be between 1 and {}", state.limits.max_top_k),
        ));
    }
    if let Some(c) = &req.context {
        state.limits.check_length("context", c)?;
    }
    let mentions = mentions_from(req.mentions, req.context.as_deref())?;
    let names: Vec<&str> = mentions.iter().map(|(m, _)| m.as_str()).collect();
    state.limits.check_texts("mentions", &names)?;
    let options = QueryOptions {
        expand_abbreviations: req.abbreviations,
    };
    let mut queries = Vec::with_capacity(mentions.len());
    for (i, (mention, context)) in mentions.iter().enumerate() {
        if let (Some(c), true) = (context, req.abbreviations) {
            state
                .limits
                .check_length(&format!("mentions[{i}].context"), c)?;
        }
        queries.push(prepare_mention(mention, context.as_deref(), false, options));
    }
    let (queries, contexts): (Vec<String>, Vec<_>) =
        queries.into_iter().map(|q| (q.expanded, q.context)).unzip();
    let k = req.top_k;
    let ranked = if let Some(ranker) = state.ranker.clone() {
        let texts = queries.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<_> = texts
                .iter()
                .zip(&contexts)
                .map(|(t, c)| (t.as_str(), c.as_ref()))
                .collect();
            ranker.rank_in_context(&refs, k)
        })
        .await
        .map_err(|_| ApiError::internal("linking failed"))?
        .map_err(|e| ApiError::internal(format!("linking failed: {e}")))?
    } else {
        let encoded = state.encode("mentions", queries.clone(), true).await?;
        tokio::task::spawn_blocking(move || {
            let rows: Vec<Vec<f32>> = (0..encoded.len())
                .map(|i| encoded.row(i).to_vec())
                .collect();
            linker.rank(&rows, k)
        })
        .await
        .map_err(|_| ApiError::internal("index search failed"))?
    };
    let results = mentions
        .into_iter()
        .zip(queries)
        .zip(ranked)
        .map(|(((mention, _), query), cands)| LinkResult {
            query: (query != mention).then_some(query),
            mention,
            candidates: cands
                .into_iter()
                .map(|c| LinkedConcept {
                    id: c.id,
                    name: c.name,
                    matched: c.matched,
                    score: c.score,
                })
                .collect(),
        })
        .collect();
    Ok(Json(LinkResponse {
        model: state.model_id.clone(),
        results,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mentions_take_strings_and_objects_with_their_own_or_the_shared_context() {
        let got = mentions_from(
            json!(["a", {"mention": "b"}, {"mention": "c", "context": "own"}]),
            Some("doc"),
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("a".into(), Some("doc".into())),
                ("b".into(), Some("doc".into())),
                ("c".into(), Some("own".into())),
            ]
        );
        let e = mentions_from(json!([{"text": "a"}]), None).unwrap_err();
        assert_eq!(e.message, "`mentions[0]` has no `mention`");
        let e = mentions_from(json!([{"mention": "a", "ctx": "x"}]), None).unwrap_err();
        assert!(e.message.contains("unknown field `ctx`"), "{}", e.message);
        let e = mentions_from(json!(7), None).unwrap_err();
        assert_eq!(e.message, "`mentions` must be a list, not a number");
    }
}
