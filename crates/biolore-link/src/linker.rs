//! Linking mentions to concepts: embed each mention, rank concepts by their best name.

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

/// A linker: an encoder and the index built with the same model.
pub struct Linker<'a> {
    encoder: &'a Encoder,
    index: &'a Index,
    limits: BatchLimits,
    approximate: bool,
}

impl<'a> Linker<'a> {
    /// A linker over `index`, embedding mentions with `encoder` (the index's model).
    pub fn new(encoder: &'a Encoder, index: &'a Index, limits: BatchLimits) -> Self {
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
        self.index
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
        Ok(rank(self.index, &queries, k, self.approximate))
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
