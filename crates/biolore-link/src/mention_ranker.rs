//! What every linker does: rank concepts for mention texts. Dense, generative and hybrid
//! linkers all implement it, so `link`, `eval link` and the server take any of them.

use crate::error::Result;
use crate::linker::{Candidate, Linker};
use crate::mention_context::MentionContext;
use crate::queries::PreparedMention;

/// Ranks the concepts of one knowledge base for mention texts.
pub trait MentionRanker: Send + Sync + std::fmt::Debug {
    /// The `k` best concepts for each text, best first.
    fn rank_texts(&self, texts: &[&str], k: usize) -> Result<Vec<Vec<Candidate>>>;

    /// What kind of linker this is (`dense`, `generative`, `hybrid`).
    fn kind(&self) -> &'static str;

    /// The `k` best concepts for each (text, its context in the document); linkers that read
    /// no context (dense) rank the texts alone.
    fn rank_in_context(
        &self,
        queries: &[(&str, Option<&MentionContext>)],
        k: usize,
    ) -> Result<Vec<Vec<Candidate>>> {
        self.rank_texts(&texts_of(queries), k)
    }

    /// The `k` best concepts for each part of each prepared mention: `out[m][p]`.
    fn rank_prepared(
        &self,
        prepared: &[PreparedMention],
        k: usize,
    ) -> Result<Vec<Vec<Vec<Candidate>>>> {
        let queries: Vec<(&str, Option<&MentionContext>)> = prepared
            .iter()
            .flat_map(|q| q.parts.iter().map(|p| (p.as_str(), q.context.as_ref())))
            .collect();
        let mut ranked = self.rank_in_context(&queries, k)?.into_iter();
        Ok(prepared
            .iter()
            .map(|q| ranked.by_ref().take(q.parts.len()).collect())
            .collect())
    }
}

/// The texts of (text, context) queries.
pub fn texts_of<'a>(queries: &[(&'a str, Option<&MentionContext>)]) -> Vec<&'a str> {
    queries.iter().map(|(t, _)| *t).collect()
}

/// Texts as queries without context.
pub fn without_context<'a>(texts: &[&'a str]) -> Vec<(&'a str, Option<&'a MentionContext>)> {
    texts.iter().map(|t| (*t, None)).collect()
}

impl MentionRanker for Linker {
    fn rank_texts(&self, texts: &[&str], k: usize) -> Result<Vec<Vec<Candidate>>> {
        self.link(texts, k)
    }

    fn kind(&self) -> &'static str {
        "dense"
    }
}
