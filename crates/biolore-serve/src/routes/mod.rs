//! The HTTP routes, one file per interface: OpenAI, TEI, linking, extraction, and the service routes.

pub mod extract;
pub mod link;
pub mod openai;
pub mod service;
pub mod tei;

use serde_json::Value;

use crate::error::ApiError;

/// The texts of a field that holds a string or a list of strings.
pub fn texts_from(field: &str, value: Value) -> Result<Vec<String>, ApiError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                Value::Number(_) | Value::Array(_) => Err(ApiError::invalid(
                    "invalid_field",
                    format!(
                        "`{field}[{i}]` is not a string: token-id inputs are not supported, send text"
                    ),
                )),
                other => Err(ApiError::invalid(
                    "invalid_field",
                    format!("`{field}[{i}]` must be a string, not {}", kind(&other)),
                )),
            })
            .collect(),
        Value::Null => Err(ApiError::invalid(
            "missing_field",
            format!("`{field}` is missing: give a string or a list of strings"),
        )),
        other => Err(ApiError::invalid(
            "invalid_field",
            format!(
                "`{field}` must be a string or a list of strings, not {}",
                kind(&other)
            ),
        )),
    }
}

/// The JSON type of a value, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Scales a vector to unit length (zero vectors stay zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_lists_are_texts_and_everything_else_is_explained() {
        assert_eq!(texts_from("input", json!("a")).unwrap(), vec!["a"]);
        assert_eq!(
            texts_from("input", json!(["a", "b"])).unwrap(),
            vec!["a", "b"]
        );
        let e = texts_from("input", json!([101, 102])).unwrap_err();
        assert!(
            e.message.contains("token-id inputs are not supported"),
            "{}",
            e.message
        );
        let e = texts_from("inputs", json!(["a", {"x": 1}])).unwrap_err();
        assert_eq!(e.message, "`inputs[1]` must be a string, not an object");
        let e = texts_from("input", json!(3)).unwrap_err();
        assert_eq!(
            e.message,
            "`input` must be a string or a list of strings, not a number"
        );
        let e = texts_from("input", Value::Null).unwrap_err();
        assert_eq!(e.code, "missing_field");
    }

    #[test]
    fn normalize_makes_unit_vectors() {
        let mut v = [3.0f32, 4.0];
        normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut z = [0.0f32; 3];
        normalize(&mut z);
        assert_eq!(z, [0.0; 3]);
    }
}
