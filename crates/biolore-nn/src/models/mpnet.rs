//! MPNet's input embeddings (word + padding-aware positions) and its relative-position attention bias.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::config::TransformerConfig;
use crate::blocks::{Dropout, LayerNorm};

/// Largest distance the relative-position buckets distinguish (fixed in MPNet).
const MAX_DISTANCE: usize = 128;

/// The embedding block of MPNet.
#[derive(Debug, Clone)]
pub struct MpNetEmbeddings {
    word: Embedding,
    position: Embedding,
    norm: LayerNorm,
    dropout: Dropout,
    padding_idx: u32,
}

impl MpNetEmbeddings {
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
            norm: LayerNorm::load(h, config.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: Dropout::new(config.hidden_dropout_prob),
            padding_idx: config.pad_token_id.unwrap_or(1),
        })
    }

    /// The word-embedding table `[vocab, hidden]`.
    pub fn word_table(&self) -> &Tensor {
        self.word.embeddings()
    }

    /// Embeds `ids` `[batch, seq]`; positions count non-padding tokens from `padding_idx + 1`.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mask_f = mask.to_dtype(DType::F32)?;
        let positions =
            ((mask_f.cumsum(1)? * &mask_f)? + f64::from(self.padding_idx))?.to_dtype(DType::U32)?;
        let x = self
            .word
            .forward(ids)?
            .add(&self.position.forward(&positions)?)?;
        self.dropout.forward(&self.norm.forward(&x)?, train)
    }
}

/// MPNet's learned relative-position bias, shared by all layers.
#[derive(Debug, Clone)]
pub struct RelativePositionBias {
    table: Embedding,
    buckets: usize,
}

impl RelativePositionBias {
    /// Loads `encoder.relative_attention_bias`.
    pub fn load(config: &TransformerConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let buckets = config.relative_attention_num_buckets;
        Ok(Self {
            table: candle_nn::embedding(buckets, config.num_attention_heads, vb)?,
            buckets,
        })
    }

    /// The bias `[1, heads, seq, seq]` for a sequence of length `t`.
    pub fn forward(&self, t: usize, device: &candle_core::Device) -> candle_core::Result<Tensor> {
        let mut idx = Vec::with_capacity(t * t);
        for q in 0..t {
            for k in 0..t {
                idx.push(bucket(k as i64 - q as i64, self.buckets, MAX_DISTANCE) as u32);
            }
        }
        let idx = Tensor::from_vec(idx, (t, t), device)?;
        self.table
            .forward(&idx)? // [t, t, heads]
            .permute((2, 0, 1))?
            .unsqueeze(0)?
            .contiguous()
    }
}

/// The bucket of a relative position `key - query`, exactly as MPNet (T5-style) computes it in float32.
pub fn bucket(relative_position: i64, num_buckets: usize, max_distance: usize) -> usize {
    let half = num_buckets / 2;
    let n = -relative_position;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.unsigned_abs() as usize;
    let max_exact = half / 2;
    if n < max_exact {
        ret += n;
    } else {
        let ratio = (n as f32 / max_exact as f32).ln()
            / ((max_distance as f64 / max_exact as f64).ln() as f32)
            * (half - max_exact) as f32;
        let large = max_exact + ratio as usize;
        ret += large.min(half - 1);
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_match_mpnet_reference_values() {
        // Expected values: the formula of transformers' MPNet relative_position_bucket evaluated in float32 with numpy.
        let cases = [
            (0, 0),
            (1, 17),
            (-1, 1),
            (7, 23),
            (-7, 7),
            (8, 24),
            (-8, 8),
            (12, 25),
            (-20, 10),
            (100, 31),
            (-100, 15),
            (500, 31),
            (-500, 15),
        ];
        for (rel, want) in cases {
            assert_eq!(bucket(rel, 32, 128), want, "relative position {rel}");
        }
    }
}
