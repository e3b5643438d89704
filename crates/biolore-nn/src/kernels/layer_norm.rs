//! Layer normalisation with a fused backward pass, for training.
//!
//! candle's differentiable layer norm is built from means, subtractions, square roots and
//! divisions, each a tensor of its own in the forward and again in the backward pass; the
//! reductions alone took about 5 % of a training step. Here the forward pass is one loop per row
//! and the backward pass, with the weight and bias gradients, another.

use candle_core::{CpuStorage, Layout, Shape, Tensor};

use super::simd::{lane_sum, multiversion};
use super::{cpu_f32, f32_data, storage_f32};

/// Mean and reciprocal standard deviation of one row.
#[inline(always)]
fn moments(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = lane_sum(row, |v| v) / n;
    let var = lane_sum(row, |v| (v - mean) * (v - mean)) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

#[inline(always)]
fn add_layer_norm_body(
    x: &[f32],
    residual: &[f32],
    weight: &[f32],
    bias: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    let width = weight.len().max(1);
    for (r, row) in out.chunks_exact_mut(width).enumerate() {
        let xr = &x[r * width..(r + 1) * width];
        if residual.is_empty() {
            row.copy_from_slice(xr);
        } else {
            let rr = &residual[r * width..(r + 1) * width];
            for ((o, &a), &b) in row.iter_mut().zip(xr).zip(rr) {
                *o = a + b;
            }
        }
        let (mean, rstd) = moments(row, eps);
        for ((o, &w), &b) in row.iter_mut().zip(weight).zip(bias) {
            *o = (*o - mean) * rstd * w + b;
        }
    }
}

multiversion!(
    /// `LayerNorm(x + residual)` row by row into `out` (`residual` empty: `LayerNorm(x)`), at the
    /// widest vector width the CPU has. `x`, `residual` and `out` hold whole rows of
    /// `weight.len()`; `bias` has that length too (callers check).
    pub fn add_layer_norm_into / add_layer_norm_into_at (
        x: &[f32],
        residual: &[f32],
        weight: &[f32],
        bias: &[f32],
        eps: f32,
        out: &mut [f32],
    ) => add_layer_norm_body
);

/// `(x − mean) / √(var + eps) · weight + bias` over the last dimension, differentiable.
struct LayerNormOp {
    eps: f32,
}

impl candle_core::CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_data(s1, l1, self.name())?;
        let w = f32_data(s2, l2, self.name())?;
        let b = f32_data(s3, l3, self.name())?;
        let width = w.len().max(1);
        if b.len() != width || x.len() % width != 0 {
            candle_core::bail!("fused-layer-norm: rows of {width} do not fit the input")
        }
        let mut y = vec![0f32; x.len()];
        add_layer_norm_into(x, &[], w, b, self.eps, &mut y);
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let width = w.elem_count();
        let rows = x.elem_count() / width.max(1);
        let packed = x.apply_op3_no_bwd(
            &w.contiguous()?,
            &grad.contiguous()?,
            &LayerNormGrad { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dw = packed.narrow(0, rows, 1)?.reshape(w.shape())?;
        let db = packed.narrow(0, rows + 1, 1)?.reshape(w.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// The gradients of [`LayerNormOp`] from `x`, the weight and the output gradient, packed as
/// `[rows + 2, width]`: the input gradient's rows, then the weight's and the bias' gradients.
struct LayerNormGrad {
    eps: f32,
}

impl candle_core::CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "fused-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_data(s1, l1, self.name())?;
        let w = f32_data(s2, l2, self.name())?;
        let g = f32_data(s3, l3, self.name())?;
        let width = w.len().max(1);
        if g.len() != x.len() || x.len() % width != 0 {
            candle_core::bail!("fused-layer-norm-grad: rows of {width} do not fit the input")
        }
        let rows = x.len() / width;
        let mut out = vec![0f32; (rows + 2) * width];
        let (dx, sums) = out.split_at_mut(rows * width);
        let (dw, db) = sums.split_at_mut(width);
        let mut xhat = vec![0f32; width];
        for ((row, gr), dxr) in x
            .chunks_exact(width)
            .zip(g.chunks_exact(width))
            .zip(dx.chunks_exact_mut(width))
        {
            let (mean, rstd) = moments(row, self.eps);
            let (mut mean_dy, mut mean_dy_xhat) = (0f32, 0f32);
            for i in 0..width {
                xhat[i] = (row[i] - mean) * rstd;
                let dy = gr[i] * w[i];
                mean_dy += dy;
                mean_dy_xhat += dy * xhat[i];
                dw[i] += gr[i] * xhat[i];
                db[i] += gr[i];
            }
            let n = width as f32;
            let (mean_dy, mean_dy_xhat) = (mean_dy / n, mean_dy_xhat / n);
            for i in 0..width {
                dxr[i] = rstd * (gr[i] * w[i] - mean_dy - xhat[i] * mean_dy_xhat);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, width))))
    }
}

/// Layer norm with gradients: fused for f32 CPU tensors, `None` otherwise (the caller composes).
pub fn layer_norm_differentiable(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> candle_core::Result<Option<Tensor>> {
    if !cpu_f32(x) || !cpu_f32(weight) || !cpu_f32(bias) {
        return Ok(None);
    }
    x.contiguous()?
        .apply_op3(
            &weight.contiguous()?,
            &bias.contiguous()?,
            LayerNormOp { eps: eps as f32 },
        )
        .map(Some)
}

/// `LayerNorm(x + residual)` for inference on contiguous f32 CPU tensors of the same shape, in
/// one pass over each row; `None` (the caller composes candle's ops) for any other tensors.
pub fn add_layer_norm(
    x: &Tensor,
    residual: Option<&Tensor>,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
) -> candle_core::Result<Option<Tensor>> {
    let all_f32 = cpu_f32(x) && cpu_f32(weight) && cpu_f32(bias);
    if !all_f32 || residual.is_some_and(|r| !cpu_f32(r) || r.shape() != x.shape()) {
        return Ok(None);
    }
    let width = weight.elem_count();
    if width == 0 || bias.elem_count() != width || x.dims().last() != Some(&width) {
        return Ok(None);
    }
    let out = {
        let guards = [x, weight, bias].map(|t| t.storage_and_layout());
        let [Some(xd), Some(wd), Some(bd)] = guards.each_ref().map(|(s, l)| storage_f32(s, l))
        else {
            return Ok(None);
        };
        let guard = residual.map(|r| r.storage_and_layout());
        let rd: &[f32] = match &guard {
            Some((rs, rl)) => match storage_f32(rs, rl) {
                Some(r) => r,
                None => return Ok(None),
            },
            None => &[],
        };
        let mut out = vec![0f32; xd.len()];
        add_layer_norm_into(xd, rd, wd, bd, eps as f32, &mut out);
        out
    };
    Tensor::from_vec(out, x.shape(), x.device()).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};

    #[test]
    fn inference_layer_norm_matches_candle_at_every_width() {
        let width = 384;
        let rows = 5;
        let xs: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 37) % 101) as f32 / 9.0 - 5.0)
            .collect();
        let rs: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 11) % 23) as f32 / 7.0 - 1.5)
            .collect();
        let ws: Vec<f32> = (0..width).map(|i| 0.5 + (i % 10) as f32 / 10.0).collect();
        let bs: Vec<f32> = (0..width).map(|i| (i % 7) as f32 / 20.0 - 0.1).collect();
        let dev = &Device::Cpu;
        let x = Tensor::from_vec(xs.clone(), (rows, width), dev).unwrap();
        let r = Tensor::from_vec(rs.clone(), (rows, width), dev).unwrap();
        let w = Tensor::from_vec(ws.clone(), width, dev).unwrap();
        let b = Tensor::from_vec(bs.clone(), width, dev).unwrap();
        let sum = (&x + &r).unwrap();
        let reference = candle_nn::ops::layer_norm(&sum, &w, &b, 1e-12)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let fused = add_layer_norm(&x, Some(&r), &w, &b, 1e-12)
            .unwrap()
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (u, v) in fused.iter().zip(&reference) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
        let mut base = vec![0f32; xs.len()];
        add_layer_norm_into_at(
            super::super::simd::Level::Base,
            &xs,
            &rs,
            &ws,
            &bs,
            1e-12,
            &mut base,
        );
        for level in super::super::simd::Level::supported() {
            let mut out = vec![0f32; xs.len()];
            add_layer_norm_into_at(level, &xs, &rs, &ws, &bs, 1e-12, &mut out);
            assert!(
                out.iter()
                    .zip(&base)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{level:?}"
            );
        }
    }

    /// candle's composite layer norm, as the blocks computed it before.
    fn composite(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Tensor {
        let mean = (x.sum_keepdim(D::Minus1).unwrap() / 8.0).unwrap();
        let c = x.broadcast_sub(&mean).unwrap();
        let var = (c.sqr().unwrap().sum_keepdim(D::Minus1).unwrap() / 8.0).unwrap();
        let n = c
            .broadcast_div(&(var + eps).unwrap().sqrt().unwrap())
            .unwrap();
        n.broadcast_mul(w).unwrap().broadcast_add(b).unwrap()
    }

    #[test]
    fn fused_layer_norm_and_gradients_match_candle() {
        let xs: Vec<f32> = (0..3 * 2 * 8)
            .map(|i| ((i * 29) % 17) as f32 / 4.0 - 2.0)
            .collect();
        let gs: Vec<f32> = (0..xs.len())
            .map(|i| ((i * 13) % 7) as f32 / 3.0 - 1.0)
            .collect();
        let ws: Vec<f32> = (0..8).map(|i| 0.5 + i as f32 / 10.0).collect();
        let bs: Vec<f32> = (0..8).map(|i| i as f32 / 20.0 - 0.2).collect();
        let run = |fused: bool| {
            let dev = &Device::Cpu;
            let x = Var::from_vec(xs.clone(), (3, 2, 8), dev).unwrap();
            let w = Var::from_vec(ws.clone(), 8, dev).unwrap();
            let b = Var::from_vec(bs.clone(), 8, dev).unwrap();
            let g = Tensor::from_vec(gs.clone(), (3, 2, 8), dev).unwrap();
            let y = if fused {
                layer_norm_differentiable(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5)
                    .unwrap()
                    .unwrap()
            } else {
                composite(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5)
            };
            let store = (y.clone() * g)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            [
                flat(&y),
                flat(store.get(x.as_tensor()).unwrap()),
                flat(store.get(w.as_tensor()).unwrap()),
                flat(store.get(b.as_tensor()).unwrap()),
            ]
        };
        let fused = run(true);
        let reference = run(false);
        for (k, (a, b)) in fused.iter().zip(&reference).enumerate() {
            for (i, (u, v)) in a.iter().zip(b).enumerate() {
                assert!((u - v).abs() < 2e-5, "output {k}, value {i}: {u} vs {v}");
            }
        }
    }
}
