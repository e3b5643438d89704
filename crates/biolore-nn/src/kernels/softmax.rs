//! Softmax over the last dimension with a fused backward pass, for training's attention.
//!
//! candle's differentiable softmax is a chain of element-wise ops and reductions, each with its
//! own buffer; its backward is another chain. Here the forward pass is one loop per row and the
//! backward `dx = y ⊙ (g − Σ g⊙y)` another.

use candle_core::{CpuStorage, Layout, Shape, Tensor, D};

use super::{cpu_f32, f32_data};

/// Softmax over the last dimension as a differentiable op.
struct SoftmaxOp;

impl candle_core::CustomOp1 for SoftmaxOp {
    fn name(&self) -> &'static str {
        "fused-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_data(s, l, self.name())?;
        let width = l.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut y = vec![0f32; x.len()];
        for (row, out) in x.chunks_exact(width).zip(y.chunks_exact_mut(width)) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for (o, &v) in out.iter_mut().zip(row) {
                *o = (v - max).exp();
                sum += *o;
            }
            let inv = 1.0 / sum;
            out.iter_mut().for_each(|o| *o *= inv);
        }
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        y.contiguous()?
            .apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad)
            .map(Some)
    }
}

/// The input gradient of [`SoftmaxOp`] from its output `y` and the output gradient `g`.
struct SoftmaxGrad;

impl candle_core::CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "fused-softmax-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = f32_data(s1, l1, self.name())?;
        let g = f32_data(s2, l2, self.name())?;
        if y.len() != g.len() {
            candle_core::bail!(
                "fused-softmax-grad: {} values and {} gradients",
                y.len(),
                g.len()
            )
        }
        let width = l1.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut dx = vec![0f32; y.len()];
        for ((yr, gr), out) in y
            .chunks_exact(width)
            .zip(g.chunks_exact(width))
            .zip(dx.chunks_exact_mut(width))
        {
            let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
            for ((o, &yv), &gv) in out.iter_mut().zip(yr).zip(gr) {
                *o = yv * (gv - dot);
            }
        }
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// Softmax over the last dimension with gradients: fused for f32 CPU tensors, candle's otherwise.
pub fn softmax_last_dim_differentiable(x: &Tensor) -> candle_core::Result<Tensor> {
    if !cpu_f32(x) {
        return candle_nn::ops::softmax(x, D::Minus1);
    }
    x.contiguous()?.apply_op1(SoftmaxOp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn fused_softmax_and_gradient_match_candle() {
        let xs: Vec<f32> = (0..6 * 7)
            .map(|i| ((i * 37) % 19) as f32 / 3.0 - 3.0)
            .collect();
        let gs: Vec<f32> = (0..xs.len()).map(|i| ((i * 11) % 5) as f32 - 2.0).collect();
        let run = |fused: bool| {
            let v = Var::from_vec(xs.clone(), (2, 3, 7), &Device::Cpu).unwrap();
            let g = Tensor::from_vec(gs.clone(), (2, 3, 7), &Device::Cpu).unwrap();
            let y = if fused {
                softmax_last_dim_differentiable(v.as_tensor()).unwrap()
            } else {
                candle_nn::ops::softmax(v.as_tensor(), D::Minus1).unwrap()
            };
            let store = (y.clone() * g)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let dx = store.get(v.as_tensor()).unwrap();
            (
                y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                dx.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        };
        let (y1, d1) = run(true);
        let (y2, d2) = run(false);
        for i in 0..xs.len() {
            assert!(
                (y1[i] - y2[i]).abs() < 1e-6,
                "y[{i}] {} vs {}",
                y1[i],
                y2[i]
            );
            assert!(
                (d1[i] - d2[i]).abs() < 1e-5,
                "dx[{i}] {} vs {}",
                d1[i],
                d2[i]
            );
        }
    }
}
