//! Dense layers `y = x Wᵀ + b`: float weights on the fast GEMM path (packed once for inference,
//! or through the BLAS), quantized (GGUF) weights, or int8 weights on the integer GEMM.

use std::sync::{Arc, Mutex};

use candle_core::quantized::QMatMul;
use candle_core::{Device, Module, Tensor};
use candle_nn::VarBuilder;

use crate::kernels::gemm;
use crate::kernels::int8_gemm::{self, PackedWeight, QuantizedRows};
use crate::kernels::packed_gemm::{self, PackedF32};

/// The weight of a dense layer: a float matrix `[out, in]`, or a quantized one.
#[derive(Debug, Clone)]
pub enum LinearWeight {
    /// A float matrix in PyTorch's layout `[out, in]` (trainable).
    Dense(Tensor),
    /// A quantized matrix (inference only), multiplied by candle's quantized kernels.
    Quantized(QMatMul),
    /// An int8 matrix with its bias (inference on the CPU only), on the integer GEMM.
    Int8(Int8Weight),
    /// A float matrix with its bias packed once for the inference GEMM (CPU only, not trainable).
    Packed(Arc<PackedF32>),
}

/// An int8 weight: packed codes (bias included) and the multipliers the inputs get before they
/// are quantized (SmoothQuant's migration of activation outliers into the weights).
#[derive(Debug, Clone)]
pub struct Int8Weight {
    packed: Arc<PackedWeight>,
    multipliers: Option<Arc<Vec<f32>>>,
}

impl Int8Weight {
    /// The packed codes.
    pub fn packed(&self) -> &PackedWeight {
        &self.packed
    }

    /// `out = x Wᵀ + b` for row-major `x` `[rows, k]`, then `epilogue` over `out`: each row
    /// quantized with its own scales (after the input multipliers) into this thread's buffer,
    /// then the integer GEMM.
    fn gemm_then(
        &self,
        x: &[f32],
        rows: usize,
        k: usize,
        out: &mut [f32],
        epilogue: Option<gemm::Epilogue<'_>>,
    ) {
        let multipliers = self.multipliers.as_deref().map(Vec::as_slice);
        // Taken out of the cell for the product: a thread that picks up another layer's work
        // while the product's parts run (rayon work stealing) then gets a fresh buffer.
        let mut quantized = ROWS.take();
        quantized.fill(x, rows, k, multipliers);
        int8_gemm::gemm(&quantized, &self.packed, out);
        ROWS.set(quantized);
        if let Some(f) = epilogue {
            f(out);
        }
    }
}

/// The largest absolute value each input of a layer has taken while recording.
#[derive(Debug, Clone, Default)]
pub struct InputRange(Arc<Mutex<Vec<f32>>>);

impl InputRange {
    /// The per-input maxima recorded so far (empty before the first forward pass).
    pub fn maxima(&self) -> Vec<f32> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Folds the rows of `x2` `[rows, in]` into the maxima.
    fn record(&self, x2: &Tensor) -> candle_core::Result<()> {
        let abs = x2.abs()?.max(0)?.to_dtype(candle_core::DType::F32)?;
        let abs = abs.to_vec1::<f32>()?;
        if let Ok(mut m) = self.0.lock() {
            if m.len() != abs.len() {
                *m = abs;
            } else {
                for (a, b) in m.iter_mut().zip(abs) {
                    *a = a.max(b);
                }
            }
        }
        Ok(())
    }
}

thread_local! {
    /// This thread's quantized-activation buffer, reused by every int8 layer it runs.
    static ROWS: std::cell::Cell<QuantizedRows> = std::cell::Cell::new(QuantizedRows::default());
}

/// A dense layer `y = x Wᵀ + b` with PyTorch's weight layout `[out, in]`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: LinearWeight,
    bias: Option<Tensor>,
    out_dim: usize,
    recorder: Option<InputRange>,
}

impl Linear {
    /// A layer over a float weight `[out, in]` and an optional bias `[out]`.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> candle_core::Result<Self> {
        let (out_dim, _) = weight.dims2()?;
        Ok(Self {
            weight: LinearWeight::Dense(weight),
            bias,
            out_dim,
            recorder: None,
        })
    }

    /// A layer over a quantized weight of `out_dim` rows and an optional float bias.
    pub fn quantized(weight: QMatMul, out_dim: usize, bias: Option<Tensor>) -> Self {
        Self {
            weight: LinearWeight::Quantized(weight),
            bias,
            out_dim,
            recorder: None,
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

    /// The float weight matrix `[out, in]` (`None` for GGUF-quantized, int8 and packed layers).
    pub fn weight(&self) -> Option<&Tensor> {
        match &self.weight {
            LinearWeight::Dense(w) => Some(w),
            LinearWeight::Quantized(_) | LinearWeight::Int8(_) | LinearWeight::Packed(_) => None,
        }
    }

    /// Packs this layer for the inference GEMM when it has a float32 CPU weight and the packed
    /// kernels are enabled ([`packed_gemm::enabled`]: AVX2 or wider, no `BIOLORE_GEMM=blas`;
    /// see [`Linear::to_packed`]); true when it did.
    pub fn pack_in_place(&mut self) -> candle_core::Result<bool> {
        if !packed_gemm::enabled() {
            return Ok(false);
        }
        match &self.weight {
            LinearWeight::Dense(w)
                if w.device().is_cpu() && w.dtype() == candle_core::DType::F32 =>
            {
                *self = self.to_packed()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// This layer with its float32 weight and bias packed once for the inference GEMM
    /// ([`packed_gemm`]): the same products without a copy of the weight per call. CPU
    /// inference only; fails for a layer that has no float32 CPU weight.
    pub fn to_packed(&self) -> candle_core::Result<Linear> {
        let LinearWeight::Dense(weight) = &self.weight else {
            candle_core::bail!("only a float layer can be packed")
        };
        if !weight.device().is_cpu() || weight.dtype() != candle_core::DType::F32 {
            candle_core::bail!("only a float32 CPU layer can be packed")
        }
        let (n, k) = weight.dims2()?;
        let w = weight.flatten_all()?.to_vec1::<f32>()?;
        let bias = match &self.bias {
            Some(b) => Some(b.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?),
            None => None,
        };
        let Some(packed) = PackedF32::pack(&w, n, k, bias.as_deref()) else {
            candle_core::bail!("weight [{n}, {k}] and bias do not match")
        };
        Ok(Linear {
            weight: LinearWeight::Packed(Arc::new(packed)),
            bias: None,
            out_dim: self.out_dim,
            recorder: None,
        })
    }

    /// The int8 weight, when the layer has been converted by [`Linear::to_int8`].
    pub fn int8_weight(&self) -> Option<&Int8Weight> {
        match &self.weight {
            LinearWeight::Int8(w) => Some(w),
            _ => None,
        }
    }

    /// Starts recording the largest absolute value of each input over later forward passes.
    pub fn record_inputs(&mut self) -> InputRange {
        let range = InputRange::default();
        self.recorder = Some(range.clone());
        range
    }

    /// Stops recording inputs.
    pub fn stop_recording(&mut self) {
        self.recorder = None;
    }

    /// This layer with its float weight quantized to int8 per output channel and group of 32
    /// inputs (CPU inference; see [`int8_gemm`]).
    ///
    /// With `input_max` (each input's largest magnitude on calibration text) and `alpha > 0`,
    /// input `j` is divided by `s_j = input_max_j^alpha / weight_max_j^(1 - alpha)` before it is
    /// quantized and weight column `j` multiplied by it (SmoothQuant), which moves the
    /// activation outliers of transformer layers into the weights, where per-channel scales
    /// absorb them. Fails for a layer that has no float weight.
    pub fn to_int8(&self, input_max: Option<&[f32]>, alpha: f32) -> candle_core::Result<Linear> {
        let LinearWeight::Dense(weight) = &self.weight else {
            candle_core::bail!("only a float layer can be converted to int8")
        };
        let (n, k) = weight.dims2()?;
        let mut w = weight
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let multipliers = match input_max {
            Some(maxima) if alpha > 0.0 && maxima.len() == k => {
                let mut column_max = vec![0f32; k];
                for row in w.chunks_exact(k) {
                    for (c, v) in column_max.iter_mut().zip(row) {
                        *c = c.max(v.abs());
                    }
                }
                let factors: Vec<f32> = maxima
                    .iter()
                    .zip(&column_max)
                    .map(|(&a, &c)| {
                        if a > 0.0 && c > 0.0 {
                            (a.powf(alpha) / c.powf(1.0 - alpha)).clamp(1e-5, 1e5)
                        } else {
                            1.0
                        }
                    })
                    .collect();
                for row in w.chunks_exact_mut(k) {
                    for (v, f) in row.iter_mut().zip(&factors) {
                        *v *= f;
                    }
                }
                Some(Arc::new(
                    factors.iter().map(|f| 1.0 / f).collect::<Vec<f32>>(),
                ))
            }
            _ => None,
        };
        let bias = match &self.bias {
            Some(b) => Some(b.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?),
            None => None,
        };
        let packed = PackedWeight::quantize(&w, n, k, bias.as_deref());
        Ok(Linear {
            weight: LinearWeight::Int8(Int8Weight {
                packed: Arc::new(packed),
                multipliers,
            }),
            bias: None,
            out_dim: self.out_dim,
            recorder: None,
        })
    }

    /// The float bias of a float or GGUF layer (`None` without one, and for int8 and packed
    /// layers, which keep theirs inside the packed weight).
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Number of outputs.
    pub fn out_dim(&self) -> usize {
        self.out_dim
    }

    /// Applies the layer to `[..., in]` and then `epilogue` to every output value in place, for
    /// inference on the CPU (packed weights, float weights on the BLAS, or int8 weights); `None` for tracked
    /// inputs and other weights (the caller then runs [`Linear::forward`] and the activation).
    pub fn forward_then(
        &self,
        x: &Tensor,
        epilogue: gemm::Epilogue<'_>,
    ) -> candle_core::Result<Option<Tensor>> {
        if x.track_op() || self.recorder.is_some() || !x.device().is_cpu() {
            return Ok(None);
        }
        let (x2, rows, in_dim) = Self::as_rows(x)?;
        let y = match &self.weight {
            LinearWeight::Dense(weight) if !weight.track_op() => {
                match gemm::linear_then(&x2, weight, self.bias.as_ref(), Some(epilogue))? {
                    Some(y) => y,
                    None => return Ok(None),
                }
            }
            LinearWeight::Int8(w) => Self::int8_forward_then(w, &x2, rows, in_dim, Some(epilogue))?,
            LinearWeight::Packed(w) => Self::packed_forward(w, &x2, rows, in_dim, Some(epilogue))?,
            _ => return Ok(None),
        };
        self.with_leading_dims(y, x).map(Some)
    }

    /// Whether [`Linear::forward_rows`] can run this layer: packed or int8 weights, not
    /// recording its inputs.
    pub fn runs_on_rows(&self) -> bool {
        self.recorder.is_none()
            && matches!(self.weight, LinearWeight::Packed(_) | LinearWeight::Int8(_))
    }

    /// `out = x Wᵀ + b`, then `epilogue` over `out`, for row-major `x` `[rows, in]` and `out`
    /// `[rows, out]` in the caller's buffers (inference on the CPU: the encoder's pass over
    /// reused buffers). Only for layers that [`Linear::runs_on_rows`]; an error otherwise or
    /// when the sizes don't match.
    pub fn forward_rows(
        &self,
        x: &[f32],
        rows: usize,
        out: &mut [f32],
        epilogue: Option<gemm::Epilogue<'_>>,
    ) -> candle_core::Result<()> {
        let (n, k) = match &self.weight {
            LinearWeight::Packed(w) => (w.rows(), w.cols()),
            LinearWeight::Int8(w) => (w.packed.rows(), w.packed.cols()),
            _ => candle_core::bail!("only packed and int8 layers run on rows"),
        };
        if Some(x.len()) != rows.checked_mul(k) || Some(out.len()) != rows.checked_mul(n) {
            candle_core::bail!(
                "layer [{n}, {k}] got {} inputs and {} outputs for {rows} rows",
                x.len(),
                out.len()
            )
        }
        if rows == 0 || self.recorder.is_some() {
            candle_core::bail!("layer can't run on rows (no rows, or recording its inputs)")
        }
        match &self.weight {
            LinearWeight::Packed(w) if !packed_gemm::gemm(x, rows, w, out, epilogue) => {
                candle_core::bail!("the packed kernels need AVX2 and FMA")
            }
            LinearWeight::Int8(w) => w.gemm_then(x, rows, k, out, epilogue),
            _ => {}
        }
        Ok(())
    }

    /// `x` `[..., in]` as a matrix `[rows, in]`, with `rows` and `in`.
    fn as_rows(x: &Tensor) -> candle_core::Result<(Tensor, usize, usize)> {
        let in_dim = x.dims().last().copied().unwrap_or(0);
        let rows = x.elem_count() / in_dim.max(1);
        Ok((x.reshape((rows, in_dim))?, rows, in_dim))
    }

    /// The output rows `y` `[rows, out]` shaped as `x` `[..., in]` with `out` for `in`.
    fn with_leading_dims(&self, y: Tensor, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut dims = x.dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = self.out_dim;
        }
        y.reshape(dims)
    }

    /// Applies the layer to `[..., in]`, giving `[..., out]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (x2, rows, in_dim) = Self::as_rows(x)?;
        if let Some(recorder) = &self.recorder {
            recorder.record(&x2)?;
        }
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
            LinearWeight::Int8(w) => Self::int8_forward(w, &x2, rows, in_dim)?,
            LinearWeight::Packed(w) => Self::packed_forward(w, &x2, rows, in_dim, None)?,
        };
        self.with_leading_dims(y, x)
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

    /// `x Wᵀ + b` on the integer GEMM: each row of `x` quantized to int8 with its own scale.
    fn int8_forward(
        w: &Int8Weight,
        x2: &Tensor,
        rows: usize,
        in_dim: usize,
    ) -> candle_core::Result<Tensor> {
        Self::int8_forward_then(w, x2, rows, in_dim, None)
    }

    /// [`Linear::int8_forward`], then `epilogue` over the output.
    fn int8_forward_then(
        w: &Int8Weight,
        x2: &Tensor,
        rows: usize,
        in_dim: usize,
        epilogue: Option<gemm::Epilogue<'_>>,
    ) -> candle_core::Result<Tensor> {
        if in_dim != w.packed.cols() {
            candle_core::bail!("int8 layer takes {} inputs, got {in_dim}", w.packed.cols())
        }
        let n = w.packed.rows();
        let mut out = vec![0f32; rows * n];
        let x = Self::cpu_rows(x2, "int8")?;
        {
            let (storage, layout) = x.storage_and_layout();
            let Some(data) = crate::kernels::storage_f32(&storage, layout) else {
                candle_core::bail!("int8 layers need contiguous f32 CPU input")
            };
            w.gemm_then(data, rows, in_dim, &mut out, epilogue);
        }
        Tensor::from_vec(out, (rows, n), &Device::Cpu)
    }

    /// `x Wᵀ + b` on the packed-weight GEMM, then `epilogue` over the output (through an
    /// unpacked copy on candle's kernel when the CPU is below AVX2).
    fn packed_forward(
        w: &PackedF32,
        x2: &Tensor,
        rows: usize,
        in_dim: usize,
        epilogue: Option<gemm::Epilogue<'_>>,
    ) -> candle_core::Result<Tensor> {
        if in_dim != w.cols() {
            candle_core::bail!("packed layer takes {} inputs, got {in_dim}", w.cols())
        }
        if x2.track_op() {
            candle_core::bail!("packed layers are for inference: they pass no gradient")
        }
        let n = w.rows();
        let x = Self::cpu_rows(x2, "packed")?;
        if rows == 0 {
            return Tensor::zeros((0, n), candle_core::DType::F32, &Device::Cpu);
        }
        let mut out = vec![0f32; rows * n];
        let done = {
            let (storage, layout) = x.storage_and_layout();
            let Some(data) = crate::kernels::storage_f32(&storage, layout) else {
                candle_core::bail!("packed layers need contiguous f32 CPU input")
            };
            packed_gemm::gemm(data, rows, w, &mut out, epilogue)
        };
        if !done {
            let weight = Tensor::from_vec(w.unpack(), (n, in_dim), &Device::Cpu)?;
            let mut y = x.matmul(&weight.t()?)?;
            if let Some(b) = w.bias() {
                y = y.broadcast_add(&Tensor::new(b, &Device::Cpu)?)?;
            }
            out = y.flatten_all()?.to_vec1::<f32>()?;
            if let Some(f) = epilogue {
                f(&mut out);
            }
        }
        Tensor::from_vec(out, (rows, n), &Device::Cpu)
    }

    /// `x2` as a contiguous float32 tensor, for the CPU kernels of `kind` layers (an error
    /// naming them off the CPU).
    fn cpu_rows(x2: &Tensor, kind: &str) -> candle_core::Result<Tensor> {
        if !x2.device().is_cpu() {
            candle_core::bail!("{kind} layers run on the CPU only")
        }
        x2.to_dtype(candle_core::DType::F32)?.contiguous()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(n: usize, k: usize) -> Linear {
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7919 % 211) as f32 / 105.0 - 1.0) * 0.1)
            .collect();
        let b: Vec<f32> = (0..n).map(|j| j as f32 * 0.01).collect();
        Linear::new(
            Tensor::from_vec(w, (n, k), &Device::Cpu).unwrap(),
            Some(Tensor::from_vec(b, n, &Device::Cpu).unwrap()),
        )
        .unwrap()
    }

    /// Inputs with one outlier channel, as transformer activations have.
    fn inputs(rows: usize, k: usize) -> Tensor {
        let x: Vec<f32> = (0..rows * k)
            .map(|i| {
                let v = (i * 104729 % 97) as f32 / 48.0 - 1.0;
                if i % k == 3 {
                    v * 40.0
                } else {
                    v
                }
            })
            .collect();
        Tensor::from_vec(x, (rows, k), &Device::Cpu).unwrap()
    }

    fn relative_error(a: &Tensor, b: &Tensor) -> f32 {
        let diff = (a - b).unwrap().sqr().unwrap().sum_all().unwrap();
        let norm = a.sqr().unwrap().sum_all().unwrap();
        (diff.to_scalar::<f32>().unwrap() / norm.to_scalar::<f32>().unwrap()).sqrt()
    }

    #[test]
    fn int8_layer_tracks_the_float_layer_with_and_without_smoothing() {
        let (n, k) = (48, 96);
        let mut float = layer(n, k);
        let x = inputs(5, k);
        let range = float.record_inputs();
        let want = float.forward(&x).unwrap();
        float.stop_recording();
        let maxima = range.maxima();
        assert_eq!(maxima.len(), k);
        assert!(
            maxima[3] > 10.0 * maxima[4],
            "the outlier channel is recorded"
        );
        let mut errors = Vec::new();
        for alpha in [0.0, 0.5] {
            let int8 = float.to_int8(Some(&maxima), alpha).unwrap();
            assert!(int8.weight().is_none() && int8.int8_weight().is_some());
            let got = int8.forward(&x.reshape((1, 5, k)).unwrap()).unwrap();
            assert_eq!(got.dims(), &[1, 5, n]);
            let err = relative_error(&want, &got.reshape((5, n)).unwrap());
            assert!(err < 0.03, "alpha {alpha}: relative error {err}");
            errors.push(err);
        }
        assert!(
            errors[1] < errors[0],
            "smoothing moves the outlier into the weights: {errors:?}"
        );
    }

    #[test]
    fn int8_layer_refuses_the_wrong_width_and_a_second_conversion() {
        let int8 = layer(4, 8).to_int8(None, 0.0).unwrap();
        assert!(int8.forward(&inputs(2, 9)).is_err());
        assert!(int8.to_int8(None, 0.0).is_err());
    }
}
