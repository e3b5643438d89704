//! Opening an index (vectors memory-mapped) and exact search: multi-threaded dot products over
//! all names, then each concept scored by its best name. An int8 index is scored the same way,
//! the float query against each stored row's `scale · codes`.

use std::path::{Path, PathBuf};

use biolore_encoder::Encoder;
use biolore_kb::KnowledgeBase;
use rayon::prelude::*;

use crate::build::{KB_FILE, MANIFEST, NAMES_FILE, VECTORS_FILE};
use crate::error::{io_error, IndexError, Result};
use crate::manifest::Manifest;
use crate::names::NameTable;
use crate::quantized::{Precision, CODES_FILE};

/// One ranked concept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The concept's position in the KB.
    pub concept: u32,
    /// The best-matching name's position in the name table.
    pub name: u32,
    /// Cosine similarity of the query and that name.
    pub score: f32,
}

/// A built index, opened for search.
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    kb: KnowledgeBase,
    names: NameTable,
    base: Stored,
    base_rows: usize,
    extra: Vec<f32>,
    ann: Option<crate::ann::Ann>,
}

/// The vectors written by the build, memory-mapped.
enum Stored {
    /// float32 rows.
    F32(memmap2::Mmap),
    /// int8 rows and their scales.
    Int8 {
        /// `rows × dim` codes.
        codes: memmap2::Mmap,
        /// One scale per row.
        scales: Vec<f32>,
    },
}

/// Rows scored per parallel task (their vectors stay in cache across a query block).
const ROWS_PER_TASK: usize = 2048;
/// Queries scored together per pass over the vectors.
const QUERY_BLOCK: usize = 64;

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

fn read_bincode<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    bincode::deserialize_from(std::io::BufReader::with_capacity(1 << 20, file)).map_err(|e| {
        IndexError::Invalid {
            path: path.to_path_buf(),
            message: format!("corrupt: {e}"),
        }
    })
}

impl Index {
    /// Opens a complete index folder.
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest_path = dir.join(MANIFEST);
        if !manifest_path.is_file() {
            return Err(IndexError::Invalid {
                path: dir.to_path_buf(),
                message: "no manifest.json: not an index (create one with `biolore index build`)"
                    .into(),
            });
        }
        let manifest = Manifest::read(&manifest_path)?;
        if !manifest.complete {
            return Err(IndexError::Invalid {
                path: dir.to_path_buf(),
                message: "the build did not finish; run `biolore index build` again to resume it"
                    .into(),
            });
        }
        let kb = biolore_kb::store::open(&dir.join(KB_FILE))?;
        let names: NameTable = read_bincode(&dir.join(NAMES_FILE))?;
        if names.len() != manifest.names || cfg!(target_endian = "big") {
            return Err(IndexError::Invalid {
                path: dir.to_path_buf(),
                message: format!(
                    "{} names, but the manifest says {}",
                    names.len(),
                    manifest.names
                ),
            });
        }
        let base = open_vectors(dir, &manifest)?;
        let ann = crate::ann::Ann::open(dir, crate::ann::HnswParams::default().ef_search)?;
        Ok(Self {
            ann,
            dir: dir.to_path_buf(),
            base_rows: manifest.names,
            manifest,
            kb,
            names,
            base,
            extra: Vec::new(),
        })
    }

    /// The index folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The knowledge base.
    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// The names (with any added by [`Index::add_names`]).
    pub fn names(&self) -> &NameTable {
        &self.names
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.manifest.dim
    }

    /// How the stored vectors are kept (f32 or int8).
    pub fn precision(&self) -> Precision {
        match self.base {
            Stored::F32(_) => Precision::F32,
            Stored::Int8 { .. } => Precision::Int8,
        }
    }

    /// The float32 rows of an f32 index (empty for int8).
    fn base_vectors(&self) -> &[f32] {
        match &self.base {
            Stored::F32(map) => bytemuck::try_cast_slice(map).unwrap_or(&[]),
            Stored::Int8 { .. } => &[],
        }
    }

    /// Cosine of the unit `query` with name `i` (stored or added at run time).
    fn score_row(&self, i: usize, query: &[f32]) -> f32 {
        let d = self.dim();
        if i >= self.base_rows {
            let j = i - self.base_rows;
            return dot(&self.extra[j * d..(j + 1) * d], query);
        }
        match &self.base {
            Stored::F32(_) => dot(&self.base_vectors()[i * d..(i + 1) * d], query),
            Stored::Int8 { codes, scales } => {
                let codes: &[i8] = bytemuck::cast_slice(&codes[i * d..(i + 1) * d]);
                scales[i] * crate::quantized::dot_codes(query, codes)
            }
        }
    }

    /// Stored rows `first..first + rows` as float32 (int8 rows dequantized into `buffer`).
    fn block<'a>(&'a self, first: usize, rows: usize, buffer: &'a mut Vec<f32>) -> &'a [f32] {
        let d = self.dim();
        match &self.base {
            Stored::F32(_) => &self.base_vectors()[first * d..(first + rows) * d],
            Stored::Int8 { codes, scales } => {
                buffer.resize(rows * d, 0.0);
                for r in 0..rows {
                    let i = first + r;
                    let row: &[i8] = bytemuck::cast_slice(&codes[i * d..(i + 1) * d]);
                    crate::quantized::dequantize_row(
                        row,
                        scales[i],
                        &mut buffer[r * d..(r + 1) * d],
                    );
                }
                buffer
            }
        }
    }

    /// Adds names of concepts (dictionary augmentation), embedding the new ones with `encoder`
    /// (which must be the index's model); returns how many new names were embedded.
    pub fn add_names(&mut self, items: &[(String, u32)], encoder: &Encoder) -> Result<usize> {
        let added = self.names.augment(items);
        let texts: Vec<&str> = added
            .iter()
            .map(|&i| self.names.names[i].text.as_str())
            .collect();
        let vectors = encoder.embed(&texts)?;
        for row in vectors.rows() {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            self.extra.extend(row.iter().map(|x| x / norm));
        }
        Ok(added.len())
    }

    /// Scores of every name for a block of queries, name-major: `out[name * q + query]`.
    ///
    /// Stored vectors go through the BLAS GEMM when one is loaded (one single-threaded call
    /// per task of rows), names added at run time through dot products.
    fn score_block(&self, queries: &[&[f32]]) -> Vec<f32> {
        let q = queries.len();
        let n = self.names.len();
        let d = self.dim();
        let flat_queries: Vec<f32> = queries.iter().flat_map(|x| x.iter().copied()).collect();
        let mut out = vec![0f32; n * q];
        out.par_chunks_mut(ROWS_PER_TASK * q)
            .enumerate()
            .for_each(|(task, chunk)| {
                let first = task * ROWS_PER_TASK;
                let rows = chunk.len() / q;
                // A single query is memory-bound: the dot loop is as fast and needs no GEMM setup.
                if q >= 4 && first + rows <= self.base_rows {
                    let mut buffer = Vec::new();
                    let block = self.block(first, rows, &mut buffer);
                    if biolore_nn::kernels::gemm::sgemm_nt_into(
                        block,
                        &flat_queries,
                        rows,
                        q,
                        d,
                        chunk,
                    ) {
                        return;
                    }
                }
                if let (Stored::Int8 { codes, scales }, true) =
                    (&self.base, first + rows <= self.base_rows)
                {
                    let codes: &[i8] = bytemuck::cast_slice(&codes[first * d..(first + rows) * d]);
                    for (j, query) in queries.iter().enumerate() {
                        let scales = &scales[first..first + rows];
                        crate::quantized::score_codes(query, codes, scales, &mut chunk[j..], q);
                    }
                    return;
                }
                for (r, scores) in chunk.chunks_exact_mut(q).enumerate() {
                    for (s, query) in scores.iter_mut().zip(queries) {
                        *s = self.score_row(first + r, query);
                    }
                }
            });
        out
    }

    /// Whether the index has an approximate (HNSW) graph.
    pub fn has_graph(&self) -> bool {
        self.ann.is_some()
    }

    /// The `k` nearest names of each query, exactly: (name position, cosine), best first.
    pub fn nearest_names(&self, queries: &[Vec<f32>], k: usize) -> Vec<Vec<(usize, f32)>> {
        let normalized = normalize_all(queries);
        let mut out = Vec::with_capacity(queries.len());
        for block in normalized.chunks(QUERY_BLOCK) {
            let refs: Vec<&[f32]> = block.iter().map(Vec::as_slice).collect();
            let scores = self.score_block(&refs);
            let q = refs.len();
            for j in 0..q {
                let mut all: Vec<(usize, f32)> = (0..self.names.len())
                    .map(|i| (i, scores[i * q + j]))
                    .collect();
                let k = k.min(all.len());
                if k == 0 {
                    out.push(Vec::new());
                    continue;
                }
                all.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
                all.truncate(k);
                all.sort_by(|a, b| b.1.total_cmp(&a.1));
                out.push(all);
            }
        }
        out
    }

    /// The `k` nearest stored names of each query through the HNSW graph (`None` without one).
    pub fn nearest_names_approx(
        &self,
        queries: &[Vec<f32>],
        k: usize,
    ) -> Option<Vec<Vec<(usize, f32)>>> {
        let ann = self.ann.as_ref()?;
        let normalized = normalize_all(queries);
        Some(normalized.par_iter().map(|q| ann.search(q, k)).collect())
    }

    /// The `k` best concepts for each query through the HNSW graph: the nearest names found
    /// approximately (`10·k`, at least 50), each concept scored by its best name. Falls back to
    /// exact search when the index has no graph or names were added at run time.
    pub fn search_approx(&self, queries: &[Vec<f32>], k: usize) -> Vec<Vec<Hit>> {
        if self.names.len() != self.base_rows {
            return self.search(queries, k);
        }
        let Some(names) = self.nearest_names_approx(queries, (10 * k).max(50)) else {
            return self.search(queries, k);
        };
        names
            .into_iter()
            .map(|found| {
                let mut hits: Vec<Hit> = Vec::new();
                for (name, score) in found {
                    for &c in &self.names.names[name].concepts {
                        match hits.iter_mut().find(|h| h.concept == c) {
                            Some(h) if h.score >= score => {}
                            Some(h) => {
                                h.score = score;
                                h.name = name as u32;
                            }
                            None => hits.push(Hit {
                                concept: c,
                                name: name as u32,
                                score,
                            }),
                        }
                    }
                }
                hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.concept.cmp(&b.concept)));
                hits.truncate(k);
                hits
            })
            .collect()
    }

    /// The `k` best concepts for each query vector (any norm; compared by cosine).
    pub fn search(&self, queries: &[Vec<f32>], k: usize) -> Vec<Vec<Hit>> {
        let d = self.dim();
        let normalized = normalize_all(queries);
        let mut results = Vec::with_capacity(queries.len());
        let concepts = self.kb.len();
        for block in normalized.chunks(QUERY_BLOCK) {
            let refs: Vec<&[f32]> = block.iter().map(|q| &q[..d.min(q.len())]).collect();
            if refs.iter().any(|q| q.len() != d) {
                results.extend(block.iter().map(|_| Vec::new()));
                continue;
            }
            let scores = self.score_block(&refs);
            let q = refs.len();
            let per_query: Vec<Vec<Hit>> = (0..q)
                .into_par_iter()
                .map(|j| {
                    let mut best = vec![f32::NEG_INFINITY; concepts];
                    let mut best_name = vec![0u32; concepts];
                    for (name, entry) in self.names.names.iter().enumerate() {
                        let s = scores[name * q + j];
                        for &c in &entry.concepts {
                            let c = c as usize;
                            if s > best[c] {
                                best[c] = s;
                                best_name[c] = name as u32;
                            }
                        }
                    }
                    let mut hits: Vec<Hit> = best
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_finite())
                        .map(|(c, &s)| Hit {
                            concept: c as u32,
                            name: best_name[c],
                            score: s,
                        })
                        .collect();
                    let k = k.min(hits.len());
                    if k == 0 {
                        return Vec::new();
                    }
                    let by_score = |a: &Hit, b: &Hit| {
                        b.score.total_cmp(&a.score).then(a.concept.cmp(&b.concept))
                    };
                    hits.select_nth_unstable_by(k - 1, by_score);
                    hits.truncate(k);
                    hits.sort_by(by_score);
                    hits
                })
                .collect();
            results.extend(per_query);
        }
        results
    }
}

/// Memory-maps the stored vectors of the complete index in `dir`, checking their sizes.
fn open_vectors(dir: &Path, manifest: &Manifest) -> Result<Stored> {
    let map = |path: &Path| -> Result<memmap2::Mmap> {
        let file = std::fs::File::open(path).map_err(io_error(path))?;
        // SAFETY: index files are written once and never modified after the build completes;
        // the map is read-only.
        unsafe { memmap2::Mmap::map(&file) }.map_err(io_error(path))
    };
    let values = manifest.names * manifest.dim;
    let size_error = |path: PathBuf, got: usize, expected: usize| IndexError::Invalid {
        path,
        message: format!(
            "{got} bytes, but the manifest's {} names of dimension {} need {expected}",
            manifest.names, manifest.dim
        ),
    };
    match manifest.precision {
        Precision::F32 => {
            let path = dir.join(VECTORS_FILE);
            let base = map(&path)?;
            if base.len() != values * 4 {
                return Err(size_error(path, base.len(), values * 4));
            }
            if bytemuck::try_cast_slice::<u8, f32>(&base).is_err() {
                return Err(IndexError::Invalid {
                    path,
                    message: "vectors are not aligned for float32".into(),
                });
            }
            Ok(Stored::F32(base))
        }
        Precision::Int8 => {
            let path = dir.join(CODES_FILE);
            let codes = map(&path)?;
            if codes.len() != values {
                return Err(size_error(path, codes.len(), values));
            }
            let scales = crate::quantized::read_scales(dir, manifest.names)?;
            Ok(Stored::Int8 { codes, scales })
        }
    }
}

/// Share of the exact nearest names that an approximate search also returned (recall@k when
/// both lists hold the top k of each query).
pub fn recall(exact: &[Vec<(usize, f32)>], approx: &[Vec<(usize, f32)>]) -> f64 {
    let found: usize = exact
        .iter()
        .zip(approx)
        .map(|(e, a)| {
            e.iter()
                .filter(|(n, _)| a.iter().any(|(m, _)| m == n))
                .count()
        })
        .sum();
    let total: usize = exact.iter().map(Vec::len).sum();
    found as f64 / total.max(1) as f64
}

/// Each query scaled to unit length.
fn normalize_all(queries: &[Vec<f32>]) -> Vec<Vec<f32>> {
    queries
        .iter()
        .map(|q| {
            let norm = q.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            q.iter().map(|x| x / norm).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::dot;

    #[test]
    fn recall_counts_shared_names() {
        let exact = vec![vec![(1, 0.9), (2, 0.8)], vec![(3, 0.7), (4, 0.6)]];
        let approx = vec![vec![(2, 0.8), (1, 0.9)], vec![(3, 0.7), (9, 0.5)]];
        assert_eq!(super::recall(&exact, &approx), 0.75);
    }

    #[test]
    fn dot_handles_remainders() {
        let a: Vec<f32> = (0..13).map(|i| i as f32).collect();
        let b = vec![1f32; 13];
        assert_eq!(dot(&a, &b), 78.0);
    }
}
