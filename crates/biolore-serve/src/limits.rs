//! What the server accepts: inputs per request, characters per input, queued requests, time.

use std::time::Duration;

use serde::Serialize;

use crate::error::ApiError;

/// Limits that keep memory and latency bounded whatever clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Most texts (or mentions) in one request.
    pub max_inputs: usize,
    /// Most characters in one text; longer texts get 413.
    pub max_chars: usize,
    /// Most requests admitted at once (queued or being encoded); beyond it, 429. Twice as many
    /// may be in progress over HTTP (bodies being read), so memory stays under
    /// `2 × max_queue × max_body_bytes`.
    pub max_queue: usize,
    /// Most tokens the inference thread puts in one batch across requests.
    pub max_batch_tokens: usize,
    /// Most bytes in a request body.
    pub max_body_bytes: usize,
    /// Longest a request may wait for its vectors, in seconds; beyond it, 503.
    #[serde(serialize_with = "seconds")]
    pub request_timeout: Duration,
    /// Most candidates `/link` returns per mention.
    pub max_top_k: usize,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_inputs: 256,
            max_chars: 20_000,
            max_queue: 256,
            max_batch_tokens: 8192,
            max_body_bytes: 8 << 20,
            request_timeout: Duration::from_secs(60),
            max_top_k: 100,
        }
    }
}

impl Limits {
    /// Most requests in progress over HTTP (reading a body, queued, encoding, answering).
    pub fn max_in_flight(&self) -> usize {
        self.max_queue.saturating_mul(2).max(1)
    }

    /// Checks a request's texts: at least one, at most `max_inputs`, each within `max_chars`.
    ///
    /// `field` names the request field in the messages (e.g. `input`).
    pub fn check_texts<S: AsRef<str>>(&self, field: &str, texts: &[S]) -> Result<(), ApiError> {
        if texts.is_empty() {
            return Err(ApiError::invalid(
                "empty_input",
                format!("`{field}` is empty: give at least one text"),
            ));
        }
        if texts.len() > self.max_inputs {
            return Err(ApiError::too_large(
                "too_many_inputs",
                format!(
                    "`{field}` holds {} texts; this server accepts at most {} per request",
                    texts.len(),
                    self.max_inputs
                ),
            ));
        }
        for (i, t) in texts.iter().enumerate() {
            self.check_length(&format!("{field}[{i}]"), t.as_ref())?;
        }
        Ok(())
    }

    /// Checks that one text (the request field `field`) is within `max_chars`.
    pub fn check_length(&self, field: &str, text: &str) -> Result<(), ApiError> {
        let chars = text.chars().count();
        if chars > self.max_chars {
            return Err(ApiError::too_large(
                "input_too_long",
                format!(
                    "`{field}` has {chars} characters; this server accepts at most {}",
                    self.max_chars
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn texts_are_checked_in_order_of_the_rules() {
        let limits = Limits {
            max_inputs: 2,
            max_chars: 5,
            ..Limits::default()
        };
        let empty: [&str; 0] = [];
        let e = limits.check_texts("input", &empty).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "empty_input"));
        let e = limits.check_texts("input", &["a", "b", "c"]).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_many_inputs")
        );
        let e = limits
            .check_texts("inputs", &["fine", "too long"])
            .unwrap_err();
        assert_eq!(e.code, "input_too_long");
        assert!(
            e.message.contains("`inputs[1]` has 8 characters"),
            "{}",
            e.message
        );
        // Characters, not bytes: five accented letters are ten bytes.
        assert!(limits.check_texts("input", &["éééé", "ééééé"]).is_ok());
        assert_eq!(limits.max_in_flight(), 2 * Limits::default().max_queue);
    }
}
