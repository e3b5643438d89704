//! A pair tagger (Gu et al., 2023): one token classifier finds the heads of pairs (drugs), and a
//! second, conditioned on one head — its tokens' states mean-pooled and joined to every token's
//! state — finds that head's tails (adverse effects). Labels are BIO: 0 = O, 1 = B, 2 = I.

use candle_core::{Tensor, D};
use candle_nn::VarBuilder;

use super::TokenClassifier;
use crate::blocks::{Dropout, Linear};

/// Number of BIO labels (`O`, `B`, `I`).
pub const BIO_LABELS: usize = 3;

/// Head tagger and head-conditioned tail tagger over an encoder's token states.
#[derive(Debug, Clone)]
pub struct PairTagger {
    heads: TokenClassifier,
    dropout: Dropout,
    tails: Linear,
    hidden: usize,
}

impl PairTagger {
    /// Loads `heads.classifier.*` and `tails.classifier.*` from `vb` for states of size `hidden`.
    pub fn load(hidden: usize, dropout: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            heads: TokenClassifier::load(hidden, BIO_LABELS, dropout, vb.pp("heads"))?,
            dropout: Dropout::new(dropout),
            tails: Linear::load(2 * hidden, BIO_LABELS, vb.pp("tails").pp("classifier"))?,
            hidden,
        })
    }

    /// Names and shapes of the tagger's weights (for initialising a new one).
    pub fn weight_shapes(hidden: usize) -> Vec<(String, Vec<usize>)> {
        vec![
            ("heads.classifier.weight".into(), vec![BIO_LABELS, hidden]),
            ("heads.classifier.bias".into(), vec![BIO_LABELS]),
            (
                "tails.classifier.weight".into(),
                vec![BIO_LABELS, 2 * hidden],
            ),
            ("tails.classifier.bias".into(), vec![BIO_LABELS]),
        ]
    }

    /// Size of the token states the tagger reads.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// BIO logits of the head tagger `[batch, seq, 3]` for token states `[batch, seq, hidden]`.
    pub fn head_logits(&self, states: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.heads.forward(states, train)
    }

    /// BIO logits of the tail tagger `[n, seq, 3]` for `n` heads: `states` `[n, seq, hidden]`
    /// (one row per head, the sentence's states repeated) and `head_mask` `[n, seq]` (1 on the
    /// head's tokens). The head's states are mean-pooled and joined to every token's state.
    pub fn tail_logits(
        &self,
        states: &Tensor,
        head_mask: &Tensor,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        let (n, seq, hidden) = states.dims3()?;
        let mask = head_mask.to_dtype(states.dtype())?.unsqueeze(D::Minus1)?;
        let count = mask.sum(1)?.clamp(1.0, f64::MAX)?;
        let pooled = states.broadcast_mul(&mask)?.sum(1)?.broadcast_div(&count)?;
        let pooled = pooled.unsqueeze(1)?.broadcast_as((n, seq, hidden))?;
        let joined = Tensor::cat(&[states, &pooled.contiguous()?], D::Minus1)?;
        self.tails.forward(&self.dropout.forward(&joined, train)?)
    }
}

/// Spans `[start, end)` of token indices that BIO `labels` mark (an `I` without a `B` starts one).
pub fn bio_spans(labels: &[u32]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut open: Option<usize> = None;
    for (i, &l) in labels.iter().enumerate() {
        match l {
            1 => {
                if let Some(s) = open.take() {
                    spans.push((s, i));
                }
                open = Some(i);
            }
            2 => {
                if open.is_none() {
                    open = Some(i);
                }
            }
            _ => {
                if let Some(s) = open.take() {
                    spans.push((s, i));
                }
            }
        }
    }
    if let Some(s) = open {
        spans.push((s, labels.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn bio_labels_become_spans() {
        assert_eq!(
            bio_spans(&[0, 1, 2, 0, 1, 1, 2]),
            vec![(1, 3), (4, 5), (5, 7)]
        );
        assert_eq!(bio_spans(&[2, 2, 0]), vec![(0, 2)]);
        assert!(bio_spans(&[0, 0]).is_empty());
    }

    #[test]
    fn tail_logits_have_one_row_per_head() {
        let dev = Device::Cpu;
        let map = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &dev);
        let tagger = PairTagger::load(8, 0.1, vb).unwrap();
        let states = Tensor::ones((2, 5, 8), DType::F32, &dev).unwrap();
        let mask = Tensor::new(&[[0u32, 1, 1, 0, 0], [1, 0, 0, 0, 0]], &dev).unwrap();
        assert_eq!(
            tagger.tail_logits(&states, &mask, false).unwrap().dims(),
            &[2, 5, 3]
        );
        assert_eq!(
            tagger.head_logits(&states, false).unwrap().dims(),
            &[2, 5, 3]
        );
    }
}
