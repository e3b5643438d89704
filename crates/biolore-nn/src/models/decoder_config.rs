//! A decoder's hyper-parameters, read from a Hugging Face `config.json` or GGUF metadata.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::blocks::RopeStyle;
use crate::error::{ModelError, Result};

/// Which decoder architecture a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderArchitecture {
    /// Llama and its family (SmolLM2, TinyLlama, Mistral-style without sliding windows).
    Llama,
    /// Qwen2 and Qwen2.5 (Llama's shape with biases on the query, key and value projections).
    Qwen2,
}

impl DecoderArchitecture {
    /// The `model_type` of `config.json` (and GGUF's `general.architecture`).
    pub fn as_str(self) -> &'static str {
        match self {
            DecoderArchitecture::Llama => "llama",
            DecoderArchitecture::Qwen2 => "qwen2",
        }
    }

    /// The architecture named by a `model_type` or `general.architecture` string.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "llama" | "mistral" => Some(DecoderArchitecture::Llama),
            "qwen2" => Some(DecoderArchitecture::Qwen2),
            _ => None,
        }
    }
}

/// The fields of a decoder's `config.json` that biolore uses (Hugging Face names).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecoderConfig {
    /// `llama` or `qwen2`.
    pub model_type: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention when fewer than the query heads).
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// RMS-norm epsilon.
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    /// Base of the rotary frequencies.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f32,
    /// Number of positions the model was trained on.
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    /// Whether the language-model head shares the token-embedding table.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token.
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// End-of-sequence token.
    #[serde(default)]
    pub eos_token_id: Option<u32>,
    /// Feed-forward activation (`silu` for both architectures).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Pairing of rotary dimensions; not part of `config.json` (Hugging Face layout there).
    #[serde(skip, default = "default_rope_style")]
    pub rope_style: RopeStyle,
}

fn default_rms_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f32 {
    10_000.0
}
fn default_max_positions() -> usize {
    2048
}
fn default_act() -> String {
    "silu".into()
}
fn default_rope_style() -> RopeStyle {
    RopeStyle::Half
}

impl DecoderConfig {
    /// Reads and validates a decoder's `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let config: DecoderConfig = crate::json::read_json(path)?;
        config.validate(path)?;
        Ok(config)
    }

    /// The architecture named by `model_type`.
    pub fn architecture(&self) -> Option<DecoderArchitecture> {
        DecoderArchitecture::from_name(&self.model_type)
    }

    /// Number of key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }

    /// The `config.json` transformers reads for this decoder (float32 weights).
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = json.as_object_mut() {
            let class = match self.architecture() {
                Some(DecoderArchitecture::Qwen2) => "Qwen2ForCausalLM",
                _ => "LlamaForCausalLM",
            };
            map.insert("architectures".into(), serde_json::json!([class]));
            map.insert("torch_dtype".into(), "float32".into());
            map.insert("num_key_value_heads".into(), self.kv_heads().into());
        }
        json
    }

    /// Checks that the sizes fit together; `path` names the file in the error.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |message: String| ModelError::InvalidConfig {
            path: path.to_path_buf(),
            message,
        };
        if self.architecture().is_none() {
            return Err(ModelError::Unsupported {
                path: path.to_path_buf(),
                message: format!(
                    "decoder model_type '{}' (supported decoders: llama, qwen2)",
                    self.model_type
                ),
            });
        }
        if self.hidden_act != "silu" {
            return Err(ModelError::Unsupported {
                path: path.to_path_buf(),
                message: format!("decoder hidden_act '{}' (only silu)", self.hidden_act),
            });
        }
        let (h, heads, kv) = (self.hidden_size, self.num_attention_heads, self.kv_heads());
        if heads == 0 || h % heads != 0 || !self.head_dim().is_multiple_of(2) {
            return Err(invalid(format!(
                "hidden_size {h} must be a multiple of num_attention_heads {heads} with an even head size"
            )));
        }
        if kv == 0 || heads % kv != 0 {
            return Err(invalid(format!(
                "num_attention_heads {heads} must be a multiple of num_key_value_heads {kv}"
            )));
        }
        if self.vocab_size == 0 || self.num_hidden_layers == 0 || self.intermediate_size == 0 {
            return Err(invalid(
                "vocab_size, num_hidden_layers and intermediate_size must be positive".into(),
            ));
        }
        Ok(())
    }
}
