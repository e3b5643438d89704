//! Reading a sentence-transformers model folder: `modules.json`, pooling, normalisation, limits.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{EncoderError, Result};
use crate::pooling::Pooling;
use biolore_nn::json::read_json;
use biolore_nn::models::{Architecture, TransformerConfig};
use biolore_nn::weights::find_weights;

/// Everything a model folder says about how to turn text into a vector.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// The folder itself.
    pub folder: PathBuf,
    /// The transformer's `config.json`.
    pub config: TransformerConfig,
    /// The pooling module (mean when the folder is a plain transformers checkpoint).
    pub pooling: Pooling,
    /// Whether a `Normalize` module follows pooling.
    pub normalize: bool,
    /// Tokens per text after truncation, special tokens included.
    pub max_seq_length: usize,
    /// Path of `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// Path of the weights file.
    pub weights: PathBuf,
}

#[derive(Debug, Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct SbertConfig {
    max_seq_length: Option<usize>,
}

impl ModelSpec {
    /// Reads the folder's configuration files; weights and tokenizer are located, not loaded.
    pub fn read(folder: &Path) -> Result<Self> {
        if !folder.is_dir() {
            return Err(EncoderError::MissingFile {
                path: folder.to_path_buf(),
                hint: "not a model folder".into(),
            });
        }
        let config = TransformerConfig::from_file(&folder.join("config.json"))?;
        let modules_path = folder.join("modules.json");
        let (mut pooling, mut normalize) = (Pooling::Mean, false);
        if modules_path.is_file() {
            let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
            let mut saw_transformer = false;
            let mut saw_pooling = false;
            for m in &modules {
                let kind = m.kind.rsplit('.').next().unwrap_or(&m.kind);
                match kind {
                    "Transformer" => saw_transformer = true,
                    "Pooling" => {
                        let p = folder.join(&m.path).join("config.json");
                        if !p.is_file() {
                            return Err(EncoderError::MissingFile {
                                path: p,
                                hint: "modules.json lists a Pooling module".into(),
                            });
                        }
                        pooling = Pooling::from_file(&p)?;
                        saw_pooling = true;
                    }
                    "Normalize" => normalize = true,
                    other => {
                        return Err(EncoderError::Unsupported {
                            path: modules_path.clone(),
                            message: format!(
                                "module '{other}' (supported: Transformer, Pooling, Normalize)"
                            ),
                        })
                    }
                }
            }
            if !saw_transformer {
                return Err(EncoderError::InvalidConfig {
                    path: modules_path,
                    message: "no Transformer module is listed".into(),
                });
            }
            if !saw_pooling {
                tracing::warn!(
                    "{} lists no Pooling module; using mean pooling",
                    modules_path.display()
                );
            }
        } else {
            tracing::warn!(
                "{} has no modules.json: treating it as a plain transformers checkpoint with mean pooling",
                folder.display()
            );
        }
        let sbert_path = folder.join("sentence_bert_config.json");
        let position_limit = match config.architecture() {
            // MPNet and RoBERTa-style models reserve positions 0..=padding_idx.
            Some(Architecture::MpNet | Architecture::Roberta) => {
                config.max_position_embeddings - 2.min(config.max_position_embeddings)
            }
            _ => config.max_position_embeddings,
        };
        let max_seq_length = if sbert_path.is_file() {
            let c: SbertConfig = read_json(&sbert_path)?;
            c.max_seq_length.unwrap_or(position_limit)
        } else {
            position_limit.min(512)
        };
        if max_seq_length > position_limit || max_seq_length < 2 {
            return Err(EncoderError::InvalidConfig {
                path: sbert_path,
                message: format!(
                    "max_seq_length {max_seq_length} must be between 2 and the model's {position_limit} positions"
                ),
            });
        }
        Ok(Self {
            folder: folder.to_path_buf(),
            weights: find_weights(folder)?,
            tokenizer: folder.join("tokenizer.json"),
            config,
            pooling,
            normalize,
            max_seq_length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }

    const BERT_CONFIG: &str = r#"{"model_type":"bert","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,
        "num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":32}"#;

    #[test]
    fn reads_modules_pooling_and_limits() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "config.json", BERT_CONFIG);
        write(d.path(), "model.safetensors", "");
        write(
            d.path(),
            "modules.json",
            r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
                {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
                {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#,
        );
        write(
            d.path(),
            "1_Pooling/config.json",
            r#"{"pooling_mode_cls_token": true}"#,
        );
        write(
            d.path(),
            "sentence_bert_config.json",
            r#"{"max_seq_length": 16}"#,
        );
        let spec = ModelSpec::read(d.path()).unwrap();
        assert_eq!(spec.pooling, Pooling::Cls);
        assert!(spec.normalize);
        assert_eq!(spec.max_seq_length, 16);
    }

    #[test]
    fn bad_folders_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let e = ModelSpec::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        write(d.path(), "config.json", r#"{"model_type":"gpt2"}"#);
        let e = ModelSpec::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
        write(d.path(), "config.json", BERT_CONFIG);
        let e = ModelSpec::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("model.safetensors"), "{e}");
        write(d.path(), "model.safetensors", "");
        write(d.path(), "modules.json", "[{\"path\": \"\"");
        let e = ModelSpec::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("modules.json"), "{e}");
        write(
            d.path(),
            "modules.json",
            r#"[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#,
        );
        let e = ModelSpec::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("Dense"), "{e}");
        write(
            d.path(),
            "modules.json",
            r#"[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#,
        );
        let e = ModelSpec::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("1_Pooling"), "{e}");
    }
}
