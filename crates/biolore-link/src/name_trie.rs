//! A knowledge base's names as a prefix trie of a generator's token ids: what constrained
//! decoding may write, and which concepts each complete name stands for.

use std::collections::HashMap;

use biolore_kb::KnowledgeBase;
use biolore_nn::heads::TokenTrie;

use crate::error::{LinkError, Result};

/// One distinct name: its text and the concepts (KB positions, ascending) that carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    /// The name as the KB writes it (the first spelling met).
    pub text: String,
    /// KB positions of the concepts with this name.
    pub concepts: Vec<u32>,
}

/// Names tokenized into a [`TokenTrie`]; trie entries index [`NameTrie::entries`].
#[derive(Debug, Clone)]
pub struct NameTrie {
    trie: TokenTrie,
    entries: Vec<NameEntry>,
}

impl NameTrie {
    /// Every name of every (non-obsolete) concept of `kb`.
    pub fn from_kb(kb: &KnowledgeBase, tokenizer: &tokenizers::Tokenizer) -> Result<Self> {
        let names: Vec<(&str, u32)> = kb
            .concepts()
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.obsolete)
            .flat_map(|(i, c)| c.names().into_iter().map(move |n| (n, i as u32)))
            .collect();
        Self::from_names(&names, tokenizer)
    }

    /// The given (name, concept position) pairs; identical names share one entry.
    pub fn from_names(names: &[(&str, u32)], tokenizer: &tokenizers::Tokenizer) -> Result<Self> {
        let mut entries: Vec<NameEntry> = Vec::new();
        let mut by_text: HashMap<&str, usize> = HashMap::new();
        for &(name, concept) in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let e = *by_text.entry(name).or_insert_with(|| {
                entries.push(NameEntry {
                    text: name.to_string(),
                    concepts: Vec::new(),
                });
                entries.len() - 1
            });
            if let Err(pos) = entries[e].concepts.binary_search(&concept) {
                entries[e].concepts.insert(pos, concept);
            }
        }
        if entries.is_empty() {
            return Err(LinkError::Mismatch(
                "the knowledge base has no names to generate".into(),
            ));
        }
        let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        let encodings = tokenizer
            .encode_batch(texts, false)
            .map_err(|e| LinkError::Mismatch(format!("cannot tokenize the KB's names: {e}")))?;
        let mut trie = TokenTrie::new();
        for (i, enc) in encodings.iter().enumerate() {
            trie.insert(enc.get_ids(), i as u32);
        }
        Ok(Self { trie, entries })
    }

    /// The trie of token ids.
    pub fn trie(&self) -> &TokenTrie {
        &self.trie
    }

    /// The distinct names.
    pub fn entries(&self) -> &[NameEntry] {
        &self.entries
    }

    /// The names whose tokens end at trie `node`.
    pub fn names_at(&self, node: u32) -> impl Iterator<Item = &NameEntry> {
        self.trie
            .entries(node)
            .iter()
            .filter_map(|&e| self.entries.get(e as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;

    fn tokenizer() -> tokenizers::Tokenizer {
        let vocab = [("wilson", 0), ("disease", 1), ("copper", 2), ("[UNK]", 3)]
            .into_iter()
            .map(|(w, i)| (w.to_string(), i))
            .collect();
        let model = WordLevel::builder()
            .vocab(vocab)
            .unk_token("[UNK]".into())
            .build()
            .unwrap();
        let mut t = tokenizers::Tokenizer::new(model);
        t.with_pre_tokenizer(Some(Whitespace {}));
        t
    }

    #[test]
    fn identical_names_share_an_entry_with_every_concept() {
        let names = [
            ("wilson disease", 3),
            ("copper disease", 1),
            ("wilson disease", 0),
            ("  ", 2),
        ];
        let t = NameTrie::from_names(&names, &tokenizer()).unwrap();
        assert_eq!(t.entries().len(), 2);
        let node = t.trie().walk(&[0, 1]).unwrap();
        let at: Vec<&NameEntry> = t.names_at(node).collect();
        assert_eq!(at.len(), 1);
        assert_eq!(at[0].concepts, vec![0, 3]);
        assert!(NameTrie::from_names(&[("", 0)], &tokenizer()).is_err());
    }
}
