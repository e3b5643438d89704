//! The gated feed-forward of Llama-family decoders: `down(silu(gate(x)) · up(x))` (SwiGLU).

use candle_core::Tensor;

use super::linear::Linear;

/// A SwiGLU feed-forward block.
#[derive(Debug, Clone)]
pub struct SwiGlu {
    /// Gate projection `[intermediate, hidden]`.
    pub gate: Linear,
    /// Up projection `[intermediate, hidden]`.
    pub up: Linear,
    /// Down projection `[hidden, intermediate]`.
    pub down: Linear,
}

impl SwiGlu {
    /// Applies the block to `[..., hidden]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate.forward(x)?)?;
        self.down.forward(&(gate * self.up.forward(x)?)?)
    }
}
