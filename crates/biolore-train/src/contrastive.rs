//! Phase 1: symmetric InfoNCE on (name, definition/description/synonym) pairs with in-batch negatives.
//!
//! A step's whole batch is first embedded without gradient tracking (fast kernels, same dropout
//! masks), the loss and its gradient with respect to those embeddings are computed on the full
//! batch, and each micro-batch is then re-run with gradients and given its slice of that gradient
//! (the "gradient cache" method). The result equals one large-batch step — every pair sees every
//! other pair of the batch as a negative — while memory holds one micro-batch at a time. The
//! micro-batches mix the sides and hold texts of similar length, about the same padded tokens
//! each ([`crate::balance`]), so that the worker threads share a step evenly.
//!
//! Pairs may carry a hard negative (a wrong concept's name, see [`crate::link_pairs`]): the
//! negatives are embedded as a third side and join every text's choice of names.

use candle_core::{Tensor, Var};

use crate::balance::balanced_jobs;
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::loss::{mnrl_with_negatives, surrogate};
use crate::model::TrainableModel;
use crate::pairs::{Negative, Pair};
use crate::sampler::EpochBatches;
use crate::step::{embed, gradients, job_seed, parallel_map, tokenize, Gradients, Job};
use crate::trainer::Objective;

/// The phase-1 objective over a fixed list of pairs.
pub struct Contrastive<'a> {
    pairs: &'a [Pair],
    batches: EpochBatches,
    config: TrainConfig,
}

impl<'a> Contrastive<'a> {
    /// Prepares batching of `pairs`; fails when they cannot fill one batch of distinct concepts.
    pub fn new(pairs: &'a [Pair], config: &TrainConfig) -> Result<Self> {
        let batches = EpochBatches::new(
            pairs.iter().map(|p| p.concept.as_str()),
            config.batch_size,
            config.seed,
        )
        .ok_or_else(|| {
            TrainError::Empty(format!(
                "{} pairs cannot fill one batch of {} distinct concepts",
                pairs.len(),
                config.batch_size
            ))
        })?;
        Ok(Self {
            pairs,
            batches,
            config: config.clone(),
        })
    }

    /// Batches in one pass over the pairs.
    pub fn batches_per_epoch(&self) -> usize {
        self.batches.per_epoch()
    }
}

impl Objective for Contrastive<'_> {
    fn phase(&self) -> &'static str {
        "contrastive"
    }

    fn data_identity(&self) -> String {
        let first = self.pairs.first().map(|p| p.name.as_str()).unwrap_or("");
        let last = self.pairs.last().map(|p| p.text.as_str()).unwrap_or("");
        let negatives = self.pairs.iter().filter(|p| p.negative.is_some()).count();
        if negatives == 0 {
            format!("{} pairs|{first}|{last}", self.pairs.len())
        } else {
            format!(
                "{} pairs|{first}|{last}|{negatives} negatives",
                self.pairs.len()
            )
        }
    }

    fn gradients(&mut self, model: &TrainableModel, step: usize) -> Result<(Gradients, usize)> {
        let batch = self.batches.batch(step);
        let c = &self.config;
        let pairs: Vec<&Pair> = batch.iter().map(|&i| &self.pairs[i]).collect();
        let negatives: Vec<&Negative> = pairs.iter().filter_map(|p| p.negative.as_ref()).collect();
        let fast = model.fast();
        // Sides: names, their partners, and the hard negatives when the pairs have any.
        let mut sides = vec![
            tokenize(
                fast,
                &pairs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
                c.max_length,
            )?,
            tokenize(
                fast,
                &pairs.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
                c.max_length,
            )?,
        ];
        if !negatives.is_empty() {
            let names: Vec<&str> = negatives.iter().map(|n| n.name.as_str()).collect();
            sides.push(tokenize(fast, &names, c.max_length)?);
        }
        // Every side's texts in one list, cut into jobs of about equal padded cost.
        let offsets: Vec<usize> = sides
            .iter()
            .scan(0, |at, s| {
                let first = *at;
                *at += s.len();
                Some(first)
            })
            .collect();
        let all: Vec<&Vec<u32>> = sides.iter().flatten().collect();
        let lengths: Vec<usize> = all.iter().map(|t| t.len()).collect();
        let parts = balanced_jobs(&lengths, c.micro_batch, c.max_length);
        let tokens: Vec<Vec<Vec<u32>>> = parts
            .iter()
            .map(|job| job.iter().map(|&i| all[i].clone()).collect())
            .collect();
        let t0 = std::time::Instant::now();
        let cached = parallel_map(parts.len(), |j| {
            embed(fast, &tokens[j], c.dropout, job_seed(c.seed, step, j))
        })?;
        // Back to the sides' order for the loss.
        let device = fast.device();
        let order: Vec<usize> = parts.concat();
        let mut inverse = vec![0u32; order.len()];
        for (pos, &i) in order.iter().enumerate() {
            inverse[i] = pos as u32;
        }
        let inverse = Tensor::from_vec(inverse, order.len(), device)?;
        let embedded = Tensor::cat(&cached, 0)?.index_select(&inverse, 0)?;
        let vars = sides
            .iter()
            .zip(&offsets)
            .map(|(s, &first)| Ok(Var::from_tensor(&embedded.narrow(0, first, s.len())?)?))
            .collect::<Result<Vec<_>>>()?;
        // A negative that is another pair's concept is a right answer for that pair.
        let excluded: Vec<f32> = pairs
            .iter()
            .flat_map(|p| {
                negatives
                    .iter()
                    .map(move |n| if n.concept == p.concept { 1.0 } else { 0.0 })
            })
            .collect();
        let excluded = Tensor::from_vec(excluded, (pairs.len(), negatives.len()), device)?;
        let loss = mnrl_with_negatives(
            vars[0].as_tensor(),
            vars[1].as_tensor(),
            vars.get(2).map(|v| (v.as_tensor(), &excluded)),
            c.scale,
        )?;
        let value = f64::from(loss.to_scalar::<f32>()?);
        let store = loss.backward()?;
        let missing = || TrainError::Mismatch("the loss has no gradient".into());
        let side_grads: Vec<Tensor> = vars
            .iter()
            .map(|v| store.get(v.as_tensor()).cloned().ok_or_else(missing))
            .collect::<Result<_>>()?;
        let grad = Tensor::cat(&side_grads, 0)?;
        let jobs: Vec<Job> = parts
            .iter()
            .zip(tokens)
            .map(|(job, tokens)| -> Result<Job> {
                let idx: Vec<u32> = job.iter().map(|&i| i as u32).collect();
                let g = grad.index_select(&Tensor::from_vec(idx, job.len(), device)?, 0)?;
                Ok(Job {
                    tokens,
                    loss: Box::new(move |emb: &Tensor| surrogate(emb, &g)),
                })
            })
            .collect::<Result<_>>()?;
        let t1 = std::time::Instant::now();
        let mut grads = gradients(model, &jobs, c.seed, step, c.dropout)?;
        grads.loss = value;
        tracing::debug!(
            cached_s = (t1 - t0).as_secs_f64(),
            backward_s = t1.elapsed().as_secs_f64(),
            "contrastive step"
        );
        Ok((grads, batch.len()))
    }
}
