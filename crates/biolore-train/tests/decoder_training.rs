//! A decoder trained through the same trainer as the contrastive recipe: a tiny random
//! Llama-architecture model (grouped-query attention, tied embeddings) learns completions,
//! an interrupted run resumes exactly, and the saved folder loads as a language model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use biolore_nn::heads::LanguageModel;
use biolore_nn::models::{DecoderCheckpoint, DecoderConfig};
use biolore_train::language_model::{LanguageModeling, LmExample};
use biolore_train::trainer::{train, Outcome};
use biolore_train::{TrainConfig, Trainable, TrainableDecoder};
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A random decoder over the XLM-R fixture's tokenizer (2,001 tokens).
fn tiny_decoder() -> TrainableDecoder {
    let tokenizer_path = repo_root().join("fixtures/reference/xlmr-tiny/tokenizer.json");
    let tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path).expect("tokenizer loads");
    let config: DecoderConfig = serde_json::from_value(serde_json::json!({
        "model_type": "llama", "vocab_size": 2001, "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 64, "max_position_embeddings": 128, "tie_word_embeddings": true,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "bos_token_id": 0, "eos_token_id": 2
    }))
    .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let tensors: HashMap<String, Tensor> = biolore_nn::models::decoder::tensor_shapes(&config)
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with("norm.weight") {
                vec![1.0; n]
            } else {
                (0..n).map(|_| rng.random_range(-0.05f32..0.05)).collect()
            };
            (name, Tensor::from_vec(values, shape, &Device::Cpu).unwrap())
        })
        .collect();
    let checkpoint = DecoderCheckpoint {
        config,
        tensors,
        tokenizer,
        chat_template: None,
        bos_token: "<s>".into(),
        eos_token: "</s>".into(),
    };
    TrainableDecoder::from_checkpoint(checkpoint, &Device::Cpu).expect("decoder builds")
}

fn examples(model: &TrainableDecoder) -> Vec<LmExample> {
    [
        ("heart attack", "myocardial infarction"),
        ("high blood pressure", "hypertension"),
        ("sugar diabetes", "diabetes mellitus"),
        ("stroke", "cerebrovascular accident"),
        ("kidney failure", "renal insufficiency"),
        ("breast cancer", "breast neoplasms"),
    ]
    .iter()
    .map(|(m, c)| {
        LmExample::new(
            model.tokenizer(),
            &format!("Mention: {m}\nConcept:"),
            &format!(" {c}"),
            48,
        )
        .unwrap()
    })
    .collect()
}

fn config() -> TrainConfig {
    TrainConfig {
        steps: 6,
        batch_size: 4,
        micro_batch: 2,
        lr: 1e-2,
        warmup_ratio: 0.0,
        weight_decay: 0.0,
        checkpoint_every: 2,
        ..Default::default()
    }
}

fn run(out: &Path, stop_after: Option<usize>) -> (TrainableDecoder, Outcome, Vec<f64>) {
    let model = tiny_decoder();
    let examples = examples(&model);
    let mut objective = LanguageModeling::new(&examples, &config()).unwrap();
    let stop = AtomicBool::new(false);
    let mut losses = Vec::new();
    let outcome = train(
        &model,
        &mut objective,
        &config(),
        out,
        Some(&stop),
        &mut |r| {
            losses.push(r.loss);
            if Some(r.step) == stop_after {
                stop.store(true, Ordering::SeqCst);
            }
        },
    )
    .unwrap();
    (model, outcome, losses)
}

fn weights(model: &TrainableDecoder) -> Vec<Vec<f32>> {
    model
        .parameters()
        .vars()
        .iter()
        .map(|v| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_decoder_learns_completions_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (full, outcome, losses) = run(&dir.path().join("full"), None);
    assert_eq!(outcome.steps_done, 6);
    assert!(
        losses[losses.len() - 1] < losses[0] * 0.9,
        "the loss did not fall: {losses:?}"
    );

    // Interrupted after 3 steps (a checkpoint is written), then resumed to the end.
    let out = dir.path().join("resumed");
    let (_, first, _) = run(&out, Some(3));
    assert!(first.interrupted && first.steps_done == 3);
    let (resumed, second, _) = run(&out, None);
    assert_eq!(second.resumed_from, Some(3));
    assert_eq!(weights(&resumed), weights(&full), "resume is not exact");

    // The saved folder is a Hugging Face decoder folder that loads and scores the same.
    let saved = dir.path().join("full");
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(saved.join(f).is_file(), "{f} missing");
    }
    let lm = LanguageModel::from_folder(&saved, &Device::Cpu).unwrap();
    let ids = lm.encode("Mention: heart attack\nConcept:").unwrap();
    let a = lm.logits(&ids).unwrap();
    let input = Tensor::from_slice(&ids, (1, ids.len()), &Device::Cpu).unwrap();
    let hidden = full.fast().forward(&input, 0, None).unwrap();
    let b = full.fast().logits(&hidden).unwrap().squeeze(0).unwrap();
    let diff = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-5, "saved model's logits differ by {diff}");
}

#[test]
fn frozen_layers_keep_their_weights() {
    let model = tiny_decoder().freeze_layers(1).unwrap();
    let before = weights(&model);
    let examples = examples(&model);
    let cfg = TrainConfig {
        steps: 1,
        ..config()
    };
    let mut objective = LanguageModeling::new(&examples, &cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    train(&model, &mut objective, &cfg, dir.path(), None, &mut |_| {}).unwrap();
    let after = weights(&model);
    for ((name, b), a) in model.parameters().names().iter().zip(&before).zip(&after) {
        let frozen = name.starts_with("model.embed_tokens") || name.starts_with("model.layers.0.");
        assert_eq!(frozen, a == b, "{name}: frozen {frozen}");
    }
    assert!(tiny_decoder().freeze_layers(3).is_err());
}
