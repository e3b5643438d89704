//! Dense layers `y = x Wᵀ + b`: float weights on the fast GEMM path, or quantized (GGUF) weights.

use candle_core::quantized::QMatMul;
use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::kernels::gemm;

/// The weight of a dense layer: a float matrix `[out, in]`, or a quantized one.
#[derive(Debug, Clone)]
pub enum LinearWeight {
    /// A float matrix in PyTorch's layout `[out, in]` (trainable).
    Dense(Tensor),
    /// A quantized matrix (inference only), multiplied by candle's quantized kernels.
    Quantized(QMatMul),
}

/// A dense layer `y = x Wᵀ + b` with PyTorch's weight layout `[out, in]`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: LinearWeight,
    bias: Option<Tensor>,
    out_dim: usize,
}

impl Linear {
    /// A layer over a float weight `[out, in]` and an optional bias `[out]`.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> candle_core::Result<Self> {
        let (out_dim, _) = weight.dims2()?;
        Ok(Self {
            weight: LinearWeight::Dense(weight),
            bias,
            out_dim,
        })
    }

    /// A layer over a quantized weight of `out_dim` rows and an optional float bias.
    pub fn quantized(weight: QMatMul, out_dim: usize, bias: Option<Tensor>) -> Self {
        Self {
            weight: LinearWeight::Quantized(weight),
            bias,
            out_dim,
        }
    }

    /// Loads `weight` and `bias` from the builder's current prefix.
    pub fn load(in_dim: usize, out_dim: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = vb.get(out_dim, "bias")?;
        Self::new(weight, Some(bias))
    }

    /// Loads `weight`, and `bias` when the checkpoint has one.
    pub fn load_optional_bias(
        in_dim: usize,
        out_dim: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = if vb.contains_tensor("bias") {
            Some(vb.get(out_dim, "bias")?)
        } else {
            None
        };
        Self::new(weight, bias)
    }

    /// The float weight matrix `[out, in]` (`None` for a quantized layer).
    pub fn weight(&self) -> Option<&Tensor> {
        match &self.weight {
            LinearWeight::Dense(w) => Some(w),
            LinearWeight::Quantized(_) => None,
        }
    }

    /// The bias, when the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Number of outputs.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Applies the layer to `[..., in]`, giving `[..., out]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let in_dim = *dims.last().unwrap_or(&0);
        let rows = x.elem_count() / in_dim.max(1);
        let x2 = x.reshape((rows, in_dim))?;
        let y = match &self.weight {
            LinearWeight::Dense(weight) => {
                let tracked = x.track_op() || weight.track_op();
                let fast = if tracked {
                    None
                } else {
                    gemm::linear(&x2, weight, self.bias.as_ref())?
                };
                match fast {
                    Some(y) => y,
                    None => self.candle_forward(&x2, weight)?,
                }
            }
            LinearWeight::Quantized(q) => {
                let y = match Self::dequantized_gemm(q, &x2, rows)? {
                    Some(y) => y,
                    None => q.forward(&x2.contiguous()?)?,
                };
                match &self.bias {
                    Some(b) => y.broadcast_add(b)?,
                    None => y,
                }
            }
        };
        let mut out_dims = dims;
        if let Some(last) = out_dims.last_mut() {
            *last = self.out_dim;
        }
        y.reshape(out_dims)
    }

    /// Rows from which a quantized layer is dequantized for the BLAS (prompts) rather than
    /// multiplied by candle's one-row-at-a-time quantized kernel (decoding).
    const DEQUANTIZE_FROM_ROWS: usize = 8;

    /// `x Wᵀ` through a dequantized copy of `W` on the BLAS, for many rows on the CPU.
    fn dequantized_gemm(
        q: &QMatMul,
        x2: &Tensor,
        rows: usize,
    ) -> candle_core::Result<Option<Tensor>> {
        let QMatMul::QTensor(qt) = q else {
            return Ok(None);
        };
        if rows < Self::DEQUANTIZE_FROM_ROWS
            || !x2.device().is_cpu()
            || x2.track_op()
            || !gemm::available()
        {
            return Ok(None);
        }
        let w = qt.dequantize(x2.device())?;
        gemm::linear(x2, &w, None)
    }

    fn candle_forward(&self, x2: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
        let y = match gemm::matmul_nt_differentiable(x2, weight)? {
            Some(y) => y,
            None => x2.matmul(&weight.t()?)?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}
