//! `biolore eval extract`: precision, recall and F1 of drugs, effects and relations (strict and
//! lenient) on the ADE corpus, for a trained student or for a teacher's labels file.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use biolore_extract::{AdeSentence, Evaluation, Extractor};
use clap::Args;

/// Arguments of `biolore eval extract`.
#[derive(Args, Debug)]
pub struct EvalExtractArgs {
    /// Gold sentences: an ADE corpus folder (DRUG-AE.rel, ADE-NEG.txt) or a JSONL file of sentences with relations.
    #[arg(long)]
    pub gold: PathBuf,
    /// A trained extractor to evaluate.
    #[arg(long, short = 'm', conflicts_with = "predictions")]
    pub model: Option<PathBuf>,
    /// Predictions to evaluate instead (JSONL of sentences: a labels file from `biolore label`,
    /// or `extract`'s output); gold sentences without a prediction are left out.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Sentences per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Where to write the model's predictions (JSONL), to inspect them.
    #[arg(long)]
    pub write_predictions: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub select: super::label::SelectionArgs,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

/// Runs `biolore eval extract`.
pub fn run(args: EvalExtractArgs) -> Result<()> {
    super::set_threads(args.threads)?;
    let gold = biolore_extract::inputs::read_sentences(&args.gold, &args.select.selection())
        .with_context(|| format!("reading the gold sentences {}", args.gold.display()))?;
    anyhow::ensure!(
        !gold.is_empty(),
        "no gold sentences in {}",
        args.gold.display()
    );
    let mut extra = serde_json::Map::new();
    let (pairs, predicted): (Vec<(usize, bool)>, Vec<AdeSentence>) =
        match (&args.model, &args.predictions) {
            (Some(model), None) => {
                let extractor = Extractor::load(model, &args.device.device()?)
                    .with_context(|| format!("loading the extractor {}", model.display()))?;
                let sentences: Vec<AdeSentence> = gold
                    .iter()
                    .map(|(s, _)| AdeSentence::new(&s.id, &s.text))
                    .collect();
                let bar = crate::progress::bar(sentences.len(), "sentences", 64);
                let t0 = std::time::Instant::now();
                let found = extractor.extract(&sentences, args.batch_size, &mut |n| {
                    bar.set_position(n as u64)
                })?;
                bar.finish_and_clear();
                let secs = t0.elapsed().as_secs_f64();
                extra.insert("model".into(), model.display().to_string().into());
                extra.insert(
                    "sentences_per_second".into(),
                    ((sentences.len() as f64 / secs.max(1e-9) * 10.0).round() / 10.0).into(),
                );
                ((0..gold.len()).map(|i| (i, gold[i].1)).collect(), found)
            }
            (None, Some(path)) => {
                let predictions = biolore_extract::inputs::read_file(path)?;
                let by_text: HashMap<&str, usize> = predictions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.text.as_str(), i))
                    .collect();
                let mut pairs = Vec::new();
                let mut missing = 0usize;
                let mut ordered = Vec::new();
                for (i, (g, positive)) in gold.iter().enumerate() {
                    match by_text.get(g.text.as_str()) {
                        Some(&j) => {
                            pairs.push((i, *positive));
                            ordered.push(predictions[j].clone());
                        }
                        None => missing += 1,
                    }
                }
                anyhow::ensure!(
                    !pairs.is_empty(),
                    "none of the {} gold sentences has a prediction in {}",
                    gold.len(),
                    path.display()
                );
                extra.insert("predictions".into(), path.display().to_string().into());
                extra.insert("gold_without_prediction".into(), missing.into());
                extra.insert(
                    "failed_predictions".into(),
                    ordered.iter().filter(|p| p.failed.is_some()).count().into(),
                );
                // Re-index: pairs[k] goes with ordered[k].
                let pairs = pairs
                    .into_iter()
                    .enumerate()
                    .map(|(k, (i, pos))| (i, pos, k))
                    .collect::<Vec<_>>();
                let e = Evaluation::score(
                    pairs
                        .iter()
                        .map(|&(i, pos, k)| (&gold[i].0, &ordered[k], pos)),
                );
                return report(&args, e, extra);
            }
            _ => {
                anyhow::bail!("give --model (a trained extractor) or --predictions (a labels file)")
            }
        };
    if let Some(path) = &args.write_predictions {
        let mut text = String::new();
        for p in &predicted {
            text.push_str(&serde_json::to_string(p)?);
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let e = Evaluation::score(
        pairs
            .iter()
            .map(|&(i, pos)| (&gold[i].0, &predicted[i], pos)),
    );
    report(&args, e, extra)
}

fn report(
    args: &EvalExtractArgs,
    e: Evaluation,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let mut v = e.to_json();
    if let serde_json::Value::Object(map) = &mut v {
        map.insert("gold".into(), args.gold.display().to_string().into());
        map.extend(extra);
    }
    if args.json {
        println!("{v}");
        return Ok(());
    }
    for (name, s) in [
        ("sentences with relations", &e.positive),
        ("all sentences", &e.all_sentences),
    ] {
        println!("{name} (n = {}):", s.n_sentences);
        for (what, prf) in [
            ("relations, strict ", &s.relation_strict),
            ("relations, lenient", &s.relation_lenient),
            ("drugs, strict     ", &s.drug),
            ("effects, strict   ", &s.effect),
        ] {
            println!(
                "  {what}  P {:.4}  R {:.4}  F1 {:.4}  ({} of {} predicted, {} gold)",
                prf.precision(),
                prf.recall(),
                prf.f1(),
                prf.tp,
                prf.predicted,
                prf.gold
            );
        }
    }
    Ok(())
}
