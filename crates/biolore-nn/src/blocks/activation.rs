//! Feed-forward activations: GELU (exact and tanh), ReLU, SiLU.

use candle_core::{Module, Tensor};

/// The feed-forward activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU (erf), PyTorch's `gelu`.
    Gelu,
    /// Tanh approximation of GELU.
    GeluTanh,
    /// ReLU.
    Relu,
    /// SiLU (swish), the gate of SwiGLU feed-forwards.
    Silu,
}

impl Activation {
    /// Maps a `hidden_act` string (already validated) to an activation.
    pub fn from_name(name: &str) -> Self {
        match name {
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            _ => Activation::Gelu,
        }
    }
}

impl Activation {
    /// The activation as an in-place function over values, where a fused kernel has one (exact
    /// GELU), to run as the epilogue of the product before it.
    pub fn in_place(self) -> Option<fn(&mut [f32])> {
        match self {
            Activation::Gelu => Some(crate::kernels::gelu::gelu_in_place),
            _ => None,
        }
    }

    /// `layer(x)` followed by the activation: fused into the product where the layer and the
    /// activation allow it (inference on the CPU), one after the other otherwise.
    pub fn after(self, layer: &super::Linear, x: &Tensor) -> candle_core::Result<Tensor> {
        if let Some(f) = self.in_place() {
            if let Some(y) = layer.forward_then(x, &f)? {
                return Ok(y);
            }
        }
        self.forward(&layer.forward(x)?)
    }
}

impl Module for Activation {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Gelu => {
                if !x.track_op() {
                    if let Some(y) = crate::kernels::gelu::gelu_tensor(x)? {
                        return Ok(y);
                    }
                }
                crate::kernels::gelu::gelu_differentiable(x)
            }
            Activation::GeluTanh => x.gelu(),
            Activation::Relu => x.relu(),
            Activation::Silu => candle_nn::ops::silu(x),
        }
    }
}
