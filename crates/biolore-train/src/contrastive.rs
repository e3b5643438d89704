//! Phase 1: symmetric InfoNCE on (name, definition/description/synonym) pairs with in-batch negatives.
//!
//! A step's whole batch is first embedded without gradient tracking (fast kernels, same dropout
//! masks), the loss and its gradient with respect to those embeddings are computed on the full
//! batch, and each micro-batch is then re-run with gradients and given its slice of that gradient
//! (the "gradient cache" method). The result equals one large-batch step — every pair sees every
//! other pair of the batch as a negative — while memory holds one micro-batch at a time.

use std::ops::Range;

use candle_core::{Tensor, Var};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::loss::{surrogate, symmetric_mnrl};
use crate::model::TrainableModel;
use crate::pairs::Pair;
use crate::sampler::EpochBatches;
use crate::step::{chunks, embed, gradients, job_seed, parallel_map, tokenize, Gradients, Job};
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
        format!("{} pairs|{first}|{last}", self.pairs.len())
    }

    fn gradients(&mut self, model: &TrainableModel, step: usize) -> Result<(Gradients, usize)> {
        let batch = self.batches.batch(step);
        let c = &self.config;
        let names: Vec<&str> = batch.iter().map(|&i| self.pairs[i].name.as_str()).collect();
        let texts: Vec<&str> = batch.iter().map(|&i| self.pairs[i].text.as_str()).collect();
        let fast = model.fast();
        let a = tokenize(fast, &names, c.max_length)?;
        let b = tokenize(fast, &texts, c.max_length)?;
        // Micro-batches: names first, then their partners; each side sorted by length so that
        // texts of similar length share a micro-batch (less padding).
        let order_a = by_length(&a);
        let order_b = by_length(&b);
        let parts: Vec<(bool, Range<usize>)> = chunks(a.len(), c.micro_batch)
            .into_iter()
            .map(|r| (false, r))
            .chain(
                chunks(b.len(), c.micro_batch)
                    .into_iter()
                    .map(|r| (true, r)),
            )
            .collect();
        let tokens: Vec<Vec<Vec<u32>>> = parts
            .iter()
            .map(|(is_b, r)| {
                let (order, side) = if *is_b {
                    (&order_b, &b)
                } else {
                    (&order_a, &a)
                };
                order[r.clone()].iter().map(|&i| side[i].clone()).collect()
            })
            .collect();
        let t0 = std::time::Instant::now();
        let cached = parallel_map(parts.len(), |j| {
            embed(fast, &tokens[j], c.dropout, job_seed(c.seed, step, j))
        })?;
        let split = parts.iter().filter(|(is_b, _)| !is_b).count();
        // Back to pair order for the loss.
        let device = fast.device();
        let unsort = |order: &[usize], parts: &[Tensor]| -> Result<Tensor> {
            let mut inverse = vec![0u32; order.len()];
            for (pos, &i) in order.iter().enumerate() {
                inverse[i] = pos as u32;
            }
            let inverse = Tensor::from_vec(inverse, order.len(), device)?;
            Ok(Tensor::cat(parts, 0)?.index_select(&inverse, 0)?)
        };
        let ea = Var::from_tensor(&unsort(&order_a, &cached[..split])?)?;
        let eb = Var::from_tensor(&unsort(&order_b, &cached[split..])?)?;
        let loss = symmetric_mnrl(ea.as_tensor(), eb.as_tensor(), c.scale)?;
        let value = f64::from(loss.to_scalar::<f32>()?);
        let store = loss.backward()?;
        let missing = || TrainError::Mismatch("the loss has no gradient".into());
        // Gradients in the sorted order of the micro-batches.
        let sorted = |g: &Tensor, order: &[usize]| -> Result<Tensor> {
            let idx: Vec<u32> = order.iter().map(|&i| i as u32).collect();
            Ok(g.index_select(&Tensor::from_vec(idx, order.len(), device)?, 0)?)
        };
        let ga = sorted(store.get(ea.as_tensor()).ok_or_else(missing)?, &order_a)?;
        let gb = sorted(store.get(eb.as_tensor()).ok_or_else(missing)?, &order_b)?;
        let jobs: Vec<Job> = parts
            .iter()
            .zip(tokens)
            .map(|((is_b, r), tokens)| -> Result<Job> {
                let g = if *is_b { &gb } else { &ga }.narrow(0, r.start, r.len())?;
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

/// Indices of `seqs` from shortest to longest (stable).
fn by_length(seqs: &[Vec<u32>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| seqs[i].len());
    order
}
