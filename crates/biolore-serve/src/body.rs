//! Request bodies as JSON, whatever the Content-Type, with errors that name the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body of type `T`; bad bodies become 4xx [`ApiError`]s.
///
/// The Content-Type is not checked (`curl -d` sends a form type by default); the body must
/// parse as `T`, and a wrong field names its path (`input[2]: invalid type: …`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(
                    "body_too_large",
                    "the request body is larger than this server accepts (see --max-body-bytes)",
                )
            } else {
                ApiError::invalid("unreadable_body", rejection.body_text())
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body, naming the offending field on a type error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "empty_body",
            "the request body is empty: send a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid(
                "invalid_json",
                format!("the body is not valid JSON: {inner}"),
            )
        } else if path == "." {
            ApiError::invalid("invalid_request", format!("{inner}"))
        } else {
            ApiError::invalid("invalid_field", format!("`{path}`: {inner}"))
        }
    })?;
    de.end().map_err(|e| {
        ApiError::invalid("invalid_json", format!("the body is not valid JSON: {e}"))
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        #[allow(dead_code)]
        input: Vec<String>,
    }

    #[test]
    fn errors_say_what_was_wrong() {
        let e = parse::<Req>(b"{\"input\": [\"a\", 3]}").unwrap_err();
        assert_eq!(e.code, "invalid_field");
        assert!(
            e.message
                .starts_with("`input[1]`: invalid type: integer `3`"),
            "{}",
            e.message
        );
        let e = parse::<Req>(b"{\"input\": [\"a\"").unwrap_err();
        assert_eq!(e.code, "invalid_json");
        let e = parse::<Req>(b"  ").unwrap_err();
        assert_eq!(e.code, "empty_body");
        let e = parse::<Req>(b"{}").unwrap_err();
        assert!(e.message.contains("missing field `input`"), "{}", e.message);
        let e = parse::<Req>(b"{\"input\": [], \"inptu\": 1}").unwrap_err();
        assert!(e.message.contains("unknown field `inptu`"), "{}", e.message);
        let e = parse::<Req>(b"{\"input\": []} trailing").unwrap_err();
        assert_eq!(e.code, "invalid_json");
        assert!(parse::<Req>(b"{\"input\": [\"a\"]}").is_ok());
    }
}
