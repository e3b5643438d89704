//! GGUF files (llama.cpp's format): metadata, tensors (quantized or dequantized to float32),
//! the decoder's configuration, its tokenizer and its chat template.
//!
//! Every header field is checked against the file before anything is allocated for it, so a
//! truncated or corrupt file is an error naming the file, never a panic.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Tensor};

use crate::blocks::{Linear, RopeStyle};
use crate::error::{ModelError, Result};
use crate::models::decoder::DecoderWeights;
use crate::models::{DecoderArchitecture, DecoderConfig};

/// Token types in `tokenizer.ggml.token_type` that are added tokens (control, user-defined).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// An open GGUF file: its parsed header and a reader for tensor data.
pub struct GgufFile {
    path: PathBuf,
    content: Content,
    reader: Mutex<BufReader<File>>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("tensors", &self.content.tensor_infos.len())
            .finish()
    }
}

impl GgufFile {
    /// Opens and validates a GGUF file's header and tensor table.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ModelError::MissingFile {
                path: path.to_path_buf(),
                hint: "no such GGUF file".into(),
            },
            _ => ModelError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        let file_size = file
            .metadata()
            .map_err(|source| ModelError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        let mut reader = BufReader::new(file);
        let invalid = |message: String| ModelError::InvalidWeights {
            path: path.to_path_buf(),
            message,
        };
        // candle's reader bounds its allocations by the file size; a header it did not foresee
        // (such as a zero alignment) must still not take the process down.
        let content =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Content::read(&mut reader)))
                .map_err(|_| invalid("not a readable GGUF file (corrupt header)".into()))?
                .map_err(|e| invalid(format!("not a readable GGUF file: {e}")))?;
        for (name, info) in &content.tensor_infos {
            let elems = info
                .shape
                .dims()
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| invalid(format!("tensor '{name}' has an impossible shape")))?;
            let block = info.ggml_dtype.block_size();
            if elems % block != 0 {
                return Err(invalid(format!(
                    "tensor '{name}' has {elems} values, not a multiple of its {:?} block size {block}",
                    info.ggml_dtype
                )));
            }
            let bytes = (elems / block) as u64 * info.ggml_dtype.type_size() as u64;
            let end = content
                .tensor_data_offset
                .checked_add(info.offset)
                .and_then(|s| s.checked_add(bytes));
            if end.is_none_or(|e| e > file_size) {
                return Err(invalid(format!(
                    "tensor '{name}' reaches past the end of the file ({file_size} bytes): truncated?"
                )));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            content,
            reader: Mutex::new(reader),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A metadata value.
    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    /// A string metadata value.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata(key)
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
    }

    /// An integer metadata value of any width.
    pub fn metadata_u64(&self, key: &str) -> Option<u64> {
        match self.metadata(key)? {
            Value::U8(v) => Some(u64::from(*v)),
            Value::U16(v) => Some(u64::from(*v)),
            Value::U32(v) => Some(u64::from(*v)),
            Value::U64(v) => Some(*v),
            Value::I8(v) => u64::try_from(*v).ok(),
            Value::I16(v) => u64::try_from(*v).ok(),
            Value::I32(v) => u64::try_from(*v).ok(),
            Value::I64(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// A float metadata value.
    pub fn metadata_f64(&self, key: &str) -> Option<f64> {
        match self.metadata(key)? {
            // The shortest decimal that reads back as this f32 (1e-5, not 9.99999974e-6).
            Value::F32(v) => Some(v.to_string().parse().unwrap_or(f64::from(*v))),
            Value::F64(v) => Some(*v),
            _ => self.metadata_u64(key).map(|v| v as f64),
        }
    }

    fn invalid(&self, message: String) -> ModelError {
        ModelError::InvalidWeights {
            path: self.path.clone(),
            message,
        }
    }

    fn required_u64(&self, key: &str) -> Result<usize> {
        self.metadata_u64(key)
            .map(|v| v as usize)
            .ok_or_else(|| self.invalid(format!("metadata '{key}' is missing or not an integer")))
    }

    /// Whether the file holds a tensor of that (GGUF) name.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Names and quantization types of the tensors.
    pub fn tensor_types(&self) -> HashMap<&str, GgmlDType> {
        self.content
            .tensor_infos
            .iter()
            .map(|(n, i)| (n.as_str(), i.ggml_dtype))
            .collect()
    }

    /// Reads one tensor as stored (quantized or float).
    pub fn qtensor(&self, name: &str, device: &Device) -> Result<QTensor> {
        let mut reader = self.reader.lock().map_err(|_| {
            self.invalid("the file reader was poisoned by an earlier failure".into())
        })?;
        self.content
            .tensor(&mut *reader, name, device)
            .map_err(|e| self.invalid(format!("tensor '{name}': {e}")))
    }

    /// The decoder configuration the metadata describes (Hugging Face field names).
    pub fn decoder_config(&self) -> Result<DecoderConfig> {
        let arch_name = self
            .metadata_str("general.architecture")
            .ok_or_else(|| self.invalid("metadata 'general.architecture' is missing".into()))?
            .to_string();
        let Some(arch) = DecoderArchitecture::from_name(&arch_name) else {
            return Err(ModelError::Unsupported {
                path: self.path.clone(),
                message: format!(
                    "GGUF architecture '{arch_name}' (supported decoders: llama, qwen2)"
                ),
            });
        };
        let key = |k: &str| format!("{arch_name}.{k}");
        let heads = self.required_u64(&key("attention.head_count"))?;
        let vocab_size = match self.metadata("tokenizer.ggml.tokens") {
            Some(Value::Array(tokens)) => tokens.len(),
            _ => self.required_u64(&key("vocab_size"))?,
        };
        let config = DecoderConfig {
            model_type: arch.as_str().to_string(),
            vocab_size,
            hidden_size: self.required_u64(&key("embedding_length"))?,
            num_hidden_layers: self.required_u64(&key("block_count"))?,
            num_attention_heads: heads,
            num_key_value_heads: Some(
                self.metadata_u64(&key("attention.head_count_kv"))
                    .map_or(heads, |v| v as usize),
            ),
            intermediate_size: self.required_u64(&key("feed_forward_length"))?,
            rms_norm_eps: self
                .metadata_f64(&key("attention.layer_norm_rms_epsilon"))
                .unwrap_or(1e-6),
            rope_theta: self
                .metadata_f64(&key("rope.freq_base"))
                .unwrap_or(10_000.0) as f32,
            max_position_embeddings: self
                .metadata_u64(&key("context_length"))
                .map_or(2048, |v| v as usize),
            tie_word_embeddings: !self.has_tensor("output.weight"),
            bos_token_id: self
                .metadata_u64("tokenizer.ggml.bos_token_id")
                .map(|v| v as u32),
            eos_token_id: self
                .metadata_u64("tokenizer.ggml.eos_token_id")
                .map(|v| v as u32),
            hidden_act: "silu".into(),
            rope_style: RopeStyle::Half,
        };
        config.validate(&self.path)?;
        Ok(config)
    }

    /// The chat template (Jinja) the file carries, if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.metadata_str("tokenizer.chat_template")
    }

    /// The text of token `id` in the vocabulary.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        match self.metadata("tokenizer.ggml.tokens")? {
            Value::Array(tokens) => tokens
                .get(id as usize)?
                .to_string()
                .ok()
                .map(String::as_str),
            _ => None,
        }
    }

    /// The tokenizer the file describes, as a Hugging Face `tokenizers` tokenizer.
    ///
    /// Byte-level BPE vocabularies (`tokenizer.ggml.model = gpt2`, as SmolLM2 and Qwen2 use)
    /// are supported, with the pre-tokenizer `tokenizer.ggml.pre` names.
    pub fn tokenizer(&self) -> Result<tokenizers::Tokenizer> {
        let model = self.metadata_str("tokenizer.ggml.model").unwrap_or("");
        if model != "gpt2" {
            return Err(ModelError::Unsupported {
                path: self.path.clone(),
                message: format!(
                    "tokenizer model '{model}' (supported: gpt2, the byte-level BPE of Llama-3, SmolLM2 and Qwen2)"
                ),
            });
        }
        let strings = |key: &str| -> Result<Vec<&str>> {
            match self.metadata(key) {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.to_string().map(String::as_str))
                    .collect::<candle_core::Result<Vec<_>>>()
                    .map_err(|_| self.invalid(format!("metadata '{key}' holds a non-string"))),
                _ => Err(self.invalid(format!("metadata '{key}' is missing"))),
            }
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let types: Vec<i32> = match self.metadata("tokenizer.ggml.token_type") {
            Some(Value::Array(items)) => items.iter().map(|v| v.to_i32().unwrap_or(1)).collect(),
            _ => vec![1; tokens.len()],
        };
        let vocab: serde_json::Map<String, serde_json::Value> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), serde_json::Value::from(i as u64)))
            .collect();
        let added: Vec<serde_json::Value> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                matches!(
                    types.get(*i),
                    Some(&TOKEN_TYPE_CONTROL) | Some(&TOKEN_TYPE_USER_DEFINED)
                )
            })
            .map(|(i, t)| {
                serde_json::json!({
                    "id": i, "content": t, "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": false,
                    "special": types.get(i) == Some(&TOKEN_TYPE_CONTROL),
                })
            })
            .collect();
        let byte_level = |use_regex: bool| {
            serde_json::json!({"type": "ByteLevel", "add_prefix_space": false,
                               "trim_offsets": true, "use_regex": use_regex})
        };
        let pre = self.metadata_str("tokenizer.ggml.pre").unwrap_or("default");
        let (normalizer, pre_tokenizer) = match pre {
            "smollm" => (
                serde_json::Value::Null,
                serde_json::json!({"type": "Sequence", "pretokenizers": [
                    {"type": "Digits", "individual_digits": true}, byte_level(true)]}),
            ),
            "qwen2" => (
                serde_json::json!({"type": "NFC"}),
                serde_json::json!({"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN},
                     "behavior": "Isolated", "invert": false},
                    byte_level(false)]}),
            ),
            other => {
                if other != "gpt-2" && other != "default" {
                    tracing::warn!(
                        "{}: pre-tokenizer '{other}' is not known; using GPT-2's",
                        self.path.display()
                    );
                }
                (serde_json::Value::Null, byte_level(true))
            }
        };
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": added, "normalizer": normalizer, "pre_tokenizer": pre_tokenizer,
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                        "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null,
                      "continuing_subword_prefix": null, "end_of_word_suffix": null,
                      "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": merges},
        });
        json.to_string()
            .parse::<tokenizers::Tokenizer>()
            .map_err(|e| ModelError::Tokenizer {
                context: self.path.display().to_string(),
                message: e.to_string(),
            })
    }
}

/// Qwen2's pre-tokenization regex (from its `tokenizer.json`).
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Decoder weights read from a GGUF file, quantized (inference) or dequantized to float32.
#[derive(Debug)]
pub struct GgufWeights<'a> {
    file: &'a GgufFile,
    config: DecoderConfig,
    quantized: bool,
    device: Device,
}

impl<'a> GgufWeights<'a> {
    /// Weights of `file` for a decoder of `config`. With `quantized`, dense layers keep their
    /// quantized blocks and Llama's rotary layout stays llama.cpp's (see
    /// [`GgufWeights::rope_style`]); without, everything is float32 in Hugging Face's layout.
    pub fn new(
        file: &'a GgufFile,
        config: &DecoderConfig,
        quantized: bool,
        device: &Device,
    ) -> Self {
        Self {
            file,
            config: config.clone(),
            quantized,
            device: device.clone(),
        }
    }

    /// The rotary layout the loaded weights need.
    ///
    /// llama.cpp stores Llama-family query/key rows permuted for interleaved rotation; float
    /// weights are permuted back to Hugging Face's layout, quantized ones are used as stored.
    pub fn rope_style(&self) -> RopeStyle {
        if self.quantized && self.config.architecture() == Some(DecoderArchitecture::Llama) {
            RopeStyle::Interleaved
        } else {
            RopeStyle::Half
        }
    }

    /// The GGUF name of a Hugging Face tensor name.
    pub fn gguf_name(name: &str) -> String {
        let (stem, suffix) = match name.rsplit_once('.') {
            Some((s, x)) if x == "weight" || x == "bias" => (s, x),
            _ => (name, ""),
        };
        let stem = match stem {
            "model.embed_tokens" => "token_embd".to_string(),
            "model.norm" => "output_norm".to_string(),
            "lm_head" => "output".to_string(),
            s => match s
                .strip_prefix("model.layers.")
                .and_then(|r| r.split_once('.'))
            {
                Some((i, rest)) => {
                    let part = match rest {
                        "input_layernorm" => "attn_norm",
                        "post_attention_layernorm" => "ffn_norm",
                        "self_attn.q_proj" => "attn_q",
                        "self_attn.k_proj" => "attn_k",
                        "self_attn.v_proj" => "attn_v",
                        "self_attn.o_proj" => "attn_output",
                        "mlp.gate_proj" => "ffn_gate",
                        "mlp.up_proj" => "ffn_up",
                        "mlp.down_proj" => "ffn_down",
                        other => other,
                    };
                    format!("blk.{i}.{part}")
                }
                None => s.to_string(),
            },
        };
        if suffix.is_empty() {
            stem
        } else {
            format!("{stem}.{suffix}")
        }
    }

    /// How many heads share a permuted block, for query (`Some(heads)`) or key rows.
    fn permuted_heads(&self, name: &str) -> Option<usize> {
        if self.config.architecture() != Some(DecoderArchitecture::Llama) {
            return None;
        }
        if name.contains("self_attn.q_proj") {
            Some(self.config.num_attention_heads)
        } else if name.contains("self_attn.k_proj") {
            Some(self.config.kv_heads())
        } else {
            None
        }
    }

    fn read(&self, name: &str) -> candle_core::Result<QTensor> {
        let gguf = Self::gguf_name(name);
        if !self.file.has_tensor(&gguf) {
            candle_core::bail!("tensor '{gguf}' ({name}) is missing")
        }
        self.file
            .qtensor(&gguf, &self.device)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    }

    fn check_shape(name: &str, got: &[usize], want: &[usize]) -> candle_core::Result<()> {
        if got != want {
            candle_core::bail!(
                "tensor '{name}' has shape {got:?}, the configuration needs {want:?}"
            )
        }
        Ok(())
    }

    /// Float32 tensor in Hugging Face's layout.
    fn float(&self, name: &str, shape: &[usize]) -> candle_core::Result<Tensor> {
        let q = self.read(name)?;
        Self::check_shape(name, q.shape().dims(), shape)?;
        let t = q.dequantize(&self.device)?.to_dtype(DType::F32)?;
        match self.permuted_heads(name) {
            Some(heads) => unpermute_rows(&t, heads),
            None => Ok(t),
        }
    }
}

/// Undoes llama.cpp's permutation of query/key rows (interleaved → half-split rotary layout).
pub fn unpermute_rows(t: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let dims = t.dims().to_vec();
    let rows = dims[0];
    let rest: usize = dims[1..].iter().product();
    let hd = rows / heads.max(1);
    t.reshape((heads, hd / 2, 2, rest))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape(dims)
}

impl DecoderWeights for GgufWeights<'_> {
    fn tensor(&self, name: &str, shape: &[usize]) -> candle_core::Result<Tensor> {
        self.float(name, shape)
    }

    fn linear(
        &self,
        prefix: &str,
        in_dim: usize,
        out_dim: usize,
        bias: bool,
    ) -> candle_core::Result<Linear> {
        let weight_name = format!("{prefix}.weight");
        let bias = if bias {
            let b = self.read(&format!("{prefix}.bias"))?;
            Self::check_shape(&format!("{prefix}.bias"), b.shape().dims(), &[out_dim])?;
            Some(b.dequantize(&self.device)?.to_dtype(DType::F32)?)
        } else {
            None
        };
        if self.quantized {
            let q = self.read(&weight_name)?;
            Self::check_shape(&weight_name, q.shape().dims(), &[out_dim, in_dim])?;
            return Ok(Linear::quantized(QMatMul::from_qtensor(q)?, out_dim, bias));
        }
        let w = self.float(&weight_name, &[out_dim, in_dim])?;
        let bias = match (bias, self.permuted_heads(prefix)) {
            (Some(b), Some(heads)) => Some(unpermute_rows(&b, heads)?),
            (b, _) => b,
        };
        Linear::new(w, bias)
    }

    fn contains(&self, name: &str) -> bool {
        self.file.has_tensor(&Self::gguf_name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugging_face_names_map_to_gguf_names() {
        for (hf, gguf) in [
            ("model.embed_tokens.weight", "token_embd.weight"),
            ("model.norm.weight", "output_norm.weight"),
            ("lm_head.weight", "output.weight"),
            ("model.layers.3.self_attn.q_proj.bias", "blk.3.attn_q.bias"),
            (
                "model.layers.12.mlp.down_proj.weight",
                "blk.12.ffn_down.weight",
            ),
            (
                "model.layers.0.post_attention_layernorm.weight",
                "blk.0.ffn_norm.weight",
            ),
        ] {
            assert_eq!(GgufWeights::gguf_name(hf), gguf);
        }
    }

    #[test]
    fn unpermuting_inverts_llama_cpp_permutation() {
        // llama.cpp: w.reshape(heads, 2, hd/2, in).swapaxes(1, 2).reshape(w.shape)
        let dev = Device::Cpu;
        let (heads, hd, inp) = (2, 4, 3);
        let w = Tensor::arange(0f32, (heads * hd * inp) as f32, &dev)
            .unwrap()
            .reshape((heads * hd, inp))
            .unwrap();
        let permuted = w
            .reshape((heads, 2, hd / 2, inp))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape((heads * hd, inp))
            .unwrap();
        let back = unpermute_rows(&permuted, heads).unwrap();
        assert_eq!(back.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
    }

    #[test]
    fn garbage_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = GgufFile::open(&dir.path().join("none.gguf")).unwrap_err();
        assert!(e.to_string().contains("none.gguf"), "{e}");
        let p = dir.path().join("bad.gguf");
        std::fs::write(&p, b"GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff").unwrap();
        let e = GgufFile::open(&p).unwrap_err().to_string();
        assert!(e.contains("bad.gguf") && e.contains("GGUF"), "{e}");
        std::fs::write(&p, b"not a gguf file at all").unwrap();
        assert!(GgufFile::open(&p).is_err());
    }
}
