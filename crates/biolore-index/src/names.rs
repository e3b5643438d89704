//! The distinct names of a KB: each case- and whitespace-normalised name once, with its concepts.

use std::collections::HashMap;

use biolore_kb::KnowledgeBase;
use serde::{Deserialize, Serialize};

/// One distinct name and the concepts it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameEntry {
    /// The name as first seen in the KB.
    pub text: String,
    /// Positions of the concepts (in the KB) that carry this name.
    pub concepts: Vec<u32>,
}

/// All distinct names of a KB, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameTable {
    /// The names.
    pub names: Vec<NameEntry>,
}

/// Lower-cases and collapses runs of whitespace, so spellings that differ only so are one name.
pub fn normalize_name(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

impl NameTable {
    /// The distinct names of the KB's concepts (obsolete concepts only when asked).
    pub fn from_kb(kb: &KnowledgeBase, include_obsolete: bool) -> Self {
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut names: Vec<NameEntry> = Vec::new();
        for (ci, concept) in kb.concepts().iter().enumerate() {
            if concept.obsolete && !include_obsolete {
                continue;
            }
            for name in concept.names() {
                let key = normalize_name(name);
                if key.is_empty() {
                    continue;
                }
                let i = *by_key.entry(key).or_insert_with(|| {
                    names.push(NameEntry {
                        text: name.to_string(),
                        concepts: Vec::new(),
                    });
                    names.len() - 1
                });
                let ci = ci as u32;
                if !names[i].concepts.contains(&ci) {
                    names[i].concepts.push(ci);
                }
            }
        }
        Self { names }
    }

    /// Adds `(text, concept position)` pairs as names; returns the positions of the new names.
    ///
    /// A text already present (after normalisation) only gains the concept.
    pub fn augment(&mut self, items: &[(String, u32)]) -> Vec<usize> {
        let mut by_key: HashMap<String, usize> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, e)| (normalize_name(&e.text), i))
            .collect();
        let mut added = Vec::new();
        for (text, ci) in items {
            let key = normalize_name(text);
            if key.is_empty() {
                continue;
            }
            match by_key.get(&key) {
                Some(&i) => {
                    if !self.names[i].concepts.contains(ci) {
                        self.names[i].concepts.push(*ci);
                    }
                }
                None => {
                    by_key.insert(key, self.names.len());
                    added.push(self.names.len());
                    self.names.push(NameEntry {
                        text: text.clone(),
                        concepts: vec![*ci],
                    });
                }
            }
        }
        added
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no names.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// A 64-bit FNV-1a fingerprint of the names and their concepts (to match a resumed build).
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for e in &self.names {
            eat(e.text.as_bytes());
            eat(&[0]);
            for c in &e.concepts {
                eat(&c.to_le_bytes());
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use biolore_kb::{Concept, Scope, Synonym};

    #[test]
    fn duplicates_by_case_and_space_are_one_name() {
        let mut kb = KnowledgeBase::new("t");
        let syn = |t: &str| Synonym {
            text: t.into(),
            scope: Scope::Exact,
        };
        kb.add(Concept {
            id: "MESH:D1".into(),
            name: "Wilson Disease".into(),
            synonyms: vec![syn("wilson  disease"), syn("Hepatolenticular degeneration")],
            ..Concept::default()
        });
        kb.add(Concept {
            id: "MESH:D2".into(),
            name: "WILSON DISEASE".into(),
            ..Concept::default()
        });
        kb.add(Concept {
            id: "MESH:D3".into(),
            name: "old".into(),
            obsolete: true,
            ..Concept::default()
        });
        let t = NameTable::from_kb(&kb, false);
        assert_eq!(t.len(), 2);
        assert_eq!(t.names[0].text, "Wilson Disease");
        assert_eq!(t.names[0].concepts, vec![0, 1]);
        assert_eq!(NameTable::from_kb(&kb, true).len(), 3);
        assert_ne!(t.fingerprint(), NameTable::from_kb(&kb, true).fingerprint());
        let mut t = t;
        let added = t.augment(&[("wilson disease".into(), 2), ("WD".into(), 0)]);
        assert_eq!(added, vec![2]);
        assert_eq!(t.names[0].concepts, vec![0, 1, 2]);
    }
}
