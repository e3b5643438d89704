//! `biolore.Generator`: greedy text generation with a decoder, as `biolore generate` runs it.

use std::path::{Path, PathBuf};

use biolore_nn::heads::{ChatMessage, LanguageModel};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::pool::ProcessPool;

/// A decoder path: an existing file or folder, else a name under the models directory.
pub fn resolve_decoder(spec: &str) -> PyResult<PathBuf> {
    biolore_encoder::resolve::resolve_decoder(spec).map_err(to_py)
}

/// A decoder (a GGUF file or a Hugging Face folder: SmolLM2, Qwen2.5, a `train lm` or
/// `train link-generative` output). `Generator(model, device="cpu", quantized=True,
/// threads=None)`; `quantized=False` dequantizes a GGUF file to float32.
#[pyclass(name = "Generator", module = "biolore._native", frozen)]
pub struct PyGenerator {
    model: LanguageModel,
    path: PathBuf,
    pool: ProcessPool,
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (model, device = "cpu", quantized = true, threads = None))]
    fn new(
        py: Python<'_>,
        model: &str,
        device: &str,
        quantized: bool,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let pool = ProcessPool::new(threads)?;
        let path = resolve_decoder(model)?;
        let device = biolore_nn::parse_device(device).map_err(to_py)?;
        let model = py
            .detach(|| LanguageModel::load(Path::new(&path), quantized, &device))
            .map_err(to_py)?;
        Ok(Self { model, path, pool })
    }

    /// The text generated for `text` (greedy, at most `max_tokens` new tokens): a user message
    /// under the model's chat template (with `system`, if given), or with `raw=True` the prompt
    /// as it is.
    #[pyo3(signature = (text, max_tokens = 128, system = None, raw = false))]
    fn generate(
        &self,
        py: Python<'_>,
        text: &str,
        max_tokens: usize,
        system: Option<String>,
        raw: bool,
    ) -> PyResult<String> {
        if max_tokens == 0 {
            return Err(PyValueError::new_err("max_tokens must be at least 1"));
        }
        py.detach(|| -> PyResult<String> {
            let prompt = if raw {
                text.to_string()
            } else {
                let mut messages = Vec::new();
                if let Some(system) = system {
                    messages.push(ChatMessage::system(system));
                }
                messages.push(ChatMessage::user(text.to_string()));
                self.model.chat_prompt(&messages).map_err(to_py)?
            };
            let pool = self.pool.get()?;
            pool.install(|| {
                let ids = self.model.encode(&prompt)?;
                let generation = self.model.generate(&ids, max_tokens, |_| {})?;
                self.model.decode(&generation.ids)
            })
            .map_err(to_py)
        })
    }

    /// The decoder's file or folder.
    #[getter]
    fn model_path(&self) -> String {
        self.path.display().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Generator(model='{}')", self.path.display())
    }
}
