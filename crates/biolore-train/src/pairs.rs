//! Training pairs from a knowledge base: a concept's name with its definition, a description
//! generated from its knowledge-graph neighbourhood, or one of its synonyms.

use std::collections::HashMap;

use biolore_kb::{Concept, KnowledgeBase};
use serde::{Deserialize, Serialize};

/// What the second text of a pair is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PairKind {
    /// A textual definition from the KB.
    Definition,
    /// A description generated from is-a parents and typed relations.
    Description,
    /// Another name of the same concept.
    Synonym,
    /// A mention of the concept annotated in a corpus (dense-linker fine-tuning).
    Mention,
}

impl PairKind {
    /// Parses `definition`, `description` or `synonym`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "definition" | "definitions" => Some(PairKind::Definition),
            "description" | "descriptions" => Some(PairKind::Description),
            "synonym" | "synonyms" => Some(PairKind::Synonym),
            "mention" | "mentions" => Some(PairKind::Mention),
            _ => None,
        }
    }
}

/// One training pair: a concept name and a text that should land near it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    /// The concept's id.
    pub concept: String,
    /// What `text` is.
    pub kind: PairKind,
    /// A name of the concept.
    pub name: String,
    /// The definition, description, synonym or mention.
    pub text: String,
    /// A name of another concept that `text` must not land near (a hard negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<Negative>,
}

/// A hard negative: a name of a concept other than the pair's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negative {
    /// The other concept's id.
    pub concept: String,
    /// Its name.
    pub name: String,
}

/// Most parents and relations a description mentions.
const MAX_DESCRIBED: usize = 4;

/// A short description of a concept from its knowledge-graph neighbourhood, or `None` when it has none.
///
/// "a kind of metal metabolism disorder and of hepatolenticular degeneration; finding site: liver"
/// — the parents' preferred names along `is_a`, then other typed relations, never the concept's
/// own name (a pair must not be solvable by copying).
pub fn describe(concept: &Concept, kb: &KnowledgeBase) -> Option<String> {
    let name_of = |id: &str| kb.get(id).map(|c| c.name.trim().to_string());
    let parents: Vec<String> = concept
        .parents()
        .filter_map(name_of)
        .filter(|n| !n.is_empty())
        .take(MAX_DESCRIBED)
        .collect();
    let mut parts = Vec::new();
    if !parents.is_empty() {
        parts.push(format!("a kind of {}", parents.join(" and of ")));
    }
    let mut by_kind: Vec<(String, Vec<String>)> = Vec::new();
    for r in concept.relations.iter().filter(|r| r.kind != "is_a") {
        let Some(target) = name_of(&r.target).filter(|n| !n.is_empty()) else {
            continue;
        };
        let kind = r.kind.replace('_', " ");
        if let Some(pos) = by_kind.iter().position(|(k, _)| *k == kind) {
            if by_kind[pos].1.len() < MAX_DESCRIBED {
                by_kind[pos].1.push(target);
            }
        } else if by_kind.len() < MAX_DESCRIBED {
            by_kind.push((kind, vec![target]));
        }
    }
    for (kind, targets) in by_kind {
        parts.push(format!("{kind}: {}", targets.join(", ")));
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("; "))
    }
}

/// Which pairs to make.
#[derive(Debug, Clone, PartialEq)]
pub struct PairOptions {
    /// Kinds of pairs.
    pub kinds: Vec<PairKind>,
    /// Names of a concept paired with each definition or description (preferred name first).
    pub names_per_text: usize,
    /// Skip obsolete concepts.
    pub skip_obsolete: bool,
}

impl Default for PairOptions {
    fn default() -> Self {
        Self {
            kinds: vec![
                PairKind::Definition,
                PairKind::Description,
                PairKind::Synonym,
            ],
            names_per_text: 4,
            skip_obsolete: true,
        }
    }
}

/// Every pair the options ask for, in KB order.
pub fn build_pairs(kb: &KnowledgeBase, options: &PairOptions) -> Vec<Pair> {
    let mut out = Vec::new();
    let wants = |k| options.kinds.contains(&k);
    for concept in kb.concepts() {
        if options.skip_obsolete && concept.obsolete {
            continue;
        }
        let names = concept.names();
        let Some(&preferred) = names.first() else {
            continue;
        };
        let mut push = |kind, name: &str, text: &str| {
            if !text.trim().is_empty() && !name.eq_ignore_ascii_case(text) {
                out.push(Pair {
                    concept: concept.id.clone(),
                    kind,
                    name: name.to_string(),
                    text: text.to_string(),
                    negative: None,
                });
            }
        };
        let anchors = &names[..names.len().min(options.names_per_text.max(1))];
        if wants(PairKind::Definition) {
            for d in &concept.definitions {
                for n in anchors {
                    push(PairKind::Definition, n, d);
                }
            }
        }
        if wants(PairKind::Description) {
            if let Some(d) = describe(concept, kb) {
                for n in anchors {
                    push(PairKind::Description, n, &d);
                }
            }
        }
        if wants(PairKind::Synonym) {
            for s in &names[1..] {
                push(PairKind::Synonym, s, preferred);
            }
        }
    }
    out
}

/// Counts of pairs by kind.
pub fn count_by_kind(pairs: &[Pair]) -> HashMap<PairKind, usize> {
    let mut counts = HashMap::new();
    for p in pairs {
        *counts.entry(p.kind).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use biolore_kb::{Relation, Synonym};

    fn kb() -> KnowledgeBase {
        let mut kb = KnowledgeBase::new("test");
        kb.add(Concept {
            id: "D1".into(),
            name: "metal metabolism disorder".into(),
            ..Default::default()
        });
        kb.add(Concept {
            id: "D2".into(),
            name: "Wilson disease".into(),
            synonyms: vec![Synonym::exact("hepatolenticular degeneration")],
            definitions: vec!["A rare inherited disorder of copper metabolism.".into()],
            relations: vec![
                Relation {
                    kind: "is_a".into(),
                    target: "D1".into(),
                },
                Relation {
                    kind: "finding_site".into(),
                    target: "D3".into(),
                },
            ],
            ..Default::default()
        });
        kb.add(Concept {
            id: "D3".into(),
            name: "liver".into(),
            ..Default::default()
        });
        kb
    }

    #[test]
    fn descriptions_use_parents_and_relations_not_the_name() {
        let kb = kb();
        let d = describe(kb.get("D2").unwrap(), &kb).unwrap();
        assert_eq!(
            d,
            "a kind of metal metabolism disorder; finding site: liver"
        );
        assert!(describe(kb.get("D1").unwrap(), &kb).is_none());
    }

    #[test]
    fn pairs_of_every_kind() {
        let pairs = build_pairs(&kb(), &PairOptions::default());
        let counts = count_by_kind(&pairs);
        assert_eq!(counts[&PairKind::Definition], 2);
        assert_eq!(counts[&PairKind::Description], 2);
        assert_eq!(counts[&PairKind::Synonym], 1);
        let syn = pairs.iter().find(|p| p.kind == PairKind::Synonym).unwrap();
        assert_eq!(
            (syn.name.as_str(), syn.text.as_str()),
            ("hepatolenticular degeneration", "Wilson disease")
        );
        let only = PairOptions {
            kinds: vec![PairKind::Definition],
            names_per_text: 1,
            ..Default::default()
        };
        assert_eq!(build_pairs(&kb(), &only).len(), 1);
    }
}
