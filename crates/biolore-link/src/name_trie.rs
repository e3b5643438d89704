//! A knowledge base's names as a prefix trie of a generator's token ids: what constrained
//! decoding may write, and which concepts each complete name stands for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
        Self::from_names(&kb_names(kb), tokenizer)
    }

    /// [`NameTrie::from_kb`], with the names' token ids cached in `dir` (the index folder):
    /// a later open with the same names and tokenizer reads them instead of tokenizing again.
    /// A cache that cannot be written is only logged.
    pub fn from_kb_cached(
        kb: &KnowledgeBase,
        tokenizer: &tokenizers::Tokenizer,
        dir: &Path,
    ) -> Result<Self> {
        let names = kb_names(kb);
        let entries = distinct_names(&names)?;
        let path = cache_path(dir, &entries, tokenizer);
        let ids = match path.as_deref().and_then(|p| read_cache(p, entries.len())) {
            Some(ids) => ids,
            None => {
                let ids = tokenize(&entries, tokenizer)?;
                if let Some(p) = &path {
                    if let Err(e) = write_cache(p, &ids) {
                        tracing::warn!(path = %p.display(), "cannot cache the name tokens: {e}");
                    }
                }
                ids
            }
        };
        Ok(Self::assemble(entries, &ids))
    }

    /// The given (name, concept position) pairs; identical names share one entry.
    pub fn from_names(names: &[(&str, u32)], tokenizer: &tokenizers::Tokenizer) -> Result<Self> {
        let entries = distinct_names(names)?;
        let ids = tokenize(&entries, tokenizer)?;
        Ok(Self::assemble(entries, &ids))
    }

    fn assemble(entries: Vec<NameEntry>, ids: &[Vec<u32>]) -> Self {
        let mut trie = TokenTrie::new();
        for (i, tokens) in ids.iter().enumerate() {
            trie.insert(tokens, i as u32);
        }
        Self { trie, entries }
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

/// Every (name, concept position) of the non-obsolete concepts of `kb`.
fn kb_names(kb: &KnowledgeBase) -> Vec<(&str, u32)> {
    kb.concepts()
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.obsolete)
        .flat_map(|(i, c)| c.names().into_iter().map(move |n| (n, i as u32)))
        .collect()
}

/// The distinct (trimmed, non-empty) names in first-met order, each with its concepts.
fn distinct_names(names: &[(&str, u32)]) -> Result<Vec<NameEntry>> {
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
    Ok(entries)
}

/// Each name's token ids (no special tokens added).
fn tokenize(entries: &[NameEntry], tokenizer: &tokenizers::Tokenizer) -> Result<Vec<Vec<u32>>> {
    let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    let encodings = tokenizer
        .encode_batch(texts, false)
        .map_err(|e| LinkError::Mismatch(format!("cannot tokenize the KB's names: {e}")))?;
    Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
}

/// First bytes of a name-token cache file.
const CACHE_MAGIC: &[u8; 8] = b"BLNTOK01";

/// The cache file for these names and this tokenizer: FNV-1a of both in the file name.
fn cache_path(
    dir: &Path,
    entries: &[NameEntry],
    tokenizer: &tokenizers::Tokenizer,
) -> Option<PathBuf> {
    let vocabulary = tokenizer.to_string(false).ok()?;
    let mut hash = Fnv::default();
    hash.write(vocabulary.as_bytes());
    for e in entries {
        hash.write(e.text.as_bytes());
        hash.write(&[0]);
    }
    Some(dir.join(format!("name-tokens-{:016x}.bin", hash.0)))
}

/// 64-bit FNV-1a: a hash that is the same on every build (the cache outlives the binary).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The cached token ids, when the file exists, is whole and holds `expected` names.
fn read_cache(path: &Path, expected: usize) -> Option<Vec<Vec<u32>>> {
    let bytes = std::fs::read(path).ok()?;
    let body = bytes.strip_prefix(CACHE_MAGIC.as_slice())?;
    let mut words = body
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    if body.len() % 4 != 0 || words.next()? as usize != expected {
        return None;
    }
    let mut out = Vec::with_capacity(expected);
    for _ in 0..expected {
        let len = words.next()? as usize;
        let ids: Vec<u32> = words.by_ref().take(len).collect();
        if ids.len() != len {
            return None;
        }
        out.push(ids);
    }
    words.next().is_none().then_some(out)
}

/// Writes the token ids atomically (a temporary file renamed into place).
fn write_cache(path: &Path, ids: &[Vec<u32>]) -> std::io::Result<()> {
    let words = 1 + ids.iter().map(|t| t.len() + 1).sum::<usize>();
    let mut bytes = Vec::with_capacity(CACHE_MAGIC.len() + 4 * words);
    bytes.extend_from_slice(CACHE_MAGIC);
    let mut push = |w: usize| bytes.extend_from_slice(&(w as u32).to_le_bytes());
    push(ids.len());
    for tokens in ids {
        push(tokens.len());
        tokens.iter().for_each(|&t| push(t as usize));
    }
    let partial = path.with_extension("bin.partial");
    std::fs::write(&partial, &bytes)?;
    std::fs::rename(&partial, path)
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

    #[test]
    fn cached_tokens_give_the_same_trie_and_a_damaged_cache_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let mut kb = KnowledgeBase::new("t");
        kb.add(biolore_kb::Concept {
            id: "C1".into(),
            name: "wilson disease".into(),
            synonyms: vec![biolore_kb::Synonym::exact("copper disease")],
            ..Default::default()
        });
        let fresh = NameTrie::from_kb(&kb, &tokenizer()).unwrap();
        let first = NameTrie::from_kb_cached(&kb, &tokenizer(), dir.path()).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1);
        let cache = files[0].as_ref().unwrap().path();
        let second = NameTrie::from_kb_cached(&kb, &tokenizer(), dir.path()).unwrap();
        for t in [&first, &second] {
            assert_eq!(t.trie(), fresh.trie());
            assert_eq!(t.entries(), fresh.entries());
        }
        // A cut file is not trusted: the names are tokenized again and the cache rewritten.
        let bytes = std::fs::read(&cache).unwrap();
        std::fs::write(&cache, &bytes[..bytes.len() - 2]).unwrap();
        let third = NameTrie::from_kb_cached(&kb, &tokenizer(), dir.path()).unwrap();
        assert_eq!(third.trie(), fresh.trie());
        assert_eq!(std::fs::read(&cache).unwrap(), bytes);
    }
}
