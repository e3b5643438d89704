//! What the trainer trains: a model's named variables (with its integer buffers beside them),
//! and the [`Trainable`] trait every trainable model (encoder, decoder, tagger) implements.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use biolore_nn::weights::load_tensors;
use candle_core::{DType, Device, Tensor, Var};

use crate::error::{Result, TrainError};
use crate::model::write_safetensors;

/// Named float variables, sorted by name, and the non-float buffers saved beside them.
#[derive(Debug, Clone)]
pub struct Parameters {
    names: Vec<String>,
    vars: Vec<Var>,
    buffers: Vec<(String, Tensor)>,
    frozen: Vec<bool>,
}

impl Parameters {
    /// Every float tensor becomes a float32 variable; integer tensors (such as `position_ids`)
    /// are kept as buffers, never trained.
    pub fn from_tensors(tensors: HashMap<String, Tensor>) -> Result<Self> {
        let sorted: BTreeMap<String, Tensor> = tensors.into_iter().collect();
        let mut names = Vec::with_capacity(sorted.len());
        let mut vars = Vec::with_capacity(sorted.len());
        let mut buffers = Vec::new();
        for (name, t) in sorted {
            if t.dtype().is_float() {
                vars.push(Var::from_tensor(&t.to_dtype(DType::F32)?.contiguous()?)?);
                names.push(name);
            } else {
                buffers.push((name, t));
            }
        }
        let frozen = vec![false; names.len()];
        Ok(Self {
            names,
            vars,
            buffers,
            frozen,
        })
    }

    /// The same variables with `frozen[i]` telling which ones training leaves alone.
    pub fn with_frozen(mut self, frozen: Vec<bool>) -> Result<Self> {
        if frozen.len() != self.names.len() {
            return Err(TrainError::Mismatch(format!(
                "{} frozen flags for {} variables",
                frozen.len(),
                self.names.len()
            )));
        }
        self.frozen = frozen;
        Ok(self)
    }

    /// Tensors by name for building a model: variables that track gradients, except where
    /// `detached(i)` says to cut them off (frozen weights, gradient-free views), and buffers.
    pub fn view(&self, detached: &dyn Fn(usize) -> bool) -> HashMap<String, Tensor> {
        self.names
            .iter()
            .zip(&self.vars)
            .enumerate()
            .map(|(i, (n, v))| {
                let t = if detached(i) {
                    v.as_detached_tensor()
                } else {
                    v.as_tensor().clone()
                };
                (n.clone(), t)
            })
            .chain(self.buffers.iter().cloned())
            .collect()
    }

    /// Variable names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The variables, in the order of [`Self::names`].
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }

    /// Whether each variable is frozen.
    pub fn frozen(&self) -> &[bool] {
        &self.frozen
    }

    /// Number of parameters.
    pub fn count(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// Number of parameters training updates.
    pub fn trainable_count(&self) -> usize {
        self.vars
            .iter()
            .zip(&self.frozen)
            .filter(|(_, f)| !**f)
            .map(|(v, _)| v.elem_count())
            .sum()
    }

    /// Replaces every variable's value with the tensors of a weights file (a checkpoint).
    pub fn set_weights(&self, path: &Path, device: &Device) -> Result<()> {
        let tensors = load_tensors(path, device)?;
        for (name, var) in self.names.iter().zip(&self.vars) {
            let t = tensors.get(name).ok_or_else(|| {
                TrainError::Mismatch(format!("{}: no tensor '{name}'", path.display()))
            })?;
            var.set(&t.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }

    /// Writes variables and buffers to a safetensors file (names as loaded).
    pub fn save_weights(&self, path: &Path) -> Result<()> {
        let tensors: Vec<(String, Tensor)> = self
            .names
            .iter()
            .zip(&self.vars)
            .map(|(n, v)| (n.clone(), v.as_detached_tensor()))
            .chain(self.buffers.iter().cloned())
            .collect();
        write_safetensors(&tensors, path)
    }
}

/// Whether weight decay applies to a weight: not to biases and norms (BERT's and Llama's rule).
pub fn decays(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !(lower.ends_with("bias")
        || lower.contains("layernorm")
        || lower.contains("layer_norm")
        || lower.contains("norm.weight")
        || lower.ends_with("gamma")
        || lower.ends_with("beta"))
}

/// A model the trainer can train: its parameters, its device, and how it saves itself.
pub trait Trainable: Sync {
    /// The named variables.
    fn parameters(&self) -> &Parameters;
    /// The device the variables live on (and the optimizer state with them).
    fn device(&self) -> &Device;
    /// Saves the model as a folder its users load (sentence-transformers, transformers).
    fn save(&self, out: &Path) -> Result<()>;
}
