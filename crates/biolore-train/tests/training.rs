//! Training on real data with all-MiniLM-L6-v2: a step lowers the loss, resuming is exact,
//! saved models load, averaging is exact, distillation runs.

#[path = "../../biolore-encoder/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use biolore_encoder::Encoder;
use biolore_kb::load::{obo, Policy};
use biolore_nn::weights::load_tensors;
use biolore_train::contrastive::Contrastive;
use biolore_train::distill::{read_sentences, Distill};
use biolore_train::log::StepReport;
use biolore_train::optim::AdamW;
use biolore_train::pairs::{build_pairs, PairOptions};
use biolore_train::step::Gradients;
use biolore_train::trainer::{train, Objective, Outcome};
use biolore_train::{Pair, TrainConfig, TrainableModel};
use candle_core::{DType, Device, Tensor};

const MODEL: &str = "all-MiniLM-L6-v2";

/// Pairs of the first 300 concepts of the Human Phenotype Ontology (from `scripts/setup.sh`).
fn pairs() -> Vec<Pair> {
    let path = common::terminology("hp.obo");
    let mut kb = obo::load(&[path.as_path()], Policy::Skip)
        .expect("HPO loads")
        .kb;
    assert!(kb.len() > 10_000);
    let keep: Vec<_> = kb.concepts()[..300].to_vec();
    kb = biolore_kb::KnowledgeBase::new("ctd subset");
    for c in keep {
        kb.add(c);
    }
    build_pairs(&kb, &PairOptions::default())
}

fn small_config() -> TrainConfig {
    TrainConfig {
        steps: 4,
        batch_size: 8,
        micro_batch: 4,
        max_length: 24,
        lr: 1e-4,
        warmup_ratio: 0.25,
        checkpoint_every: 100,
        ..Default::default()
    }
}

fn load() -> TrainableModel {
    TrainableModel::load(&common::model_dir(MODEL), &Device::Cpu).expect("model loads")
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Copies of every weight as it is now.
fn copies(model: &TrainableModel) -> Vec<Tensor> {
    model
        .vars()
        .iter()
        .map(|v| v.as_tensor().copy().unwrap())
        .collect()
}

/// The gradients of step 0 (and its item count), applied once with AdamW at lr 1e-4.
fn first_step(
    model: &TrainableModel,
    objective: &mut Contrastive<'_>,
    config: &TrainConfig,
) -> (Gradients, usize) {
    let (grads, items) = objective.gradients(model, 0).unwrap();
    let mut adam = AdamW::new(model, config.weight_decay);
    adam.step(model, &grads.grads, 1e-4).unwrap();
    (grads, items)
}

#[test]
fn one_step_changes_the_weights_and_lowers_the_loss_on_its_batch() {
    let pairs = pairs();
    let config = TrainConfig {
        dropout: false,
        ..small_config()
    };
    let model = load();
    let before = copies(&model);
    let mut objective = Contrastive::new(&pairs, &config).unwrap();
    let (grads, items) = first_step(&model, &mut objective, &config);
    assert_eq!(items, 8);
    assert!(grads.loss.is_finite() && grads.loss > 0.0);
    let with_grad = grads.grads.iter().filter(|g| g.is_some()).count();
    assert!(with_grad > 50, "only {with_grad} weights got a gradient");
    let changed = model
        .vars()
        .iter()
        .zip(&before)
        .filter(|(v, b)| max_abs_diff(v.as_tensor(), b) > 0.0)
        .count();
    assert_eq!(changed, with_grad, "every weight with a gradient moves");
    let (after, _) = objective.gradients(&model, 0).unwrap();
    assert!(
        after.loss < grads.loss,
        "loss on the same batch: {} → {}",
        grads.loss,
        after.loss
    );
}

#[test]
fn frozen_layers_keep_their_weights_while_the_rest_learns() {
    let pairs = pairs();
    let config = TrainConfig {
        dropout: false,
        freeze_layers: 4,
        ..small_config()
    };
    let model = load().freeze_layers(4).unwrap();
    assert!(load().freeze_layers(7).is_err(), "MiniLM has 6 layers");
    assert!(model.trainable_count() < model.parameter_count() / 2);
    let before = copies(&model);
    let mut objective = Contrastive::new(&pairs, &config).unwrap();
    let (grads, _) = first_step(&model, &mut objective, &config);
    for ((name, var), (old, frozen)) in model
        .names()
        .iter()
        .zip(model.vars())
        .zip(before.iter().zip(model.frozen()))
    {
        let moved = max_abs_diff(var.as_tensor(), old) > 0.0;
        let upper = name.contains("layer.4.") || name.contains("layer.5.");
        assert_eq!(*frozen, !upper && !name.starts_with("pooler"), "{name}");
        if *frozen {
            assert!(!moved, "{name} is frozen but moved");
        } else if upper {
            assert!(moved, "{name} is trained but did not move");
        }
    }
    let (after, _) = objective.gradients(&model, 0).unwrap();
    assert!(after.loss < grads.loss, "{} → {}", grads.loss, after.loss);
}

/// Phase 1 from a freshly loaded base model into `out` (resuming what is there).
fn run_contrastive(
    pairs: &[Pair],
    config: &TrainConfig,
    out: &Path,
    stop: Option<&AtomicBool>,
    observer: &mut dyn FnMut(&StepReport),
) -> Outcome {
    let model = load();
    let mut objective = Contrastive::new(pairs, config).unwrap();
    train(&model, &mut objective, config, out, stop, observer).unwrap()
}

fn weights_of(dir: &Path) -> std::collections::HashMap<String, Tensor> {
    load_tensors(&dir.join("model.safetensors"), &Device::Cpu).expect("weights load")
}

#[test]
fn an_interrupted_run_resumes_identically_and_saves_a_loadable_model() {
    let pairs = pairs();
    let config = small_config();
    let dir = tempfile::tempdir().unwrap();
    let (straight, resumed) = (dir.path().join("straight"), dir.path().join("resumed"));

    let done = run_contrastive(&pairs, &config, &straight, None, &mut |_| {});
    assert_eq!(done.steps_done, 4);
    assert!(!done.interrupted);

    // Stop after step 2 (as Ctrl-C does), then resume with a freshly loaded model.
    let stop = AtomicBool::new(false);
    let part = run_contrastive(&pairs, &config, &resumed, Some(&stop), &mut |r| {
        if r.step == 2 {
            stop.store(true, Ordering::SeqCst);
        }
    });
    assert!(part.interrupted);
    assert_eq!(part.steps_done, 2);
    assert!(!resumed.join("model.safetensors").exists());
    let rest = run_contrastive(&pairs, &config, &resumed, None, &mut |_| {});
    assert_eq!(rest.resumed_from, Some(2));
    assert_eq!(rest.steps_done, 4);

    let (a, b) = (weights_of(&straight), weights_of(&resumed));
    let base = weights_of(&common::model_dir(MODEL));
    assert_eq!(a.len(), base.len(), "same weight names as the base model");
    for (name, t) in &a {
        assert_eq!(t.dims(), base[name].dims(), "{name}");
        assert_eq!(t.dtype(), base[name].dtype(), "{name} keeps its dtype");
        let (t, r) = (
            t.to_dtype(DType::F32).unwrap(),
            b[name].to_dtype(DType::F32).unwrap(),
        );
        assert_eq!(max_abs_diff(&t, &r), 0.0, "{name} differs after resuming");
    }
    let log = biolore_train::log::read(&resumed.join("training_log.jsonl")).unwrap();
    assert_eq!(
        log.iter().map(|r| r.step).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(resumed.join("loss.svg").is_file());

    // A saved model is a sentence-transformers folder biolore loads and embeds with.
    for f in [
        "config.json",
        "modules.json",
        "tokenizer.json",
        "1_Pooling/config.json",
    ] {
        assert!(straight.join(f).is_file(), "{f} is copied");
    }
    let encoder = Encoder::load(&straight, &Device::Cpu).unwrap();
    let v = encoder.embed(&["Wilson disease"]).unwrap();
    assert_eq!(v.dim(), 384);
    let norm: f32 = v.row(0).iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);

    // A finished run is not trained again.
    let again = run_contrastive(&pairs, &config, &straight, None, &mut |_| {});
    assert_eq!(again.seconds, 0.0);

    // Averaging is exact: weights 1 and 3 give (base + 3·trained) / 4.
    let soup = dir.path().join("soup");
    let base_dir = common::model_dir(MODEL);
    biolore_train::average::average(
        &[base_dir.as_path(), straight.as_path()],
        Some(&[1.0, 3.0]),
        &soup,
    )
    .unwrap();
    let s = weights_of(&soup);
    for (name, t) in &s {
        assert_eq!(t.dtype(), base[name].dtype(), "{name} keeps its dtype");
        if !t.dtype().is_float() {
            assert_eq!(
                t.flatten_all().unwrap().to_vec1::<i64>().unwrap(),
                base[name].flatten_all().unwrap().to_vec1::<i64>().unwrap()
            );
            continue;
        }
        let expected = ((&base[name] + (&a[name] * 3.0).unwrap()).unwrap() / 4.0).unwrap();
        assert!(max_abs_diff(t, &expected) < 1e-6, "{name}");
    }
    assert!(Encoder::load(&soup, &Device::Cpu).is_ok());
    let e = biolore_train::average::average(&[base_dir.as_path()], None, &soup).unwrap_err();
    assert!(e.to_string().contains("two models"));
}

#[test]
fn distillation_pulls_names_towards_the_teacher() {
    let pairs = pairs();
    let sentences =
        read_sentences(&common::fixtures().join("ncbi-disease/NCBIdevelopset_first50.txt"))
            .unwrap();
    assert!(sentences.len() > 250, "{} sentences", sentences.len());
    let folder = common::model_dir(MODEL);
    let teacher = Encoder::load(&folder, &Device::Cpu).unwrap();
    let base = Encoder::load(&folder, &Device::Cpu).unwrap();
    let config = TrainConfig {
        sentences_per_step: 4,
        dropout: false,
        ..small_config()
    };
    let model = load();
    let mut objective = Distill::new(&pairs, sentences, teacher, base, &config).unwrap();
    let (first, items) = objective.gradients(&model, 0).unwrap();
    assert_eq!(items, 8 + 4);
    assert!(first.loss > 0.0 && first.loss < 2.0);
    let mut adam = AdamW::new(&model, 0.0);
    adam.step(&model, &first.grads, 1e-4).unwrap();
    let (second, _) = objective.gradients(&model, 0).unwrap();
    assert!(second.loss < first.loss, "{} → {}", first.loss, second.loss);
}
