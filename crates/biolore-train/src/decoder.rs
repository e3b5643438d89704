//! A decoder under training: its weights as variables, a decoder that tracks gradients and one
//! that does not, and saving as a Hugging Face folder (safetensors, config, tokenizer, template).

use std::path::Path;

use biolore_nn::heads::ChatTemplate;
use biolore_nn::models::{Decoder, DecoderCheckpoint, DecoderConfig};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use crate::error::{Result, TrainError};
use crate::parameters::{Parameters, Trainable};

/// A decoder language model whose float32 weights are trainable variables.
#[derive(Debug)]
pub struct TrainableDecoder {
    files: DecoderCheckpoint,
    params: Parameters,
    tracked: Decoder,
    fast: Decoder,
    device: Device,
}

impl TrainableDecoder {
    /// Loads a GGUF file (dequantized to float32) or a Hugging Face decoder folder.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::from_checkpoint(DecoderCheckpoint::read(path, device)?, device)
    }

    /// Takes a checkpoint's weights as variables.
    pub fn from_checkpoint(mut checkpoint: DecoderCheckpoint, device: &Device) -> Result<Self> {
        let tensors = std::mem::take(&mut checkpoint.tensors);
        let params = Parameters::from_tensors(tensors)?;
        Self::assemble(checkpoint, params, device)
    }

    fn assemble(files: DecoderCheckpoint, params: Parameters, device: &Device) -> Result<Self> {
        let frozen = params.frozen().to_vec();
        let build = |detached: &dyn Fn(usize) -> bool| -> Result<Decoder> {
            let vb = VarBuilder::from_tensors(params.view(detached), DType::F32, device);
            Decoder::load(&files.config, &vb, device).map_err(|e| {
                TrainError::Mismatch(format!("the decoder's weights do not fit its config: {e}"))
            })
        };
        let tracked = build(&|i| frozen[i])?;
        let fast = build(&|_| true)?;
        Ok(Self {
            files,
            params,
            tracked,
            fast,
            device: device.clone(),
        })
    }

    /// Freezes the token embeddings and the first `layers` layers (0 trains everything).
    ///
    /// With tied embeddings the language-model head is the embedding table, so it freezes too.
    pub fn freeze_layers(self, layers: usize) -> Result<Self> {
        let depth = self.files.config.num_hidden_layers;
        if layers > depth {
            return Err(TrainError::Mismatch(format!(
                "cannot freeze {layers} layers: the decoder has {depth}"
            )));
        }
        let frozen = self
            .params
            .names()
            .iter()
            .map(|n| layers > 0 && frozen_by(n, layers))
            .collect();
        let params = self.params.with_frozen(frozen)?;
        Self::assemble(self.files, params, &self.device)
    }

    /// The decoder whose forward pass records gradients.
    pub fn tracked(&self) -> &Decoder {
        &self.tracked
    }

    /// The same weights without gradient tracking (generation, reference scores).
    pub fn fast(&self) -> &Decoder {
        &self.fast
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.files.config
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.files.tokenizer
    }

    /// The compiled chat template, for instruction models (`None` when the model has none).
    pub fn chat_template(&self) -> Result<Option<ChatTemplate>> {
        self.files
            .chat_template
            .as_deref()
            .map(|source| {
                ChatTemplate::new(source, &self.files.bos_token, &self.files.eos_token)
                    .map_err(TrainError::Mismatch)
            })
            .transpose()
    }

    /// Text of the end-of-sequence token (ends a completion in chat training).
    pub fn eos_token(&self) -> &str {
        &self.files.eos_token
    }
}

/// Whether weight `name` is the embedding table or belongs to a layer below `layers`.
fn frozen_by(name: &str, layers: usize) -> bool {
    if name.starts_with("model.embed_tokens") {
        return true;
    }
    name.strip_prefix("model.layers.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|i| i.parse::<usize>().ok())
        .is_some_and(|i| i < layers)
}

impl Trainable for TrainableDecoder {
    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn device(&self) -> &Device {
        &self.device
    }

    /// Saves a Hugging Face folder: `config.json`, `model.safetensors`, tokenizer and template.
    fn save(&self, out: &Path) -> Result<()> {
        self.files.write_files(out)?;
        self.params.save_weights(&out.join("model.safetensors"))
    }
}

#[cfg(test)]
mod tests {
    use super::frozen_by;

    #[test]
    fn freezing_takes_embeddings_and_lower_layers() {
        assert!(frozen_by("model.embed_tokens.weight", 1));
        assert!(frozen_by("model.layers.0.mlp.up_proj.weight", 1));
        assert!(!frozen_by("model.layers.1.mlp.up_proj.weight", 1));
        assert!(!frozen_by("model.norm.weight", 30));
        assert!(!frozen_by("lm_head.weight", 30));
    }
}
