//! SmolLM2-135M-Instruct (Llama architecture, from its GGUF file) against the reference
//! library: token ids, next-token logits, the chat prompt and greedy decoding.

use std::path::PathBuf;
use std::sync::OnceLock;

use biolore_nn::heads::{ChatMessage, LanguageModel};
use candle_core::{Device, D};
use serde::Deserialize;

const GGUF: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

#[derive(Deserialize)]
struct Reference {
    items: Vec<Item>,
    chat: Chat,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    input_ids: Vec<u32>,
    top10_ids: Vec<Vec<u32>>,
    top10_logits: Vec<Vec<f32>>,
    logsumexp: Vec<f32>,
}

#[derive(Deserialize)]
struct Chat {
    messages: Vec<Message>,
    prompt: String,
    prompt_ids: Vec<u32>,
    greedy_ids: Vec<u32>,
    greedy_text: String,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: String,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The installed GGUF file; a missing model fails the test (never a skip).
fn gguf_path() -> PathBuf {
    let path = std::env::var_os("BIOLORE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"))
        .join(GGUF);
    assert!(
        path.is_file(),
        "{GGUF} is not installed at {}: run scripts/setup.sh (the README's test command does)",
        path.display()
    );
    path
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let path = repo_root().join("fixtures/reference/smollm2/reference.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("reference fixture is valid JSON")
    })
}

/// The model dequantized to float32, as the reference library loads it.
fn float_model() -> &'static LanguageModel {
    static MODEL: OnceLock<LanguageModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        LanguageModel::from_gguf(&gguf_path(), false, &Device::Cpu).expect("SmolLM2 loads")
    })
}

/// The model with its quantized weights, as `biolore generate` runs it.
fn quantized_model() -> &'static LanguageModel {
    static MODEL: OnceLock<LanguageModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        LanguageModel::from_gguf(&gguf_path(), true, &Device::Cpu).expect("SmolLM2 loads")
    })
}

fn messages() -> Vec<ChatMessage> {
    reference()
        .chat
        .messages
        .iter()
        .map(|m| ChatMessage {
            role: m.role.clone(),
            content: m.content.clone(),
        })
        .collect()
}

#[test]
fn tokens_and_logits_match_the_reference_library() {
    let model = float_model();
    let mut worst = 0f32;
    let mut worst_lse = 0f32;
    for item in &reference().items {
        let ids = model.encode(&item.text).unwrap();
        assert_eq!(ids, item.input_ids, "token ids of {:?}", item.text);
        let logits = model.logits(&ids).unwrap();
        let rows = logits.to_vec2::<f32>().unwrap();
        let lse = logits
            .log_sum_exp(D::Minus1)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (pos, row) in rows.iter().enumerate() {
            let top1 = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i as u32)
                .unwrap();
            assert_eq!(
                top1, item.top10_ids[pos][0],
                "{:?}: top-1 at position {pos}",
                item.text
            );
            for (id, want) in item.top10_ids[pos].iter().zip(&item.top10_logits[pos]) {
                worst = worst.max((row[*id as usize] - want).abs());
            }
            worst_lse = worst_lse.max((lse[pos] - item.logsumexp[pos]).abs());
        }
    }
    eprintln!("max |logit difference| over the top 10: {worst}; log-sum-exp: {worst_lse}");
    assert!(worst < 2e-3, "logits differ by up to {worst}");
    assert!(worst_lse < 2e-3, "log-sum-exp differs by up to {worst_lse}");
}

#[test]
fn chat_prompt_and_greedy_decoding_match_the_reference_library() {
    let model = float_model();
    let chat = &reference().chat;
    let prompt = model.chat_prompt(&messages()).unwrap();
    assert_eq!(prompt, chat.prompt);
    let ids = model.encode(&prompt).unwrap();
    assert_eq!(ids, chat.prompt_ids);
    let mut streamed = Vec::new();
    let out = model
        .generate(&ids, chat.greedy_ids.len(), |t| streamed.push(t))
        .unwrap();
    assert_eq!(out.ids, chat.greedy_ids);
    assert_eq!(streamed, out.ids);
    assert_eq!(model.decode(&out.ids).unwrap(), chat.greedy_text);
}

#[test]
fn decoding_with_the_kv_cache_equals_decoding_without_it() {
    let model = float_model();
    let ids = model.encode("Mention: heart attack\nConcept:").unwrap();
    let out = model.generate(&ids, 6, |_| {}).unwrap();
    // Recomputing the whole sequence at every step, without a cache, picks the same tokens.
    let mut seq = ids.clone();
    for &want in &out.ids {
        let logits = model.logits(&seq).unwrap();
        let last = logits.get(seq.len() - 1).unwrap();
        let got = last.argmax(D::Minus1).unwrap().to_scalar::<u32>().unwrap();
        assert_eq!(got, want);
        seq.push(got);
    }
    // And the cached step's logits equal the full pass's.
    let decoder = model.decoder();
    let mut cache = decoder.new_cache();
    let n = seq.len();
    let prefix = candle_core::Tensor::from_slice(&seq[..n - 1], (1, n - 1), &Device::Cpu).unwrap();
    decoder.forward(&prefix, 0, Some(&mut cache)).unwrap();
    let step = candle_core::Tensor::from_slice(&seq[n - 1..], (1, 1), &Device::Cpu).unwrap();
    let hidden = decoder.forward(&step, n - 1, Some(&mut cache)).unwrap();
    let cached = decoder.logits(&hidden).unwrap().flatten_all().unwrap();
    let full = model.logits(&seq).unwrap().get(n - 1).unwrap();
    let diff = (cached - full)
        .unwrap()
        .abs()
        .unwrap()
        .max(D::Minus1)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-3, "cached logits differ by {diff}");
}

#[test]
fn the_quantized_model_answers_the_chat_prompt() {
    let model = quantized_model();
    let chat = &reference().chat;
    let ids = model
        .encode(&model.chat_prompt(&messages()).unwrap())
        .unwrap();
    let out = model.generate(&ids, chat.greedy_ids.len(), |_| {}).unwrap();
    let text = model.decode(&out.ids).unwrap();
    eprintln!("quantized: {text:?} ({:.1} tokens/s)", out.tokens_per_sec());
    let same = out
        .ids
        .iter()
        .zip(&chat.greedy_ids)
        .take_while(|(a, b)| a == b)
        .count();
    eprintln!("quantized greedy ids agree with the float reference for {same} tokens");
    assert!(
        text.to_lowercase().contains("ibuprofen") || same >= 8,
        "{text:?}"
    );
}
