//! Llama-family and Qwen2 decoders: token embeddings, pre-norm layers of causal attention and
//! SwiGLU, a final RMS norm and the language-model head.

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::decoder_config::{DecoderArchitecture, DecoderConfig};
use crate::blocks::{CausalSelfAttention, DecoderCache, Linear, RmsNorm, RotaryEmbedding, SwiGlu};

/// Where a decoder's weights come from, by their Hugging Face names
/// (`model.layers.0.self_attn.q_proj.weight`, …): a safetensors folder, or a GGUF file.
pub trait DecoderWeights {
    /// A float tensor (dequantized if need be) of the given shape.
    fn tensor(&self, name: &str, shape: &[usize]) -> candle_core::Result<Tensor>;
    /// A dense layer `prefix.weight` `[out, in]`, with `prefix.bias` when `bias` is true.
    fn linear(
        &self,
        prefix: &str,
        in_dim: usize,
        out_dim: usize,
        bias: bool,
    ) -> candle_core::Result<Linear>;
    /// Whether the checkpoint holds a tensor of that name.
    fn contains(&self, name: &str) -> bool;
}

/// Every weight a decoder of `config` has, by Hugging Face name, with its shape.
pub fn tensor_shapes(config: &DecoderConfig) -> Vec<(String, Vec<usize>)> {
    let (h, hd, m) = (
        config.hidden_size,
        config.head_dim(),
        config.intermediate_size,
    );
    let (q, kv) = (config.num_attention_heads * hd, config.kv_heads() * hd);
    let qkv_bias = config.architecture() == Some(DecoderArchitecture::Qwen2);
    let mut out = vec![
        (
            "model.embed_tokens.weight".to_string(),
            vec![config.vocab_size, h],
        ),
        ("model.norm.weight".to_string(), vec![h]),
    ];
    if !config.tie_word_embeddings {
        out.push(("lm_head.weight".to_string(), vec![config.vocab_size, h]));
    }
    for i in 0..config.num_hidden_layers {
        let p = format!("model.layers.{i}");
        let mut layer = vec![
            (format!("{p}.input_layernorm.weight"), vec![h]),
            (format!("{p}.post_attention_layernorm.weight"), vec![h]),
            (format!("{p}.self_attn.q_proj.weight"), vec![q, h]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.o_proj.weight"), vec![h, q]),
            (format!("{p}.mlp.gate_proj.weight"), vec![m, h]),
            (format!("{p}.mlp.up_proj.weight"), vec![m, h]),
            (format!("{p}.mlp.down_proj.weight"), vec![h, m]),
        ];
        if qkv_bias {
            layer.push((format!("{p}.self_attn.q_proj.bias"), vec![q]));
            layer.push((format!("{p}.self_attn.k_proj.bias"), vec![kv]));
            layer.push((format!("{p}.self_attn.v_proj.bias"), vec![kv]));
        }
        out.extend(layer);
    }
    out
}

/// Every weight of a decoder of `config` read from `weights` as float32, by Hugging Face name.
pub fn float_tensors(
    config: &DecoderConfig,
    weights: &dyn DecoderWeights,
) -> candle_core::Result<std::collections::HashMap<String, Tensor>> {
    tensor_shapes(config)
        .into_iter()
        .map(|(name, shape)| {
            let t = weights.tensor(&name, &shape)?;
            Ok((name, t))
        })
        .collect()
}

/// One pre-norm decoder layer.
#[derive(Debug, Clone)]
struct DecoderLayer {
    input_norm: RmsNorm,
    attention: CausalSelfAttention,
    post_norm: RmsNorm,
    mlp: SwiGlu,
}

/// A decoder language model producing next-token logits.
#[derive(Debug, Clone)]
pub struct Decoder {
    config: DecoderConfig,
    embed: Tensor,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Linear,
}

impl Decoder {
    /// Builds the decoder `config` describes from `weights`, with rotary tables on `device`.
    pub fn load(
        config: &DecoderConfig,
        weights: &dyn DecoderWeights,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let arch = config.architecture().ok_or_else(|| {
            candle_core::Error::Msg(format!("unsupported decoder '{}'", config.model_type))
        })?;
        let (h, hd) = (config.hidden_size, config.head_dim());
        let (heads, kv) = (config.num_attention_heads, config.kv_heads());
        let qkv_bias = arch == DecoderArchitecture::Qwen2;
        let rope = Arc::new(RotaryEmbedding::new(
            hd,
            config.max_position_embeddings,
            config.rope_theta,
            config.rope_style,
            device,
        )?);
        let eps = config.rms_norm_eps;
        let norm = |name: &str| -> candle_core::Result<RmsNorm> {
            Ok(RmsNorm::new(weights.tensor(name, &[h])?, eps))
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let attention = CausalSelfAttention {
                query: weights.linear(&format!("{p}.self_attn.q_proj"), h, heads * hd, qkv_bias)?,
                key: weights.linear(&format!("{p}.self_attn.k_proj"), h, kv * hd, qkv_bias)?,
                value: weights.linear(&format!("{p}.self_attn.v_proj"), h, kv * hd, qkv_bias)?,
                output: weights.linear(&format!("{p}.self_attn.o_proj"), heads * hd, h, false)?,
                heads,
                kv_heads: kv,
                head_dim: hd,
                rope: rope.clone(),
            };
            let m = config.intermediate_size;
            let mlp = SwiGlu {
                gate: weights.linear(&format!("{p}.mlp.gate_proj"), h, m, false)?,
                up: weights.linear(&format!("{p}.mlp.up_proj"), h, m, false)?,
                down: weights.linear(&format!("{p}.mlp.down_proj"), m, h, false)?,
            };
            layers.push(DecoderLayer {
                input_norm: norm(&format!("{p}.input_layernorm.weight"))?,
                attention,
                post_norm: norm(&format!("{p}.post_attention_layernorm.weight"))?,
                mlp,
            });
        }
        let embed = weights.tensor("model.embed_tokens.weight", &[config.vocab_size, h])?;
        let lm_head = if weights.contains("lm_head.weight") && !config.tie_word_embeddings {
            weights.linear("lm_head", h, config.vocab_size, false)?
        } else {
            weights.linear("model.embed_tokens", h, config.vocab_size, false)?
        };
        Ok(Self {
            config: config.clone(),
            embed,
            layers,
            norm: norm("model.norm.weight")?,
            lm_head,
        })
    }

    /// Packs every float32 dense layer (and a float32 head) once for the CPU inference GEMM
    /// ([`crate::kernels::packed_gemm`]), so that a decoding step does not copy each weight;
    /// returns how many layers were packed. Does nothing off the CPU, below AVX2 or with
    /// `BIOLORE_GEMM=blas`; quantized layers stay as they are.
    pub fn pack_for_inference(&mut self) -> candle_core::Result<usize> {
        let mut packed = 0;
        for layer in &mut self.layers {
            let a = &mut layer.attention;
            for linear in [
                &mut a.query,
                &mut a.key,
                &mut a.value,
                &mut a.output,
                &mut layer.mlp.gate,
                &mut layer.mlp.up,
                &mut layer.mlp.down,
            ] {
                packed += usize::from(linear.pack_in_place()?);
            }
        }
        packed += usize::from(self.lm_head.pack_in_place()?);
        Ok(packed)
    }

    /// The configuration the decoder was built from.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Number of layers (the size of a [`DecoderCache`] for this model).
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// A fresh, empty KV cache for this model.
    pub fn new_cache(&self) -> DecoderCache {
        DecoderCache::new(self.layers.len())
    }

    /// Final hidden states `[batch, t, hidden]` of `ids` `[batch, t]` at positions `offset..`.
    ///
    /// With a `cache`, `offset` must equal its length and this step's keys and values are
    /// appended to it. Sequences in a batch are right-padded (padding never influences earlier
    /// positions under the causal mask).
    pub fn forward(
        &self,
        ids: &Tensor,
        offset: usize,
        mut cache: Option<&mut DecoderCache>,
    ) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let mut x = self.embed.index_select(&ids.flatten_all()?, 0)?.reshape((
            b,
            t,
            self.config.hidden_size,
        ))?;
        for (i, layer) in self.layers.iter().enumerate() {
            let layer_cache = match cache.as_deref_mut() {
                Some(c) => Some(c.layer_mut(i).ok_or_else(|| {
                    candle_core::Error::Msg(format!("the KV cache has no layer {i}"))
                })?),
                None => None,
            };
            let a = layer.attention.forward(
                &layer.input_norm.forward(&x)?,
                offset,
                layer_cache,
                None,
            )?;
            x = (x + a)?;
            let f = layer.mlp.forward(&layer.post_norm.forward(&x)?)?;
            x = (x + f)?;
        }
        self.norm.forward(&x)
    }

    /// Next-token logits `[.., vocab]` of hidden states `[.., hidden]`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.lm_head.forward(hidden)
    }
}
