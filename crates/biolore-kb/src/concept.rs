//! The knowledge-base model: concepts with names, definitions, types, relations and xrefs.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ids::normalize_id;

/// How closely a synonym matches its concept (OBO's scopes; `Exact` where a source doesn't say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Same meaning.
    #[default]
    Exact,
    /// Broader than the concept.
    Broad,
    /// Narrower than the concept.
    Narrow,
    /// Related.
    Related,
}

/// Another name of a concept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synonym {
    /// The name.
    pub text: String,
    /// How it relates to the concept.
    #[serde(default)]
    pub scope: Scope,
}

impl Synonym {
    /// A synonym with the same meaning as its concept.
    pub fn exact(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            scope: Scope::Exact,
        }
    }
}

/// A typed edge to another concept (`is_a` for the hierarchy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// Relation type: `is_a`, `part_of`, a UMLS RELA, …
    pub kind: String,
    /// The target concept's id (normalised).
    pub target: String,
}

/// One concept of a terminology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Concept {
    /// Canonical id (see [`normalize_id`]).
    pub id: String,
    /// Preferred name.
    pub name: String,
    /// Other names.
    #[serde(default)]
    pub synonyms: Vec<Synonym>,
    /// Alternative ids that resolve to this concept.
    #[serde(default)]
    pub alt_ids: Vec<String>,
    /// Textual definitions.
    #[serde(default)]
    pub definitions: Vec<String>,
    /// Semantic types or categories.
    #[serde(default)]
    pub semantic_types: Vec<String>,
    /// Typed relations to other concepts.
    #[serde(default)]
    pub relations: Vec<Relation>,
    /// Cross-references to other terminologies.
    #[serde(default)]
    pub xrefs: Vec<String>,
    /// Whether the source marks the concept obsolete.
    #[serde(default)]
    pub obsolete: bool,
}

impl Concept {
    /// The preferred name followed by the synonyms, without repeats.
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::with_capacity(1 + self.synonyms.len());
        for n in
            std::iter::once(self.name.as_str()).chain(self.synonyms.iter().map(|s| s.text.as_str()))
        {
            if !n.trim().is_empty() && !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    /// The ids this concept answers to: its id and its alternative ids.
    pub fn all_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.alt_ids.iter().map(String::as_str))
    }

    /// Parents along `is_a`.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.relations
            .iter()
            .filter(|r| r.kind == "is_a")
            .map(|r| r.target.as_str())
    }

    /// Adds names, ids and facts of `other` (same concept from another line) to `self`.
    pub fn merge(&mut self, other: Concept) {
        if self.name.is_empty() {
            self.name = other.name;
        } else if !other.name.is_empty() && other.name != self.name {
            push_unique_syn(&mut self.synonyms, Synonym::exact(other.name));
        }
        for s in other.synonyms {
            push_unique_syn(&mut self.synonyms, s);
        }
        for (dst, src) in [
            (&mut self.alt_ids, other.alt_ids),
            (&mut self.definitions, other.definitions),
            (&mut self.semantic_types, other.semantic_types),
            (&mut self.xrefs, other.xrefs),
        ] {
            for v in src {
                if !dst.contains(&v) {
                    dst.push(v);
                }
            }
        }
        for r in other.relations {
            if !self.relations.contains(&r) {
                self.relations.push(r);
            }
        }
        self.obsolete &= other.obsolete;
    }
}

fn push_unique_syn(list: &mut Vec<Synonym>, s: Synonym) {
    if !s.text.trim().is_empty() && !list.iter().any(|x| x.text == s.text) {
        list.push(s);
    }
}

/// A terminology: concepts and an id lookup that resolves alternative ids.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KnowledgeBase {
    /// Where the concepts came from (format and files), for reports.
    pub source: String,
    concepts: Vec<Concept>,
    #[serde(skip)]
    by_id: HashMap<String, usize>,
}

impl KnowledgeBase {
    /// An empty KB described by `source`.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            ..Self::default()
        }
    }

    /// Adds a concept, merging it into an existing one with the same id (then returns true);
    /// a concept without an id is dropped.
    pub fn add(&mut self, mut concept: Concept) -> bool {
        concept.id = normalize_id(&concept.id);
        for a in &mut concept.alt_ids {
            *a = normalize_id(a);
        }
        concept
            .alt_ids
            .retain(|a| !a.is_empty() && *a != concept.id);
        if concept.id.is_empty() {
            return false;
        }
        if let Some(&i) = self.by_id.get(&concept.id) {
            if self.concepts[i].id == concept.id {
                self.concepts[i].merge(concept);
                let alts: Vec<String> = self.concepts[i].alt_ids.clone();
                for a in alts {
                    self.by_id.entry(a).or_insert(i);
                }
                return true;
            }
        }
        let i = self.concepts.len();
        self.by_id.insert(concept.id.clone(), i);
        for a in &concept.alt_ids {
            self.by_id.entry(a.clone()).or_insert(i);
        }
        self.concepts.push(concept);
        false
    }

    /// Adds every concept of `other` (a concept with an id already here merges into it) and
    /// returns how many merged.
    pub fn absorb(&mut self, other: KnowledgeBase) -> usize {
        other
            .concepts
            .into_iter()
            .map(|c| usize::from(self.add(c)))
            .sum()
    }

    /// Rebuilds the id lookup (after deserialising).
    pub fn reindex(&mut self) {
        self.by_id.clear();
        for (i, c) in self.concepts.iter().enumerate() {
            self.by_id.insert(c.id.clone(), i);
        }
        for (i, c) in self.concepts.iter().enumerate() {
            for a in &c.alt_ids {
                self.by_id.entry(a.clone()).or_insert(i);
            }
        }
    }

    /// All concepts, in load order.
    pub fn concepts(&self) -> &[Concept] {
        &self.concepts
    }

    /// Number of concepts.
    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    /// True when there are no concepts.
    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    /// The concept with this id or alternative id (any spelling).
    pub fn get(&self, id: &str) -> Option<&Concept> {
        self.index_of(id).map(|i| &self.concepts[i])
    }

    /// The position of the concept with this id or alternative id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(&normalize_id(id)).copied()
    }

    /// Total number of names (preferred names and synonyms).
    pub fn name_count(&self) -> usize {
        self.concepts.iter().map(|c| c.names().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_ids_and_spellings_resolve_to_one_concept() {
        let mut kb = KnowledgeBase::new("test");
        kb.add(Concept {
            id: "D006527".into(),
            name: "Hepatolenticular Degeneration".into(),
            alt_ids: vec!["277900".into()],
            ..Concept::default()
        });
        kb.add(Concept {
            id: "MESH:D006527".into(),
            name: "Wilson Disease".into(),
            ..Concept::default()
        });
        assert_eq!(kb.len(), 1);
        let c = kb.get("MESH:D006527").unwrap();
        assert_eq!(
            c.names(),
            vec!["Hepatolenticular Degeneration", "Wilson Disease"]
        );
        assert_eq!(kb.get("OMIM:277900").unwrap().id, "MESH:D006527");
        assert_eq!(kb.get("277900").unwrap().id, "MESH:D006527");
        assert!(kb.get("D000001").is_none());
    }

    #[test]
    fn absorbing_a_kb_merges_shared_ids_and_appends_the_rest() {
        let concept = |id: &str, name: &str| Concept {
            id: id.into(),
            name: name.into(),
            ..Concept::default()
        };
        let mut diseases = KnowledgeBase::new("ctd");
        diseases.add(concept("MESH:D006527", "Wilson Disease"));
        let mut phenotypes = KnowledgeBase::new("hpo");
        phenotypes.add(concept("HP:0001250", "Seizure"));
        phenotypes.add(concept("D006527", "Hepatolenticular Degeneration"));
        assert_eq!(diseases.absorb(phenotypes), 1);
        assert_eq!(diseases.len(), 2);
        assert_eq!(diseases.get("HP:0001250").unwrap().name, "Seizure");
        assert_eq!(diseases.get("MESH:D006527").unwrap().names().len(), 2);
    }
}
