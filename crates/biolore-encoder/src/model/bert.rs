//! BERT's input embeddings: word + absolute position + token type, then layer norm.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::config::TransformerConfig;
use super::layers::{Dropout, LayerNorm};

/// The embedding block of BERT-family models.
#[derive(Debug, Clone)]
pub struct BertEmbeddings {
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
        Ok(Self {
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

    /// Embeds `ids` `[batch, seq]` (positions 0.., token type 0).
    pub fn forward(&self, ids: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let device = ids.device();
        let positions = Tensor::arange(0u32, t as u32, device)?
            .unsqueeze(0)?
            .broadcast_as((b, t))?
            .contiguous()?;
        let types = Tensor::zeros((b, t), DType::U32, device)?;
        let x = self
            .word
            .forward(ids)?
            .add(&self.position.forward(&positions)?)?
            .add(&self.token_type.forward(&types)?)?;
        self.dropout.forward(&self.norm.forward(&x)?, train)
    }
}
