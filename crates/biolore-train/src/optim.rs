//! AdamW with decoupled weight decay, the warm-up/linear-decay schedule, and gradient clipping.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use crate::error::{Result, TrainError};
use crate::model::write_safetensors;
use crate::parameters::{decays, Trainable};

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

/// The moments of one variable, kept where the variable lives.
#[derive(Debug, Clone)]
enum Moments {
    /// On the CPU: plain vectors, updated in place by one fused parallel loop.
    Host { first: Vec<f32>, second: Vec<f32> },
    /// On an accelerator: tensors on the variable's device, updated with tensor operations.
    Device { first: Tensor, second: Tensor },
}

/// AdamW (decoupled weight decay, bias-corrected moments), as `torch.optim.AdamW`.
///
/// The moments live on the model's device: vectors in memory for the CPU, device tensors
/// otherwise.
#[derive(Debug, Clone)]
pub struct AdamW {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay (applied where [`crate::parameters::decays`] says).
    pub weight_decay: f64,
    step: u64,
    moments: Vec<Option<Moments>>,
    decay: Vec<bool>,
}

impl AdamW {
    /// A fresh optimizer for the model's variables.
    pub fn new(model: &dyn Trainable, weight_decay: f64) -> Self {
        let params = model.parameters();
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            step: 0,
            moments: vec![None; params.vars().len()],
            decay: params.names().iter().map(|n| decays(n)).collect(),
        }
    }

    /// Updates done so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Applies one update with learning rate `lr`; variables without a gradient are left alone.
    pub fn step(
        &mut self,
        model: &dyn Trainable,
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
        let params = model.parameters();
        for (i, var) in params.vars().iter().enumerate() {
            let Some(g) = grads.get(i).and_then(Option::as_ref) else {
                continue;
            };
            if g.len() != var.elem_count() {
                return Err(TrainError::Mismatch(format!(
                    "gradient of '{}' has {} values for {} weights",
                    params.names()[i],
                    g.len(),
                    var.elem_count()
                )));
            }
            let decay = if self.decay[i] {
                (1.0 - lr * self.weight_decay) as f32
            } else {
                1.0
            };
            let device = var.device();
            if self.moments[i].is_none() {
                let n = var.elem_count();
                self.moments[i] = Some(if device.is_cpu() {
                    Moments::Host {
                        first: vec![0.0; n],
                        second: vec![0.0; n],
                    }
                } else {
                    Moments::Device {
                        first: Tensor::zeros(var.shape(), DType::F32, device)?,
                        second: Tensor::zeros(var.shape(), DType::F32, device)?,
                    }
                });
            }
            match &mut self.moments[i] {
                Some(Moments::Host { first, second }) => {
                    let mut p = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
                    p.par_iter_mut()
                        .zip(first.par_iter_mut())
                        .zip(second.par_iter_mut())
                        .zip(g.par_iter())
                        .with_min_len(4096)
                        .for_each(|(((p, m), v), &g)| {
                            *p *= decay;
                            *m = b1 * *m + (1.0 - b1) * g;
                            *v = b2 * *v + (1.0 - b2) * g * g;
                            *p -= step_size * *m / (v.sqrt() / c2_sqrt + eps);
                        });
                    var.set(&Tensor::from_vec(p, var.shape(), device)?)?;
                }
                Some(Moments::Device { first, second }) => {
                    let g = Tensor::from_slice(g, var.shape(), device)?;
                    *first = ((&*first * f64::from(b1))? + (&g * f64::from(1.0 - b1))?)?;
                    *second = ((&*second * f64::from(b2))? + (g.sqr()? * f64::from(1.0 - b2))?)?;
                    let denom = ((second.sqrt()? / f64::from(c2_sqrt))? + f64::from(eps))?;
                    let update = ((&*first / denom)? * f64::from(step_size))?;
                    let p = ((var.as_tensor() * f64::from(decay))? - update)?;
                    var.set(&p)?;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Writes the moments and step count to a safetensors file.
    pub fn save(&self, model: &dyn Trainable, path: &Path) -> Result<()> {
        let mut tensors = Vec::new();
        for (name, moments) in model.parameters().names().iter().zip(&self.moments) {
            let (m, v) = match moments {
                None => continue,
                Some(Moments::Host { first, second }) => (
                    Tensor::from_slice(first, first.len(), &Device::Cpu)?,
                    Tensor::from_slice(second, second.len(), &Device::Cpu)?,
                ),
                Some(Moments::Device { first, second }) => (
                    first.flatten_all()?.to_device(&Device::Cpu)?,
                    second.flatten_all()?.to_device(&Device::Cpu)?,
                ),
            };
            tensors.push((format!("m.{name}"), m));
            tensors.push((format!("v.{name}"), v));
        }
        tensors.push((
            "step".to_string(),
            Tensor::from_slice(&[self.step as f64], 1, &Device::Cpu)?,
        ));
        write_safetensors(&tensors, path)
    }

    /// Restores moments and step count written by [`Self::save`] onto the model's device.
    pub fn load(&mut self, model: &dyn Trainable, path: &Path) -> Result<()> {
        let tensors: HashMap<String, Tensor> =
            biolore_nn::weights::load_tensors(path, &Device::Cpu)?;
        let step = tensors
            .get("step")
            .ok_or_else(|| TrainError::Mismatch(format!("{}: no step", path.display())))?
            .to_vec1::<f64>()?;
        self.step = step.first().copied().unwrap_or(0.0) as u64;
        let params = model.parameters();
        for (i, (name, var)) in params.names().iter().zip(params.vars()).enumerate() {
            self.moments[i] = match (
                tensors.get(&format!("m.{name}")),
                tensors.get(&format!("v.{name}")),
            ) {
                (Some(m), Some(v)) if var.device().is_cpu() => Some(Moments::Host {
                    first: m.to_vec1::<f32>()?,
                    second: v.to_vec1::<f32>()?,
                }),
                (Some(m), Some(v)) => Some(Moments::Device {
                    first: m.reshape(var.shape())?.to_device(var.device())?,
                    second: v.reshape(var.shape())?.to_device(var.device())?,
                }),
                _ => None,
            };
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
