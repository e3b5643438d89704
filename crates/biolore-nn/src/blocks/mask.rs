//! Additive attention masks: padding and causal.

use candle_core::{Device, Tensor};

/// Additive attention bias `[batch, 1, 1, seq]` from a `[batch, seq]` 0/1 mask: 0 where attended, a large negative where padded.
pub fn attention_bias(mask: &Tensor) -> candle_core::Result<Tensor> {
    let (b, t) = mask.dims2()?;
    let mask = mask.to_dtype(candle_core::DType::F32)?;
    let bias = ((mask - 1.0)? * f64::from(f32::MAX))?;
    bias.reshape((b, 1, 1, t))
}

/// Causal bias `[1, 1, t, offset + t]` for `t` new queries after `offset` cached positions:
/// 0 where a query may attend (its own and earlier positions), a large negative elsewhere.
pub fn causal_bias(t: usize, offset: usize, device: &Device) -> candle_core::Result<Tensor> {
    let total = offset + t;
    let bias: Vec<f32> = (0..t)
        .flat_map(|q| (0..total).map(move |k| if k <= offset + q { 0.0 } else { f32::MIN }))
        .collect();
    Tensor::from_vec(bias, (1, 1, t, total), device)
}
