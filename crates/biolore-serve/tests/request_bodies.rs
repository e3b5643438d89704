//! Property tests: arbitrary and mutated request bodies give a request or an OpenAI-shaped
//! error (400 with a message), never a panic — for every route that takes a body.

use biolore_serve::body::parse;
use biolore_serve::routes::link::{mentions_from, LinkRequest};
use biolore_serve::routes::openai::EmbeddingsRequest;
use biolore_serve::routes::tei::{EmbedRequest, SimilarityRequest};
use biolore_serve::routes::texts_from;
use proptest::prelude::*;

const VALID: [&str; 5] = [
    r#"{"input": ["Wilson disease", "copper"], "model": "m", "encoding_format": "base64", "dimensions": 384}"#,
    r#"{"inputs": "Wilson disease", "normalize": true, "truncate": false}"#,
    r#"{"inputs": {"source_sentence": "a", "sentences": ["b", "c"]}}"#,
    r#"{"mentions": ["WD", {"mention": "HD", "context": "Huntington disease (HD)."}], "context": "Wilson disease (WD).", "top_k": 3, "abbreviations": true}"#,
    r#"{"input": "x"}"#,
];

/// Runs a body through every route's parsing and field checks; errors must say something.
fn check(bytes: &[u8]) {
    let said = |e: biolore_serve::error::ApiError| assert!(!e.message.is_empty());
    match parse::<EmbeddingsRequest>(bytes) {
        Ok(r) => {
            if let Err(e) = texts_from("input", r.input) {
                said(e);
            }
        }
        Err(e) => said(e),
    }
    match parse::<EmbedRequest>(bytes) {
        Ok(r) => {
            if let Err(e) = texts_from("inputs", r.inputs) {
                said(e);
            }
        }
        Err(e) => said(e),
    }
    if let Err(e) = parse::<SimilarityRequest>(bytes) {
        said(e);
    }
    match parse::<LinkRequest>(bytes) {
        Ok(r) => {
            if let Err(e) = mentions_from(r.mentions, r.context.as_deref()) {
                said(e);
            }
        }
        Err(e) => said(e),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes);
    }

    #[test]
    fn mutated_valid_bodies(
        which in 0usize..VALID.len(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = VALID[which].as_bytes().to_vec();
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at % bytes.len();
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => bytes.truncate(i),
            }
        }
        check(&bytes);
    }

    #[test]
    fn json_shaped_values(value in json_value()) {
        for key in ["input", "inputs", "mentions"] {
            check(serde_json::json!({ key: value.clone() }).to_string().as_bytes());
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,20}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::hash_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
