//! Generative linking (GenBioEL, ANGEL): a decoder language model writes a name of the concept
//! a mention names, constrained by the trie of the knowledge base's names; the names it writes,
//! in the order of their sequence log-probabilities, give the ranked concepts.

use std::sync::Arc;

use biolore_index::Index;
use biolore_nn::heads::{ChatMessage, Hypothesis, LanguageModel, TokenTrie};
use rayon::prelude::*;

use crate::error::{LinkError, Result};
use crate::linker::Candidate;
use crate::mention_ranker::MentionRanker;
use crate::name_trie::NameTrie;

/// Beam size of ANGEL's inference.
pub const DEFAULT_BEAMS: usize = 5;

/// Longest mention (in characters) put in a prompt; longer ones are cut (never an error).
const MAX_MENTION_CHARS: usize = 200;

/// The user turn that asks for a mention's concept name; training data uses the same words.
pub fn prompt_text(mention: &str) -> String {
    let mention: String = mention.trim().chars().take(MAX_MENTION_CHARS).collect();
    format!("Give the ontology name of the concept this biomedical mention refers to.\nMention: {mention}")
}

/// The token that ends a generated name: the chat format's end of turn, else the first stop token.
pub fn end_token(model: &LanguageModel) -> Result<u32> {
    model
        .tokenizer()
        .token_to_id("<|im_end|>")
        .or_else(|| model.stop_ids().first().copied())
        .ok_or_else(|| LinkError::Mismatch("the generator has no end-of-turn or stop token".into()))
}

/// The prompt's token ids for `mention` in the model's chat format.
pub fn prompt_ids(model: &LanguageModel, mention: &str) -> Result<Vec<u32>> {
    let text = model.chat_prompt(&[ChatMessage::user(prompt_text(mention))])?;
    Ok(model.encode(&text)?)
}

/// Concepts, best first, from the hypotheses of a constrained search (each concept once).
pub fn candidates_of(
    hypotheses: &[Hypothesis],
    names: &NameTrie,
    index: &Index,
    k: usize,
) -> Vec<Candidate> {
    let kb = index.kb();
    let mut out: Vec<Candidate> = Vec::new();
    for h in hypotheses {
        for entry in names.names_at(h.node) {
            for &ci in &entry.concepts {
                let Some(c) = kb.concepts().get(ci as usize) else {
                    continue;
                };
                if out.len() < k && !out.iter().any(|o| o.id == c.id) {
                    out.push(Candidate {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        matched: entry.text.clone(),
                        score: h.score,
                        all_ids: c.all_ids().map(String::from).collect(),
                    });
                }
            }
        }
    }
    out
}

/// A generator, the trie of the index's KB names, and the beam size.
pub struct GenerativeLinker {
    model: Arc<LanguageModel>,
    names: NameTrie,
    index: Arc<Index>,
    end: u32,
    beams: usize,
}

impl std::fmt::Debug for GenerativeLinker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerativeLinker")
            .field("index", &self.index.dir())
            .field("names", &self.names.entries().len())
            .field("trie_nodes", &self.names.trie().node_count())
            .field("beams", &self.beams)
            .finish()
    }
}

impl GenerativeLinker {
    /// Builds the trie of `index`'s KB names with `model`'s tokenizer (their token ids cached beside the index).
    pub fn new(model: Arc<LanguageModel>, index: Arc<Index>, beams: usize) -> Result<Self> {
        let names = NameTrie::from_kb_cached(index.kb(), model.tokenizer(), index.dir())?;
        let end = end_token(&model)?;
        Ok(Self {
            model,
            names,
            index,
            end,
            beams: beams.max(1),
        })
    }

    /// The names' trie.
    pub fn names(&self) -> &NameTrie {
        &self.names
    }

    /// The generator.
    pub fn model(&self) -> &Arc<LanguageModel> {
        &self.model
    }

    /// The index whose KB the names come from.
    pub fn index(&self) -> &Arc<Index> {
        &self.index
    }

    /// The hypotheses for one mention, constrained to `trie` (the KB's, or a smaller one).
    pub fn search(&self, mention: &str, trie: &TokenTrie, beams: usize) -> Result<Vec<Hypothesis>> {
        if mention.trim().is_empty() {
            return Ok(Vec::new());
        }
        let prompt = prompt_ids(&self.model, mention)?;
        Ok(self
            .model
            .constrained_beam_search(&prompt, trie, self.end, beams)?)
    }

    /// The end-of-name token.
    pub fn end(&self) -> u32 {
        self.end
    }
}

impl MentionRanker for GenerativeLinker {
    fn rank_texts(&self, texts: &[&str], k: usize) -> Result<Vec<Vec<Candidate>>> {
        let beams = self.beams.max(k);
        texts
            .par_iter()
            .with_max_len(1)
            .map(|t| {
                let hypotheses = self.search(t, self.names.trie(), beams)?;
                Ok(candidates_of(&hypotheses, &self.names, &self.index, k))
            })
            .collect()
    }

    fn kind(&self) -> &'static str {
        "generative"
    }
}
