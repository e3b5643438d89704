//! Precision, recall and F1 of extracted drugs, effects and (drug, effect) relations against a
//! gold corpus: strict (exact character offsets) and lenient (spans overlap, matched one to one).

use biolore_text::Span;
use serde::Serialize;

use crate::sentence::AdeSentence;

/// Counts and scores of one kind of item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    /// Predicted items matched to a gold item.
    pub tp: usize,
    /// Items predicted.
    pub predicted: usize,
    /// Gold items.
    pub gold: usize,
}

impl Prf {
    /// tp / predicted (0 when nothing was predicted).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.predicted)
    }

    /// tp / gold (0 when there is no gold item).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.gold)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn add(&mut self, tp: usize, predicted: usize, gold: usize) {
        self.tp += tp;
        self.predicted += predicted;
        self.gold += gold;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores over a set of sentences. Drugs and effects are the relations' arguments (the ADE
/// corpus annotates drugs only inside adverse-event relations).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// Sentences scored.
    pub n_sentences: usize,
    /// Relations, both spans exact.
    pub relation_strict: Prf,
    /// Relations, both spans overlapping.
    pub relation_lenient: Prf,
    /// Drug spans, exact.
    pub drug: Prf,
    /// Drug spans, overlapping.
    pub drug_lenient: Prf,
    /// Effect spans, exact.
    pub effect: Prf,
    /// Effect spans, overlapping.
    pub effect_lenient: Prf,
}

impl Scores {
    /// Adds one sentence's gold and predicted relations.
    pub fn add(&mut self, gold: &AdeSentence, predicted: &AdeSentence) {
        self.n_sentences += 1;
        let pairs = |s: &AdeSentence| -> Vec<(Span, Span)> {
            s.relations
                .iter()
                .map(|r| (r.drug.clone(), r.effect.clone()))
                .collect()
        };
        let (g, p) = (pairs(gold), pairs(predicted));
        let exact_pair =
            |a: &(Span, Span), b: &(Span, Span)| exact(&a.0, &b.0) && exact(&a.1, &b.1);
        let loose_pair =
            |a: &(Span, Span), b: &(Span, Span)| overlap(&a.0, &b.0) && overlap(&a.1, &b.1);
        self.relation_strict
            .add(matched(&p, &g, exact_pair), p.len(), g.len());
        self.relation_lenient
            .add(matched(&p, &g, loose_pair), p.len(), g.len());
        let owned = |v: Vec<&Span>| v.into_iter().cloned().collect::<Vec<Span>>();
        let (gd, pd) = (owned(gold.drugs()), owned(predicted.drugs()));
        self.drug.add(matched(&pd, &gd, exact), pd.len(), gd.len());
        self.drug_lenient
            .add(matched(&pd, &gd, overlap), pd.len(), gd.len());
        let (ge, pe) = (owned(gold.effects()), owned(predicted.effects()));
        self.effect
            .add(matched(&pe, &ge, exact), pe.len(), ge.len());
        self.effect_lenient
            .add(matched(&pe, &ge, overlap), pe.len(), ge.len());
    }

    /// The scores as a flat JSON object (`relation_strict_f1`, `drug_f1`, …, `n_sentences`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("n_sentences".into(), self.n_sentences.into());
        for (name, prf) in [
            ("relation_strict", &self.relation_strict),
            ("relation_lenient", &self.relation_lenient),
            ("drug", &self.drug),
            ("drug_lenient", &self.drug_lenient),
            ("effect", &self.effect),
            ("effect_lenient", &self.effect_lenient),
        ] {
            map.insert(format!("{name}_precision"), round(prf.precision()).into());
            map.insert(format!("{name}_recall"), round(prf.recall()).into());
            map.insert(format!("{name}_f1"), round(prf.f1()).into());
            map.insert(format!("{name}_tp"), prf.tp.into());
            map.insert(format!("{name}_predicted"), prf.predicted.into());
            map.insert(format!("{name}_gold"), prf.gold.into());
        }
        serde_json::Value::Object(map)
    }
}

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn exact(a: &Span, b: &Span) -> bool {
    a.start == b.start && a.end == b.end
}

fn overlap(a: &Span, b: &Span) -> bool {
    a.start < b.end && b.start < a.end
}

/// Predicted items matched one to one to gold items (greedy, in order).
fn matched<T>(predicted: &[T], gold: &[T], same: impl Fn(&T, &T) -> bool) -> usize {
    let mut used = vec![false; gold.len()];
    let mut tp = 0;
    for p in predicted {
        if let Some(j) = (0..gold.len()).find(|&j| !used[j] && same(p, &gold[j])) {
            used[j] = true;
            tp += 1;
        }
    }
    tp
}

/// Both settings of the ADE evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Sentences of `DRUG-AE.rel` only.
    pub positive: Scores,
    /// All sentences, `ADE-NEG.txt` included (any relation predicted there is a false positive).
    pub all_sentences: Scores,
}

impl Evaluation {
    /// Scores predictions: `pairs` yields (gold, predicted, whether the gold sentence is positive).
    pub fn score<'a>(
        pairs: impl IntoIterator<Item = (&'a AdeSentence, &'a AdeSentence, bool)>,
    ) -> Self {
        let mut e = Self::default();
        for (gold, predicted, positive) in pairs {
            if positive {
                e.positive.add(gold, predicted);
            }
            e.all_sentences.add(gold, predicted);
        }
        e
    }

    /// The positive setting's keys at the top level, the other setting under `all_sentences`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = self.positive.to_json();
        if let serde_json::Value::Object(map) = &mut v {
            map.insert("all_sentences".into(), self.all_sentences.to_json());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentence::{span_of, AdeRelation, DRUG, EFFECT};

    type Pair = ((usize, usize), (usize, usize));

    fn sentence(text: &str, rels: &[Pair]) -> AdeSentence {
        let mut s = AdeSentence::new("1", text);
        for &((ds, de), (es, ee)) in rels {
            s.add(AdeRelation {
                drug: span_of(text, ds, de, DRUG),
                effect: span_of(text, es, ee, EFFECT),
                score: None,
                drug_concept: None,
                effect_concept: None,
            });
        }
        s
    }

    #[test]
    fn strict_and_lenient_scores() {
        let text = "Aspirin caused acute asthma and rash.";
        let gold = sentence(text, &[((0, 7), (15, 27)), ((0, 7), (32, 36))]);
        // One exact relation, one whose effect only overlaps, one wrong.
        let pred = sentence(
            text,
            &[((0, 7), (15, 27)), ((0, 7), (32, 35)), ((0, 7), (8, 14))],
        );
        let neg_gold = sentence("Nothing here.", &[]);
        let neg_pred = sentence("Nothing here.", &[((0, 7), (8, 12))]);
        let e = Evaluation::score([(&gold, &pred, true), (&neg_gold, &neg_pred, false)]);
        let p = &e.positive;
        assert_eq!(
            (
                p.relation_strict.tp,
                p.relation_strict.predicted,
                p.relation_strict.gold
            ),
            (1, 3, 2)
        );
        assert_eq!(p.relation_lenient.tp, 2);
        assert_eq!((p.drug.tp, p.drug.predicted, p.drug.gold), (1, 1, 1));
        assert_eq!((p.effect.tp, p.effect.predicted, p.effect.gold), (1, 3, 2));
        assert!((p.relation_strict.f1() - 0.4).abs() < 1e-9);
        let a = &e.all_sentences;
        assert_eq!((a.relation_strict.predicted, a.n_sentences), (4, 2));
        let json = e.to_json();
        assert_eq!(json["n_sentences"], 1);
        assert_eq!(json["all_sentences"]["n_sentences"], 2);
        assert!(json["relation_lenient_f1"].as_f64().unwrap() > 0.79);
    }
}
