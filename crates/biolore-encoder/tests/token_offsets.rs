//! Tokens map back to the characters they came from: WordPiece (MiniLM, from setup.sh) and
//! SentencePiece (the committed random-weight XLM-R fixture's tokenizer).

mod common;

use biolore_encoder::{Encoder, Token};
use candle_core::Device;

const TEXTS: [&str; 4] = [
    "Wilson disease (WD) is a disorder of copper metabolism.",
    "β-catenin levels rose in 12 of 15 patients with APC mutations.",
    "Café-au-lait spots: neurofibromatosis type 1?",
    "  leading and   inner   spaces  ",
];

/// The token's own characters: without WordPiece's `##` or SentencePiece's `▁`.
fn bare(token: &str) -> String {
    token
        .trim_start_matches("##")
        .trim_start_matches('\u{2581}')
        .to_lowercase()
}

/// Folds what the tokenizers' normalizers fold (case, accents) for comparison.
fn fold(s: &str) -> String {
    s.to_lowercase().replace('é', "e")
}

fn check(encoder: &Encoder, name: &str) {
    for text in TEXTS {
        let tokens: Vec<Token> = encoder.tokenizer().encode_with_offsets(text).unwrap();
        let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
        assert_eq!(ids, encoder.tokenizer().encode(text).unwrap(), "{name}");
        let chars: Vec<char> = text.chars().collect();
        let mut last = 0;
        let mut matched = 0;
        for t in tokens.iter().filter(|t| !t.special) {
            assert!(
                t.start <= t.end && t.end <= chars.len(),
                "{name}: {t:?} in {text:?}"
            );
            assert!(t.start >= last, "{name}: offsets go back at {t:?}");
            last = t.start;
            let span: String = chars[t.start..t.end].iter().collect();
            if !bare(&t.text).is_empty() && fold(span.trim()) == fold(&bare(&t.text)) {
                matched += 1;
            }
        }
        // Tokens that are only SentencePiece's word-start mark cover no character of their own.
        let n = tokens
            .iter()
            .filter(|t| !t.special && !bare(&t.text).is_empty())
            .count();
        // Every token's span reads as the token, but for unknown pieces (`β` is not in the tiny
        // fixture's vocabulary) and what the normalizer changed.
        assert!(
            matched + 1 >= n,
            "{name}: {matched} of {n} tokens match their spans in {text:?}: {tokens:?}"
        );
        assert!(tokens
            .iter()
            .filter(|t| t.special)
            .all(|t| t.start == t.end));
    }
}

#[test]
fn wordpiece_tokens_map_to_their_characters() {
    let encoder = Encoder::load(&common::model_dir("all-MiniLM-L6-v2"), &Device::Cpu).unwrap();
    check(&encoder, "MiniLM");
    // "β" is one character but two bytes: offsets count characters.
    let tokens = encoder
        .tokenizer()
        .encode_with_offsets("β-catenin")
        .unwrap();
    let first = tokens.iter().find(|t| !t.special).unwrap();
    assert_eq!((first.start, first.end), (0, 1), "{tokens:?}");
}

#[test]
fn sentencepiece_tokens_map_to_their_characters() {
    let encoder = Encoder::load(
        &common::fixtures().join("reference/xlmr-tiny"),
        &Device::Cpu,
    )
    .unwrap();
    check(&encoder, "XLM-R");
}
