//! Starting `biolore serve` on a free port and calling it over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::repo_root;

/// A running server; killed when dropped.
pub struct Served {
    /// The server process.
    pub child: Child,
    /// Its base URL.
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `biolore serve --port 0 ARGS` with MiniLM and waits for its address.
pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Served {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_biolore"));
    cmd.args(["serve", "--model", "all-MiniLM-L6-v2", "--port", "0"])
        .args(args)
        .current_dir(repo_root())
        .env("BIOLORE_MODELS", repo_root().join("models"))
        .env_remove("BIOLORE_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("biolore serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the first line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Served {
        child,
        url: format!("http://{addr}"),
    }
}

/// An HTTP answer: status, headers of interest, JSON (or text) body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The Retry-After header.
    pub retry_after: Option<String>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// Asserts an error in OpenAI's shape with this status and code; returns the message.
    pub fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{}", self.body);
        assert!(v["error"]["type"].is_string(), "{}", self.body);
        v["error"]["message"].as_str().expect("message").to_string()
    }
}

/// Status and body of a reply, error statuses included.
pub fn answer(result: Result<ureq::Response, ureq::Error>) -> Answer {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    Answer {
        status: response.status(),
        retry_after: response.header("Retry-After").map(String::from),
        body: response.into_string().expect("body"),
    }
}

/// POSTs a JSON body.
pub fn post(url: &str, path: &str, body: &str, key: Option<&str>) -> Answer {
    let mut req = ureq::post(&format!("{url}{path}")).set("Content-Type", "application/json");
    if let Some(key) = key {
        req = req.set("Authorization", &format!("Bearer {key}"));
    }
    answer(req.send_string(body))
}

/// GETs a path.
pub fn get(url: &str, path: &str, key: Option<&str>) -> Answer {
    let mut req = ureq::get(&format!("{url}{path}"));
    if let Some(key) = key {
        req = req.set("Authorization", &format!("Bearer {key}"));
    }
    answer(req.call())
}
