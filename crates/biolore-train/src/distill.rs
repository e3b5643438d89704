//! Phase 2: self-distillation. A student's vector of a concept name is pulled towards a frozen
//! teacher's vector of the concept's definition or description, while its vectors of general
//! sentences are held near the original base model's, so sentence similarity is kept.

use std::path::Path;

use biolore_encoder::Encoder;
use candle_core::Tensor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::balance::balanced_jobs;
use crate::config::{DistillLoss, TrainConfig};
use crate::error::{Result, TrainError};
use crate::loss::{cosine_distance, mse};
use crate::model::TrainableModel;
use crate::pairs::{Pair, PairKind};
use crate::sampler::{mix_seed, EpochBatches};
use crate::step::{chunks, embed, gradients, parallel_map, tokenize, Gradients, Job};
use crate::trainer::Objective;

/// The phase-2 objective.
pub struct Distill<'a> {
    items: Vec<&'a Pair>,
    batches: EpochBatches,
    sentences: Vec<String>,
    teacher: Encoder,
    base: Encoder,
    config: TrainConfig,
}

impl<'a> Distill<'a> {
    /// Prepares distillation on the definition and description pairs of `pairs`.
    pub fn new(
        pairs: &'a [Pair],
        sentences: Vec<String>,
        teacher: Encoder,
        base: Encoder,
        config: &TrainConfig,
    ) -> Result<Self> {
        let items: Vec<&Pair> = pairs
            .iter()
            .filter(|p| matches!(p.kind, PairKind::Definition | PairKind::Description))
            .collect();
        let batches = EpochBatches::new(
            items.iter().map(|p| p.concept.as_str()),
            config.batch_size,
            config.seed,
        )
        .ok_or_else(|| {
            TrainError::Empty(format!(
                "{} definition/description pairs cannot fill one batch of {}",
                items.len(),
                config.batch_size
            ))
        })?;
        if config.sentence_weight > 0.0 && config.sentences_per_step > 0 && sentences.is_empty() {
            return Err(TrainError::Empty(
                "the sentence term needs general sentences (--sentences FILE)".into(),
            ));
        }
        Ok(Self {
            items,
            batches,
            sentences,
            teacher,
            base,
            config: config.clone(),
        })
    }

    fn sentence_batch(&self, step: usize) -> Vec<&str> {
        let per = self.config.sentences_per_step;
        if per == 0 || self.sentences.is_empty() || self.config.sentence_weight <= 0.0 {
            return Vec::new();
        }
        let n = self.sentences.len();
        let start = step * per;
        let mut out = Vec::with_capacity(per);
        let mut cached: Option<(usize, Vec<usize>)> = None;
        for k in start..start + per {
            let epoch = k / n;
            if cached.as_ref().is_none_or(|(e, _)| *e != epoch) {
                let mut order: Vec<usize> = (0..n).collect();
                let seed = mix_seed(&[self.config.seed, 0x5E57, epoch as u64]);
                order.shuffle(&mut StdRng::seed_from_u64(seed));
                cached = Some((epoch, order));
            }
            if let Some((_, order)) = &cached {
                out.push(self.sentences[order[k % n]].as_str());
            }
        }
        out
    }
}

fn targets(encoder: &Encoder, tokens: &[Vec<u32>], micro: usize) -> Result<Tensor> {
    let parts = chunks(tokens.len(), micro);
    let vecs = parallel_map(parts.len(), |j| {
        embed(encoder, &tokens[parts[j].clone()], false, 0)
    })?;
    Ok(Tensor::cat(&vecs, 0)?)
}

impl Objective for Distill<'_> {
    fn phase(&self) -> &'static str {
        "distill"
    }

    fn data_identity(&self) -> String {
        format!(
            "{} items|{} sentences|teacher {}|base {}",
            self.items.len(),
            self.sentences.len(),
            self.teacher.spec().folder.display(),
            self.base.spec().folder.display()
        )
    }

    fn gradients(&mut self, model: &TrainableModel, step: usize) -> Result<(Gradients, usize)> {
        let batch = self.batches.batch(step);
        let sentences = self.sentence_batch(step);
        let c = &self.config;
        let names: Vec<&str> = batch.iter().map(|&i| self.items[i].name.as_str()).collect();
        let texts: Vec<&str> = batch.iter().map(|&i| self.items[i].text.as_str()).collect();
        let name_tokens = tokenize(model.fast(), &names, c.max_length)?;
        let teacher_tokens = tokenize(&self.teacher, &texts, c.max_length)?;
        let concept_targets = targets(&self.teacher, &teacher_tokens, c.micro_batch)?;
        let sentence_tokens = tokenize(model.fast(), &sentences, c.max_length)?;
        let base_tokens = tokenize(&self.base, &sentences, c.max_length)?;
        let sentence_targets = if sentences.is_empty() {
            None
        } else {
            Some(targets(&self.base, &base_tokens, c.micro_batch)?)
        };
        let distance = c.distill_loss;
        let mut jobs: Vec<Job> = Vec::new();
        let mut add = |tokens: &[Vec<u32>], target: &Tensor, weight: f64| -> Result<()> {
            let total = tokens.len() as f64;
            // Texts of similar length together, jobs of about equal cost (see crate::balance).
            let lengths: Vec<usize> = tokens.iter().map(Vec::len).collect();
            for job in balanced_jobs(&lengths, c.micro_batch, c.max_length) {
                let idx: Vec<u32> = job.iter().map(|&i| i as u32).collect();
                let idx = Tensor::from_vec(idx, job.len(), target.device())?;
                let t = target.index_select(&idx, 0)?;
                let share = weight * job.len() as f64 / total;
                jobs.push(Job {
                    tokens: job.iter().map(|&i| tokens[i].clone()).collect(),
                    loss: Box::new(move |emb: &Tensor| {
                        let d = match distance {
                            DistillLoss::Cosine => cosine_distance(emb, &t)?,
                            DistillLoss::Mse => mse(emb, &t)?,
                        };
                        d * share
                    }),
                });
            }
            Ok(())
        };
        if c.concept_weight > 0.0 {
            add(&name_tokens, &concept_targets, c.concept_weight)?;
        }
        if let Some(t) = &sentence_targets {
            add(&sentence_tokens, t, c.sentence_weight)?;
        }
        let grads = gradients(model, &jobs, c.seed, step, c.dropout)?;
        Ok((grads, batch.len() + sentences.len()))
    }
}

/// General sentences from a PubTator corpus (titles and abstracts, split into sentences) or a
/// plain-text file (one sentence per line); sentences of fewer than 4 words are left out.
pub fn read_sentences(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let is_pubtator = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| l.split_once('|'))
        .is_some_and(|(id, rest)| {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && (rest.starts_with("t|") || rest.starts_with("a|"))
        });
    let bodies: Vec<String> = if is_pubtator {
        biolore_text::pubtator::parse(path, &text)?
            .into_iter()
            .flat_map(|d| d.passages.into_iter().map(|p| p.text))
            .collect()
    } else {
        text.lines().map(|l| l.trim().to_string()).collect()
    };
    Ok(bodies
        .iter()
        .flat_map(|b| biolore_text::split_sentences(b))
        .filter(|s| s.split_whitespace().count() >= 4)
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_from_pubtator_and_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        std::fs::write(
            &p,
            "123|t|A study of the disease in mice.\n123|a|The gene was mutated in all cases. \
             It causes cancer in most patients. Short one.\n123\t0\t5\tstudy\tDisease\tD1\n\n",
        )
        .unwrap();
        let s = read_sentences(&p).unwrap();
        assert_eq!(
            s,
            vec![
                "A study of the disease in mice.",
                "The gene was mutated in all cases.",
                "It causes cancer in most patients."
            ]
        );
    }
}
