//! `biolore.Linker`: mentions → ranked concepts of an index built by `biolore index build`.

use std::path::PathBuf;

use biolore_encoder::BatchLimits;
use biolore_link::{open_linker, Linker, LinkerOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::encoder::{embed_on, limits};
use crate::errors::to_py;
use crate::pool::ProcessPool;
use crate::texts::strings;

/// A dense linker over an index folder. `Linker(index, model=None, device="cpu", threads=None,
/// approximate=False, batch_size=32, max_batch_tokens=8192)`; the model defaults to the index's.
#[pyclass(name = "Linker", module = "biolore._native", frozen)]
pub struct PyLinker {
    linker: Linker,
    index: PathBuf,
    pool: ProcessPool,
    limits: BatchLimits,
}

#[pymethods]
impl PyLinker {
    #[new]
    #[pyo3(signature = (index, model = None, device = "cpu", threads = None, approximate = false, batch_size = 32, max_batch_tokens = 8192))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        index: PathBuf,
        model: Option<String>,
        device: &str,
        threads: Option<usize>,
        approximate: bool,
        batch_size: usize,
        max_batch_tokens: usize,
    ) -> PyResult<Self> {
        let limits = limits(batch_size, max_batch_tokens)?;
        let pool = ProcessPool::new(threads)?;
        let device = biolore_nn::parse_device(device).map_err(to_py)?;
        let options = LinkerOptions {
            index: Some(index.clone()),
            model,
            approximate,
            limits,
            ..Default::default()
        };
        let opened = py
            .detach(|| open_linker(&options, &device, &mut biolore_link::open::build_quietly))
            .map_err(to_py)?;
        Ok(Self {
            linker: opened.linker,
            index: opened.index_dir,
            pool,
            limits,
        })
    }

    /// The `k` best concepts for each mention, best first: a list (one per mention) of lists of
    /// dicts with `id`, `name` (preferred), `matched` (the closest name) and `score` (cosine).
    #[pyo3(signature = (mentions, k = 5))]
    fn link<'py>(
        &self,
        py: Python<'py>,
        mentions: &Bound<'py, PyAny>,
        k: usize,
    ) -> PyResult<Vec<Vec<Bound<'py, PyDict>>>> {
        if k == 0 {
            return Err(PyValueError::new_err("k must be at least 1"));
        }
        let mentions = strings(mentions, "mentions")?;
        let ranked = py.detach(|| -> PyResult<_> {
            let encoder = self.linker.encoder();
            let flat = embed_on(encoder, &self.pool, self.limits, &mentions)?;
            let dim = encoder.dim();
            let queries: Vec<Vec<f32>> = flat.chunks(dim.max(1)).map(<[f32]>::to_vec).collect();
            Ok(self.linker.rank(&queries, k))
        })?;
        ranked
            .into_iter()
            .map(|candidates| {
                candidates
                    .into_iter()
                    .map(|c| {
                        let d = PyDict::new(py);
                        d.set_item("id", c.id)?;
                        d.set_item("name", c.name)?;
                        d.set_item("matched", c.matched)?;
                        d.set_item("score", c.score)?;
                        Ok(d)
                    })
                    .collect()
            })
            .collect()
    }

    /// Names the index holds.
    #[getter]
    fn names(&self) -> usize {
        self.linker.index().names().len()
    }

    /// Concepts the index holds.
    #[getter]
    fn concepts(&self) -> usize {
        self.linker.index().kb().len()
    }

    /// The index folder.
    #[getter]
    fn index_path(&self) -> String {
        self.index.display().to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Linker(index='{}', concepts={}, names={})",
            self.index.display(),
            self.linker.index().kb().len(),
            self.linker.index().names().len()
        )
    }
}
