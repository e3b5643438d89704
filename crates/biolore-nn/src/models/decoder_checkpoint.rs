//! A decoder checkpoint in float32 — configuration, weights by Hugging Face name, tokenizer and
//! chat template — read from a GGUF file or a Hugging Face folder, written as a folder that
//! biolore and transformers both load.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::decoder::float_tensors;
use super::decoder_config::DecoderConfig;
use crate::error::{ModelError, Result};
use crate::gguf::{GgufFile, GgufWeights};

/// Everything needed to rebuild (or train) a decoder, with float32 weights.
#[derive(Debug)]
pub struct DecoderCheckpoint {
    /// The configuration (Hugging Face names; rotary layout always Hugging Face's here).
    pub config: DecoderConfig,
    /// Weights by Hugging Face name.
    pub tensors: HashMap<String, Tensor>,
    /// The tokenizer.
    pub tokenizer: tokenizers::Tokenizer,
    /// The chat template (Jinja), for instruction models.
    pub chat_template: Option<String>,
    /// Text of the beginning-of-sequence token.
    pub bos_token: String,
    /// Text of the end-of-sequence token.
    pub eos_token: String,
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl DecoderCheckpoint {
    /// Reads a GGUF file (dequantizing every weight) or a Hugging Face folder.
    pub fn read(path: &Path, device: &Device) -> Result<Self> {
        if path.is_dir() {
            Self::read_folder(path, device)
        } else {
            Self::read_gguf(path, device)
        }
    }

    /// Reads a GGUF file, dequantized to float32 in Hugging Face's layout.
    pub fn read_gguf(path: &Path, device: &Device) -> Result<Self> {
        let file = GgufFile::open(path)?;
        let config = file.decoder_config()?;
        let weights = GgufWeights::new(&file, &config, false, device);
        let tensors = float_tensors(&config, &weights).map_err(|e| ModelError::InvalidWeights {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let token = |id: Option<u32>| {
            id.and_then(|i| file.token_text(i))
                .unwrap_or("")
                .to_string()
        };
        Ok(Self {
            tokenizer: file.tokenizer()?,
            chat_template: file.chat_template().map(str::to_string),
            bos_token: token(config.bos_token_id),
            eos_token: token(config.eos_token_id),
            config,
            tensors,
        })
    }

    /// Reads a Hugging Face decoder folder (`config.json`, weights, `tokenizer.json`).
    pub fn read_folder(folder: &Path, device: &Device) -> Result<Self> {
        let config = DecoderConfig::from_file(&folder.join("config.json"))?;
        let weights = crate::weights::find_weights(folder)?;
        let tensors = crate::weights::load_tensors(&weights, device)?
            .into_iter()
            .map(|(n, t)| Ok((n, t.to_dtype(DType::F32)?)))
            .collect::<candle_core::Result<HashMap<_, _>>>()?;
        let tokenizer_path = folder.join("tokenizer.json");
        if !tokenizer_path.is_file() {
            return Err(ModelError::MissingFile {
                path: tokenizer_path,
                hint: "a decoder folder needs its tokenizer.json".into(),
            });
        }
        let tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path).map_err(|e| {
            ModelError::Tokenizer {
                context: tokenizer_path.display().to_string(),
                message: e.to_string(),
            }
        })?;
        let tc_path = folder.join("tokenizer_config.json");
        let tc = if tc_path.is_file() {
            crate::json::read_json::<serde_json::Value>(&tc_path)?
        } else {
            serde_json::Value::Null
        };
        let token = |key: &str| -> String {
            match tc.get(key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v
                    .get("content")
                    .and_then(|c| c.as_str())
                    .unwrap_or("")
                    .to_string(),
                None => String::new(),
            }
        };
        Ok(Self {
            chat_template: tc
                .get("chat_template")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            bos_token: token("bos_token"),
            eos_token: token("eos_token"),
            config,
            tensors,
            tokenizer,
        })
    }

    /// Writes `config.json`, `tokenizer.json`, `tokenizer_config.json` and
    /// `generation_config.json` into `out` (the weights are the caller's to write).
    pub fn write_files(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out).map_err(|source| ModelError::Io {
            path: out.to_path_buf(),
            source,
        })?;
        let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
        write(&out.join("config.json"), &pretty(&self.config.to_json()))?;
        let tokenizer_path = out.join("tokenizer.json");
        self.tokenizer
            .save(&tokenizer_path, false)
            .map_err(|e| ModelError::Tokenizer {
                context: tokenizer_path.display().to_string(),
                message: e.to_string(),
            })?;
        let mut tc = serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "model_max_length": self.config.max_position_embeddings,
        });
        if let (Some(t), Some(map)) = (&self.chat_template, tc.as_object_mut()) {
            map.insert("chat_template".into(), t.clone().into());
        }
        write(&out.join("tokenizer_config.json"), &pretty(&tc))?;
        let generation = serde_json::json!({
            "bos_token_id": self.config.bos_token_id,
            "eos_token_id": self.config.eos_token_id,
        });
        write(&out.join("generation_config.json"), &pretty(&generation))
    }
}
