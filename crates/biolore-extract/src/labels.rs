//! Sentences with relations → token-level BIO labels for the student (drug tags, and per drug the
//! tags of its effects), through the tokenizer's character offsets.

use biolore_encoder::{TextTokenizer, Token};
use biolore_text::Span;

use crate::error::Result;
use crate::sentence::AdeSentence;

/// BIO label ids.
pub const O: u32 = 0;
/// Beginning of a span.
pub const B: u32 = 1;
/// Inside a span.
pub const I: u32 = 2;

/// One sentence as the student trains on it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedSentence {
    /// Token ids (special tokens included, cut at the tokenizer's limit).
    pub ids: Vec<u32>,
    /// Drug label of each token.
    pub drug_labels: Vec<u32>,
    /// For each drug: which tokens are the drug (1) and the labels of its effects.
    pub drugs: Vec<(Vec<u32>, Vec<u32>)>,
}

/// BIO labels of `spans` over `tokens` (special tokens and tokens outside every span are `O`).
pub fn bio_labels(tokens: &[Token], spans: &[&Span]) -> Vec<u32> {
    let mut labels = vec![O; tokens.len()];
    for span in spans {
        let mut first = true;
        for (i, t) in tokens.iter().enumerate() {
            if !t.special && t.start < span.end && span.start < t.end {
                labels[i] = if first { B } else { I };
                first = false;
            }
        }
    }
    labels
}

/// The student's labels for one sentence; relations whose drug lies past the token limit are left out.
pub fn tag_sentence(tokenizer: &TextTokenizer, sentence: &AdeSentence) -> Result<TaggedSentence> {
    let tokens = tokenizer.encode_with_offsets(&sentence.text)?;
    let drugs = sentence.drugs();
    let drug_labels = bio_labels(&tokens, &drugs);
    let mut per_drug = Vec::new();
    for drug in drugs {
        let mask: Vec<u32> = bio_labels(&tokens, &[drug])
            .into_iter()
            .map(|l| u32::from(l != O))
            .collect();
        if mask.iter().all(|&m| m == 0) {
            continue;
        }
        let effects: Vec<&Span> = sentence
            .relations
            .iter()
            .filter(|r| r.drug.start == drug.start && r.drug.end == drug.end)
            .map(|r| &r.effect)
            .collect();
        per_drug.push((mask, bio_labels(&tokens, &effects)));
    }
    Ok(TaggedSentence {
        ids: tokens.iter().map(|t| t.id).collect(),
        drug_labels,
        drugs: per_drug,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(start: usize, end: usize, special: bool) -> Token {
        Token {
            id: 0,
            text: String::new(),
            start,
            end,
            special,
        }
    }

    #[test]
    fn spans_become_bio_labels() {
        // [CLS] acute renal failure after cis ##platin [SEP]
        let tokens = [
            token(0, 0, true),
            token(0, 5, false),
            token(6, 11, false),
            token(12, 19, false),
            token(20, 25, false),
            token(26, 29, false),
            token(29, 35, false),
            token(35, 35, true),
        ];
        let effect = Span {
            start: 0,
            end: 19,
            text: String::new(),
            kind: String::new(),
        };
        let drug = Span {
            start: 26,
            end: 35,
            text: String::new(),
            kind: String::new(),
        };
        assert_eq!(
            bio_labels(&tokens, &[&effect]),
            vec![O, B, I, I, O, O, O, O]
        );
        assert_eq!(
            bio_labels(&tokens, &[&drug, &effect]),
            vec![O, B, I, I, O, B, I, O]
        );
    }
}
