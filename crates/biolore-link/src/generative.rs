//! Generative linking (GenBioEL, ANGEL): a decoder language model writes a name of the concept
//! a mention names, constrained by the trie of the knowledge base's names; the names it writes,
//! in the order of their sequence log-probabilities, give the ranked concepts.

use std::sync::Arc;

use biolore_index::Index;
use biolore_nn::heads::{ChatMessage, Hypothesis, LanguageModel, TokenTrie};
use rayon::prelude::*;

use crate::error::{LinkError, Result};
use crate::linker::Candidate;
use crate::mention_context::{MentionContext, PromptSettings};
use crate::mention_ranker::{without_context, MentionRanker};
use crate::name_trie::NameTrie;

/// Beam size of ANGEL's inference.
pub const DEFAULT_BEAMS: usize = 5;

/// Longest mention (in characters) put in a prompt; longer ones are cut (never an error).
const MAX_MENTION_CHARS: usize = 200;

/// The user turn that asks for a mention's concept name, with the mention marked in its
/// `context` when there is one (ANGEL's `START`/`END`); training data uses the same words.
pub fn prompt_text(mention: &str, context: Option<&MentionContext>) -> String {
    let cut = |s: &str| -> String { s.trim().chars().take(MAX_MENTION_CHARS).collect() };
    let mention = cut(mention);
    let ask = "Give the ontology name of the concept this biomedical mention refers to.";
    match context {
        Some(c) => {
            let c = MentionContext {
                span: cut(&c.span),
                ..c.clone()
            };
            format!("{ask}\nContext: {}\nMention: {mention}", c.marked())
        }
        None => format!("{ask}\nMention: {mention}"),
    }
}

/// The token that ends a generated name: the chat format's end of turn, else the first stop token.
pub fn end_token(model: &LanguageModel) -> Result<u32> {
    model
        .tokenizer()
        .token_to_id("<|im_end|>")
        .or_else(|| model.stop_ids().first().copied())
        .ok_or_else(|| LinkError::Mismatch("the generator has no end-of-turn or stop token".into()))
}

/// The token ids of user turn `prompt` in the model's chat format.
pub fn prompt_ids(model: &LanguageModel, prompt: String) -> Result<Vec<u32>> {
    let text = model.chat_prompt(&[ChatMessage::user(prompt)])?;
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
    prompt: PromptSettings,
}

impl std::fmt::Debug for GenerativeLinker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerativeLinker")
            .field("index", &self.index.dir())
            .field("names", &self.names.entries().len())
            .field("trie_nodes", &self.names.trie().node_count())
            .field("beams", &self.beams)
            .field("prompt", &self.prompt)
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
            prompt: PromptSettings::default(),
        })
    }

    /// The linker prompting as `prompt` says (what the generator was trained with).
    pub fn with_prompt(mut self, prompt: PromptSettings) -> Self {
        self.prompt = prompt;
        self
    }

    /// How prompts are written.
    pub fn prompt_settings(&self) -> PromptSettings {
        self.prompt
    }

    /// The user turn for `mention` (its `context` shown as the prompt settings say).
    pub fn prompt_for(&self, mention: &str, context: Option<&MentionContext>) -> String {
        prompt_text(mention, self.prompt.context(context).as_ref())
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

    /// The hypotheses for one mention in its `context` (if known), constrained to `trie` (the
    /// KB's, or a smaller one).
    pub fn search(
        &self,
        mention: &str,
        context: Option<&MentionContext>,
        trie: &TokenTrie,
        beams: usize,
    ) -> Result<Vec<Hypothesis>> {
        if mention.trim().is_empty() {
            return Ok(Vec::new());
        }
        let prompt = prompt_ids(&self.model, self.prompt_for(mention, context))?;
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
        self.rank_in_context(&without_context(texts), k)
    }

    fn rank_in_context(
        &self,
        queries: &[(&str, Option<&MentionContext>)],
        k: usize,
    ) -> Result<Vec<Vec<Candidate>>> {
        let beams = self.beams.max(k);
        // Fewer mentions than workers: the idle ones share each matrix product.
        let split = biolore_nn::runtime::split_for(queries.len());
        queries
            .par_iter()
            .with_max_len(1)
            .map(|(t, context)| {
                let hypotheses = biolore_nn::runtime::with_kernel_split(split, || {
                    self.search(t, *context, self.names.trie(), beams)
                })?;
                Ok(candidates_of(&hypotheses, &self.names, &self.index, k))
            })
            .collect()
    }

    fn kind(&self) -> &'static str {
        "generative"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_marks_the_mention_in_its_context() {
        let alone = prompt_text(" breast cancer ", None);
        assert!(
            alone.ends_with("refers to.\nMention: breast cancer"),
            "{alone}"
        );
        let context = MentionContext {
            left: "Patients with".into(),
            span: "breast cancer".into(),
            right: "often".into(),
        };
        let marked = prompt_text("breast cancer", Some(&context));
        assert!(
            marked.ends_with(
                "refers to.\nContext: Patients with START breast cancer END often\nMention: breast cancer"
            ),
            "{marked}"
        );
        let long = "x".repeat(MAX_MENTION_CHARS + 50);
        assert!(prompt_text(&long, None)
            .ends_with(&format!("Mention: {}", "x".repeat(MAX_MENTION_CHARS))));
    }
}
