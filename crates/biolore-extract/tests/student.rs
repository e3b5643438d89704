//! The student on real weights (all-MiniLM-L6-v2 from scripts/setup.sh) and the committed
//! synthetic ADE fixture: it learns the training relations, saves and loads, resumes exactly,
//! and the ADE reader places every fixture relation.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use biolore_extract::ade::Selection;
use biolore_extract::{read_corpus, train_student, AdeSentence, Evaluation, Extractor};
use biolore_train::TrainConfig;
use candle_core::Device;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn minilm() -> PathBuf {
    let path = root().join("models/all-MiniLM-L6-v2");
    assert!(
        path.join("model.safetensors").is_file(),
        "run scripts/setup.sh"
    );
    path
}

fn fixture() -> Vec<(AdeSentence, bool)> {
    let corpus = read_corpus(&root().join("fixtures/ade-synthetic")).unwrap();
    assert!(corpus.skipped.is_empty(), "{:?}", corpus.skipped);
    assert_eq!((corpus.positive.len(), corpus.negative.len()), (24, 12));
    corpus.select(&Selection::default())
}

fn config(steps: usize) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size: 12,
        micro_batch: 6,
        lr: 1e-4,
        max_length: 64,
        checkpoint_every: 3,
        warmup_ratio: 0.1,
        ..TrainConfig::default()
    }
}

fn score(extractor: &Extractor, gold: &[(AdeSentence, bool)]) -> (Evaluation, Vec<AdeSentence>) {
    let texts: Vec<AdeSentence> = gold
        .iter()
        .map(|(s, _)| AdeSentence::new(&s.id, &s.text))
        .collect();
    let found = extractor.extract(&texts, 8, &mut |_| {}).unwrap();
    let e = Evaluation::score(gold.iter().zip(&found).map(|((g, p), f)| (g, f, *p)));
    (e, found)
}

#[test]
fn the_student_learns_the_relations_it_is_taught_and_reloads() {
    let gold = fixture();
    let sentences: Vec<AdeSentence> = gold.iter().map(|(s, _)| s.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("student");
    let outcome = train_student(
        &minilm(),
        &sentences,
        &config(60),
        &out,
        &Device::Cpu,
        None,
        &mut |_| {},
    )
    .unwrap();
    let log = std::fs::read_to_string(out.join("training_log.jsonl")).unwrap();
    let losses: Vec<f64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let (head, tail) = (
        losses[..5].iter().sum::<f64>() / 5.0,
        losses[losses.len() - 5..].iter().sum::<f64>() / 5.0,
    );
    println!(
        "loss {head:.4} → {tail:.4}; {:.1} sentences/s",
        outcome.items_per_s
    );
    assert!(tail < 0.3 * head, "loss {head} → {tail}");
    let student = Extractor::load(&out, &Device::Cpu).unwrap();
    let (e, found) = score(&student, &gold);
    println!("{}", e.to_json());
    assert!(e.positive.relation_strict.f1() > 0.8, "{}", e.to_json());
    assert!(e.all_sentences.relation_strict.precision() > 0.8);
    // The folder is still a sentence encoder.
    let encoder = biolore_encoder::Encoder::load(&out, &Device::Cpu).unwrap();
    assert_eq!(encoder.dim(), 384);
    // Loading again gives the same relations, scores included.
    let again = Extractor::load(&out, &Device::Cpu).unwrap();
    assert_eq!(score(&again, &gold).1, found);
    // Offsets are characters of the text.
    for s in &found {
        for r in &s.relations {
            let slice: String = s
                .text
                .chars()
                .skip(r.drug.start)
                .take(r.drug.len())
                .collect();
            assert_eq!(slice, r.drug.text);
        }
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_weights() {
    let sentences: Vec<AdeSentence> = fixture().into_iter().map(|(s, _)| s).collect();
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
    train_student(
        &minilm(),
        &sentences,
        &config(6),
        &whole,
        &Device::Cpu,
        None,
        &mut |_| {},
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    let outcome = train_student(
        &minilm(),
        &sentences,
        &config(6),
        &parts,
        &Device::Cpu,
        Some(&stop),
        &mut |r| {
            if r.step == 3 {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        },
    )
    .unwrap();
    assert!(outcome.interrupted && outcome.steps_done == 3);
    let resumed = train_student(
        &minilm(),
        &sentences,
        &config(6),
        &parts,
        &Device::Cpu,
        None,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(resumed.resumed_from, Some(3));
    for file in ["model.safetensors", "extractor.safetensors"] {
        let a = std::fs::read(whole.join(file)).unwrap();
        let b = std::fs::read(parts.join(file)).unwrap();
        assert!(a == b, "{file} differs after resuming");
    }
}

#[test]
fn bad_training_data_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut failed = AdeSentence::new("1", "Aspirin caused asthma.");
    failed.failed = Some("the teacher did not answer".into());
    let e = train_student(
        &minilm(),
        &[failed],
        &config(2),
        dir.path(),
        &Device::Cpu,
        None,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("no usable training sentence"), "{e}");
    let e = Extractor::load(&minilm(), &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("not a trained extractor"), "{e}");
    // An empty text extracts nothing.
    let out = dir.path().join("s");
    let sentences: Vec<AdeSentence> = fixture().into_iter().map(|(s, _)| s).collect();
    train_student(
        &minilm(),
        &sentences,
        &config(1),
        &out,
        &Device::Cpu,
        None,
        &mut |_| {},
    )
    .unwrap();
    let student = Extractor::load(&out, &Device::Cpu).unwrap();
    let found = student
        .extract(
            &[AdeSentence::new("e", ""), AdeSentence::new("w", "   ")],
            4,
            &mut |_| {},
        )
        .unwrap();
    assert!(found.iter().all(|s| s.relations.is_empty()));
}
