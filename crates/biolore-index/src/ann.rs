//! The approximate index for large KBs: an HNSW graph over the name vectors (the `hnsw_rs`
//! crate), stored next to the exact vectors as `names.hnsw.graph` and `names.hnsw.data`.

use std::path::Path;
use std::time::Instant;

use hnsw_rs::prelude::{AnnT, Distance, Hnsw, HnswIo};

use crate::error::{IndexError, Result};

/// Base name of the graph files inside an index folder.
pub const HNSW_BASENAME: &str = "names";

/// Cosine distance of unit vectors, `1 − dot`, clamped at 0.
///
/// (`anndists`' `DistDot` asserts `1 − dot ≥ 0`, which float rounding breaks when a query
/// equals an indexed vector.)
#[derive(Debug, Default, Clone, Copy)]
pub struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        (1.0 - dot).max(0.0)
    }
}

/// Construction and search parameters of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Links per node (HNSW's M).
    pub max_connections: usize,
    /// Candidate list size while building.
    pub ef_construction: usize,
    /// Candidate list size while searching (at least the number of results asked for).
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            max_connections: 32,
            ef_construction: 200,
            ef_search: 200,
        }
    }
}

/// Builds the graph over row-major unit `vectors` of dimension `dim` and writes it into `dir`.
/// Returns the seconds spent.
pub fn build_graph(vectors: &[f32], dim: usize, dir: &Path, params: HnswParams) -> Result<f64> {
    let start = Instant::now();
    let n = vectors.len() / dim.max(1);
    let hnsw: Hnsw<f32, UnitCosine> = Hnsw::new(
        params.max_connections.clamp(4, 128),
        n.max(1),
        16,
        params.ef_construction.max(10),
        UnitCosine,
    );
    let data: Vec<(&[f32], usize)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (v, i))
        .collect();
    hnsw.parallel_insert_slice(&data);
    for ext in ["hnsw.graph", "hnsw.data"] {
        let p = dir.join(format!("{HNSW_BASENAME}.{ext}"));
        if p.exists() {
            std::fs::remove_file(&p).map_err(crate::error::io_error(&p))?;
        }
    }
    let written = hnsw
        .file_dump(dir, HNSW_BASENAME)
        .map_err(|e| IndexError::Invalid {
            path: dir.to_path_buf(),
            message: format!("writing the HNSW graph: {e}"),
        })?;
    if written != HNSW_BASENAME {
        return Err(IndexError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "the HNSW graph was written as '{written}' instead of '{HNSW_BASENAME}'"
            ),
        });
    }
    Ok(start.elapsed().as_secs_f64())
}

/// A loaded graph.
pub struct Ann {
    hnsw: Hnsw<'static, f32, UnitCosine>,
    ef_search: usize,
}

impl Ann {
    /// Loads the graph of an index folder, or `None` when it has none.
    ///
    /// `hnsw_rs` ties a reloaded graph's lifetime to its loader; the small loader is therefore
    /// kept alive for the rest of the process (one per opened index).
    pub fn open(dir: &Path, ef_search: usize) -> Result<Option<Self>> {
        if !dir.join(format!("{HNSW_BASENAME}.hnsw.graph")).is_file() {
            return Ok(None);
        }
        let loader: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, HNSW_BASENAME)));
        let mut hnsw: Hnsw<'static, f32, UnitCosine> =
            loader.load_hnsw().map_err(|e| IndexError::Invalid {
                path: dir.to_path_buf(),
                message: format!("reading the HNSW graph: {e}"),
            })?;
        hnsw.set_searching_mode(true);
        Ok(Some(Self { hnsw, ef_search }))
    }

    /// The `k` nearest names of a unit query: (name position, cosine), best first.
    pub fn search(&self, query: &[f32], k: usize) -> Vec<(usize, f32)> {
        let ef = self.ef_search.max(k);
        let mut hits: Vec<(usize, f32)> = self
            .hnsw
            .search(query, k, ef)
            .into_iter()
            .map(|n| (n.d_id, 1.0 - n.distance))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        hits
    }
}
