//! Phase 3: weight averaging ("model soup") of models of one architecture.

use std::collections::BTreeMap;
use std::path::Path;

use biolore_encoder::ModelSpec;
use biolore_nn::weights::load_tensors;
use candle_core::{DType, Device, Tensor};

use crate::error::{Result, TrainError};
use crate::model::{copy_model_files, write_safetensors};

/// Writes to `out` the weighted mean of the models' parameters (equal weights when `weights` is `None`).
///
/// Every model must have the same weight names and shapes; the first model's configuration and
/// tokenizer files are copied.
pub fn average(models: &[&Path], weights: Option<&[f64]>, out: &Path) -> Result<()> {
    if models.len() < 2 {
        return Err(TrainError::Empty(
            "averaging needs at least two models".into(),
        ));
    }
    let w: Vec<f64> = match weights {
        Some(w) if w.len() != models.len() => {
            return Err(TrainError::Mismatch(format!(
                "{} weights for {} models",
                w.len(),
                models.len()
            )))
        }
        Some(w) => w.to_vec(),
        None => vec![1.0; models.len()],
    };
    let total: f64 = w.iter().sum();
    if w.iter().any(|x| !x.is_finite() || *x < 0.0) || total <= 0.0 {
        return Err(TrainError::Mismatch(
            "weights must be non-negative numbers with a positive sum".into(),
        ));
    }
    let specs = models
        .iter()
        .map(|m| ModelSpec::read(m))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut sum: BTreeMap<String, Tensor> = BTreeMap::new();
    for (k, (spec, &wk)) in specs.iter().zip(&w).enumerate() {
        if spec.config.model_type != specs[0].config.model_type
            || spec.config.hidden_size != specs[0].config.hidden_size
        {
            return Err(TrainError::Mismatch(format!(
                "{} is a {} with {} dimensions; {} is a {} with {}",
                models[k].display(),
                spec.config.model_type,
                spec.config.hidden_size,
                models[0].display(),
                specs[0].config.model_type,
                specs[0].config.hidden_size
            )));
        }
        let tensors = load_tensors(&spec.weights, &Device::Cpu)?;
        if k > 0 && (tensors.len() != sum.len() || tensors.keys().any(|n| !sum.contains_key(n))) {
            return Err(TrainError::Mismatch(format!(
                "{} does not have the same weight names as {}",
                models[k].display(),
                models[0].display()
            )));
        }
        let scale = wk / total;
        for (name, t) in tensors {
            let is_buffer = if k == 0 {
                !t.dtype().is_float()
            } else {
                sum.get(&name)
                    .is_some_and(|first| !first.dtype().is_float())
            };
            if is_buffer {
                // Integer buffers (such as `position_ids`) must agree and are kept as they are.
                match sum.get(&name) {
                    Some(first) if values(first)? != values(&t)? => {
                        return Err(TrainError::Mismatch(format!(
                            "'{name}' differs between {} and {}",
                            models[k].display(),
                            models[0].display()
                        )))
                    }
                    Some(_) => {}
                    None => {
                        sum.insert(name, t);
                    }
                }
                continue;
            }
            let t = (t.to_dtype(DType::F64)? * scale)?;
            let next = match sum.remove(&name) {
                Some(acc) => {
                    if acc.shape() != t.shape() {
                        return Err(TrainError::Mismatch(format!(
                            "'{name}' has shape {:?} in {} and {:?} in {}",
                            t.dims(),
                            models[k].display(),
                            acc.dims(),
                            models[0].display()
                        )));
                    }
                    (acc + t)?
                }
                None => t,
            };
            sum.insert(name, next);
        }
    }
    copy_model_files(models[0], out)?;
    let tensors: Vec<(String, Tensor)> = sum
        .into_iter()
        .map(|(n, t)| {
            let t = if t.dtype() == DType::F64 {
                t.to_dtype(DType::F32)?
            } else {
                t
            };
            Ok((n, t))
        })
        .collect::<candle_core::Result<_>>()?;
    write_safetensors(&tensors, &out.join("model.safetensors"))
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f64>> {
    t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()
}
