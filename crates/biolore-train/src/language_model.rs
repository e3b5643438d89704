//! The language-modelling objective: next-token cross-entropy on the completion part of
//! (prompt, completion) examples, for decoders; micro-batches run on the worker threads.

use candle_core::{DType, Tensor, D};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::balance::balanced_jobs;
use crate::config::TrainConfig;
use crate::decoder::TrainableDecoder;
use crate::error::{Result, TrainError};
use crate::sampler::mix_seed;
use crate::step::{backward_jobs, Gradients};
use crate::trainer::Objective;

/// One training sequence: token ids, of which the first `prompt_len` are context only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmExample {
    /// Prompt and completion token ids.
    pub ids: Vec<u32>,
    /// How many leading tokens are prompt (not predicted).
    pub prompt_len: usize,
}

impl LmExample {
    /// Tokenizes a prompt and its completion (special-token texts honoured, nothing added),
    /// keeping at most `max_len` tokens: the prompt is cut from the left, never the completion's start.
    pub fn new(
        tokenizer: &tokenizers::Tokenizer,
        prompt: &str,
        completion: &str,
        max_len: usize,
    ) -> Result<Self> {
        let encode = |text: &str| -> Result<Vec<u32>> {
            tokenizer
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| TrainError::Mismatch(format!("cannot tokenize {text:?}: {e}")))
        };
        let mut prompt_ids = encode(prompt)?;
        let mut completion_ids = encode(completion)?;
        if completion_ids.is_empty() {
            return Err(TrainError::Empty(format!(
                "the completion of {prompt:?} has no tokens"
            )));
        }
        let max_len = max_len.max(2);
        completion_ids.truncate(max_len - 1);
        let room = max_len - completion_ids.len();
        if prompt_ids.len() > room {
            prompt_ids.drain(..prompt_ids.len() - room);
        }
        let prompt_len = prompt_ids.len();
        prompt_ids.extend(completion_ids);
        Ok(Self {
            ids: prompt_ids,
            prompt_len,
        })
    }

    /// Number of tokens the loss predicts.
    pub fn targets(&self) -> usize {
        self.ids.len().saturating_sub(self.prompt_len.max(1))
    }
}

/// One line of a language-modelling data file.
#[derive(Debug, serde::Deserialize)]
struct Line {
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    completion: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

/// Reads training examples from JSONL: `{"prompt": …, "completion": …}` (the loss covers the
/// completion) or `{"text": …}` (the loss covers all of it). With a chat `template`, each
/// prompt becomes a user turn in the model's chat format and each completion the assistant's
/// answer, ended by `eos`. Blank lines are skipped; a bad line is an error naming it.
pub fn read_examples(
    path: &std::path::Path,
    tokenizer: &tokenizers::Tokenizer,
    template: Option<&biolore_nn::heads::ChatTemplate>,
    eos: &str,
    max_len: usize,
) -> Result<Vec<LmExample>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let at = |line: usize, message: String| TrainError::Config {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut examples = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| at(i + 1, e.to_string()))?;
        let (prompt, completion) = match (line.prompt, line.completion, line.text) {
            (Some(p), Some(c), None) => (p, c),
            (None, None, Some(t)) => (String::new(), t),
            _ => {
                return Err(at(
                    i + 1,
                    "expected {\"prompt\", \"completion\"} or {\"text\"}".into(),
                ))
            }
        };
        let (prompt, completion) = match template {
            Some(t) => chat_turn(t, &prompt, &completion, eos).map_err(|e| at(i + 1, e))?,
            None => (prompt, completion),
        };
        examples.push(
            LmExample::new(tokenizer, &prompt, &completion, max_len)
                .map_err(|e| at(i + 1, e.to_string()))?,
        );
    }
    if examples.is_empty() {
        return Err(TrainError::Empty(format!(
            "{} holds no examples",
            path.display()
        )));
    }
    Ok(examples)
}

/// A prompt as the user turn of the model's chat format and the completion as the assistant's
/// answer, ended by `eos`.
pub fn chat_turn(
    template: &biolore_nn::heads::ChatTemplate,
    prompt: &str,
    completion: &str,
    eos: &str,
) -> std::result::Result<(String, String), String> {
    let messages = [biolore_nn::heads::ChatMessage::user(prompt)];
    let rendered = template.render(&messages, true)?;
    Ok((rendered, format!("{completion}{eos}")))
}

/// Next-token cross-entropy over the completions of a fixed list of examples.
pub struct LanguageModeling<'a> {
    examples: &'a [LmExample],
    config: TrainConfig,
}

impl<'a> LanguageModeling<'a> {
    /// Prepares batching; fails when no example has a token to predict.
    pub fn new(examples: &'a [LmExample], config: &TrainConfig) -> Result<Self> {
        if examples.iter().all(|e| e.targets() == 0) {
            return Err(TrainError::Empty(
                "no example has a completion token to learn".into(),
            ));
        }
        Ok(Self {
            examples,
            config: config.clone(),
        })
    }

    /// The example indices of 0-based `step`: seeded shuffles, one per pass over the data.
    pub fn batch(&self, step: usize) -> Vec<usize> {
        shuffled_batch(
            self.examples.len(),
            self.config.batch_size,
            self.config.seed,
            step,
        )
    }
}

/// The item indices (of `n`) of 0-based `step` with batches of `size`: a seeded shuffle per
/// pass over the data, so every item is seen once per epoch.
pub fn shuffled_batch(n: usize, size: usize, seed: u64, step: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let size = size.max(1);
    let mut epoch_order: Option<(usize, Vec<usize>)> = None;
    (step * size..(step + 1) * size)
        .map(|at| {
            let (epoch, pos) = (at / n, at % n);
            if epoch_order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                let mut order: Vec<usize> = (0..n).collect();
                let seed = mix_seed(&[seed, epoch as u64]);
                order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
                epoch_order = Some((epoch, order));
            }
            epoch_order.as_ref().map_or(pos, |(_, order)| order[pos])
        })
        .collect()
}

/// Summed negative log-likelihood of the targets of `examples`, divided by `denominator`.
pub fn completion_loss(
    decoder: &biolore_nn::models::Decoder,
    examples: &[&LmExample],
    denominator: f64,
    device: &candle_core::Device,
) -> candle_core::Result<Tensor> {
    sequence_log_probs(decoder, examples, device)?
        .sum_all()?
        .neg()?
        / denominator
}

/// Each example's completion log-probability (the sum over its target tokens), `[examples]`.
///
/// Sequences are padded on the right, which a causal decoder never looks at. Only the positions
/// that predict a target token go through the output layer (the vocabulary-wide product and
/// softmax would otherwise be paid for every prompt token too).
pub fn sequence_log_probs(
    decoder: &biolore_nn::models::Decoder,
    examples: &[&LmExample],
    device: &candle_core::Device,
) -> candle_core::Result<Tensor> {
    let width = examples
        .iter()
        .map(|e| e.ids.len())
        .max()
        .unwrap_or(1)
        .max(2)
        - 1;
    let b = examples.len();
    let mut inputs = vec![0u32; b * width];
    // Flat position, next token and example of every target.
    let (mut positions, mut targets, mut owners) = (Vec::new(), Vec::new(), Vec::new());
    for (row, e) in examples.iter().enumerate() {
        for p in 0..e.ids.len().saturating_sub(1) {
            inputs[row * width + p] = e.ids[p];
            if p + 1 >= e.prompt_len.max(1) {
                positions.push((row * width + p) as u32);
                targets.push(e.ids[p + 1]);
                owners.push(row);
            }
        }
    }
    let n = positions.len();
    if n == 0 {
        return Tensor::zeros(b, DType::F32, device);
    }
    // owner[i, k] = 1 when target k belongs to example i: sums each example's log-probabilities.
    let mut owner = vec![0f32; b * n];
    for (k, &row) in owners.iter().enumerate() {
        owner[row * n + k] = 1.0;
    }
    let inputs = Tensor::from_vec(inputs, (b, width), device)?;
    let positions = Tensor::from_vec(positions, n, device)?;
    let targets = Tensor::from_vec(targets, (n, 1), device)?;
    let owner = Tensor::from_vec(owner, (b, n), device)?;
    let hidden = decoder.forward(&inputs, 0, None)?;
    let hidden_size = hidden.dim(D::Minus1)?;
    let at_targets = hidden
        .reshape((b * width, hidden_size))?
        .index_select(&positions, 0)?;
    let logits = decoder.logits(&at_targets)?.to_dtype(DType::F32)?;
    let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let picked = log_probs.gather(&targets, 1)?;
    owner.matmul(&picked)?.squeeze(1)
}

impl Objective<TrainableDecoder> for LanguageModeling<'_> {
    fn phase(&self) -> &'static str {
        "language-model"
    }

    fn data_identity(&self) -> String {
        let first = self.examples.first().map(|e| e.ids.len()).unwrap_or(0);
        let last = self.examples.last().map(|e| e.ids.len()).unwrap_or(0);
        let tokens: usize = self.examples.iter().map(|e| e.ids.len()).sum();
        format!(
            "{} examples|{tokens} tokens|{first}|{last}",
            self.examples.len()
        )
    }

    fn gradients(&mut self, model: &TrainableDecoder, step: usize) -> Result<(Gradients, usize)> {
        let batch = self.batch(step);
        let targets: usize = batch.iter().map(|&i| self.examples[i].targets()).sum();
        if targets == 0 {
            // Only prompt-only examples drawn: nothing to learn from this step.
            let n = crate::parameters::Trainable::parameters(model).vars().len();
            return Ok((
                Gradients {
                    grads: vec![None; n],
                    loss: 0.0,
                },
                batch.len(),
            ));
        }
        // Examples of similar length together, jobs of about equal cost (see crate::balance).
        let lengths: Vec<usize> = batch.iter().map(|&i| self.examples[i].ids.len()).collect();
        let parts = balanced_jobs(&lengths, self.config.micro_batch, self.config.max_length);
        let device = crate::parameters::Trainable::device(model);
        let grads = backward_jobs(
            crate::parameters::Trainable::parameters(model).vars(),
            parts.len(),
            |j| {
                let examples: Vec<&LmExample> =
                    parts[j].iter().map(|&p| &self.examples[batch[p]]).collect();
                Ok(completion_loss(
                    model.tracked(),
                    &examples,
                    targets as f64,
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
    fn batches_cover_each_example_once_per_epoch() {
        let examples: Vec<LmExample> = (0..10)
            .map(|i| LmExample {
                ids: vec![1, 2, i],
                prompt_len: 1,
            })
            .collect();
        let config = TrainConfig {
            batch_size: 5,
            ..Default::default()
        };
        let lm = LanguageModeling::new(&examples, &config).unwrap();
        let mut seen: Vec<usize> = lm.batch(0).into_iter().chain(lm.batch(1)).collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(lm.batch(0), lm.batch(0));
    }
}
