//! Hybrid linking: the dense linker proposes its top concepts, the generator scores their
//! names (constrained search over those names only), and the two distributions are mixed.

use std::sync::Arc;

use rayon::prelude::*;

use crate::error::Result;
use crate::generative::{candidates_of, GenerativeLinker};
use crate::linker::{Candidate, Linker};
use crate::mention_context::MentionContext;
use crate::mention_ranker::{texts_of, without_context, MentionRanker};
use crate::name_trie::NameTrie;

/// Dense candidates the generator re-scores.
pub const DEFAULT_DEPTH: usize = 10;

/// Temperature of the dense scores: cosine × this before the softmax (the contrastive scale).
const DENSE_SCALE: f32 = 20.0;

/// A dense linker and a generator over the same index.
#[derive(Debug)]
pub struct HybridLinker {
    dense: Linker,
    generative: Arc<GenerativeLinker>,
    depth: usize,
    weight: f32,
}

impl HybridLinker {
    /// `weight` is the generator's share of the mixed score (0 = dense only, 1 = generator
    /// only among the dense candidates); `depth` dense candidates are re-scored.
    pub fn new(
        dense: Linker,
        generative: Arc<GenerativeLinker>,
        depth: usize,
        weight: f32,
    ) -> Self {
        Self {
            dense,
            generative,
            depth: depth.max(1),
            weight: weight.clamp(0.0, 1.0),
        }
    }

    fn rerank(
        &self,
        text: &str,
        context: Option<&MentionContext>,
        dense: Vec<Candidate>,
        k: usize,
    ) -> Result<Vec<Candidate>> {
        let kb = self.dense.index().kb();
        let names: Vec<(&str, u32)> = dense
            .iter()
            .filter_map(|c| kb.index_of(&c.id))
            .flat_map(|ci| {
                kb.concepts()[ci]
                    .names()
                    .into_iter()
                    .map(move |n| (n, ci as u32))
            })
            .collect();
        if names.is_empty() || text.trim().is_empty() {
            return Ok(dense.into_iter().take(k).collect());
        }
        let trie = NameTrie::from_names(&names, self.generative.model().tokenizer())?;
        let hypotheses = self
            .generative
            .search(text, context, trie.trie(), self.depth)?;
        let generated = candidates_of(&hypotheses, &trie, self.dense.index(), self.depth);
        let p_gen = softmax(&generated.iter().map(|c| c.score).collect::<Vec<_>>(), 1.0);
        let p_dense = softmax(
            &dense.iter().map(|c| c.score).collect::<Vec<_>>(),
            DENSE_SCALE,
        );
        let mut mixed: Vec<(f32, usize, Candidate)> = dense
            .into_iter()
            .enumerate()
            .map(|(rank, c)| {
                let g = generated
                    .iter()
                    .position(|x| x.id == c.id)
                    .map_or(0.0, |i| p_gen[i]);
                let score = self.weight * g + (1.0 - self.weight) * p_dense[rank];
                let matched = generated
                    .iter()
                    .find(|x| x.id == c.id)
                    .map_or(c.matched.clone(), |x| x.matched.clone());
                (
                    score,
                    rank,
                    Candidate {
                        score,
                        matched,
                        ..c
                    },
                )
            })
            .collect();
        mixed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(mixed.into_iter().take(k).map(|(_, _, c)| c).collect())
    }
}

/// Softmax of `scores × scale` (empty in, empty out).
fn softmax(scores: &[f32], scale: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scores.iter().map(|s| ((s - max) * scale).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|e| e / sum.max(f32::MIN_POSITIVE)).collect()
}

impl MentionRanker for HybridLinker {
    fn rank_texts(&self, texts: &[&str], k: usize) -> Result<Vec<Vec<Candidate>>> {
        self.rank_in_context(&without_context(texts), k)
    }

    fn rank_in_context(
        &self,
        queries: &[(&str, Option<&MentionContext>)],
        k: usize,
    ) -> Result<Vec<Vec<Candidate>>> {
        let dense = self.dense.link(&texts_of(queries), self.depth.max(k))?;
        // Fewer mentions than workers: the idle ones share each matrix product.
        let split = biolore_nn::runtime::split_for(queries.len());
        queries
            .par_iter()
            .zip(dense)
            .with_max_len(1)
            .map(|((t, context), d)| {
                biolore_nn::runtime::with_kernel_split(split, || self.rerank(t, *context, d, k))
            })
            .collect()
    }

    fn kind(&self) -> &'static str {
        "hybrid"
    }
}

#[cfg(test)]
mod tests {
    use super::softmax;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[0.9, 0.8, 0.1], 20.0);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(p[0] > p[1] && p[1] > p[2]);
        assert!(softmax(&[], 1.0).is_empty());
    }
}
