//! What every linker does: rank concepts for mention texts. Dense, generative and hybrid
//! linkers all implement it, so `link`, `eval link` and the server take any of them.

use crate::error::Result;
use crate::linker::{Candidate, Linker};
use crate::queries::PreparedMention;

/// Ranks the concepts of one knowledge base for mention texts.
pub trait MentionRanker: Send + Sync + std::fmt::Debug {
    /// The `k` best concepts for each text, best first.
    fn rank_texts(&self, texts: &[&str], k: usize) -> Result<Vec<Vec<Candidate>>>;

    /// What kind of linker this is (`dense`, `generative`, `hybrid`).
    fn kind(&self) -> &'static str;

    /// The `k` best concepts for each part of each prepared mention: `out[m][p]`.
    fn rank_prepared(
        &self,
        prepared: &[PreparedMention],
        k: usize,
    ) -> Result<Vec<Vec<Vec<Candidate>>>> {
        let texts: Vec<&str> = prepared
            .iter()
            .flat_map(|q| q.parts.iter().map(String::as_str))
            .collect();
        let mut ranked = self.rank_texts(&texts, k)?.into_iter();
        Ok(prepared
            .iter()
            .map(|q| ranked.by_ref().take(q.parts.len()).collect())
            .collect())
    }
}

impl MentionRanker for Linker {
    fn rank_texts(&self, texts: &[&str], k: usize) -> Result<Vec<Vec<Candidate>>> {
        self.link(texts, k)
    }

    fn kind(&self) -> &'static str {
        "dense"
    }
}
