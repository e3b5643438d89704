//! AdamW with decoupled weight decay, the warm-up/linear-decay schedule, and gradient clipping.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::{Result, TrainError};
use crate::model::{write_safetensors, TrainableModel};

/// Learning rate that rises linearly over `warmup` steps, then falls linearly to 0 at `total`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Peak learning rate.
    pub peak: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// Total steps.
    pub total: usize,
}

impl Schedule {
    /// The learning rate of 0-based `step`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let left = self.total.saturating_sub(step) as f64;
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        self.peak * (left / span).clamp(0.0, 1.0)
    }
}

/// Scales gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [Option<Vec<f32>>], max_norm: f64) -> f64 {
    let sq: f64 = grads
        .par_iter()
        .flatten()
        .map(|g| g.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>())
        .sum();
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let k = (max_norm / (norm + 1e-6)) as f32;
        grads
            .par_iter_mut()
            .flatten()
            .for_each(|g| g.iter_mut().for_each(|x| *x *= k));
    }
    norm
}

/// AdamW (decoupled weight decay, bias-corrected moments), as `torch.optim.AdamW`.
#[derive(Debug, Clone)]
pub struct AdamW {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay (applied where [`TrainableModel::decays`] says).
    pub weight_decay: f64,
    step: u64,
    first: Vec<Vec<f32>>,
    second: Vec<Vec<f32>>,
    decay: Vec<bool>,
}

impl AdamW {
    /// A fresh optimizer for the model's variables.
    pub fn new(model: &TrainableModel, weight_decay: f64) -> Self {
        let n = model.vars().len();
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            step: 0,
            first: vec![Vec::new(); n],
            second: vec![Vec::new(); n],
            decay: model
                .names()
                .iter()
                .map(|n| TrainableModel::decays(n))
                .collect(),
        }
    }

    /// Updates done so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Applies one update with learning rate `lr`; variables without a gradient are left alone.
    pub fn step(
        &mut self,
        model: &TrainableModel,
        grads: &[Option<Vec<f32>>],
        lr: f64,
    ) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let c1 = 1.0 - self.beta1.powi(t);
        let c2 = 1.0 - self.beta2.powi(t);
        let step_size = (lr / c1) as f32;
        let c2_sqrt = c2.sqrt() as f32;
        let eps = self.eps as f32;
        for (i, var) in model.vars().iter().enumerate() {
            let Some(g) = grads.get(i).and_then(Option::as_ref) else {
                continue;
            };
            let mut p = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            if g.len() != p.len() {
                return Err(TrainError::Mismatch(format!(
                    "gradient of '{}' has {} values for {} weights",
                    model.names()[i],
                    g.len(),
                    p.len()
                )));
            }
            if self.first[i].len() != p.len() {
                self.first[i] = vec![0.0; p.len()];
                self.second[i] = vec![0.0; p.len()];
            }
            let decay = if self.decay[i] {
                (1.0 - lr * self.weight_decay) as f32
            } else {
                1.0
            };
            p.par_iter_mut()
                .zip(self.first[i].par_iter_mut())
                .zip(self.second[i].par_iter_mut())
                .zip(g.par_iter())
                .with_min_len(4096)
                .for_each(|(((p, m), v), &g)| {
                    *p *= decay;
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *p -= step_size * *m / (v.sqrt() / c2_sqrt + eps);
                });
            var.set(&Tensor::from_vec(p, var.shape(), var.device())?)?;
        }
        Ok(())
    }

    /// Writes the moments and step count to a safetensors file.
    pub fn save(&self, model: &TrainableModel, path: &Path) -> Result<()> {
        let mut tensors = Vec::new();
        for (i, name) in model.names().iter().enumerate() {
            if self.first[i].is_empty() {
                continue;
            }
            let n = self.first[i].len();
            tensors.push((
                format!("m.{name}"),
                Tensor::from_slice(&self.first[i], n, &Device::Cpu)?,
            ));
            tensors.push((
                format!("v.{name}"),
                Tensor::from_slice(&self.second[i], n, &Device::Cpu)?,
            ));
        }
        tensors.push((
            "step".to_string(),
            Tensor::from_slice(&[self.step as f64], 1, &Device::Cpu)?,
        ));
        write_safetensors(&tensors, path)
    }

    /// Restores moments and step count written by [`Self::save`].
    pub fn load(&mut self, model: &TrainableModel, path: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> =
            biolore_nn::weights::load_tensors(path, &Device::Cpu)?;
        let step = tensors
            .get("step")
            .ok_or_else(|| TrainError::Mismatch(format!("{}: no step", path.display())))?
            .to_vec1::<f64>()?;
        self.step = step.first().copied().unwrap_or(0.0) as u64;
        for (i, name) in model.names().iter().enumerate() {
            match (
                tensors.get(&format!("m.{name}")),
                tensors.get(&format!("v.{name}")),
            ) {
                (Some(m), Some(v)) => {
                    self.first[i] = m.to_vec1::<f32>()?;
                    self.second[i] = v.to_vec1::<f32>()?;
                }
                _ => {
                    self.first[i].clear();
                    self.second[i].clear();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let s = Schedule {
            peak: 1.0,
            warmup: 2,
            total: 6,
        };
        let lrs: Vec<f64> = (0..6).map(|i| s.lr(i)).collect();
        assert_eq!(lrs, vec![0.5, 1.0, 1.0, 0.75, 0.5, 0.25]);
    }

    #[test]
    fn clipping_scales_to_the_norm() {
        let mut g = vec![Some(vec![3.0f32, 0.0]), None, Some(vec![4.0])];
        let norm = clip_grad_norm(&mut g, 1.0);
        assert!((norm - 5.0).abs() < 1e-9);
        let after: f64 = g
            .iter()
            .flatten()
            .flatten()
            .map(|&x| f64::from(x).powi(2))
            .sum();
        assert!((after.sqrt() - 1.0).abs() < 1e-5);
    }
}
