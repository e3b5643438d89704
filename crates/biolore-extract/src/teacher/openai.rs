//! A teacher behind any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp's
//! server): JSON mode, timeouts, retries with backoff on 429 and 5xx, token accounting.

use std::time::Duration;

use biolore_nn::heads::ChatMessage;
use serde_json::{json, Value};

use super::{Failure, Reply, Teacher};

/// How to reach and use the endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiOptions {
    /// Base URL up to `/v1` (`https://api.openai.com/v1`, `http://localhost:8080/v1`).
    pub base_url: String,
    /// Model name the endpoint serves.
    pub model: String,
    /// Bearer key (none for local servers).
    pub api_key: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Seconds before a request is abandoned (then retried).
    pub timeout_secs: u64,
    /// Retries after a 429, a 5xx, a timeout or a dropped connection.
    pub retries: usize,
    /// First backoff in milliseconds (doubled each retry; a `Retry-After` header wins).
    pub backoff_ms: u64,
    /// Most answer tokens.
    pub max_tokens: usize,
    /// Ask for a JSON object (`response_format`); off for servers that reject it.
    pub json_mode: bool,
}

/// The OpenAI-compatible teacher.
#[derive(Debug)]
pub struct OpenAiTeacher {
    options: OpenAiOptions,
    agent: ureq::Agent,
}

impl OpenAiTeacher {
    /// A teacher for `options` (no request is sent yet).
    pub fn new(options: OpenAiOptions) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(options.timeout_secs.max(1)))
            .build();
        Self { options, agent }
    }

    fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.options.base_url.trim_end_matches('/')
        )
    }

    fn body(&self, messages: &[ChatMessage]) -> Value {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let mut body = json!({
            "model": self.options.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.options.max_tokens,
        });
        if self.options.json_mode {
            body["response_format"] = json!({"type": "json_object"});
        }
        body
    }

    fn once(&self, body: &Value) -> Result<Reply, (Failure, Option<u64>)> {
        let mut request = self.agent.post(&self.url());
        if let Some(key) = &self.options.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        match request.send_json(body.clone()) {
            Ok(response) => {
                let value: Value = response
                    .into_json()
                    .map_err(|e| (Failure::Answer(format!("the reply is not JSON: {e}")), None))?;
                let text = value["choices"][0]["message"]["content"]
                    .as_str()
                    .ok_or_else(|| {
                        (
                            Failure::Answer("the reply has no choices[0].message.content".into()),
                            None,
                        )
                    })?
                    .to_string();
                let count = |k: &str| value["usage"][k].as_u64().unwrap_or(0) as usize;
                Ok(Reply {
                    text,
                    prompt_tokens: count("prompt_tokens"),
                    completion_tokens: count("completion_tokens"),
                })
            }
            Err(ureq::Error::Status(code, response)) => {
                let retry_after = response
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let detail: String = response
                    .into_string()
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                let message = format!("{} answered HTTP {code}: {detail}", self.url());
                let failure = match code {
                    429 | 500..=599 => Failure::Transient(message),
                    401 | 403 | 404 => Failure::Fatal(message),
                    _ => Failure::Answer(message),
                };
                Err((failure, retry_after))
            }
            Err(ureq::Error::Transport(t)) => {
                let message = format!("{}: {t}", self.url());
                let failure = match t.kind() {
                    ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                        Failure::Unreachable(message)
                    }
                    ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
                        Failure::Fatal(message)
                    }
                    _ => Failure::Transient(message),
                };
                Err((failure, None))
            }
        }
    }
}

impl Teacher for OpenAiTeacher {
    fn identity(&self) -> String {
        format!("openai:{}@{}", self.options.model, self.options.base_url)
    }

    fn concurrency(&self) -> usize {
        self.options.concurrency.max(1)
    }

    fn chat(&self, prefix: &[ChatMessage], messages: &[ChatMessage]) -> Result<Reply, Failure> {
        let all: Vec<ChatMessage> = prefix.iter().chain(messages).cloned().collect();
        let body = self.body(&all);
        let mut attempt = 0;
        loop {
            match self.once(&body) {
                Ok(reply) => return Ok(reply),
                Err((failure, retry_after)) => {
                    let retriable =
                        matches!(failure, Failure::Transient(_) | Failure::Unreachable(_));
                    if !retriable || attempt >= self.options.retries {
                        return Err(failure);
                    }
                    let wait = retry_after.map(|s| s * 1000).unwrap_or(
                        self.options
                            .backoff_ms
                            .saturating_mul(1u64 << attempt.min(10)),
                    );
                    tracing::debug!(attempt, wait_ms = wait, "teacher request failed; retrying");
                    std::thread::sleep(Duration::from_millis(wait.min(60_000)));
                    attempt += 1;
                }
            }
        }
    }
}
