//! Rotary position embeddings (RoPE), in the two layouts checkpoints use.

use candle_core::{Device, Tensor};

/// How a checkpoint pairs the dimensions that one rotation turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Dimension `i` with `i + d/2` (Hugging Face's `rotate_half`; Qwen2 GGUF files too).
    Half,
    /// Dimension `2i` with `2i + 1` (Llama-family GGUF files, whose Q/K rows llama.cpp permuted).
    Interleaved,
}

/// Precomputed cosines and sines for every position up to a maximum.
#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    cos: Tensor,
    sin: Tensor,
    style: RopeStyle,
}

impl RotaryEmbedding {
    /// Tables for `head_dim`-wide heads, positions `0..max_positions`, base `theta`.
    ///
    /// Computed in float32 as transformers does, so that logits match its to the last bits.
    pub fn new(
        head_dim: usize,
        max_positions: usize,
        theta: f32,
        style: RopeStyle,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let mut cos = Vec::with_capacity(max_positions * half);
        let mut sin = Vec::with_capacity(max_positions * half);
        for p in 0..max_positions {
            for f in &inv_freq {
                let angle = p as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Ok(Self {
            cos: Tensor::from_vec(cos, (max_positions, half), device)?,
            sin: Tensor::from_vec(sin, (max_positions, half), device)?,
            style,
        })
    }

    /// The pairing of dimensions.
    pub fn style(&self) -> RopeStyle {
        self.style
    }

    /// The largest number of positions the tables cover.
    pub fn max_positions(&self) -> usize {
        self.cos.dims()[0]
    }

    /// Rotates `x` `[batch, heads, t, head_dim]` whose first token sits at position `offset`.
    pub fn apply(&self, x: &Tensor, offset: usize) -> candle_core::Result<Tensor> {
        let (_, _, t, _) = x.dims4()?;
        if offset + t > self.max_positions() {
            candle_core::bail!(
                "position {} is past the model's {} positions",
                offset + t,
                self.max_positions()
            )
        }
        let cos = self.cos.narrow(0, offset, t)?;
        let sin = self.sin.narrow(0, offset, t)?;
        let x = x.contiguous()?;
        let tracked = x.track_op();
        match (self.style, tracked) {
            (RopeStyle::Half, false) => candle_nn::rotary_emb::rope(&x, &cos, &sin),
            (RopeStyle::Half, true) => candle_nn::rotary_emb::rope_slow(&x, &cos, &sin),
            (RopeStyle::Interleaved, false) => candle_nn::rotary_emb::rope_i(&x, &cos, &sin),
            (RopeStyle::Interleaved, true) => candle_nn::rotary_emb::rope_i_slow(&x, &cos, &sin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_zero_is_the_identity_and_styles_agree_after_permuting() {
        let dev = Device::Cpu;
        let d = 8;
        let x = Tensor::arange(0f32, (3 * d) as f32, &dev)
            .unwrap()
            .reshape((1, 1, 3, d))
            .unwrap();
        let half = RotaryEmbedding::new(d, 16, 10_000.0, RopeStyle::Half, &dev).unwrap();
        let inter = RotaryEmbedding::new(d, 16, 10_000.0, RopeStyle::Interleaved, &dev).unwrap();
        let y = half.apply(&x, 0).unwrap();
        let row0: Vec<f32> = y.flatten_all().unwrap().to_vec1::<f32>().unwrap()[..d].to_vec();
        assert_eq!(row0, (0..d).map(|v| v as f32).collect::<Vec<_>>());
        // Interleaving the halves (0, 4, 1, 5, ...) turns one layout into the other.
        let perm: Vec<u32> = (0..d / 2)
            .flat_map(|i| [i as u32, (i + d / 2) as u32])
            .collect();
        let perm = Tensor::from_vec(perm, d, &dev).unwrap();
        let a = half.apply(&x, 5).unwrap().index_select(&perm, 3).unwrap();
        let b = inter.apply(&x.index_select(&perm, 3).unwrap(), 5).unwrap();
        let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
        // The differentiable path gives the same values.
        let v = candle_core::Var::from_tensor(&x).unwrap();
        let slow = half.apply(v.as_tensor(), 5).unwrap();
        let fast = half.apply(&x, 5).unwrap();
        let diff = (slow - fast).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }
}
