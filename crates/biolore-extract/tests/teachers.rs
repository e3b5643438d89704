//! Teachers against a local fake OpenAI-compatible server (scripted answers, malformed ones,
//! 500s, 429s, a non-JSON body, a slow and a dead endpoint) and the local GGUF teacher.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use biolore_extract::teacher::cache::AnswerCache;
use biolore_extract::teacher::local::LocalTeacher;
use biolore_extract::teacher::openai::{OpenAiOptions, OpenAiTeacher};
use biolore_extract::teacher::{label, LabelOptions, Prices};
use biolore_extract::AdeSentence;

/// What the fake server answers: (status, extra headers, body), chosen per request.
type Script = dyn Fn(&str, usize) -> (u16, Vec<(String, String)>, String) + Send + Sync;

/// Starts a fake server on a free port; returns its base URL. `script` sees the request body
/// and how many requests for the same sentence came before.
fn fake_server(script: Arc<Script>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let script = script.clone();
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                let body = String::from_utf8(body).unwrap();
                let key = sentence_of(&body);
                let n = {
                    let mut seen = seen.lock().unwrap();
                    let c = seen.entry(key).or_default();
                    *c += 1;
                    *c - 1
                };
                let (status, headers, reply) = script(&body, n);
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reply.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(reply.as_bytes());
            });
        }
    });
    format!("http://{addr}/v1")
}

/// The sentence a request asks about (its tag `S1`, `S2`, …).
fn sentence_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let messages = v["messages"].as_array().unwrap();
    let question = messages
        .iter()
        .rev()
        .find(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("Sentence: S"))
        })
        .unwrap();
    question["content"].as_str().unwrap()[10..12].to_string()
}

fn chat(content: &str) -> String {
    serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20}
    })
    .to_string()
}

fn options(base_url: String) -> OpenAiOptions {
    OpenAiOptions {
        base_url,
        model: "fake-model".into(),
        api_key: Some("sk-test".into()),
        concurrency: 3,
        timeout_secs: 5,
        retries: 2,
        backoff_ms: 10,
        max_tokens: 64,
        json_mode: true,
    }
}

fn sentences() -> Vec<AdeSentence> {
    [
        "S1 Aspirin caused asthma.",
        "S2 Lithium caused tremor.",
        "S3 Heparin caused thrombocytopenia.",
        "S4 Cisplatin caused ototoxicity.",
        "S5 Nothing happened.",
        "S6 Warfarin caused bleeding.",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| AdeSentence::new(&i.to_string(), t))
    .collect()
}

#[test]
fn an_openai_endpoint_is_asked_retried_repaired_and_cached() {
    let script: Arc<Script> = Arc::new(|body: &str, n: usize| {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["model"], "fake-model");
        assert_eq!(v["response_format"]["type"], "json_object");
        let ok = |d: &str, e: &str| {
            (
                200,
                vec![],
                chat(&format!(
                    "```json\n{{\"relations\": [{{\"drug\": \"{d}\", \"effect\": \"{e}\"}}]}}\n```"
                )),
            )
        };
        match (sentence_of(body).as_str(), n) {
            ("S1", _) => ok("Aspirin", "asthma"),
            ("S2", 0) => (500, vec![], "{\"error\": \"overloaded\"}".into()),
            ("S2", _) => ok("lithium", "tremor"),
            ("S3", 0) => (429, vec![("Retry-After".into(), "0".into())], "{}".into()),
            ("S3", _) => ok("Heparin", "thrombocytopenia"),
            ("S4", 0) => (200, vec![], chat("I think cisplatin is to blame.")),
            ("S4", _) => ok("Cisplatin", "hearing loss"),
            ("S5", _) => (200, vec![], "<html>not json</html>".into()),
            _ => (200, vec![], chat("no idea")),
        }
    });
    let url = fake_server(script.clone());
    let teacher = OpenAiTeacher::new(options(url));
    let dir = tempfile::tempdir().unwrap();
    let cache = AnswerCache::open(dir.path()).unwrap();
    let mut out = Vec::new();
    let prices = Some(Prices {
        input: 1.0,
        output: 4.0,
    });
    let summary = label(
        &teacher,
        Some(&cache),
        &sentences(),
        &LabelOptions::default(),
        prices,
        None,
        &mut |s| {
            out.push(s.clone());
            Ok(())
        },
    )
    .unwrap();
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    assert_eq!(out.len(), 6);
    let rel = |i: usize| {
        out[i]
            .relations
            .iter()
            .map(|r| (r.drug.text.clone(), r.effect.text.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(rel(0), vec![("Aspirin".to_string(), "asthma".to_string())]);
    assert_eq!(
        rel(1),
        vec![("Lithium".to_string(), "tremor".to_string())],
        "retried after the 500"
    );
    assert_eq!(rel(2).len(), 1, "retried after the 429");
    assert!(
        rel(3).is_empty() && out[3].unaligned == 1,
        "'hearing loss' is not in the text"
    );
    assert!(
        out[4].failed.is_some(),
        "a non-JSON reply fails the sentence"
    );
    assert!(out[5]
        .failed
        .as_deref()
        .is_some_and(|f| f.contains("repair")));
    assert_eq!(
        (
            summary.asked,
            summary.failed,
            summary.repaired,
            summary.relations
        ),
        (6, 2, 2, 3)
    );
    // S4 and S6 were asked twice (the repair turn): 8 answers of 100 + 20 tokens.
    assert_eq!(
        (summary.prompt_tokens, summary.completion_tokens),
        (700, 140)
    );
    assert!((summary.cost.unwrap() - (700.0 + 4.0 * 140.0) / 1e6).abs() < 1e-12);
    // A rerun costs nothing but the sentence whose request failed (failures are not cached).
    let summary = label(
        &teacher,
        Some(&cache),
        &sentences(),
        &LabelOptions::default(),
        None,
        None,
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!((summary.cached, summary.asked), (5, 1));
}

#[test]
fn a_dead_endpoint_stops_the_run_with_a_message() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut o = options(format!("http://127.0.0.1:{port}/v1"));
    o.retries = 1;
    let teacher = OpenAiTeacher::new(o);
    let e = label(
        &teacher,
        None,
        &sentences(),
        &LabelOptions::default(),
        None,
        None,
        &mut |_| Ok(()),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&port.to_string()) && msg.contains("stopped"),
        "{msg}"
    );
}

#[test]
fn a_slow_endpoint_times_out_and_repeated_failures_stop_the_run() {
    let script: Arc<Script> = Arc::new(|_: &str, _| {
        std::thread::sleep(Duration::from_millis(2500));
        (200, vec![], chat("{\"relations\": []}"))
    });
    let mut o = options(fake_server(script));
    (o.timeout_secs, o.retries) = (1, 0);
    let teacher = OpenAiTeacher::new(o);
    let options = LabelOptions {
        max_consecutive_failures: 3,
        ..Default::default()
    };
    let e = label(
        &teacher,
        None,
        &sentences(),
        &options,
        None,
        None,
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("in a row failed"), "{e}");
}

fn smollm2() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "run scripts/setup.sh (SmolLM2 is a test model)"
    );
    path
}

#[test]
fn the_local_teacher_reuses_its_prompt_cache_and_answers_are_cached() {
    let device = candle_core::Device::Cpu;
    // Continuing from a prefilled cache decodes what the whole prompt decodes.
    let model = biolore_nn::heads::LanguageModel::load(&smollm2(), true, &device).unwrap();
    let prefix = model
        .encode(
            &model
                .chat_text(&biolore_extract::teacher::prompt::few_shot(), false)
                .unwrap(),
        )
        .unwrap();
    let messages: Vec<_> = biolore_extract::teacher::prompt::few_shot()
        .into_iter()
        .chain([biolore_nn::heads::ChatMessage::user(
            "Sentence: Aspirin caused asthma.",
        )])
        .collect();
    let full = model
        .encode(&model.chat_prompt(&messages).unwrap())
        .unwrap();
    assert!(full.starts_with(&prefix));
    let whole = model.generate(&full, 12, |_| {}).unwrap();
    let mut cache = model.prefill(&prefix).unwrap();
    let continued = model
        .generate_after(&mut cache, &full[prefix.len()..], 12, |_| {})
        .unwrap();
    assert_eq!(
        cache.len(),
        prefix.len(),
        "the cache is restored to the prefix"
    );
    assert_eq!(whole.ids, continued.ids);
    let again = model
        .generate_after(&mut cache, &full[prefix.len()..], 12, |_| {})
        .unwrap();
    assert_eq!(
        again.ids, continued.ids,
        "the restored cache serves the next prompt"
    );

    let teacher = LocalTeacher::load(&smollm2(), 24, 1, &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = AnswerCache::open(dir.path()).unwrap();
    let sentences = &sentences()[..3];
    let first = label(
        &teacher,
        Some(&cache),
        sentences,
        &LabelOptions::default(),
        None,
        None,
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!((first.asked, first.sentences), (3, 3));
    assert!(first.completion_tokens > 0);
    let second = label(
        &teacher,
        Some(&cache),
        sentences,
        &LabelOptions::default(),
        None,
        None,
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!(
        (second.cached, second.asked),
        (3, 0),
        "a rerun is answered from the cache"
    );
}

#[test]
fn a_file_that_is_not_a_model_is_refused_as_a_teacher() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, b"not a gguf").unwrap();
    let e = LocalTeacher::load(&path, 16, 1, &candle_core::Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("model.gguf"), "{e}");
}
