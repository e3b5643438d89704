//! Linking mentions to concepts: embed each mention, rank concepts by their best name.

use std::sync::Arc;

use biolore_encoder::{BatchLimits, Encoder};
use biolore_index::Index;
use serde::Serialize;

use crate::error::Result;

/// One ranked concept for a mention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Concept id.
    pub id: String,
    /// The concept's preferred name.
    pub name: String,
    /// The concept's name closest to the mention.
    pub matched: String,
    /// Cosine similarity of the mention and the matched name.
    pub score: f32,
    /// All ids of the concept (its id and alternative ids).
    #[serde(skip)]
    pub all_ids: Vec<String>,
}

/// A linker: it owns an encoder and the index built with the same model.
#[derive(Clone)]
pub struct Linker {
    encoder: Arc<Encoder>,
    index: Arc<Index>,
    limits: BatchLimits,
    approximate: bool,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("index", &self.index.dir())
            .field("approximate", &self.approximate)
            .finish()
    }
}

impl Linker {
    /// A linker over `index`, embedding mentions with `encoder` (the index's model).
    pub fn new(encoder: Arc<Encoder>, index: Arc<Index>, limits: BatchLimits) -> Self {
        Self {
            encoder,
            index,
            limits,
            approximate: false,
        }
    }

    /// Searches through the index's HNSW graph instead of exactly (when it has one).
    pub fn approximate(mut self, on: bool) -> Self {
        self.approximate = on;
        self
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The shared index.
    pub fn shared_index(&self) -> &Arc<Index> {
        &self.index
    }

    /// The encoder.
    pub fn encoder(&self) -> &Arc<Encoder> {
        &self.encoder
    }

    /// Whether searches go through the HNSW graph.
    pub fn is_approximate(&self) -> bool {
        self.approximate
    }

    /// The `k` best concepts for query vectors already embedded with the index's model.
    pub fn rank(&self, queries: &[Vec<f32>], k: usize) -> Vec<Vec<Candidate>> {
        rank(&self.index, queries, k, self.approximate)
    }

    /// The `k` best concepts for each mention, best first.
    pub fn link<S: AsRef<str> + Sync>(
        &self,
        mentions: &[S],
        k: usize,
    ) -> Result<Vec<Vec<Candidate>>> {
        if mentions.is_empty() {
            return Ok(Vec::new());
        }
        let vectors = self
            .encoder
            .embed_with_progress(mentions, self.limits, |_| {})?;
        let queries: Vec<Vec<f32>> = vectors.rows().map(<[f32]>::to_vec).collect();
        Ok(rank(&self.index, &queries, k, self.approximate))
    }
}

/// The `k` best concepts of `index` for each query vector (embedded with the index's model).
///
/// `approximate` searches the index's HNSW graph when it has one.
pub fn rank(
    index: &Index,
    queries: &[Vec<f32>],
    k: usize,
    approximate: bool,
) -> Vec<Vec<Candidate>> {
    let kb = index.kb();
    let names = index.names();
    let hits = if approximate {
        index.search_approx(queries, k)
    } else {
        index.search(queries, k)
    };
    hits.into_iter()
        .map(|hits| {
            hits.into_iter()
                .map(|h| {
                    let c = &kb.concepts()[h.concept as usize];
                    Candidate {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        matched: names.names[h.name as usize].text.clone(),
                        score: h.score,
                        all_ids: c.all_ids().map(String::from).collect(),
                    }
                })
                .collect()
        })
        .collect()
}

/// One list from a composite's per-part lists: the parts' candidates interleaved by rank
/// (part 1's best, part 2's best, …), each concept once, at most `k` per part.
pub fn merge_parts(parts: &[Vec<Candidate>], k: usize) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for rank in 0..k {
        for cands in parts {
            if let Some(c) = cands.get(rank) {
                if !out.iter().any(|o| o.id == c.id) {
                    out.push(c.clone());
                }
            }
        }
    }
    out
}
