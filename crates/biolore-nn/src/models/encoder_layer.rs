//! One transformer encoder layer: attention, feed-forward, residuals and layer norms.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::config::{Architecture, TransformerConfig};
use super::encoder_rows::RowBuffers;
use crate::blocks::{Activation, Dropout, LayerNorm, Linear, SelfAttention};
use crate::kernels::attention::HeadBias;

/// A post-norm transformer layer (BERT, RoBERTa and MPNet share this shape).
#[derive(Debug, Clone)]
pub struct EncoderLayer {
    attention: SelfAttention,
    attention_norm: LayerNorm,
    intermediate: Linear,
    activation: Activation,
    output: Linear,
    output_norm: LayerNorm,
    dropout: Dropout,
}

impl EncoderLayer {
    /// Loads layer weights from `vb` (prefix `encoder.layer.{i}`), using the architecture's names.
    pub fn load(
        config: &TransformerConfig,
        arch: Architecture,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let h = config.hidden_size;
        let (attn_vb, q, k, v, o, norm_vb) = match arch {
            Architecture::Bert | Architecture::Roberta => (
                vb.pp("attention"),
                "self.query",
                "self.key",
                "self.value",
                "output.dense",
                vb.pp("attention").pp("output").pp("LayerNorm"),
            ),
            Architecture::MpNet => (
                vb.pp("attention"),
                "attn.q",
                "attn.k",
                "attn.v",
                "attn.o",
                vb.pp("attention").pp("LayerNorm"),
            ),
        };
        let attention = SelfAttention {
            query: Linear::load(h, h, attn_vb.pp(q))?,
            key: Linear::load(h, h, attn_vb.pp(k))?,
            value: Linear::load(h, h, attn_vb.pp(v))?,
            output: Linear::load(h, h, attn_vb.pp(o))?,
            heads: config.num_attention_heads,
            dropout: Dropout::new(config.attention_probs_dropout_prob),
        };
        Ok(Self {
            attention,
            attention_norm: LayerNorm::load(h, config.layer_norm_eps, norm_vb)?,
            intermediate: Linear::load(
                h,
                config.intermediate_size,
                vb.pp("intermediate").pp("dense"),
            )?,
            activation: Activation::from_name(&config.hidden_act),
            output: Linear::load(config.intermediate_size, h, vb.pp("output").pp("dense"))?,
            output_norm: LayerNorm::load(
                h,
                config.layer_norm_eps,
                vb.pp("output").pp("LayerNorm"),
            )?,
            dropout: Dropout::new(config.hidden_dropout_prob),
        })
    }

    /// The layer's dense layers by role: `attention.query`, `.key`, `.value`, `.output`,
    /// `intermediate` and `output` (for quantization).
    pub fn linears_mut(&mut self) -> Vec<(&'static str, &mut Linear)> {
        let a = &mut self.attention;
        vec![
            ("attention.query", &mut a.query),
            ("attention.key", &mut a.key),
            ("attention.value", &mut a.value),
            ("attention.output", &mut a.output),
            ("intermediate", &mut self.intermediate),
            ("output", &mut self.output),
        ]
    }

    /// Runs the layer on `[batch, seq, hidden]` with the additive attention `bias`.
    pub fn forward(&self, x: &Tensor, bias: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let attended = self.attention.forward(x, bias, train)?;
        let attended = self.dropout.forward(&attended, train)?;
        let x = self.attention_norm.forward_residual(&attended, x)?;
        let inner = self.activation.after(&self.intermediate, &x)?;
        let out = self.dropout.forward(&self.output.forward(&inner)?, train)?;
        self.output_norm.forward_residual(&out, &x)
    }

    /// Whether [`EncoderLayer::forward_rows`] can run this layer: every dense layer packed or
    /// int8 and not recording, and an activation the products can fuse (exact GELU).
    pub fn runs_on_rows(&self) -> bool {
        let a = &self.attention;
        [
            &a.query,
            &a.key,
            &a.value,
            &a.output,
            &self.intermediate,
            &self.output,
        ]
        .iter()
        .all(|l| l.runs_on_rows())
            && self.activation.in_place().is_some()
    }

    /// Runs the layer for inference on the real tokens of a ragged batch in `buffers.hidden`
    /// (`[rows, hidden]`, sequence `s` on rows `starts[s]..starts[s + 1]`), leaving the result
    /// there; every intermediate goes into the other buffers (see [`EncoderLayer::runs_on_rows`]).
    pub fn forward_rows(
        &self,
        buffers: &mut RowBuffers,
        starts: &[usize],
        bias: Option<HeadBias<'_>>,
    ) -> candle_core::Result<()> {
        let Some(activation) = self.activation.in_place() else {
            candle_core::bail!("only exact GELU runs fused on rows")
        };
        let rows = starts.last().copied().unwrap_or(0);
        let len = buffers.hidden.len();
        buffers.projected.resize(len, 0.0);
        buffers.spare.resize(len, 0.0);
        buffers
            .inner
            .resize(rows * self.intermediate.out_dim(), 0.0);
        self.attention.forward_rows(
            &buffers.hidden,
            starts,
            bias,
            &mut buffers.attention,
            &mut buffers.projected,
        )?;
        self.attention_norm.forward_residual_rows(
            &buffers.projected,
            &buffers.hidden,
            &mut buffers.spare,
        )?;
        std::mem::swap(&mut buffers.hidden, &mut buffers.spare);
        self.intermediate.forward_rows(
            &buffers.hidden,
            rows,
            &mut buffers.inner,
            Some(&activation),
        )?;
        self.output
            .forward_rows(&buffers.inner, rows, &mut buffers.projected, None)?;
        self.output_norm.forward_residual_rows(
            &buffers.projected,
            &buffers.hidden,
            &mut buffers.spare,
        )?;
        std::mem::swap(&mut buffers.hidden, &mut buffers.spare);
        Ok(())
    }
}
