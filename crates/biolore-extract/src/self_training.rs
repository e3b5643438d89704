//! Self-training: the student labels unlabelled sentences itself and keeps only what it is sure
//! of, and the next round trains on the teacher's labels plus those pseudo-labels.
//!
//! A sentence is kept when every relation the student finds in it scores at least the threshold
//! (the relations are its labels), or when it finds none (a negative). A sentence with any
//! relation below the threshold is uncertain and left out, so a doubtful relation is neither
//! taught as true nor as false.

use std::collections::HashSet;

use crate::error::Result;
use crate::sentence::AdeSentence;
use crate::student::Extractor;

/// What one round of pseudo-labelling kept and left out.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PseudoLabelSummary {
    /// Unlabelled sentences the student read.
    pub read: usize,
    /// Sentences left out because they are already among the labelled ones.
    pub overlapping: usize,
    /// Sentences kept with confident relations.
    pub positive: usize,
    /// Sentences kept without relations.
    pub negative: usize,
    /// Sentences left out because a relation scored below the threshold.
    pub uncertain: usize,
    /// Relations kept.
    pub relations: usize,
}

/// Unlabelled sentences minus those whose text is among `labelled` (relations and failures cleared).
pub fn unlabelled_pool(
    candidates: Vec<AdeSentence>,
    labelled: &[AdeSentence],
) -> (Vec<AdeSentence>, usize) {
    let seen: HashSet<&str> = labelled.iter().map(|s| s.text.trim()).collect();
    let before = candidates.len();
    let pool: Vec<AdeSentence> = candidates
        .into_iter()
        .filter(|s| !s.text.trim().is_empty() && !seen.contains(s.text.trim()))
        .map(|s| AdeSentence::new(&s.id, &s.text))
        .collect();
    let overlapping = before - pool.len();
    (pool, overlapping)
}

/// Keeps the confident part of the student's predictions (see the module's rule).
pub fn select_confident(
    predicted: Vec<AdeSentence>,
    min_score: f64,
) -> (Vec<AdeSentence>, PseudoLabelSummary) {
    let mut summary = PseudoLabelSummary {
        read: predicted.len(),
        ..Default::default()
    };
    let mut kept = Vec::new();
    for mut sentence in predicted {
        if sentence
            .relations
            .iter()
            .any(|r| r.score.unwrap_or(0.0) < min_score)
        {
            summary.uncertain += 1;
            continue;
        }
        if sentence.relations.is_empty() {
            summary.negative += 1;
        } else {
            summary.positive += 1;
            summary.relations += sentence.relations.len();
        }
        for r in &mut sentence.relations {
            r.drug_concept = None;
            r.effect_concept = None;
        }
        kept.push(sentence);
    }
    (kept, summary)
}

/// Runs `student` over `pool` and keeps its confident predictions.
pub fn pseudo_label(
    student: &Extractor,
    pool: &[AdeSentence],
    min_score: f64,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<(Vec<AdeSentence>, PseudoLabelSummary)> {
    let predicted = student.extract(pool, batch, progress)?;
    Ok(select_confident(predicted, min_score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentence::{span_of, AdeRelation, DRUG, EFFECT};

    fn with_scores(id: &str, scores: &[f64]) -> AdeSentence {
        let text = "aspirin caused rash";
        let mut s = AdeSentence::new(id, text);
        for &score in scores {
            s.relations.push(AdeRelation {
                drug: span_of(text, 0, 7, DRUG),
                effect: span_of(text, 15, 19, EFFECT),
                score: Some(score),
                drug_concept: None,
                effect_concept: None,
            });
        }
        s
    }

    #[test]
    fn keeps_confident_and_empty_sentences_and_drops_uncertain_ones() {
        let predicted = vec![
            with_scores("sure", &[0.95, 0.91]),
            with_scores("none", &[]),
            with_scores("mixed", &[0.97, 0.4]),
            with_scores("low", &[0.2]),
        ];
        let (kept, summary) = select_confident(predicted, 0.9);
        let ids: Vec<&str> = kept.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["sure", "none"]);
        assert_eq!(
            summary,
            PseudoLabelSummary {
                read: 4,
                overlapping: 0,
                positive: 1,
                negative: 1,
                uncertain: 2,
                relations: 2,
            }
        );
    }

    #[test]
    fn the_pool_leaves_out_labelled_texts_and_clears_gold_relations() {
        let labelled = vec![with_scores("a", &[0.5])];
        let mut other = with_scores("b", &[0.9]);
        other.text = "metformin caused nausea".into();
        let candidates = vec![
            with_scores("dup", &[0.1]),
            other,
            AdeSentence::new("e", "  "),
        ];
        let (pool, overlapping) = unlabelled_pool(candidates, &labelled);
        assert_eq!(overlapping, 2);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool[0].id, "b");
        assert!(pool[0].relations.is_empty());
    }
}
