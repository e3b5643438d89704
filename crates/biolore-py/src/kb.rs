//! `biolore.KnowledgeBase`: a terminology imported by `biolore kb import`, looked up by id.

use std::path::PathBuf;
use std::sync::Arc;

use biolore_kb::{Concept, KnowledgeBase};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py;

/// A knowledge base: `KnowledgeBase.load(path)` opens a `.kb` file written by `biolore kb import`.
#[pyclass(name = "KnowledgeBase", module = "biolore._native", frozen)]
pub struct PyKnowledgeBase {
    kb: Arc<KnowledgeBase>,
    path: PathBuf,
}

fn concept_dict<'py>(py: Python<'py>, c: &Concept) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &c.id)?;
    d.set_item("name", &c.name)?;
    d.set_item(
        "synonyms",
        c.synonyms
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>(),
    )?;
    d.set_item("alt_ids", &c.alt_ids)?;
    d.set_item("definitions", &c.definitions)?;
    d.set_item("semantic_types", &c.semantic_types)?;
    d.set_item("parents", c.parents().collect::<Vec<_>>())?;
    d.set_item("xrefs", &c.xrefs)?;
    d.set_item("obsolete", c.obsolete)?;
    Ok(d)
}

#[pymethods]
impl PyKnowledgeBase {
    /// Opens a KB file (`biolore kb import … --out FILE.kb`).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let kb = py
            .detach(|| biolore_kb::store::open(&path))
            .map_err(to_py)?;
        Ok(Self {
            kb: Arc::new(kb),
            path,
        })
    }

    /// The concept with this id (alternative ids resolve) as a dict, or `default`.
    #[pyo3(signature = (id, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.kb.get(id) {
            Some(c) => Ok(Some(concept_dict(py, c)?.into_any())),
            None => Ok(default),
        }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyDict>> {
        match self.kb.get(id) {
            Some(c) => concept_dict(py, c),
            None => Err(PyKeyError::new_err(id.to_string())),
        }
    }

    fn __contains__(&self, id: &str) -> bool {
        self.kb.get(id).is_some()
    }

    fn __len__(&self) -> usize {
        self.kb.len()
    }

    /// Ids of every concept, in KB order.
    fn ids(&self) -> Vec<String> {
        self.kb.concepts().iter().map(|c| c.id.clone()).collect()
    }

    /// The names of the concept with this id: preferred name first, then synonyms.
    fn names(&self, id: &str) -> PyResult<Vec<String>> {
        match self.kb.get(id) {
            Some(c) => Ok(c.names().into_iter().map(str::to_string).collect()),
            None => Err(PyKeyError::new_err(id.to_string())),
        }
    }

    /// Where the concepts came from (format and files).
    #[getter]
    fn source(&self) -> String {
        self.kb.source.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "KnowledgeBase('{}', concepts={})",
            self.path.display(),
            self.kb.len()
        )
    }
}
