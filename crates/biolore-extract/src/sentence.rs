//! A sentence with the (drug, adverse effect) relations it states, as character spans.

use biolore_text::Span;
use serde::{Deserialize, Serialize};

/// Span type of a drug.
pub const DRUG: &str = "Drug";
/// Span type of an adverse effect.
pub const EFFECT: &str = "Effect";

/// A drug and an adverse effect it caused, both located in the sentence's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdeRelation {
    /// The drug (characters of the sentence).
    pub drug: Span,
    /// The adverse effect (characters of the sentence).
    pub effect: Span,
    /// The model's confidence (product of the spans' mean label probabilities, 4 decimals),
    /// when a model found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The drug's concept, when `extract` linked drugs to a KB's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug_concept: Option<LinkedConcept>,
    /// The effect's concept, when `extract` linked effects to a KB's index (MEDIC, HPO, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_concept: Option<LinkedConcept>,
}

/// The concept a span was linked to by the dense linker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedConcept {
    /// Concept id.
    pub id: String,
    /// The concept's preferred name.
    pub name: String,
    /// Cosine similarity of the span and the concept's nearest name.
    pub score: f32,
}

/// One sentence and its relations: a line of a labels file, of `extract`'s output, or of the gold corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdeSentence {
    /// Where the sentence comes from (a PubMed id, a document id, a line number).
    #[serde(default)]
    pub id: String,
    /// The sentence.
    pub text: String,
    /// Relations, spans in characters of `text`.
    #[serde(default)]
    pub relations: Vec<AdeRelation>,
    /// Strings a teacher returned that could not be found in the text (dropped, counted).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unaligned: usize,
    /// Why a teacher's answer could not be used (the sentence then has no labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl AdeSentence {
    /// A sentence without relations.
    pub fn new(id: &str, text: &str) -> Self {
        Self {
            id: id.to_string(),
            text: text.to_string(),
            relations: Vec::new(),
            unaligned: 0,
            failed: None,
        }
    }

    /// Distinct drug spans of the relations, in order of appearance.
    pub fn drugs(&self) -> Vec<&Span> {
        distinct(self.relations.iter().map(|r| &r.drug))
    }

    /// Distinct effect spans of the relations, in order of appearance.
    pub fn effects(&self) -> Vec<&Span> {
        distinct(self.relations.iter().map(|r| &r.effect))
    }

    /// Adds a relation unless the same pair of spans is there already.
    pub fn add(&mut self, relation: AdeRelation) {
        let same = |r: &AdeRelation| {
            (r.drug.start, r.drug.end, r.effect.start, r.effect.end)
                == (
                    relation.drug.start,
                    relation.drug.end,
                    relation.effect.start,
                    relation.effect.end,
                )
        };
        if !self.relations.iter().any(same) {
            self.relations.push(relation);
        }
    }
}

fn distinct<'a>(spans: impl Iterator<Item = &'a Span>) -> Vec<&'a Span> {
    let mut out: Vec<&Span> = Vec::new();
    for s in spans {
        if !out.iter().any(|o| o.start == s.start && o.end == s.end) {
            out.push(s);
        }
    }
    out
}

/// A span of `text` from character `start` to `end` (exclusive), typed `kind`.
pub fn span_of(text: &str, start: usize, end: usize, kind: &str) -> Span {
    Span {
        start,
        end,
        text: text
            .chars()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect(),
        kind: kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_relations_are_kept_once() {
        let text = "Aspirin caused asthma.";
        let mut s = AdeSentence::new("1", text);
        let r = AdeRelation {
            drug: span_of(text, 0, 7, DRUG),
            effect: span_of(text, 15, 21, EFFECT),
            score: None,
            drug_concept: None,
            effect_concept: None,
        };
        s.add(r.clone());
        s.add(r);
        assert_eq!(s.relations.len(), 1);
        assert_eq!(s.drugs()[0].text, "Aspirin");
        assert_eq!(s.effects()[0].text, "asthma");
    }
}
