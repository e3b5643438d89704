//! BERT's and RoBERTa's input embeddings: word + position + token type, then layer norm.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::config::{Architecture, TransformerConfig};
use crate::blocks::{Dropout, LayerNorm};

/// The embedding block of BERT-family models (and RoBERTa's, whose positions skip padding).
#[derive(Debug, Clone)]
pub struct BertEmbeddings {
    /// RoBERTa: positions count non-padding tokens from `padding_idx + 1`; BERT: `None`, 0, 1, ….
    padding_idx: Option<u32>,
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: LayerNorm,
    dropout: Dropout,
}

impl BertEmbeddings {
    /// Loads `embeddings.*` weights.
    pub fn load(config: &TransformerConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = config.hidden_size;
        let padding_idx = match config.architecture() {
            Some(Architecture::Roberta) => Some(config.pad_token_id.unwrap_or(1)),
            _ => None,
        };
        Ok(Self {
            padding_idx,
            word: candle_nn::embedding(config.vocab_size, h, vb.pp("word_embeddings"))?,
            position: candle_nn::embedding(
                config.max_position_embeddings,
                h,
                vb.pp("position_embeddings"),
            )?,
            token_type: candle_nn::embedding(
                config.type_vocab_size,
                h,
                vb.pp("token_type_embeddings"),
            )?,
            norm: LayerNorm::load(h, config.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: Dropout::new(config.hidden_dropout_prob),
        })
    }

    /// The word-embedding table `[vocab, hidden]`.
    pub fn word_table(&self) -> &Tensor {
        self.word.embeddings()
    }

    /// Embeds right-padded `ids` `[batch, seq]` with 0/1 `mask` (token type 0).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let device = ids.device();
        let positions = match self.padding_idx {
            None => Tensor::arange(0u32, t as u32, device)?
                .unsqueeze(0)?
                .broadcast_as((b, t))?
                .contiguous()?,
            Some(pad) => {
                let mask_f = mask.to_dtype(DType::F32)?;
                ((mask_f.cumsum(1)? * &mask_f)? + f64::from(pad))?.to_dtype(DType::U32)?
            }
        };
        let types = Tensor::zeros((b, t), DType::U32, device)?;
        let x = self
            .word
            .forward(ids)?
            .add(&self.position.forward(&positions)?)?
            .add(&self.token_type.forward(&types)?)?;
        self.dropout.forward(&self.norm.forward(&x)?, train)
    }
}
