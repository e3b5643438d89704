//! The full transformer encoder: embeddings, layers, and (for MPNet) the shared position bias.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::bert::BertEmbeddings;
use super::config::{Architecture, TransformerConfig};
use super::encoder_layer::EncoderLayer;
use super::encoder_rows::{with_buffers, Ragged};
use super::mpnet::{MpNetEmbeddings, RelativePositionBias};
use crate::blocks::attention_bias;
use crate::kernels::attention::HeadBias;

/// Input embeddings of either architecture.
#[derive(Debug, Clone)]
enum Embeddings {
    Bert(BertEmbeddings),
    MpNet(MpNetEmbeddings),
}

/// A BERT, RoBERTa/XLM-R or MPNet encoder producing token states `[batch, seq, hidden]`.
#[derive(Debug, Clone)]
pub struct Transformer {
    config: TransformerConfig,
    arch: Architecture,
    embeddings: Embeddings,
    layers: Vec<EncoderLayer>,
    position_bias: Option<RelativePositionBias>,
}

/// Prefixes under which checkpoints store the encoder's weights (bare, or under a task head).
const PREFIXES: [&str; 5] = ["", "bert.", "mpnet.", "roberta.", "model."];

impl Transformer {
    /// Builds the encoder from `config` and weights in `vb`; finds the weight-name prefix itself.
    pub fn load(config: &TransformerConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let arch = config.architecture().ok_or_else(|| {
            candle_core::Error::Msg(format!("unsupported model_type '{}'", config.model_type))
        })?;
        let prefix = PREFIXES
            .iter()
            .find(|p| vb.contains_tensor(&format!("{p}embeddings.word_embeddings.weight")))
            .copied()
            .unwrap_or("");
        let vb = if prefix.is_empty() {
            vb
        } else {
            vb.pp(prefix.trim_end_matches('.'))
        };
        let embeddings = match arch {
            Architecture::Bert | Architecture::Roberta => {
                Embeddings::Bert(BertEmbeddings::load(config, vb.pp("embeddings"))?)
            }
            Architecture::MpNet => {
                Embeddings::MpNet(MpNetEmbeddings::load(config, vb.pp("embeddings"))?)
            }
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderLayer::load(config, arch, vb.pp(format!("encoder.layer.{i}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let position_bias = match arch {
            Architecture::MpNet => Some(RelativePositionBias::load(
                config,
                vb.pp("encoder.relative_attention_bias"),
            )?),
            Architecture::Bert | Architecture::Roberta => None,
        };
        Ok(Self {
            config: config.clone(),
            arch,
            embeddings,
            layers,
            position_bias,
        })
    }

    /// The configuration the encoder was built from.
    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    /// The architecture of the encoder.
    pub fn architecture(&self) -> Architecture {
        self.arch
    }

    /// The word-embedding table `[vocab, hidden]`.
    pub fn word_embeddings(&self) -> &Tensor {
        match &self.embeddings {
            Embeddings::Bert(e) => e.word_table(),
            Embeddings::MpNet(e) => e.word_table(),
        }
    }

    /// Every dense layer of the encoder with its layer index and role (see
    /// [`EncoderLayer::linears_mut`]), for quantization.
    pub fn linears_mut(&mut self) -> Vec<(usize, &'static str, &mut crate::blocks::Linear)> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, layer)| {
                layer
                    .linears_mut()
                    .into_iter()
                    .map(move |(role, linear)| (i, role, linear))
            })
            .collect()
    }

    /// Token states for right-padded `ids` `[batch, seq]` with 0/1 `mask`; dropout is on when `train`.
    ///
    /// For inference on the CPU with packed or int8 dense layers (see
    /// [`Transformer::runs_on_rows`]) the layers run on the real tokens only, in buffers the
    /// thread reuses ([`super::encoder_rows`]); the states at padded positions are then zero.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if !train {
            if let Some(states) = self.forward_rows(ids, mask)? {
                return Ok(states);
            }
        }
        self.forward_padded(ids, mask, train)
    }

    /// Token states by the tensor pass over the whole padded batch (the one training
    /// differentiates), whatever the weights; [`Transformer::forward`] picks it except for
    /// inference on rows.
    pub fn forward_padded(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        let (_, t) = ids.dims2()?;
        let mut x = match &self.embeddings {
            Embeddings::Bert(e) => e.forward(ids, mask, train)?,
            Embeddings::MpNet(e) => e.forward(ids, mask, train)?,
        };
        let mut bias = attention_bias(mask)?;
        if let Some(pb) = &self.position_bias {
            bias = pb.forward(t, ids.device())?.broadcast_add(&bias)?;
        }
        for layer in &self.layers {
            x = layer.forward(&x, &bias, train)?;
        }
        Ok(x)
    }

    /// Whether inference runs on the real tokens in reused buffers: a CPU encoder whose every
    /// layer [`EncoderLayer::runs_on_rows`] (packed or int8 dense layers, exact GELU), with the
    /// BLAS for the attention's products.
    pub fn runs_on_rows(&self) -> bool {
        crate::kernels::gemm::available()
            && self.word_embeddings().device().is_cpu()
            && self.layers.iter().all(EncoderLayer::runs_on_rows)
    }

    /// The inference pass of [`super::encoder_rows`], or `None` where it does not apply (see
    /// [`Transformer::runs_on_rows`]; a mask that is not right-padded or not shaped as `ids`;
    /// no real token; more activations than the BLAS indexes).
    fn forward_rows(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Option<Tensor>> {
        if !self.runs_on_rows() || !ids.device().is_cpu() || mask.dims() != ids.dims() {
            return Ok(None);
        }
        let Some(ragged) = Ragged::from_mask(mask)? else {
            return Ok(None);
        };
        let hidden = self.config.hidden_size;
        let fits = |len: usize| {
            len.checked_mul(hidden)
                .is_some_and(|n| i32::try_from(n).is_ok())
        };
        if ragged.rows() == 0 || !fits(ragged.rows()) {
            return Ok(None);
        }
        let (b, t) = ids.dims2()?;
        let embedded = match &self.embeddings {
            Embeddings::Bert(e) => e.forward(ids, mask, false)?,
            Embeddings::MpNet(e) => e.forward(ids, mask, false)?,
        }
        .contiguous()?;
        if embedded.dims() != [b, t, hidden] {
            return Ok(None);
        }
        let position_bias = match &self.position_bias {
            Some(pb) => Some(pb.forward(t, ids.device())?),
            None => None,
        };
        let states = {
            let (storage, layout) = embedded.storage_and_layout();
            let Some(embedded) = crate::kernels::storage_f32(&storage, layout) else {
                return Ok(None);
            };
            let bias_guard = position_bias.as_ref().map(|pb| pb.storage_and_layout());
            let bias = match &bias_guard {
                Some((s, l)) => match crate::kernels::storage_f32(s, l) {
                    Some(data) => Some(HeadBias { data, t }),
                    None => return Ok(None),
                },
                None => None,
            };
            with_buffers(|buffers| -> candle_core::Result<Vec<f32>> {
                ragged.gather(embedded, hidden, &mut buffers.hidden);
                for layer in &self.layers {
                    layer.forward_rows(buffers, &ragged.starts, bias)?;
                }
                Ok(ragged.scatter(&buffers.hidden, hidden))
            })?
        };
        Tensor::from_vec(states, (b, t, hidden), ids.device()).map(Some)
    }
}
