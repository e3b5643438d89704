//! A teacher that needs no server: an instruction-tuned GGUF model (or decoder folder) run by
//! biolore's own decoder with its chat template and greedy decoding. The instructions and worked
//! examples are computed once into a KV cache that every sentence continues from.

use std::path::Path;
use std::sync::Mutex;

use biolore_nn::blocks::DecoderCache;
use biolore_nn::heads::{ChatMessage, LanguageModel};
use candle_core::Device;

use super::{Failure, Reply, Teacher};
use crate::error::{ExtractError, Result};

/// The shared prompt's token ids and the cache holding them.
struct Prefix {
    ids: Vec<u32>,
    cache: DecoderCache,
}

/// A local decoder asked the task; each of `workers` requests in flight has its own copy of the
/// shared prompt's cache (decoding one token runs mostly on one core, so requests in parallel
/// use the others).
pub struct LocalTeacher {
    model: LanguageModel,
    name: String,
    max_tokens: usize,
    prefixes: Vec<Mutex<Option<Prefix>>>,
}

impl std::fmt::Debug for LocalTeacher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTeacher")
            .field("name", &self.name)
            .finish()
    }
}

impl LocalTeacher {
    /// Loads a GGUF file (quantized weights kept) or a decoder folder; it must have a chat
    /// template. `workers` requests may run at once.
    pub fn load(path: &Path, max_tokens: usize, workers: usize, device: &Device) -> Result<Self> {
        let model = LanguageModel::load(path, true, device)?;
        // A model without a chat template cannot be asked the task the way it was trained.
        model
            .chat_prompt(&[ChatMessage::user("test")])
            .map_err(|e| ExtractError::Model {
                path: path.to_path_buf(),
                message: format!("not usable as a teacher: {e}"),
            })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Self {
            model,
            name,
            max_tokens,
            prefixes: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
        })
    }

    fn answer(&self, prefix: &[ChatMessage], messages: &[ChatMessage]) -> Result<Reply, String> {
        let all: Vec<ChatMessage> = prefix.iter().chain(messages).cloned().collect();
        let full_text = self.model.chat_prompt(&all).map_err(|e| e.to_string())?;
        let full = self.model.encode(&full_text).map_err(|e| e.to_string())?;
        // A free worker's cache (waiting for the first one when all are busy).
        let slot = self
            .prefixes
            .iter()
            .find_map(|m| m.try_lock().ok())
            .map(Ok)
            .unwrap_or_else(|| self.prefixes[0].lock());
        let mut guard = slot.map_err(|_| "the teacher's cache is poisoned")?;
        if guard.as_ref().is_none_or(|p| !full.starts_with(&p.ids)) {
            let text = self
                .model
                .chat_text(prefix, false)
                .map_err(|e| e.to_string())?;
            let ids = self.model.encode(&text).map_err(|e| e.to_string())?;
            *guard = if !ids.is_empty() && ids.len() < full.len() && full.starts_with(&ids) {
                let cache = self.model.prefill(&ids).map_err(|e| e.to_string())?;
                tracing::debug!(tokens = ids.len(), "cached the teacher's shared prompt");
                Some(Prefix { ids, cache })
            } else {
                None
            };
        }
        let generation = match guard.as_mut() {
            Some(p) => {
                let rest = &full[p.ids.len()..];
                self.model
                    .generate_after(&mut p.cache, rest, self.max_tokens, |_| {})
            }
            None => self.model.generate(&full, self.max_tokens, |_| {}),
        }
        .map_err(|e| e.to_string())?;
        let text = self
            .model
            .decode(&generation.ids)
            .map_err(|e| e.to_string())?;
        Ok(Reply {
            text,
            prompt_tokens: full.len(),
            completion_tokens: generation.ids.len(),
        })
    }
}

impl Teacher for LocalTeacher {
    fn identity(&self) -> String {
        format!("local:{}", self.name)
    }

    fn concurrency(&self) -> usize {
        self.prefixes.len()
    }

    fn chat(&self, prefix: &[ChatMessage], messages: &[ChatMessage]) -> Result<Reply, Failure> {
        self.answer(prefix, messages).map_err(Failure::Answer)
    }
}
