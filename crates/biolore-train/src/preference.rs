//! Negative-aware training of a generative linker (ANGEL): the generator's own top-k names for
//! training mentions become (correct, wrong) preference pairs, trained with the DPO loss
//! against a frozen reference model (the positive-only generator).

use std::collections::HashSet;

use biolore_link::generative::{prompt_text, GenerativeLinker};
use biolore_link::name_similarity::TrigramTfIdf;
use biolore_link::MentionContext;
use biolore_nn::heads::ChatTemplate;
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::decoder::TrainableDecoder;
use crate::error::{Result, TrainError};
use crate::language_model::{chat_turn, sequence_log_probs, shuffled_batch, LmExample};
use crate::link_pairs::GoldMention;
use crate::step::{backward_jobs, chunks, Gradients};
use crate::trainer::Objective;

/// ANGEL's DPO temperature.
pub const DEFAULT_BETA: f64 = 0.1;

/// Mentions searched per progress report while mining.
const MINING_CHUNK: usize = 16;

/// One preference: for a mention, a name of its gold concept and a wrong name the model wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferencePair {
    /// The mention (as queried: abbreviations expanded).
    pub mention: String,
    /// The preferred name (of the gold concept).
    pub chosen: String,
    /// The dispreferred name (of another concept), ranked high by the model.
    pub rejected: String,
    /// The context the prompt showed (trimmed as the generator's prompt settings say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<MentionContext>,
}

/// ANGEL's pairing of one ranked list (`correct[i]`: whether rank `i + 1` names a gold concept):
/// a correct rank 1 is paired with the best-ranked wrong name; a correct name at rank `k > 1` is
/// paired with every wrong name above it. Returns (chosen rank, rejected rank), 0-based.
pub fn preference_ranks(correct: &[bool]) -> Vec<(usize, usize)> {
    let Some(first_correct) = correct.iter().position(|&c| c) else {
        return Vec::new();
    };
    if first_correct == 0 {
        return correct
            .iter()
            .position(|&c| !c)
            .map(|wrong| vec![(0, wrong)])
            .unwrap_or_default();
    }
    (0..first_correct).map(|w| (first_correct, w)).collect()
}

/// What mining found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiningStats {
    /// Mentions searched.
    pub mentions: usize,
    /// Mentions whose rank-1 name is correct.
    pub correct_first: usize,
    /// Mentions with a correct name in the top k, but not first.
    pub correct_lower: usize,
    /// Mentions without a correct name in the top k (paired: closest gold name over rank 1).
    pub correct_absent: usize,
    /// Preference pairs made.
    pub pairs: usize,
}

/// Runs the constrained search of `linker` (top `top`) on each mention and builds its
/// preference pairs by [`preference_ranks`]. When no name in the top `top` is correct, the gold
/// concept's name closest to the mention (the positive-only target) is preferred over the rank-1
/// name, so those mentions teach too. `progress` gets the mentions done and the total.
pub fn mine_preferences(
    linker: &GenerativeLinker,
    mentions: &[GoldMention],
    top: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<PreferencePair>, MiningStats)> {
    let kb = linker.index().kb();
    let names = linker.names();
    let trie = names.trie();
    let tfidf = TrigramTfIdf::fit(kb.concepts().iter().flat_map(|c| c.names()));
    let mut stats = MiningStats::default();
    let mut pairs = Vec::new();
    let mut done = 0;
    for chunk in mentions.chunks(MINING_CHUNK) {
        let ranked = chunk
            .par_iter()
            .with_max_len(1)
            .map(|m| {
                let hypotheses = linker
                    .search(&m.mention, m.context.as_ref(), trie, top.max(1))
                    .map_err(|e| TrainError::Mismatch(e.to_string()))?;
                // One (name, correct) per hypothesis, in rank order.
                Ok(hypotheses
                    .iter()
                    .filter_map(|h| {
                        let entries: Vec<_> = names.names_at(h.node).collect();
                        let text = entries.first()?.text.clone();
                        let correct = entries
                            .iter()
                            .flat_map(|e| e.concepts.iter())
                            .any(|&c| m.gold.contains(&(c as usize)));
                        Some((text, correct))
                    })
                    .collect::<Vec<_>>())
            })
            .collect::<Result<Vec<_>>>()?;
        for (m, ranked) in chunk.iter().zip(ranked) {
            stats.mentions += 1;
            let correct: Vec<bool> = ranked.iter().map(|(_, c)| *c).collect();
            let mut seen = HashSet::new();
            let context = linker.prompt_settings().context(m.context.as_ref());
            let mut push = |chosen: &str, rejected: &str| {
                if seen.insert((chosen.to_string(), rejected.to_string())) {
                    pairs.push(PreferencePair {
                        mention: m.mention.clone(),
                        chosen: chosen.to_string(),
                        rejected: rejected.to_string(),
                        context: context.clone(),
                    });
                }
            };
            match correct.iter().position(|&c| c) {
                Some(0) => stats.correct_first += 1,
                Some(_) => stats.correct_lower += 1,
                None => {
                    stats.correct_absent += 1;
                    let gold_names = kb.concepts()[m.gold[0]].names();
                    if let (Some(&best), Some((wrong, _))) = (
                        tfidf.closest(&m.mention, &gold_names, 1).first(),
                        ranked.first(),
                    ) {
                        push(gold_names[best], wrong);
                    }
                }
            }
            for (c, r) in preference_ranks(&correct) {
                push(&ranked[c].0, &ranked[r].0);
            }
        }
        done += chunk.len();
        progress(done, mentions.len());
    }
    stats.pairs = pairs.len();
    Ok((pairs, stats))
}

/// Keeps a seeded sample of `limit` mentions (0 or more than there are: all, in order).
pub fn sample_mentions(mentions: &mut Vec<GoldMention>, limit: usize, seed: u64) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    if limit > 0 && limit < mentions.len() {
        mentions.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        mentions.truncate(limit);
    }
}

/// A preference pair tokenized in the generator's chat format, with the reference model's
/// log-probabilities of both completions.
#[derive(Debug, Clone, PartialEq)]
pub struct PreferenceExample {
    /// Prompt + preferred name.
    pub chosen: LmExample,
    /// Prompt + dispreferred name.
    pub rejected: LmExample,
    /// Reference log-probability of the preferred completion.
    pub reference_chosen: f32,
    /// Reference log-probability of the dispreferred completion.
    pub reference_rejected: f32,
}

/// Tokenizes `pairs` as chat turns (the linking prompt, each name as the answer) and scores
/// both answers with `reference`'s frozen weights, `batch` sequences at a time.
pub fn preference_examples(
    pairs: &[PreferencePair],
    reference: &TrainableDecoder,
    max_len: usize,
    batch: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<PreferenceExample>> {
    let template: ChatTemplate = reference.chat_template()?.ok_or_else(|| {
        TrainError::Mismatch("the reference generator has no chat template".into())
    })?;
    let eos = reference.eos_token();
    let tokenizer = reference.tokenizer();
    let tokenize = |p: &PreferencePair, name: &str| -> Result<LmExample> {
        let user = prompt_text(&p.mention, p.context.as_ref());
        let (prompt, completion) =
            chat_turn(&template, &user, name, eos).map_err(TrainError::Mismatch)?;
        LmExample::new(tokenizer, &prompt, &completion, max_len)
    };
    let mut sides = Vec::with_capacity(pairs.len() * 2);
    for p in pairs {
        sides.push(tokenize(p, &p.chosen)?);
        sides.push(tokenize(p, &p.rejected)?);
    }
    let device = crate::parameters::Trainable::device(reference);
    let mut scores = Vec::with_capacity(sides.len());
    for part in sides.chunks(batch.max(2)) {
        let refs: Vec<&LmExample> = part.iter().collect();
        scores.extend(sequence_log_probs(reference.fast(), &refs, device)?.to_vec1::<f32>()?);
        progress(scores.len() / 2, pairs.len());
    }
    let mut sides = sides.into_iter();
    let mut scores = scores.into_iter();
    let mut out = Vec::with_capacity(pairs.len());
    while let (Some(chosen), Some(rejected), Some(rc), Some(rr)) =
        (sides.next(), sides.next(), scores.next(), scores.next())
    {
        out.push(PreferenceExample {
            chosen,
            rejected,
            reference_chosen: rc,
            reference_rejected: rr,
        });
    }
    Ok(out)
}

/// The summed DPO loss of a micro-batch, −log σ(β((π_c − r_c) − (π_r − r_r))), over `denominator`.
pub fn dpo_loss(
    decoder: &biolore_nn::models::Decoder,
    examples: &[&PreferenceExample],
    beta: f64,
    denominator: f64,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let m = examples.len();
    let sides: Vec<&LmExample> = examples
        .iter()
        .map(|e| &e.chosen)
        .chain(examples.iter().map(|e| &e.rejected))
        .collect();
    let policy = sequence_log_probs(decoder, &sides, device)?;
    let reference: Vec<f32> = examples
        .iter()
        .map(|e| e.reference_chosen - e.reference_rejected)
        .collect();
    let reference = Tensor::from_vec(reference, m, device)?;
    let margin = ((policy.narrow(0, 0, m)? - policy.narrow(0, m, m)?)? - reference)?;
    neg_log_sigmoid(&(margin * beta)?)?.sum_all()? / denominator
}

/// −log σ(x) elementwise, as softplus(−x) = max(−x, 0) + log(1 + e^(−|x|)): finite for any x.
pub fn neg_log_sigmoid(x: &Tensor) -> candle_core::Result<Tensor> {
    x.neg()?.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// Direct preference optimisation over a fixed list of preference examples.
pub struct Dpo<'a> {
    examples: &'a [PreferenceExample],
    config: TrainConfig,
    beta: f64,
}

impl<'a> Dpo<'a> {
    /// Prepares batching; fails on no examples or a β that is not positive.
    pub fn new(examples: &'a [PreferenceExample], config: &TrainConfig, beta: f64) -> Result<Self> {
        if examples.is_empty() {
            return Err(TrainError::Empty("no preference pairs to train on".into()));
        }
        if !(beta.is_finite() && beta > 0.0) {
            return Err(TrainError::Mismatch(format!(
                "the DPO beta must be positive, not {beta}"
            )));
        }
        Ok(Self {
            examples,
            config: config.clone(),
            beta,
        })
    }
}

impl Objective<TrainableDecoder> for Dpo<'_> {
    fn phase(&self) -> &'static str {
        "dpo"
    }

    fn data_identity(&self) -> String {
        let tokens: usize = self
            .examples
            .iter()
            .map(|e| e.chosen.ids.len() + e.rejected.ids.len())
            .sum();
        format!(
            "{} pairs|{tokens} tokens|beta {}",
            self.examples.len(),
            self.beta
        )
    }

    fn gradients(&mut self, model: &TrainableDecoder, step: usize) -> Result<(Gradients, usize)> {
        let batch = shuffled_batch(
            self.examples.len(),
            self.config.batch_size,
            self.config.seed,
            step,
        );
        let parts = chunks(batch.len(), self.config.micro_batch);
        let device = crate::parameters::Trainable::device(model);
        let denominator = batch.len().max(1) as f64;
        let grads = backward_jobs(
            crate::parameters::Trainable::parameters(model).vars(),
            parts.len(),
            |j| {
                let examples: Vec<&PreferenceExample> = batch[parts[j].clone()]
                    .iter()
                    .map(|&i| &self.examples[i])
                    .collect();
                Ok(dpo_loss(
                    model.tracked(),
                    &examples,
                    self.beta,
                    denominator,
                    device,
                )?)
            },
        )?;
        Ok((grads, batch.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_follow_angels_rule() {
        // Correct first: paired with the best-ranked wrong name only.
        assert_eq!(preference_ranks(&[true, false, true, false]), vec![(0, 1)]);
        // Correct at rank 3: preferred over both names above it.
        assert_eq!(
            preference_ranks(&[false, false, true, false]),
            vec![(2, 0), (2, 1)]
        );
        // Nothing correct, or nothing wrong: no pair from the ranking.
        assert!(preference_ranks(&[false, false]).is_empty());
        assert!(preference_ranks(&[true, true]).is_empty());
        assert!(preference_ranks(&[]).is_empty());
    }

    #[test]
    fn the_loss_is_log_two_at_the_reference_and_falls_with_the_margin() {
        // With the policy equal to the reference the margin is 0 and the loss log 2; the
        // softplus form stays finite for large margins of either sign.
        let device = Device::Cpu;
        let x = Tensor::new(&[0f32, 50.0, -50.0], &device).unwrap();
        let softplus = neg_log_sigmoid(&x).unwrap().to_vec1::<f32>().unwrap();
        assert!((softplus[0] - std::f32::consts::LN_2).abs() < 1e-6);
        assert!(softplus[1] < 1e-6);
        assert!((softplus[2] - 50.0).abs() < 1e-4);
    }
}
