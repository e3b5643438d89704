//! `biolore.Encoder`: texts → float32 vectors `[n, dim]`, as `biolore embed` computes them.

use std::path::PathBuf;
use std::sync::Arc;

use biolore_encoder::{resolve_model, BatchLimits, Encoder, Precision};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::pool::ProcessPool;
use crate::texts::strings;

/// Opens `model` (a folder, an installed name or a hub id) on `device` at `precision`
/// (`float32`, or `int8` dense layers on the CPU).
pub fn open_encoder(model: &str, device: &str, precision: &str) -> PyResult<(Encoder, PathBuf)> {
    let precision: Precision = precision
        .parse()
        .map_err(|e: biolore_encoder::EncoderError| PyValueError::new_err(e.to_string()))?;
    let device = biolore_nn::parse_device(device).map_err(to_py)?;
    let folder = resolve_model(model).map_err(to_py)?;
    let encoder = Encoder::load_with_precision(&folder, &device, precision).map_err(to_py)?;
    Ok((encoder, folder))
}

/// Batch limits from the constructor's arguments.
pub fn limits(batch_size: usize, max_batch_tokens: usize) -> PyResult<BatchLimits> {
    if batch_size == 0 || max_batch_tokens == 0 {
        return Err(PyValueError::new_err(
            "batch_size and max_batch_tokens must be at least 1",
        ));
    }
    Ok(BatchLimits {
        max_texts: batch_size,
        max_tokens: max_batch_tokens,
    })
}

/// Embeds `texts` on `pool`: flat row-major vectors.
pub fn embed_on(
    encoder: &Encoder,
    pool: &ProcessPool,
    limits: BatchLimits,
    texts: &[String],
) -> PyResult<Vec<f32>> {
    let pool = pool.get()?;
    let tokens = pool.install(|| encoder.tokenize(texts)).map_err(to_py)?;
    let vectors = encoder
        .embed_tokens_on(&tokens, limits, Some(&pool), &mut |_| {})
        .map_err(to_py)?;
    Ok(vectors.into_flat())
}

/// A sentence encoder. `Encoder(model, device="cpu", precision="float32", threads=None,
/// batch_size=32, max_batch_tokens=8192)`; `model` is a folder, a name under `BIOLORE_MODELS`
/// or a Hugging Face hub id.
#[pyclass(name = "Encoder", module = "biolore._native", frozen)]
pub struct PyEncoder {
    encoder: Arc<Encoder>,
    folder: PathBuf,
    pool: ProcessPool,
    limits: BatchLimits,
}

#[pymethods]
impl PyEncoder {
    #[new]
    #[pyo3(signature = (model, device = "cpu", precision = "float32", threads = None, batch_size = 32, max_batch_tokens = 8192))]
    fn new(
        py: Python<'_>,
        model: &str,
        device: &str,
        precision: &str,
        threads: Option<usize>,
        batch_size: usize,
        max_batch_tokens: usize,
    ) -> PyResult<Self> {
        let limits = limits(batch_size, max_batch_tokens)?;
        let pool = ProcessPool::new(threads)?;
        let (encoder, folder) = py.detach(|| open_encoder(model, device, precision))?;
        Ok(Self {
            encoder: Arc::new(encoder),
            folder,
            pool,
            limits,
        })
    }

    /// Vectors of `texts` (a list of strings) as a float32 array `[len(texts), dim]`.
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let texts = strings(texts, "texts")?;
        let n = texts.len();
        let flat = py.detach(|| embed_on(&self.encoder, &self.pool, self.limits, &texts))?;
        PyArray1::from_vec(py, flat).reshape([n, self.encoder.dim()])
    }

    /// Dimension of the vectors.
    #[getter]
    fn dim(&self) -> usize {
        self.encoder.dim()
    }

    /// The model folder in use.
    #[getter]
    fn model_path(&self) -> String {
        self.folder.display().to_string()
    }

    /// Worker threads of this encoder.
    #[getter]
    fn threads(&self) -> usize {
        self.pool.threads()
    }

    fn __repr__(&self) -> String {
        format!(
            "Encoder(model='{}', dim={}, threads={})",
            self.folder.display(),
            self.encoder.dim(),
            self.pool.threads()
        )
    }
}
