//! An encoder's `config.json`, for the encoder architectures biolore runs.

use std::path::Path;

use serde::Deserialize;

use crate::error::{ModelError, Result};

/// Which encoder architecture a model folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// BERT and its relatives (MiniLM, PubMedBERT, BioBERT, SapBERT).
    Bert,
    /// MPNet (all-mpnet-base-v2, BioLORD-2023).
    MpNet,
    /// RoBERTa and XLM-RoBERTa (BioLORD-2023-M): BERT's layers, positions counted from `pad_token_id + 1`.
    Roberta,
}

impl Architecture {
    /// The `model_type` string of `config.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::MpNet => "mpnet",
            Architecture::Roberta => "xlm-roberta",
        }
    }
}

/// The fields of `config.json` the encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub struct TransformerConfig {
    /// `bert`, `mpnet`, `roberta` or `xlm-roberta` (see [`TransformerConfig::architecture`]).
    pub model_type: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden size (768 for base models).
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Number of attention heads.
    pub num_attention_heads: usize,
    /// Size of the feed-forward layer.
    pub intermediate_size: usize,
    /// Activation of the feed-forward layer.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Dropout on hidden states (used in training).
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities (used in training).
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Number of position embeddings.
    pub max_position_embeddings: usize,
    /// Number of token types (BERT).
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id (MPNet derives position ids from it).
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// Relative attention buckets (MPNet).
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: usize,
    /// Position embedding type (BERT; only `absolute` is supported).
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_buckets() -> usize {
    32
}

impl TransformerConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let config: TransformerConfig = crate::json::read_json(path).map_err(|e| match e {
            ModelError::MissingFile { path, .. } => ModelError::MissingFile {
                path,
                hint: "every transformer model folder has a config.json".into(),
            },
            other => other,
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// The architecture named by `model_type`.
    pub fn architecture(&self) -> Option<Architecture> {
        match self.model_type.as_str() {
            "bert" => Some(Architecture::Bert),
            "mpnet" => Some(Architecture::MpNet),
            "xlm-roberta" | "roberta" | "camembert" => Some(Architecture::Roberta),
            _ => None,
        }
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let unsupported = |message: String| ModelError::Unsupported {
            path: path.to_path_buf(),
            message,
        };
        if self.architecture().is_none() {
            return Err(unsupported(format!(
                "model_type '{}' (supported encoders: bert, mpnet, roberta, xlm-roberta)",
                self.model_type
            )));
        }
        if !matches!(
            self.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_pytorch_tanh" | "relu"
        ) {
            return Err(unsupported(format!("hidden_act '{}'", self.hidden_act)));
        }
        if let Some(kind) = &self.position_embedding_type {
            if kind != "absolute" {
                return Err(unsupported(format!("position_embedding_type '{kind}'")));
            }
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(ModelError::InvalidConfig {
                path: path.to_path_buf(),
                message: format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            });
        }
        Ok(())
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}
