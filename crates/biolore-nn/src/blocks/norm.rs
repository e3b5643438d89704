//! Normalisation layers: layer norm (BERT, MPNet, XLM-R) and RMS norm (Llama, Qwen2).

use candle_core::{DType, Tensor, D};
use candle_nn::VarBuilder;

use crate::kernels::layer_norm::{add_layer_norm, add_layer_norm_into, layer_norm_differentiable};

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

    /// Normalises `x + residual` over the last dimension: in one pass for inference on the
    /// CPU, through [`LayerNorm::forward`] of the sum otherwise.
    pub fn forward_residual(&self, x: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        if !self.tracked(x) && !residual.track_op() && x.is_contiguous() && residual.is_contiguous()
        {
            if let Some(y) = add_layer_norm(x, Some(residual), &self.weight, &self.bias, self.eps)?
            {
                return Ok(y);
            }
        }
        self.forward(&(x + residual)?)
    }

    /// `LayerNorm(x + residual)` over row-major rows in the caller's buffers, into `out` (the
    /// encoder's inference pass over reused buffers); an error when the weights are not
    /// float32 CPU tensors or the sizes don't match.
    pub fn forward_residual_rows(
        &self,
        x: &[f32],
        residual: &[f32],
        out: &mut [f32],
    ) -> candle_core::Result<()> {
        let guards = [&self.weight, &self.bias].map(|t| t.storage_and_layout());
        let [Some(weight), Some(bias)] = guards
            .each_ref()
            .map(|(s, l)| crate::kernels::storage_f32(s, l))
        else {
            candle_core::bail!("layer norm on rows needs float32 CPU weights")
        };
        let width = weight.len();
        if width == 0
            || bias.len() != width
            || !x.len().is_multiple_of(width)
            || residual.len() != x.len()
            || out.len() != x.len()
        {
            candle_core::bail!(
                "layer norm of width {width} got {} inputs, {} residuals, {} outputs",
                x.len(),
                residual.len(),
                out.len()
            )
        }
        add_layer_norm_into(x, residual, weight, bias, self.eps as f32, out);
        Ok(())
    }

    fn tracked(&self, x: &Tensor) -> bool {
        x.track_op() || self.weight.track_op() || self.bias.track_op()
    }

    /// Normalises `x` over its last dimension.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let tracked = self.tracked(x);
        if !tracked && x.is_contiguous() {
            if let Some(y) = add_layer_norm(x, None, &self.weight, &self.bias, self.eps)? {
                return Ok(y);
            }
            return candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps as f32);
        }
        if let Some(y) = layer_norm_differentiable(x, &self.weight, &self.bias, self.eps)? {
            return Ok(y);
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

/// Root-mean-square normalisation over the last dimension, with a weight (Llama, Qwen2).
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    /// A norm over the given weight `[hidden]`.
    pub fn new(weight: Tensor, eps: f64) -> Self {
        Self { weight, eps }
    }

    /// Loads `weight` from the builder's prefix.
    pub fn load(size: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self::new(vb.get(size, "weight")?, eps))
    }

    /// The weight `[hidden]`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Normalises `x` over its last dimension: `x / sqrt(mean(x²) + eps) · weight`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let tracked = x.track_op() || self.weight.track_op();
        if !tracked && x.is_contiguous() && x.dtype() == DType::F32 {
            return candle_nn::ops::rms_norm(x, &self.weight, self.eps as f32);
        }
        let hidden = x.dim(D::Minus1)? as f64;
        let mean_square = (x.sqr()?.sum_keepdim(D::Minus1)? / hidden)?;
        x.broadcast_div(&(mean_square + self.eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)
    }
}
