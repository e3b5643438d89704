//! A token-classification head: one linear layer from token states to per-token label logits.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::blocks::{Dropout, Linear};

/// Per-token label logits `[batch, seq, labels]` from token states `[batch, seq, hidden]`.
#[derive(Debug, Clone)]
pub struct TokenClassifier {
    dropout: Dropout,
    classifier: Linear,
}

impl TokenClassifier {
    /// Loads `classifier.weight` / `classifier.bias` (transformers' names) from `vb`.
    pub fn load(
        hidden: usize,
        labels: usize,
        dropout: f64,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            dropout: Dropout::new(dropout),
            classifier: Linear::load(hidden, labels, vb.pp("classifier"))?,
        })
    }

    /// Number of labels.
    pub fn labels(&self) -> usize {
        self.classifier.out_dim()
    }

    /// Label logits for each token; dropout is on when `train`.
    pub fn forward(&self, states: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.classifier
            .forward(&self.dropout.forward(states, train)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn logits_have_one_row_per_token() {
        let dev = Device::Cpu;
        let map = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &dev);
        let head = TokenClassifier::load(8, 3, 0.1, vb).unwrap();
        let states = Tensor::ones((2, 5, 8), DType::F32, &dev).unwrap();
        assert_eq!(head.forward(&states, false).unwrap().dims(), &[2, 5, 3]);
        assert_eq!(head.labels(), 3);
    }
}
