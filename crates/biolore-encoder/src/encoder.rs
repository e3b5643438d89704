//! The sentence encoder: text → tokens → transformer → pooled (and normalised) vectors.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::batching::{plan_batches, BatchLimits};
use crate::error::{EncoderError, Result};
use crate::folder::ModelSpec;
use crate::pooling::{l2_normalize, Pooling};
use crate::precision::{Int8Options, Int8Report, Precision};
use crate::tokens::TextTokenizer;
use biolore_nn::models::Transformer;

/// Vectors of many texts, stored row-major in one buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// Wraps a row-major buffer of `data.len() / dim` vectors.
    pub fn from_flat(dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(EncoderError::InvalidArgument(format!(
                "buffer of {} floats is not a whole number of {dim}-d vectors",
                data.len()
            )));
        }
        Ok(Self { dim, data })
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    /// True when there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Dimension of each vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The `i`-th vector.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Iterates over the vectors in order.
    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }

    /// The row-major buffer.
    pub fn as_flat(&self) -> &[f32] {
        &self.data
    }

    /// Takes the row-major buffer.
    pub fn into_flat(self) -> Vec<f32> {
        self.data
    }
}

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// A loaded sentence-transformer model, ready to embed text.
#[derive(Debug, Clone)]
pub struct Encoder {
    spec: ModelSpec,
    model: Transformer,
    tokenizer: TextTokenizer,
    device: Device,
    precision: Precision,
    /// Dense layers packed for the inference GEMM (0: products go through the BLAS or candle).
    packed_layers: usize,
}

impl Encoder {
    /// Loads a sentence-transformers (or plain transformers) folder onto `device`.
    pub fn load(folder: &Path, device: &Device) -> Result<Self> {
        let spec = ModelSpec::read(folder)?;
        Self::from_spec(spec, device)
    }

    /// Loads a model folder for inference at `precision` (int8: calibrated and converted at
    /// load, CPU only, any layer kept in float32 packed; float32 on the CPU: weights packed
    /// once for the inference GEMM, see [`Encoder::pack_for_inference`]).
    pub fn load_with_precision(
        folder: &Path,
        device: &Device,
        precision: Precision,
    ) -> Result<Self> {
        let mut encoder = Self::load(folder, device)?;
        match precision {
            Precision::Int8 => {
                encoder.quantize_int8(&Int8Options::from_env())?;
                // Layers kept in float32 (`BIOLORE_INT8_KEEP`) are packed, so that the whole
                // model still runs on the inference kernels.
                encoder.pack_for_inference()?;
            }
            Precision::F32 => {
                encoder.pack_for_inference()?;
            }
        }
        Ok(encoder)
    }

    /// Packs every float32 dense layer once for the CPU inference GEMM
    /// ([`biolore_nn::kernels::packed_gemm`]), so that no product copies its weight; returns
    /// how many layers were packed. Does nothing off the CPU, below AVX2, with
    /// `BIOLORE_GEMM=blas`, or for int8 layers. The packed layers can no longer be trained or
    /// converted to int8 (load with [`Precision::Int8`] for that).
    pub fn pack_for_inference(&mut self) -> Result<usize> {
        let mut packed = 0;
        for (_, _, linear) in self.model.linears_mut() {
            let done = linear.pack_in_place().map_err(|e| {
                EncoderError::InvalidArgument(format!("packing a dense layer failed: {e}"))
            })?;
            packed += usize::from(done);
        }
        tracing::debug!(layers = packed, "packed float32 weights for inference");
        self.packed_layers += packed;
        Ok(packed)
    }

    /// The matrix product the dense layers run on, in words, and whether the layers run on the
    /// real tokens only (for benchmarks and logs).
    pub fn gemm_name(&self) -> String {
        let name = self.product_name();
        if self.model.runs_on_rows() {
            format!("{name}; layers on real tokens")
        } else {
            name
        }
    }

    /// The dense layers' product alone, in words.
    fn product_name(&self) -> String {
        if self.precision == Precision::Int8 {
            format!("int8 {}", biolore_nn::kernels::int8_gemm::kernel().name())
        } else if self.packed_layers > 0 {
            format!(
                "packed f32 ({}; attention: {})",
                biolore_nn::kernels::simd::level().name(),
                biolore_nn::kernels::gemm::backend_name()
            )
        } else if self.device.is_cpu() {
            biolore_nn::kernels::gemm::backend_name().to_string()
        } else {
            "the device's".to_string()
        }
    }

    /// Converts the dense layers to int8 after calibrating on built-in texts (see
    /// [`crate::precision`]); the vectors then stay within cosine 0.999 of float32.
    pub fn quantize_int8(&mut self, options: &Int8Options) -> Result<Int8Report> {
        let report = crate::precision::quantize(self, options)?;
        self.precision = Precision::Int8;
        Ok(report)
    }

    /// The precision of the dense layers.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The transformer, mutably (for conversions such as [`Encoder::quantize_int8`]).
    pub fn transformer_mut(&mut self) -> &mut Transformer {
        &mut self.model
    }

    /// Loads the model a [`ModelSpec`] describes.
    pub fn from_spec(spec: ModelSpec, device: &Device) -> Result<Self> {
        let vb = biolore_nn::weights::var_builder(&spec.weights, device)?;
        Self::with_weights(spec, vb, device)
    }

    /// Builds the model a [`ModelSpec`] describes from weights in `vb` (training passes its variables here).
    pub fn with_weights(spec: ModelSpec, vb: VarBuilder, device: &Device) -> Result<Self> {
        crate::resolve::register_blas_dir();
        let pad = spec.config.pad_token_id.unwrap_or(0);
        let tokenizer = TextTokenizer::from_file(&spec.tokenizer, spec.max_seq_length, pad)?;
        let model =
            Transformer::load(&spec.config, vb).map_err(|e| EncoderError::InvalidWeights {
                path: spec.weights.clone(),
                message: e.to_string(),
            })?;
        tracing::info!(
            folder = %spec.folder.display(),
            arch = spec.config.model_type,
            dim = spec.config.hidden_size,
            pooling = spec.pooling.as_str(),
            normalize = spec.normalize,
            max_seq_length = spec.max_seq_length,
            "loaded encoder"
        );
        Ok(Self {
            spec,
            model,
            tokenizer,
            device: device.clone(),
            precision: Precision::F32,
            packed_layers: 0,
        })
    }

    /// The folder's configuration.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The transformer (for training and inspection).
    pub fn transformer(&self) -> &Transformer {
        &self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Dimension of the sentence vectors.
    pub fn dim(&self) -> usize {
        self.spec.config.hidden_size
    }

    /// The pooling mode.
    pub fn pooling(&self) -> Pooling {
        self.spec.pooling
    }

    /// Token ids of each text (truncated, special tokens included).
    pub fn tokenize<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>> {
        self.tokenizer.encode_batch(texts)
    }

    /// Pads token sequences to one `[batch, seq]` id tensor and its 0/1 mask.
    pub fn pad_batch(&self, seqs: &[&[u32]]) -> Result<(Tensor, Tensor)> {
        let width = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![self.tokenizer.pad_id(); seqs.len() * width];
        let mut mask = vec![0u32; seqs.len() * width];
        for (row, s) in seqs.iter().enumerate() {
            ids[row * width..row * width + s.len()].copy_from_slice(s);
            mask[row * width..row * width + s.len()].fill(1);
        }
        let ids = Tensor::from_vec(ids, (seqs.len(), width), &self.device)?;
        let mask = Tensor::from_vec(mask, (seqs.len(), width), &self.device)?;
        Ok((ids, mask))
    }

    /// Sentence vectors `[batch, dim]` for padded ids and mask; dropout on when `train`.
    ///
    /// This is the differentiable path that training uses too.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let states = self.model.forward(ids, mask, train)?;
        let pooled = self.spec.pooling.apply(&states, mask)?;
        if self.spec.normalize {
            l2_normalize(&pooled)
        } else {
            Ok(pooled)
        }
    }

    /// Vectors of one model batch of token sequences, row-major `[seqs, dim]`, on this thread.
    pub fn embed_batch(&self, seqs: &[&[u32]]) -> Result<Vec<f32>> {
        let (ids, mask) = self.pad_batch(seqs)?;
        let vectors = self.forward(&ids, &mask, false)?.to_dtype(DType::F32)?;
        Ok(vectors.flatten_all()?.to_vec1::<f32>()?)
    }

    /// Embeds texts in input order, batching by length; `progress` is called with the number of texts done.
    pub fn embed_with_progress<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        limits: BatchLimits,
        mut progress: impl FnMut(usize),
    ) -> Result<Embeddings> {
        let tokens = self.tokenize(texts)?;
        self.embed_tokens(&tokens, limits, &mut progress)
    }

    /// Embeds texts in input order with the default batch limits.
    pub fn embed<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Embeddings> {
        self.embed_with_progress(texts, BatchLimits::default(), |_| {})
    }

    /// Embeds already tokenized texts in input order.
    ///
    /// Batches run on [`biolore_nn::runtime::workers`] fresh scoped threads; `progress` is
    /// called on this thread.
    pub fn embed_tokens(
        &self,
        tokens: &[Vec<u32>],
        limits: BatchLimits,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Embeddings> {
        self.embed_tokens_on(tokens, limits, None, progress)
    }

    /// Embeds already tokenized texts in input order, on `pool`'s persistent workers when given
    /// (the server keeps one so that their memory stays warm between requests), else on
    /// [`biolore_nn::runtime::workers`] fresh scoped threads. Model batches are planned by
    /// [`plan_batches`] (longest first) and taken by whichever worker is free.
    pub fn embed_tokens_on(
        &self,
        tokens: &[Vec<u32>],
        limits: BatchLimits,
        pool: Option<&rayon::ThreadPool>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Embeddings> {
        let dim = self.dim();
        let mut out = vec![0f32; tokens.len() * dim];
        let lengths: Vec<usize> = tokens.iter().map(Vec::len).collect();
        let batches = plan_batches(&lengths, limits);
        // Fewer batches than workers (one short text): the idle workers share each product.
        let split = biolore_nn::runtime::split_for(batches.len());
        let run = |batch: &[usize]| -> Result<Vec<f32>> {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].as_slice()).collect();
            biolore_nn::runtime::with_kernel_split(split, || self.embed_batch(&seqs))
        };
        let mut scatter = |batch: &[usize], flat: &[f32]| {
            for (row, &i) in batch.iter().enumerate() {
                out[i * dim..(i + 1) * dim].copy_from_slice(&flat[row * dim..(row + 1) * dim]);
            }
            progress(batch.len());
        };
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed = std::sync::atomic::AtomicBool::new(false);
        // One worker's loop: take the next batch until none is left or one has failed.
        let take = |send: &mut dyn FnMut(usize, Result<Vec<f32>>) -> bool| loop {
            let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if b >= batches.len() || failed.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let result = run(&batches[b]);
            if result.is_err() {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if !send(b, result) {
                break;
            }
        };
        if let Some(pool) = pool {
            let outputs: Vec<(usize, Result<Vec<f32>>)> = pool
                .broadcast(|_| {
                    let mut done = Vec::new();
                    take(&mut |b, r| {
                        done.push((b, r));
                        true
                    });
                    done
                })
                .into_iter()
                .flatten()
                .collect();
            for (b, result) in outputs {
                scatter(&batches[b], &result?);
            }
            return Embeddings::from_flat(dim, out);
        }
        let workers = biolore_nn::runtime::workers().min(batches.len()).max(1);
        if workers == 1 {
            for batch in &batches {
                let flat = run(batch)?;
                scatter(batch, &flat);
            }
            return Embeddings::from_flat(dim, out);
        }
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Vec<f32>>)>();
        std::thread::scope(|scope| -> Result<()> {
            for _ in 0..workers {
                let tx = tx.clone();
                let take = &take;
                scope.spawn(move || take(&mut |b, r| tx.send((b, r)).is_ok()));
            }
            drop(tx);
            for (b, result) in rx {
                scatter(&batches[b], &result?);
            }
            Ok(())
        })?;
        Embeddings::from_flat(dim, out)
    }
}
