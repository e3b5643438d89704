//! A language model ready to generate: decoder, tokenizer, chat template and stop tokens;
//! greedy decoding with the KV cache.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;

use super::chat_template::{ChatMessage, ChatTemplate};
use crate::blocks::DecoderCache;
use crate::error::{ModelError, Result};
use crate::gguf::{GgufFile, GgufWeights};
use crate::models::{Decoder, DecoderCheckpoint};

/// Token texts that end an assistant's turn in common chat formats.
const STOP_TOKENS: [&str; 4] = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>"];

/// What one call of [`LanguageModel::generate`] produced, and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Generated token ids (without the prompt; a final stop token excluded).
    pub ids: Vec<u32>,
    /// Number of prompt tokens.
    pub prompt_tokens: usize,
    /// Seconds spent on the prompt (one forward pass over it).
    pub prefill_secs: f64,
    /// Seconds spent generating, one token at a time.
    pub decode_secs: f64,
    /// Whether generation ended on a stop token (else on the token limit).
    pub stopped: bool,
}

impl Generation {
    /// Generated tokens per second of decoding.
    pub fn tokens_per_sec(&self) -> f64 {
        self.ids.len() as f64 / self.decode_secs.max(1e-9)
    }
}

/// A decoder with its tokenizer and (for instruction models) its chat template.
#[derive(Debug)]
pub struct LanguageModel {
    decoder: Decoder,
    tokenizer: tokenizers::Tokenizer,
    template: Option<ChatTemplate>,
    stop_ids: Vec<u32>,
    source: PathBuf,
    device: Device,
}

fn tensor_error(path: &Path) -> impl Fn(candle_core::Error) -> ModelError + '_ {
    move |e| ModelError::InvalidWeights {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl LanguageModel {
    /// Loads a GGUF file (`quantized`: keep its quantized weights; else float32) or a
    /// Hugging Face folder (`config.json`, `model.safetensors`, `tokenizer.json`).
    pub fn load(path: &Path, quantized: bool, device: &Device) -> Result<Self> {
        if path.is_dir() {
            Self::from_folder(path, device)
        } else {
            Self::from_gguf(path, quantized, device)
        }
    }

    /// Loads a decoder, tokenizer and chat template from one GGUF file.
    pub fn from_gguf(path: &Path, quantized: bool, device: &Device) -> Result<Self> {
        let file = GgufFile::open(path)?;
        let mut config = file.decoder_config()?;
        let weights = GgufWeights::new(&file, &config, quantized, device);
        config.rope_style = weights.rope_style();
        let decoder = Decoder::load(&config, &weights, device).map_err(tensor_error(path))?;
        let tokenizer = file.tokenizer()?;
        let token = |id: Option<u32>| id.and_then(|i| file.token_text(i)).unwrap_or("");
        let template = match file.chat_template() {
            Some(source) => Some(
                ChatTemplate::new(
                    source,
                    token(config.bos_token_id),
                    token(config.eos_token_id),
                )
                .map_err(|message| ModelError::InvalidConfig {
                    path: path.to_path_buf(),
                    message,
                })?,
            ),
            None => None,
        };
        Self::assemble(decoder, tokenizer, template, path, device)
    }

    /// Loads a Hugging Face decoder folder (as biolore saves trained decoders).
    pub fn from_folder(folder: &Path, device: &Device) -> Result<Self> {
        let checkpoint = DecoderCheckpoint::read_folder(folder, device)?;
        let weights_path = crate::weights::find_weights(folder)?;
        let vb = VarBuilder::from_tensors(checkpoint.tensors, DType::F32, device);
        let decoder =
            Decoder::load(&checkpoint.config, &vb, device).map_err(tensor_error(&weights_path))?;
        let template = match &checkpoint.chat_template {
            Some(source) => Some(
                ChatTemplate::new(source, &checkpoint.bos_token, &checkpoint.eos_token).map_err(
                    |message| ModelError::InvalidConfig {
                        path: folder.join("tokenizer_config.json"),
                        message,
                    },
                )?,
            ),
            None => None,
        };
        Self::assemble(decoder, checkpoint.tokenizer, template, folder, device)
    }

    fn assemble(
        mut decoder: Decoder,
        tokenizer: tokenizers::Tokenizer,
        template: Option<ChatTemplate>,
        source: &Path,
        device: &Device,
    ) -> Result<Self> {
        decoder.pack_for_inference().map_err(tensor_error(source))?;
        let vocab = decoder.config().vocab_size;
        let tokenizer_vocab = tokenizer.get_vocab_size(true);
        if tokenizer_vocab > vocab {
            return Err(ModelError::Tokenizer {
                context: source.display().to_string(),
                message: format!(
                    "the tokenizer has {tokenizer_vocab} tokens but the model only {vocab}: they do not belong together"
                ),
            });
        }
        let mut stop_ids: Vec<u32> = decoder.config().eos_token_id.into_iter().collect();
        for t in STOP_TOKENS {
            if let Some(id) = tokenizer.token_to_id(t) {
                if !stop_ids.contains(&id) {
                    stop_ids.push(id);
                }
            }
        }
        tracing::info!(
            source = %source.display(),
            arch = decoder.config().model_type,
            layers = decoder.num_layers(),
            vocab,
            "loaded language model"
        );
        Ok(Self {
            decoder,
            tokenizer,
            template,
            stop_ids,
            source: source.to_path_buf(),
            device: device.clone(),
        })
    }

    /// The decoder.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.tokenizer
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token ids that end generation.
    pub fn stop_ids(&self) -> &[u32] {
        &self.stop_ids
    }

    /// Token ids of `text`; special-token texts in it (`<|im_start|>`) become their ids, and
    /// nothing is added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| ModelError::Tokenizer {
                context: "encoding a prompt".into(),
                message: e.to_string(),
            })
    }

    /// The text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| ModelError::Tokenizer {
                context: "decoding generated tokens".into(),
                message: e.to_string(),
            })
    }

    /// The prompt text for `messages` in the model's chat format, the assistant's turn opened.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String> {
        self.chat_text(messages, true)
    }

    /// `messages` in the model's chat format; `open_turn` opens the assistant's turn after them.
    pub fn chat_text(&self, messages: &[ChatMessage], open_turn: bool) -> Result<String> {
        let template = self.template.as_ref().ok_or_else(|| ModelError::Unsupported {
            path: self.source.clone(),
            message: "the model has no chat template (not an instruction model?); give a plain prompt"
                .into(),
        })?;
        template
            .render(messages, open_turn)
            .map_err(|message| ModelError::InvalidConfig {
                path: self.source.clone(),
                message,
            })
    }

    /// Next-token logits `[t, vocab]` of every position of `ids`, without a cache.
    pub fn logits(&self, ids: &[u32]) -> Result<Tensor> {
        let input = Tensor::from_slice(ids, (1, ids.len()), &self.device)?;
        let hidden = self.decoder.forward(&input, 0, None)?;
        Ok(self.decoder.logits(&hidden)?.squeeze(0)?)
    }

    /// Greedy decoding of up to `max_new_tokens` after `prompt` with the KV cache;
    /// `on_token` sees each new token as it is chosen.
    pub fn generate(
        &self,
        prompt: &[u32],
        max_new_tokens: usize,
        on_token: impl FnMut(u32),
    ) -> Result<Generation> {
        let mut cache = self.decoder.new_cache();
        self.generate_after(&mut cache, prompt, max_new_tokens, on_token)
    }

    /// A KV cache holding `prefix` (a prompt's shared beginning, such as few-shot examples), for
    /// [`Self::generate_after`] to continue from without computing it again.
    pub fn prefill(&self, prefix: &[u32]) -> Result<DecoderCache> {
        let mut cache = self.decoder.new_cache();
        if !prefix.is_empty() {
            self.check_room(prefix.len(), 0)?;
            let input = Tensor::from_slice(prefix, (1, prefix.len()), &self.device)?;
            self.decoder.forward(&input, 0, Some(&mut cache))?;
        }
        Ok(cache)
    }

    /// Greedy decoding after what `cache` holds followed by `prompt`; the cache is restored to
    /// its length on entry before returning (so one prefilled cache serves many prompts).
    pub fn generate_after(
        &self,
        cache: &mut DecoderCache,
        prompt: &[u32],
        max_new_tokens: usize,
        mut on_token: impl FnMut(u32),
    ) -> Result<Generation> {
        if prompt.is_empty() {
            return Err(ModelError::InvalidArgument(
                "the prompt has no tokens".into(),
            ));
        }
        let kept = cache.len();
        self.check_room(kept + prompt.len(), max_new_tokens)?;
        let result = self.decode_greedy(cache, prompt, max_new_tokens, &mut on_token);
        cache.truncate(kept)?;
        result
    }

    /// Fails when `prompt_len + max_new_tokens` exceed the model's positions.
    pub(crate) fn check_room(&self, prompt_len: usize, max_new_tokens: usize) -> Result<()> {
        let limit = self.decoder.config().max_position_embeddings;
        if prompt_len + max_new_tokens > limit {
            return Err(ModelError::InvalidArgument(format!(
                "{prompt_len} prompt tokens + {max_new_tokens} new ones exceed the model's {limit} positions"
            )));
        }
        Ok(())
    }

    fn decode_greedy(
        &self,
        cache: &mut DecoderCache,
        prompt: &[u32],
        max_new_tokens: usize,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<Generation> {
        let start = Instant::now();
        let input = Tensor::from_slice(prompt, (1, prompt.len()), &self.device)?;
        let hidden = self.decoder.forward(&input, cache.len(), Some(cache))?;
        let mut next = self.argmax_last(&hidden)?;
        let prefill_secs = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let mut ids = Vec::new();
        let mut stopped = false;
        while ids.len() < max_new_tokens {
            if self.stop_ids.contains(&next) {
                stopped = true;
                break;
            }
            ids.push(next);
            on_token(next);
            if ids.len() == max_new_tokens {
                break;
            }
            let input = Tensor::from_slice(&[next], (1, 1), &self.device)?;
            let hidden = self.decoder.forward(&input, cache.len(), Some(cache))?;
            next = self.argmax_last(&hidden)?;
        }
        Ok(Generation {
            ids,
            prompt_tokens: prompt.len(),
            prefill_secs,
            decode_secs: start.elapsed().as_secs_f64(),
            stopped,
        })
    }

    /// The most likely next token after the last position of `hidden` `[1, t, hidden]`.
    fn argmax_last(&self, hidden: &Tensor) -> Result<u32> {
        let t = hidden.dim(1)?;
        let last = hidden.narrow(1, t - 1, 1)?;
        let logits = self
            .decoder
            .logits(&last)?
            .flatten_all()?
            .to_dtype(DType::F32)?;
        Ok(logits.argmax(D::Minus1)?.to_scalar::<u32>()?)
    }
}
