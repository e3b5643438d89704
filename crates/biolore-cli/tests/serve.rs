//! End-to-end: `biolore serve` on an ephemeral loopback port, called over HTTP like a pipeline
//! would: every route, the OpenAI and TEI shapes, errors, auth, overload and graceful shutdown.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::server::{get, post, serve, Answer};
use common::{biolore, disease_dictionary, floats, index_dictionary, ok};
use serde_json::{json, Value};

fn assert_close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-5, "vectors differ by {worst}");
}

/// The CLI's vectors for `texts`.
fn cli_vectors(texts: &[&str]) -> Vec<Vec<f32>> {
    let mut args = vec!["embed", "--model", "all-MiniLM-L6-v2"];
    args.extend_from_slice(texts);
    ok(biolore(&args))
        .lines()
        .map(|l| floats(&serde_json::from_str::<Value>(l).unwrap()["embedding"]))
        .collect()
}

/// A small disease index (the fixture dictionary's first 300 concepts plus Wilson disease) built
/// with MiniLM.
fn small_index(dir: &Path) -> PathBuf {
    let dictionary = std::fs::read_to_string(disease_dictionary()).unwrap();
    let kept: Vec<&str> = dictionary
        .lines()
        .enumerate()
        .filter(|(i, l)| *i < 300 || l.starts_with("D006527"))
        .map(|(_, l)| l)
        .collect();
    let dict = dir.join("medic-small.txt");
    std::fs::write(&dict, kept.join("\n") + "\n").unwrap();
    index_dictionary(&dict, dir)
}

const TEXTS: [&str; 3] = [
    "Wilson disease is a disorder of copper metabolism.",
    "The patient developed hepatotoxicity after acetaminophen overdose.",
    "myocardial infarction",
];

#[test]
fn every_route_answers_in_its_interface_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let index = small_index(tmp.path());
    let server = serve(&["--index", index.to_str().unwrap()], &[]);
    let url = server.url.as_str();
    let cli = cli_vectors(&TEXTS);

    let health = get(url, "/health", None);
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );

    let info = get(url, "/info", None).json();
    assert_eq!(info["model_id"], "all-MiniLM-L6-v2");
    assert_eq!(info["dimension"], 384);
    assert_eq!(info["precision"], "f32");
    assert_eq!(info["max_seq_length"], 256);
    assert_eq!(info["pooling"], "mean");
    assert!(info["index"]["names"].as_u64().unwrap() > 300, "{info}");
    assert!(info["index"]["concepts"].as_u64().unwrap() >= 300, "{info}");

    // TEI /embed: a string, and a list, equal to the CLI's vectors.
    let one = post(
        url,
        "/embed",
        &json!({"inputs": TEXTS[0]}).to_string(),
        None,
    );
    assert_eq!(one.status, 200, "{}", one.body);
    let one = one.json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_close(&floats(&one[0]), &cli[0]);
    let many = post(url, "/embed", &json!({"inputs": TEXTS}).to_string(), None).json();
    for (i, v) in cli.iter().enumerate() {
        assert_close(&floats(&many[i]), v);
    }
    // TEI's root route embeds too (huggingface_hub's feature_extraction posts there).
    let root = post(url, "/", &json!({"inputs": TEXTS[0]}).to_string(), None);
    assert_eq!(root.status, 200, "{}", root.body);
    assert_close(&floats(&root.json()[0]), &cli[0]);

    // OpenAI /v1/embeddings: float and base64, in order, with usage.
    let body = json!({"input": TEXTS, "model": "text-embedding-3-small"}).to_string();
    let floats_answer = post(url, "/v1/embeddings", &body, None).json();
    assert_eq!(floats_answer["object"], "list");
    assert_eq!(floats_answer["model"], "all-MiniLM-L6-v2");
    let tokens = floats_answer["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(tokens > 20, "{}", floats_answer["usage"]);
    assert_eq!(
        floats_answer["usage"]["total_tokens"].as_u64().unwrap(),
        tokens
    );
    let body = json!({"input": TEXTS, "model": "m", "encoding_format": "base64"}).to_string();
    let b64_answer = post(url, "/v1/embeddings", &body, None).json();
    for (i, v) in cli.iter().enumerate() {
        let item = &floats_answer["data"][i];
        assert_eq!(
            (item["object"].as_str(), item["index"].as_u64()),
            (Some("embedding"), Some(i as u64))
        );
        assert_close(&floats(&item["embedding"]), v);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64_answer["data"][i]["embedding"].as_str().unwrap())
            .unwrap();
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(
            decoded,
            floats(&item["embedding"]),
            "base64 carries the same f32 values"
        );
    }
    let single = post(
        url,
        "/v1/embeddings",
        &json!({"input": TEXTS[2]}).to_string(),
        None,
    )
    .json();
    assert_close(&floats(&single["data"][0]["embedding"]), &cli[2]);

    // /similarity: cosine of the source with each text.
    let body = json!({"inputs": {"source_sentence": TEXTS[0], "sentences": [TEXTS[1], TEXTS[2]]}});
    let scores = floats(&post(url, "/similarity", &body.to_string(), None).json());
    assert_eq!(scores.len(), 2);
    for (j, s) in scores.iter().enumerate() {
        let expected: f32 = cli[0].iter().zip(&cli[j + 1]).map(|(a, b)| a * b).sum();
        assert!((s - expected).abs() < 1e-4, "{s} vs {expected}");
    }

    // /link: ranked concepts, with abbreviations expanded from the document text.
    let body = json!({
        "mentions": ["Wilson disease", {"mention": "WD", "context": "Wilson disease (WD) is a copper disorder."}],
        "top_k": 3
    });
    let linked = post(url, "/link", &body.to_string(), None);
    assert_eq!(linked.status, 200, "{}", linked.body);
    let linked = linked.json();
    let results = linked["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["mention"], "Wilson disease");
    assert_eq!(results[0]["candidates"].as_array().unwrap().len(), 3);
    assert_eq!(results[0]["candidates"][0]["id"], "MESH:D006527");
    assert_eq!(results[1]["query"], "Wilson disease");
    assert_eq!(results[1]["candidates"][0]["id"], "MESH:D006527");
    let s0 = results[0]["candidates"][0]["score"].as_f64().unwrap();
    let s1 = results[0]["candidates"][1]["score"].as_f64().unwrap();
    assert!(s0 >= s1 && s0 > 0.9, "{}", results[0]);

    // /metrics: Prometheus text with the requests, batches and tokens just made.
    let metrics = get(url, "/metrics", None);
    assert_eq!(metrics.status, 200);
    for needle in [
        r#"biolore_http_requests_total{route="/embed",status="200"} 2"#,
        r#"biolore_http_requests_total{route="/v1/embeddings",status="200"} 3"#,
        r#"biolore_http_requests_total{route="/link",status="200"} 1"#,
        "biolore_http_request_duration_seconds_bucket",
        "biolore_batch_texts_count",
        "biolore_queue_depth 0",
        "biolore_tokens_total",
    ] {
        assert!(
            metrics.body.contains(needle),
            "{needle} missing from\n{}",
            metrics.body
        );
    }
}

#[test]
fn bad_requests_get_openai_shaped_errors() {
    let server = serve(
        &[
            "--max-inputs",
            "4",
            "--max-chars",
            "3000",
            "--max-body-bytes",
            "20000",
        ],
        &[],
    );
    let url = server.url.as_str();
    let m = post(url, "/embed", "{\"inputs\": [\"a\"", None).error(400, "invalid_json");
    let e = post(url, "/extract", "{\"texts\": \"a\"}", None).error(400, "no_extractor");
    assert!(e.contains("--extractor"), "{e}");
    assert!(m.contains("not valid JSON"), "{m}");
    let m =
        post(url, "/v1/embeddings", "{\"input\": {\"a\": 1}}", None).error(400, "invalid_field");
    assert!(
        m.contains("`input` must be a string or a list of strings"),
        "{m}"
    );
    let m =
        post(url, "/v1/embeddings", "{\"input\": [\"a\", 7]}", None).error(400, "invalid_field");
    assert!(m.contains("`input[1]`"), "{m}");
    let m = post(
        url,
        "/embed",
        "{\"inputs\": \"a\", \"normalize\": \"yes\"}",
        None,
    )
    .error(400, "invalid_field");
    assert!(
        m.starts_with("`normalize`: invalid type: string \"yes\", expected a boolean"),
        "{m}"
    );
    post(url, "/v1/embeddings", "{\"input\": []}", None).error(400, "empty_input");
    post(url, "/v1/embeddings", "{\"model\": \"m\"}", None).error(400, "missing_field");
    post(url, "/embed", "", None).error(400, "empty_body");
    let body = json!({"inputs": {"source_sentence": "a", "sentences": []}}).to_string();
    post(url, "/similarity", &body, None).error(400, "empty_input");
    let body = json!({"input": "a", "encoding_format": "int8"}).to_string();
    post(url, "/v1/embeddings", &body, None).error(400, "invalid_encoding_format");
    let body = json!({"input": "a", "dimensions": 128}).to_string();
    post(url, "/v1/embeddings", &body, None).error(400, "invalid_dimensions");
    post(url, "/link", "{\"mentions\": [\"a\"]}", None).error(400, "no_index");

    let m = get(url, "/v2/embeddings", None).error(404, "unknown_route");
    assert!(m.contains("POST /v1/embeddings"), "{m}");
    get(url, "/embed", None).error(405, "method_not_allowed");

    // Limits: inputs per request, characters per input, tokens without truncation, body size.
    let body = json!({"inputs": ["a", "b", "c", "d", "e"]}).to_string();
    let m = post(url, "/embed", &body, None).error(413, "too_many_inputs");
    assert!(m.contains("at most 4"), "{m}");
    let body = json!({"inputs": ["ok", "x".repeat(3001)]}).to_string();
    let m = post(url, "/embed", &body, None).error(413, "input_too_long");
    assert!(m.contains("`inputs[1]` has 3001 characters"), "{m}");
    let long = "copper accumulates in the liver and brain ".repeat(40);
    let body = json!({"inputs": [long], "truncate": false}).to_string();
    let m = post(url, "/embed", &body, None).error(413, "input_too_long");
    assert!(m.contains("256 tokens"), "{m}");
    let body = json!({"inputs": [long]}).to_string();
    assert_eq!(
        post(url, "/embed", &body, None).status,
        200,
        "truncated by default"
    );
    let body = json!({"inputs": vec!["y".repeat(2900); 4], "pad": "z".repeat(12000)}).to_string();
    post(url, "/embed", &body, None).error(413, "body_too_large");

    // Still healthy after all of that.
    assert_eq!(
        post(url, "/embed", "{\"inputs\": \"fine\"}", None).status,
        200
    );
}

/// The value of an unlabelled metric.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
}

/// `n` clients posting `body` to `/embed` at once; their answers.
fn concurrently(n: usize, url: &str, body: &str) -> Vec<Answer> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(|| post(url, "/embed", body, None)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn concurrent_requests_share_batches() {
    let server = serve(&[], &[]);
    let url = server.url.clone();
    let text = "recurrent hepatic encephalopathy in a patient with alcoholic cirrhosis ".repeat(6);
    let body = json!({"inputs": vec![text.as_str(); 4]}).to_string();
    let answers = concurrently(16, &url, &body);
    assert!(answers.iter().all(|a| a.status == 200));
    // Same texts, same vectors, whatever batch they ran in.
    let first = floats(&answers[0].json()[0]);
    for a in &answers {
        for v in a.json().as_array().unwrap() {
            assert_close(&floats(v), &first);
        }
    }
    let metrics = get(&url, "/metrics", None).body;
    let texts = metric(&metrics, "biolore_batch_texts_sum");
    let batches = metric(&metrics, "biolore_batch_texts_count");
    assert_eq!(texts, 64.0);
    assert!(
        batches < 16.0,
        "16 requests ran in {batches} batches: no batching"
    );
}

#[test]
fn api_key_guards_every_route_but_health() {
    let server = serve(&[], &[("BIOLORE_API_KEY", "k-123")]);
    let url = server.url.as_str();
    assert_eq!(get(url, "/health", None).status, 200);
    let body = "{\"inputs\": \"a\"}";
    post(url, "/embed", body, None).error(401, "invalid_api_key");
    post(url, "/embed", body, Some("k-12")).error(401, "invalid_api_key");
    post(url, "/embed", body, Some("k-1234")).error(401, "invalid_api_key");
    get(url, "/metrics", None).error(401, "invalid_api_key");
    get(url, "/info", Some("wrong")).error(401, "invalid_api_key");
    get(url, "/nowhere", None).error(401, "invalid_api_key");
    assert_eq!(post(url, "/embed", body, Some("k-123")).status, 200);
    assert_eq!(get(url, "/info", Some("k-123")).status, 200);
    assert!(get(url, "/metrics", Some("k-123"))
        .body
        .contains(r#"biolore_http_requests_total{route="/embed",status="401"} 3"#));
}

#[test]
fn overload_answers_429_then_recovers_and_slow_requests_time_out() {
    let server = serve(&["--max-queue", "1"], &[]);
    let url = server.url.clone();
    let long = "acute hepatic failure with encephalopathy and coagulopathy ".repeat(30);
    let heavy = json!({"inputs": vec![long.as_str(); 48]}).to_string();
    let answers = concurrently(12, &url, &heavy);
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let busy: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(ok + busy.len(), answers.len(), "only 200 or 429");
    assert!(
        ok >= 1 && !busy.is_empty(),
        "{ok} answered, {} refused",
        busy.len()
    );
    for a in &busy {
        a.error(429, "queue_full");
        assert_eq!(a.retry_after.as_deref(), Some("1"));
    }
    // The queue drains and the server answers again.
    assert_eq!(
        post(&url, "/embed", "{\"inputs\": \"fine\"}", None).status,
        200
    );
    let metrics = get(&url, "/metrics", None).body;
    let line = format!(
        r#"biolore_http_requests_total{{route="/embed",status="429"}} {}"#,
        busy.len()
    );
    assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
    drop(server);

    let server = serve(&["--request-timeout", "0.05"], &[]);
    post(&server.url, "/embed", &heavy, None).error(503, "timeout");
    // Once the batch it was part of is done, short requests are answered in time again.
    let since = Instant::now();
    while post(&server.url, "/embed", "{\"inputs\": \"fine\"}", None).status != 200 {
        assert!(since.elapsed() < Duration::from_secs(60), "never recovered");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sigterm_finishes_requests_in_flight_then_exits() {
    let mut server = serve(&[], &[]);
    let url = server.url.clone();
    let long =
        "progressive neurodegeneration with copper deposits in the basal ganglia ".repeat(25);
    let heavy = json!({"inputs": vec![long.as_str(); 64]}).to_string();
    let started = Instant::now();
    let in_flight = std::thread::spawn(move || post(&url, "/embed", &heavy, None));
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let answer = in_flight.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json().as_array().unwrap().len(), 64);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let refused = ureq::get(&format!("{}/health", server.url)).call();
    assert!(
        matches!(refused, Err(ureq::Error::Transport(_))),
        "no longer listening"
    );
}
