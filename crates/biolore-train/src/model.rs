//! A model whose weights are trainable variables, with a second, gradient-free view of the same
//! storage for fast forward passes, and saving as a sentence-transformers folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use biolore_encoder::{Encoder, ModelSpec};
use biolore_nn::weights::load_tensors;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;

use crate::error::{Result, TrainError};
use crate::parameters::{Parameters, Trainable};

/// Weight files that a saved model replaces (never copied from the source folder).
const WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];
/// Folder entries that are not part of a model and are never copied.
const SKIPPED: [&str; 6] = [
    "checkpoints",
    "onnx",
    "openvino",
    ".git",
    "training_log.jsonl",
    "loss.svg",
];

/// A model under training: named variables, an encoder that tracks gradients, and one that does not.
#[derive(Debug, Clone)]
pub struct TrainableModel {
    spec: ModelSpec,
    params: Parameters,
    tracked: Encoder,
    fast: Encoder,
}

impl TrainableModel {
    /// Loads a sentence-transformers folder with every weight as a float32 variable.
    pub fn load(folder: &Path, device: &Device) -> Result<Self> {
        let spec = ModelSpec::read(folder)?;
        let params = Parameters::from_tensors(load_tensors(&spec.weights, device)?)?;
        Self::assemble(spec, params, device)
    }

    fn assemble(spec: ModelSpec, params: Parameters, device: &Device) -> Result<Self> {
        // `tracked` records gradients only for the variables that are not frozen.
        let frozen = params.frozen().to_vec();
        let tracked = Encoder::with_weights(
            spec.clone(),
            VarBuilder::from_tensors(params.view(&|i| frozen[i]), DType::F32, device),
            device,
        )?;
        let fast = Encoder::with_weights(
            spec.clone(),
            VarBuilder::from_tensors(params.view(&|_| true), DType::F32, device),
            device,
        )?;
        Ok(Self {
            spec,
            params,
            tracked,
            fast,
        })
    }

    /// Freezes the embeddings and the first `layers` transformer layers: their weights get no
    /// gradient (the backward pass stops above them) and the optimizer leaves them as they are.
    ///
    /// `0` trains everything; more layers than the model has is an error.
    pub fn freeze_layers(self, layers: usize) -> Result<Self> {
        let depth = self.spec.config.num_hidden_layers;
        if layers > depth {
            return Err(TrainError::Mismatch(format!(
                "cannot freeze {layers} layers: the model has {depth}"
            )));
        }
        let frozen = self
            .params
            .names()
            .iter()
            .map(|n| layers > 0 && frozen_by(n, layers))
            .collect();
        let device = self.fast.device().clone();
        let params = self.params.with_frozen(frozen)?;
        Self::assemble(self.spec, params, &device)
    }

    /// Whether each variable (in the order of [`Self::names`]) is frozen.
    pub fn frozen(&self) -> &[bool] {
        self.params.frozen()
    }

    /// Number of parameters that training updates.
    pub fn trainable_count(&self) -> usize {
        self.params.trainable_count()
    }

    /// The folder's configuration (of the model it was loaded from).
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The encoder whose forward pass records gradients for the variables.
    pub fn tracked(&self) -> &Encoder {
        &self.tracked
    }

    /// The same weights without gradient tracking: fast kernels, for targets and cached embeddings.
    pub fn fast(&self) -> &Encoder {
        &self.fast
    }

    /// Trainable (floating-point) weight names, sorted, as in the weights file.
    pub fn names(&self) -> &[String] {
        self.params.names()
    }

    /// The variables, in the order of [`Self::names`].
    pub fn vars(&self) -> &[Var] {
        self.params.vars()
    }

    /// Number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.params.count()
    }

    /// Whether weight decay applies to a weight (not to biases and layer norms, as in BERT).
    pub fn decays(name: &str) -> bool {
        crate::parameters::decays(name)
    }

    /// Replaces every variable's value with the tensors of a weights file (a checkpoint).
    pub fn set_weights(&self, path: &Path) -> Result<()> {
        self.params.set_weights(path, self.fast.device())
    }

    /// Writes the weights as `model.safetensors` (names as loaded, PyTorch metadata) to `path`.
    pub fn save_weights(&self, path: &Path) -> Result<()> {
        self.params.save_weights(path)
    }
}

impl Trainable for TrainableModel {
    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn device(&self) -> &Device {
        self.fast.device()
    }

    /// Saves a sentence-transformers folder: the source folder's files with the current weights.
    fn save(&self, out: &Path) -> Result<()> {
        copy_model_files(&self.spec.folder, out)?;
        self.save_weights(&out.join("model.safetensors"))
    }
}

/// Whether weight `name` belongs to the embeddings or to a transformer layer below `layers`.
///
/// Layer weights are named `…layer.<i>.…` (BERT and MPNet alike). MPNet's relative attention
/// bias, which every layer uses, is frozen with any layer (else the frozen layers' output would
/// change, and the backward pass would run through them); the pooler stays trainable.
fn frozen_by(name: &str, layers: usize) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    if parts
        .iter()
        .any(|&part| part == "embeddings" || part == "relative_attention_bias")
    {
        return true;
    }
    parts
        .windows(2)
        .find(|w| w[0] == "layer")
        .and_then(|w| w[1].parse::<usize>().ok())
        .is_some_and(|i| i < layers)
}

/// Writes named tensors to a safetensors file atomically (temporary file, then rename), with
/// the permissions any new file gets here (the user's umask).
pub fn write_safetensors(tensors: &[(String, Tensor)], path: &Path) -> Result<()> {
    let tmp = path.with_extension("safetensors.partial");
    // safetensors writes through a private temporary file (mode 0600) that it renames; a model
    // folder others read (a team's folder, a container running as another user) needs the
    // ordinary mode, which a file created here has.
    let permissions = std::fs::File::create(&tmp)
        .and_then(|f| f.metadata())
        .map_err(|e| TrainError::io(&tmp, e))?
        .permissions();
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let views: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    if let Err(e) = safetensors::serialize_to_file(views, Some(metadata), &tmp) {
        // Leave no empty partial file behind (the one made above for its permissions).
        let _ = std::fs::remove_file(&tmp);
        return Err(TrainError::io(&tmp, std::io::Error::other(e.to_string())));
    }
    std::fs::set_permissions(&tmp, permissions).map_err(|e| TrainError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

/// Copies a model folder's configuration and tokenizer files (not its weights) into `out`.
pub fn copy_model_files(from: &Path, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    if same_dir(from, out) {
        return Ok(());
    }
    copy_tree(from, out, 0)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn copy_tree(from: &Path, out: &Path, depth: usize) -> Result<()> {
    let entries = std::fs::read_dir(from).map_err(|e| TrainError::io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(from, e))?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if SKIPPED.contains(&name_str.as_ref())
            || (depth == 0 && WEIGHT_FILES.contains(&name_str.as_ref()))
            || name_str.ends_with(".onnx")
            || name_str.ends_with(".h5")
            || name_str.ends_with(".msgpack")
            || name_str.ends_with(".ot")
        {
            continue;
        }
        let src: PathBuf = entry.path();
        let dst = out.join(&name);
        if src.is_dir() {
            if depth < 2 {
                std::fs::create_dir_all(&dst).map_err(|e| TrainError::io(&dst, e))?;
                copy_tree(&src, &dst, depth + 1)?;
            }
        } else {
            std::fs::copy(&src, &dst).map_err(|e| TrainError::io(&dst, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_weights_get_a_new_file_s_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let t = Tensor::new(&[1f32, 2.0], &candle_core::Device::Cpu).unwrap();
        write_safetensors(&[("w".to_string(), t)], &path).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions();
        assert_eq!(mode(&path), mode(&plain));
        assert!(!path.with_extension("safetensors.partial").exists());
        let back = biolore_nn::weights::load_tensors(&path, &candle_core::Device::Cpu).unwrap();
        assert_eq!(back["w"].to_vec1::<f32>().unwrap(), [1.0, 2.0]);
    }

    #[test]
    fn decay_excludes_biases_and_norms() {
        assert!(TrainableModel::decays(
            "encoder.layer.0.attention.attn.q.weight"
        ));
        assert!(!TrainableModel::decays(
            "encoder.layer.0.attention.attn.q.bias"
        ));
        assert!(!TrainableModel::decays("embeddings.LayerNorm.weight"));
    }

    #[test]
    fn freezing_takes_embeddings_and_lower_layers() {
        assert!(frozen_by("embeddings.word_embeddings.weight", 1));
        assert!(frozen_by("bert.embeddings.LayerNorm.bias", 1));
        assert!(frozen_by("encoder.layer.0.attention.attn.q.weight", 1));
        assert!(!frozen_by("encoder.layer.1.attention.attn.q.weight", 1));
        assert!(frozen_by("encoder.layer.10.output.dense.bias", 11));
        assert!(!frozen_by("encoder.layer.11.output.dense.bias", 11));
        assert!(frozen_by("encoder.relative_attention_bias.weight", 1));
        assert!(!frozen_by("pooler.dense.weight", 12));
    }
}
