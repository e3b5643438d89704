//! Dropout with a seeded per-thread stream, active only in training.

use std::cell::RefCell;

use candle_core::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
