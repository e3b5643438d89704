//! Building blocks shared by the encoders: linear, layer norm, dropout, activation.
//!
//! Each layer has a fast inference path (fused kernels, the optional BLAS GEMM) taken when
//! no gradient is being tracked, and a differentiable candle path used in training.

use std::cell::RefCell;

use candle_core::{Module, Tensor, D};
use candle_nn::VarBuilder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::gemm;

/// A dense layer `y = x Wᵀ + b` with PyTorch's weight layout `[out, in]`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// Loads `weight` and `bias` from the builder's current prefix.
    pub fn load(in_dim: usize, out_dim: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = vb.get(out_dim, "bias")?;
        Ok(Self {
            weight,
            bias: Some(bias),
        })
    }

    /// The weight matrix `[out, in]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Applies the layer to `[..., in]`, giving `[..., out]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let in_dim = *dims.last().unwrap_or(&0);
        let rows = x.elem_count() / in_dim.max(1);
        let x2 = x.reshape((rows, in_dim))?;
        let tracked = x.track_op() || self.weight.track_op();
        let y = if !tracked {
            if let Some(y) = gemm::linear(&x2, &self.weight, self.bias.as_ref())? {
                y
            } else {
                self.candle_forward(&x2)?
            }
        } else {
            self.candle_forward(&x2)?
        };
        let mut out_dims = dims;
        if let Some(last) = out_dims.last_mut() {
            *last = self.weight.dim(0)?;
        }
        y.reshape(out_dims)
    }

    fn candle_forward(&self, x2: &Tensor) -> candle_core::Result<Tensor> {
        let y = match gemm::matmul_nt_differentiable(x2, &self.weight)? {
            Some(y) => y,
            None => x2.matmul(&self.weight.t()?)?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// Layer normalisation over the last dimension, with weight and bias.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `weight` and `bias` (or the old `gamma`/`beta` names) from the builder's prefix.
    pub fn load(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        let (weight, bias) = if vb.contains_tensor("weight") || !vb.contains_tensor("gamma") {
            (vb.get(size, "weight")?, vb.get(size, "bias")?)
        } else {
            (vb.get(size, "gamma")?, vb.get(size, "beta")?)
        };
        Ok(Self { weight, bias, eps })
    }

    /// Normalises `x` over its last dimension.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let tracked = x.track_op() || self.weight.track_op() || self.bias.track_op();
        if !tracked && x.is_contiguous() {
            return candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps as f32);
        }
        let hidden = x.dim(D::Minus1)? as f64;
        let mean = (x.sum_keepdim(D::Minus1)? / hidden)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = (centered.sqr()?.sum_keepdim(D::Minus1)? / hidden)?;
        let normed = centered.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        normed
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

thread_local! {
    /// The random stream dropout masks are drawn from, one per thread.
    static DROPOUT_RNG: RefCell<StdRng> = RefCell::new(StdRng::seed_from_u64(0));
}

/// Re-seeds this thread's dropout stream, so that a training step draws the same masks on every run.
pub fn seed_dropout(seed: u64) {
    DROPOUT_RNG.with(|r| *r.borrow_mut() = StdRng::seed_from_u64(seed));
}

/// Dropout that is active only when training is switched on.
///
/// Masks come from a per-thread seeded stream ([`seed_dropout`]), not from candle's unseeded
/// generator, so training runs repeat exactly and a resumed run continues identically.
#[derive(Debug, Clone, Copy)]
pub struct Dropout {
    p: f32,
}

impl Dropout {
    /// A dropout layer with drop probability `p`.
    pub fn new(p: f64) -> Self {
        Self { p: p as f32 }
    }

    /// Zeroes a fraction `p` of the values and rescales the rest when `train` is true.
    pub fn forward(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if !train || self.p <= 0.0 {
            return Ok(x.clone());
        }
        if self.p >= 1.0 {
            return x.zeros_like();
        }
        let keep = 1.0 / (1.0 - self.p);
        let p = self.p;
        let mask: Vec<f32> = DROPOUT_RNG.with(|r| {
            let mut rng = r.borrow_mut();
            (0..x.elem_count())
                .map(|_| if rng.random::<f32>() < p { 0.0 } else { keep })
                .collect()
        });
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x.mul(&mask)
    }
}

/// The feed-forward activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU (erf), PyTorch's `gelu`.
    Gelu,
    /// Tanh approximation of GELU.
    GeluTanh,
    /// ReLU.
    Relu,
}

impl Activation {
    /// Maps a `hidden_act` string (already validated) to an activation.
    pub fn from_name(name: &str) -> Self {
        match name {
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            _ => Activation::Gelu,
        }
    }
}

impl Module for Activation {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Gelu => {
                if !x.track_op() {
                    if let Some(y) = super::gelu::gelu_tensor(x)? {
                        return Ok(y);
                    }
                }
                x.gelu_erf()
            }
            Activation::GeluTanh => x.gelu(),
            Activation::Relu => x.relu(),
        }
    }
}

/// Additive attention bias `[batch, 1, 1, seq]` from a `[batch, seq]` 0/1 mask: 0 where attended, a large negative where padded.
pub fn attention_bias(mask: &Tensor) -> candle_core::Result<Tensor> {
    let (b, t) = mask.dims2()?;
    let mask = mask.to_dtype(candle_core::DType::F32)?;
    let bias = ((mask - 1.0)? * f64::from(f32::MAX))?;
    bias.reshape((b, 1, 1, t))
}
