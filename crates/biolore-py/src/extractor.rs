//! `biolore.Extractor`: sentences → (drug, adverse effect) relations, as `biolore extract` finds
//! them with a student trained by `biolore train extractor`.

use std::path::PathBuf;

use biolore_extract::documents::extract_documents;
use biolore_extract::{AdeSentence, Extractor};
use biolore_text::{Document, Span};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py;
use crate::pool::ProcessPool;
use crate::texts::strings;

/// An adverse-drug-event extractor. `Extractor(model, device="cpu", threads=None,
/// batch_size=32)`; `model` is a folder written by `biolore train extractor`.
#[pyclass(name = "Extractor", module = "biolore._native", frozen)]
pub struct PyExtractor {
    extractor: Extractor,
    folder: PathBuf,
    pool: ProcessPool,
    batch_size: usize,
}

/// A span as a dict: `text`, `start`, `end` (characters of the sentence).
fn span_dict<'py>(py: Python<'py>, span: &Span) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("text", &span.text)?;
    d.set_item("start", span.start)?;
    d.set_item("end", span.end)?;
    Ok(d)
}

#[pymethods]
impl PyExtractor {
    #[new]
    #[pyo3(signature = (model, device = "cpu", threads = None, batch_size = 32))]
    fn new(
        py: Python<'_>,
        model: PathBuf,
        device: &str,
        threads: Option<usize>,
        batch_size: usize,
    ) -> PyResult<Self> {
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        let pool = ProcessPool::new(threads)?;
        let device = biolore_nn::parse_device(device).map_err(to_py)?;
        let extractor = py
            .detach(|| Extractor::load(&model, &device))
            .map_err(to_py)?;
        Ok(Self {
            extractor,
            folder: model,
            pool,
            batch_size,
        })
    }

    /// The relations each text states, as `biolore extract` finds them in a line of text (split
    /// into sentences, relations in character offsets of the whole text): a list (one per text)
    /// of dicts with `drug` and `effect` (each `text`, `start`, `end`) and `score`.
    fn extract<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Vec<Bound<'py, PyDict>>>> {
        let texts = strings(texts, "texts")?;
        let found = py.detach(|| -> PyResult<Vec<AdeSentence>> {
            let docs: Vec<Document> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| Document::from_text(&i.to_string(), t))
                .collect();
            let pool = self.pool.get()?;
            pool.install(|| extract_documents(&self.extractor, &docs, self.batch_size, &mut |_| {}))
                .map_err(to_py)
        })?;
        found
            .iter()
            .map(|text| {
                text.relations
                    .iter()
                    .map(|r| {
                        let d = PyDict::new(py);
                        d.set_item("drug", span_dict(py, &r.drug)?)?;
                        d.set_item("effect", span_dict(py, &r.effect)?)?;
                        d.set_item("score", r.score)?;
                        Ok(d)
                    })
                    .collect()
            })
            .collect()
    }

    /// The extractor's folder.
    #[getter]
    fn model_path(&self) -> String {
        self.folder.display().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Extractor(model='{}')", self.folder.display())
    }
}
