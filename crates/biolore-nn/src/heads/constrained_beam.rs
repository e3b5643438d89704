//! Beam search constrained by a [`TokenTrie`]: the model may only write sequences the trie holds
//! (a knowledge base's names), each ended by an end token; hypotheses are scored by the sum of
//! their tokens' log-probabilities, the end token's included.

use candle_core::{DType, Tensor, D};

use super::generate::LanguageModel;
use super::token_trie::TokenTrie;
use crate::error::{ModelError, Result};

/// One complete sequence the search found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The sequence's tokens (the end token left out).
    pub ids: Vec<u32>,
    /// The trie node it ends at (see [`TokenTrie::entries`]).
    pub node: u32,
    /// Sum of the log-probabilities of its tokens and of the end token.
    pub score: f32,
}

/// A sequence still being written.
#[derive(Debug, Clone)]
struct Beam {
    ids: Vec<u32>,
    node: u32,
    score: f32,
}

/// Log-probabilities `[rows][vocab]` of the last position of each row of `hidden` `[rows, t, h]`.
fn last_log_probs(model: &LanguageModel, hidden: &Tensor) -> Result<Vec<Vec<f32>>> {
    let t = hidden.dim(1)?;
    let last = hidden.narrow(1, t - 1, 1)?.squeeze(1)?;
    let logits = model.decoder().logits(&last)?.to_dtype(DType::F32)?;
    Ok(candle_nn::ops::log_softmax(&logits, D::Minus1)?.to_vec2::<f32>()?)
}

impl LanguageModel {
    /// The `beams` best sequences of `trie` after `prompt`, best first (ties: shorter token
    /// sequence, then token order), each ended by `end`.
    pub fn constrained_beam_search(
        &self,
        prompt: &[u32],
        trie: &TokenTrie,
        end: u32,
        beams: usize,
    ) -> Result<Vec<Hypothesis>> {
        if prompt.is_empty() {
            return Err(ModelError::InvalidArgument(
                "the prompt has no tokens".into(),
            ));
        }
        let beams = beams.max(1);
        let max_new = trie.depth() + 1;
        self.check_room(prompt.len(), max_new)?;
        let decoder = self.decoder();
        let mut cache = decoder.new_cache();
        let input = Tensor::from_slice(prompt, (1, prompt.len()), self.device())?;
        let hidden = decoder.forward(&input, 0, Some(&mut cache))?;
        let mut log_probs = last_log_probs(self, &hidden)?;
        let mut live = vec![Beam {
            ids: Vec::new(),
            node: TokenTrie::ROOT,
            score: 0.0,
        }];
        let mut finished: Vec<Hypothesis> = Vec::new();
        let vocab = log_probs.first().map_or(0, Vec::len);
        let lp = |row: &[f32], token: u32| {
            row.get(token as usize)
                .copied()
                .unwrap_or(f32::NEG_INFINITY)
        };
        if end as usize >= vocab {
            return Err(ModelError::InvalidArgument(format!(
                "end token {end} is outside the vocabulary of {vocab}"
            )));
        }
        for _ in 0..max_new {
            // (score, parent beam, token, node); token None = the sequence ends here.
            let mut candidates: Vec<(f32, usize, Option<u32>, u32)> = Vec::new();
            for (b, beam) in live.iter().enumerate() {
                let row = &log_probs[b];
                if !trie.entries(beam.node).is_empty() {
                    candidates.push((beam.score + lp(row, end), b, None, beam.node));
                }
                for &(token, child) in trie.children(beam.node) {
                    candidates.push((beam.score + lp(row, token), b, Some(token), child));
                }
            }
            candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
            let mut next = Vec::with_capacity(beams);
            let mut parents: Vec<u32> = Vec::with_capacity(beams);
            for (score, b, token, node) in candidates {
                if !score.is_finite() {
                    continue;
                }
                match token {
                    None => finished.push(Hypothesis {
                        ids: live[b].ids.clone(),
                        node,
                        score,
                    }),
                    Some(t) if next.len() < beams => {
                        let mut ids = live[b].ids.clone();
                        ids.push(t);
                        next.push(Beam { ids, node, score });
                        parents.push(b as u32);
                    }
                    Some(_) => {}
                }
            }
            sort_hypotheses(&mut finished);
            finished.truncate(beams);
            // Log-probabilities only add negative terms: a live beam below the last kept
            // finished hypothesis can never enter the result.
            let bar = (finished.len() == beams).then(|| finished[beams - 1].score);
            next.retain(|beam| bar.is_none_or(|s| beam.score > s));
            if next.is_empty() {
                break;
            }
            parents.truncate(next.len());
            cache = cache.select(&parents)?;
            let tokens: Vec<u32> = next.iter().map(|b| b.ids[b.ids.len() - 1]).collect();
            let input = Tensor::from_slice(&tokens, (tokens.len(), 1), self.device())?;
            let hidden = decoder.forward(&input, cache.len(), Some(&mut cache))?;
            log_probs = last_log_probs(self, &hidden)?;
            live = next;
        }
        Ok(finished)
    }
}

/// Best score first; ties: fewer tokens, then token order.
fn sort_hypotheses(h: &mut [Hypothesis]) {
    h.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then(x.ids.len().cmp(&y.ids.len()))
            .then(x.ids.cmp(&y.ids))
    });
}
