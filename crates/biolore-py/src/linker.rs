//! `biolore.Linker`: mentions → ranked concepts of an index built by `biolore index build`.

use std::path::PathBuf;
use std::sync::Arc;

use biolore_encoder::BatchLimits;
use biolore_link::{
    open_linker, open_ranker, prepare_mention, Candidate, GeneratorOptions, Linker, LinkerKind,
    LinkerOptions, MentionRanker, PreparedMention, QueryOptions,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::encoder::{embed_on, limits};
use crate::errors::to_py;
use crate::generator::resolve_decoder;
use crate::pool::ProcessPool;
use crate::texts::strings;

/// A linker over an index folder. `Linker(index, model=None, device="cpu", threads=None,
/// approximate=False, batch_size=32, max_batch_tokens=8192, linker="dense", generator=None,
/// beams=5, hybrid_depth=10, hybrid_weight=0.5)`; the model defaults to the index's.
/// `linker="generative"` writes concept names with `generator` (ANGEL), `"hybrid"` re-scores
/// the dense top `hybrid_depth` with it.
#[pyclass(name = "Linker", module = "biolore._native", frozen)]
pub struct PyLinker {
    linker: Linker,
    ranker: Arc<dyn MentionRanker>,
    index: PathBuf,
    pool: ProcessPool,
    limits: BatchLimits,
}

/// Which linker a name asks for.
fn linker_kind(name: &str) -> PyResult<LinkerKind> {
    match name {
        "dense" => Ok(LinkerKind::Dense),
        "generative" => Ok(LinkerKind::Generative),
        "hybrid" => Ok(LinkerKind::Hybrid),
        _ => Err(PyValueError::new_err(format!(
            "linker must be 'dense', 'generative' or 'hybrid', not {name:?}"
        ))),
    }
}

/// Candidates as dicts: `id`, `name`, `matched`, `score`.
fn candidate_dicts<'py>(
    py: Python<'py>,
    ranked: Vec<Vec<Candidate>>,
) -> PyResult<Vec<Vec<Bound<'py, PyDict>>>> {
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

#[pymethods]
impl PyLinker {
    #[new]
    #[pyo3(signature = (index, model = None, device = "cpu", threads = None, approximate = false, batch_size = 32, max_batch_tokens = 8192, linker = "dense", generator = None, beams = biolore_link::generative::DEFAULT_BEAMS, hybrid_depth = biolore_link::hybrid::DEFAULT_DEPTH, hybrid_weight = 0.5))]
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
        linker: &str,
        generator: Option<String>,
        beams: usize,
        hybrid_depth: usize,
        hybrid_weight: f32,
    ) -> PyResult<Self> {
        let kind = linker_kind(linker)?;
        if !(0.0..=1.0).contains(&hybrid_weight) {
            return Err(PyValueError::new_err(format!(
                "hybrid_weight must lie between 0 and 1, not {hybrid_weight}"
            )));
        }
        if beams == 0 || hybrid_depth == 0 {
            return Err(PyValueError::new_err(
                "beams and hybrid_depth must be at least 1",
            ));
        }
        let generator = match generator {
            Some(g) => {
                let mut o = GeneratorOptions::new(resolve_decoder(&g)?);
                o.beams = beams;
                o.depth = hybrid_depth;
                o.weight = hybrid_weight;
                Some(o)
            }
            None => None,
        };
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
        let (opened, ranker) = py
            .detach(|| {
                let opened =
                    open_linker(&options, &device, &mut biolore_link::open::build_quietly)?;
                let ranker = open_ranker(kind, opened.linker.clone(), generator.as_ref(), &device)?;
                Ok::<_, biolore_link::LinkError>((opened, ranker))
            })
            .map_err(to_py)?;
        Ok(Self {
            linker: opened.linker,
            ranker,
            index: opened.index_dir,
            pool,
            limits,
        })
    }

    /// The `k` best concepts for each mention, best first: a list (one per mention) of lists of
    /// dicts with `id`, `name` (preferred), `matched` (the closest name) and `score`. `contexts`
    /// (one text or None per mention: the sentence or document it came from) expands
    /// abbreviations defined there and is what a generative linker reads around the mention.
    #[pyo3(signature = (mentions, k = 5, contexts = None))]
    fn link<'py>(
        &self,
        py: Python<'py>,
        mentions: &Bound<'py, PyAny>,
        k: usize,
        contexts: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Vec<Vec<Bound<'py, PyDict>>>> {
        if k == 0 {
            return Err(PyValueError::new_err("k must be at least 1"));
        }
        let mentions = strings(mentions, "mentions")?;
        let contexts: Option<Vec<Option<String>>> = contexts
            .map(|c| {
                c.try_iter()?
                    .enumerate()
                    .map(|(i, item)| {
                        let item = item?;
                        if item.is_none() {
                            return Ok(None);
                        }
                        item.extract::<String>().map(Some).map_err(|_| {
                            PyTypeError::new_err(format!("contexts[{i}] is not a string or None"))
                        })
                    })
                    .collect::<PyResult<_>>()
            })
            .transpose()?;
        if let Some(c) = &contexts {
            if c.len() != mentions.len() {
                return Err(PyValueError::new_err(format!(
                    "{} contexts for {} mentions",
                    c.len(),
                    mentions.len()
                )));
            }
        }
        let ranked = py.detach(|| -> PyResult<_> {
            if contexts.is_none() && self.ranker.kind() == "dense" {
                let encoder = self.linker.encoder();
                let flat = embed_on(encoder, &self.pool, self.limits, &mentions)?;
                let dim = encoder.dim();
                let queries: Vec<Vec<f32>> = flat.chunks(dim.max(1)).map(<[f32]>::to_vec).collect();
                return Ok(self.linker.rank(&queries, k));
            }
            let prepared: Vec<PreparedMention> = mentions
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let context = contexts.as_ref().and_then(|c| c[i].as_deref());
                    prepare_mention(m, context, false, QueryOptions::default())
                })
                .collect();
            let pool = self.pool.get()?;
            let parts = pool
                .install(|| self.ranker.rank_prepared(&prepared, k))
                .map_err(to_py)?;
            Ok(parts
                .into_iter()
                .map(|p| p.into_iter().next().unwrap_or_default())
                .collect())
        })?;
        candidate_dicts(py, ranked)
    }

    /// Which linker ranks: `dense`, `generative` or `hybrid`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.ranker.kind()
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
            "Linker(index='{}', linker='{}', concepts={}, names={})",
            self.index.display(),
            self.ranker.kind(),
            self.linker.index().kb().len(),
            self.linker.index().names().len()
        )
    }
}
