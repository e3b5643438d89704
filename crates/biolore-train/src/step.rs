//! Gradients of one optimisation step, computed micro-batch by micro-batch on worker threads.
//!
//! Each micro-batch ("job") runs on its own thread with its own dropout seed; gradients are summed
//! in job order, so a step's result does not depend on the number of threads.

use biolore_encoder::Encoder;
use biolore_nn::blocks::seed_dropout;
use biolore_nn::runtime;
use candle_core::{DType, Tensor, Var};
use rayon::prelude::*;

use crate::error::Result;
use crate::model::TrainableModel;
use crate::sampler::mix_seed;

/// The loss of one micro-batch, formed from its embeddings `[rows, dim]`.
pub type LossFn<'a> = Box<dyn Fn(&Tensor) -> candle_core::Result<Tensor> + Send + Sync + 'a>;

/// One micro-batch: token sequences and how its loss is formed from their embeddings.
pub struct Job<'a> {
    /// Token ids of each text (already truncated).
    pub tokens: Vec<Vec<u32>>,
    /// The micro-batch's share of the step's loss.
    pub loss: LossFn<'a>,
}

/// The summed gradients of a step (one entry per model variable) and its loss.
#[derive(Debug)]
pub struct Gradients {
    /// Gradient of each variable, `None` where the loss does not depend on it.
    pub grads: Vec<Option<Vec<f32>>>,
    /// Sum of the jobs' losses.
    pub loss: f64,
}

/// Dropout seed of micro-batch `job` of `step`.
pub fn job_seed(seed: u64, step: usize, job: usize) -> u64 {
    mix_seed(&[seed, step as u64, job as u64])
}

/// Runs `f(0..n)` on the global rayon pool (long-lived threads), returning results in index order.
///
/// Long-lived threads matter: a thread spawned per step starts with an empty allocator heap and
/// pays a page fault for every new tensor.
pub fn parallel_map<T: Send>(n: usize, f: impl Fn(usize) -> Result<T> + Sync) -> Result<Vec<T>> {
    if runtime::workers() <= 1 || n <= 1 {
        return (0..n).map(&f).collect();
    }
    (0..n).into_par_iter().with_max_len(1).map(&f).collect()
}

/// Embeddings `[rows, dim]` of token sequences through `encoder`, with dropout seeded by `seed` when `train`.
pub fn embed(encoder: &Encoder, tokens: &[Vec<u32>], train: bool, seed: u64) -> Result<Tensor> {
    seed_dropout(seed);
    let seqs: Vec<&[u32]> = tokens.iter().map(Vec::as_slice).collect();
    let (ids, mask) = encoder.pad_batch(&seqs)?;
    Ok(encoder.forward(&ids, &mask, train)?.to_dtype(DType::F32)?)
}

/// Sums the gradients of every job's loss through the model's tracked encoder.
pub fn gradients(
    model: &TrainableModel,
    jobs: &[Job],
    seed: u64,
    step: usize,
    dropout: bool,
) -> Result<Gradients> {
    backward_jobs(model.vars(), jobs.len(), |j| {
        let emb = embed(
            model.tracked(),
            &jobs[j].tokens,
            dropout,
            job_seed(seed, step, j),
        )?;
        Ok((jobs[j].loss)(&emb)?)
    })
}

/// Runs `loss_of(j)` and its backward pass for jobs `0..n` on the worker threads and sums the
/// gradients of `vars` in job order (so the result does not depend on the thread count).
///
/// Any model's objective uses this: the loss closure runs the model's tracked forward pass.
pub fn backward_jobs(
    vars: &[Var],
    n: usize,
    loss_of: impl Fn(usize) -> Result<Tensor> + Sync,
) -> Result<Gradients> {
    let mut total = Gradients {
        grads: vec![None; vars.len()],
        loss: 0.0,
    };
    let workers = runtime::workers().max(1);
    // Rounds of `workers` jobs bound the memory to one gradient set per worker.
    for round in (0..n).collect::<Vec<_>>().chunks(workers) {
        let results = parallel_map(round.len(), |k| {
            let j = round[k];
            let t0 = std::time::Instant::now();
            let loss = loss_of(j)?;
            let value = f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
            let store = loss.backward()?;
            tracing::debug!(
                job = j,
                loss = value,
                backward_s = t0.elapsed().as_secs_f64(),
                "backward"
            );
            let grads = vars
                .iter()
                .map(|v| {
                    store
                        .get(v.as_tensor())
                        .map(|g| g.flatten_all()?.to_vec1::<f32>())
                        .transpose()
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            Ok((value, grads))
        })?;
        for (value, grads) in results {
            total.loss += value;
            for (acc, g) in total.grads.iter_mut().zip(grads) {
                match (acc.as_mut(), g) {
                    (Some(a), Some(g)) => a.iter_mut().zip(&g).for_each(|(a, g)| *a += g),
                    (None, Some(g)) => *acc = Some(g),
                    _ => {}
                }
            }
        }
    }
    Ok(total)
}

/// Cuts a token sequence to `max_len`, keeping its last (end-of-text) token.
pub fn truncate(mut ids: Vec<u32>, max_len: usize) -> Vec<u32> {
    let max_len = max_len.max(2);
    if ids.len() > max_len {
        let last = ids[ids.len() - 1];
        ids.truncate(max_len - 1);
        ids.push(last);
    }
    ids
}

/// Token ids of `texts`, each cut to `max_len`.
pub fn tokenize(encoder: &Encoder, texts: &[&str], max_len: usize) -> Result<Vec<Vec<u32>>> {
    Ok(encoder
        .tokenize(texts)?
        .into_iter()
        .map(|t| truncate(t, max_len))
        .collect())
}

/// Splits `0..n` into consecutive ranges of at most `size`.
pub fn chunks(n: usize, size: usize) -> Vec<std::ops::Range<usize>> {
    let size = size.max(1);
    (0..n).step_by(size).map(|s| s..(s + size).min(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_end_token() {
        assert_eq!(truncate(vec![0, 5, 6, 7, 2], 4), vec![0, 5, 6, 2]);
        assert_eq!(truncate(vec![0, 5, 2], 4), vec![0, 5, 2]);
    }

    #[test]
    fn chunks_cover_the_range() {
        assert_eq!(chunks(5, 2), vec![0..2, 2..4, 4..5]);
        assert!(chunks(0, 2).is_empty());
    }
}
