//! Building an index folder: embed every distinct name, append vectors in chunks, resume after
//! an interruption (Ctrl-C or kill -9) from the last complete chunk.
//!
//! Layout: `manifest.json` (written last with `complete: true`), `kb.bin` (the KB), `names.bin`
//! (the name table), `vectors.f32` (little-endian float32 rows, L2-normalised).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use biolore_encoder::{BatchLimits, Encoder};
use biolore_kb::KnowledgeBase;

use crate::error::{io_error, IndexError, Result};
use crate::manifest::{Manifest, FORMAT};
use crate::names::NameTable;

/// Files of an index folder.
pub const MANIFEST: &str = "manifest.json";
/// The KB copy.
pub const KB_FILE: &str = "kb.bin";
/// The name table.
pub const NAMES_FILE: &str = "names.bin";
/// The vectors.
pub const VECTORS_FILE: &str = "vectors.f32";

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Names embedded and written per chunk (the unit of resumption).
    pub chunk: usize,
    /// Encoder batch limits.
    pub limits: BatchLimits,
    /// Index names of obsolete concepts too.
    pub include_obsolete: bool,
    /// Also build the approximate (HNSW) graph, with these parameters.
    pub hnsw: Option<crate::ann::HnswParams>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            chunk: 2048,
            limits: BatchLimits::default(),
            include_obsolete: false,
            hnsw: None,
        }
    }
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    /// Distinct names in the index.
    pub names: usize,
    /// Names already embedded by an earlier, interrupted run.
    pub resumed_from: usize,
    /// Names embedded by this run.
    pub embedded: usize,
    /// Seconds this run spent embedding.
    pub seconds: f64,
    /// Size of the index folder in bytes.
    pub bytes: u64,
}

/// Total size of the files in `dir`.
pub fn folder_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn write_bincode<T: serde::Serialize>(value: &T, path: &Path) -> Result<()> {
    let tmp: PathBuf = path.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
    let mut w = std::io::BufWriter::new(file);
    bincode::serialize_into(&mut w, value).map_err(|e| IndexError::Invalid {
        path: tmp.clone(),
        message: e.to_string(),
    })?;
    w.flush().map_err(io_error(&tmp))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

/// Builds (or resumes, or confirms) the index of `kb` with `encoder` in folder `out`.
///
/// `progress(done, total)` is called after every chunk; when `stop` becomes true the build
/// ends after the current chunk with [`IndexError::Interrupted`], and a later call resumes.
#[allow(clippy::too_many_arguments)]
pub fn build(
    kb: &KnowledgeBase,
    encoder: &Encoder,
    model: &str,
    out: &Path,
    options: &BuildOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BuildReport> {
    let names = index_names(kb, options.include_obsolete, out)?;
    let dim = encoder.dim();
    let model_path = encoder.spec().folder.display().to_string();
    let manifest_path = out.join(MANIFEST);
    let vectors_path = out.join(VECTORS_FILE);
    let row_bytes = (dim * 4) as u64;
    let mut manifest = if manifest_path.is_file() {
        let m = Manifest::read(&manifest_path)?;
        if m.fingerprint != names.fingerprint() || m.dim != dim || m.model_path != model_path {
            return Err(IndexError::Invalid {
                path: out.to_path_buf(),
                message: format!(
                    "it holds an index of another KB or model ({}); choose another --out or remove it",
                    m.model
                ),
            });
        }
        m
    } else {
        start_folder(kb, &names, model, &model_path, dim, out)?
    };
    let total = names.len();
    let on_disk = std::fs::metadata(&vectors_path)
        .map_err(io_error(&vectors_path))?
        .len();
    let done_before = ((on_disk / row_bytes) as usize).min(total);
    if manifest.complete && done_before == total {
        progress(total, total);
        ensure_graph(out, dim, options)?;
        return Ok(BuildReport {
            names: total,
            resumed_from: total,
            embedded: 0,
            seconds: 0.0,
            bytes: folder_size(out),
        });
    }
    // Drop a partly written row left by a kill.
    let file = OpenOptions::new()
        .write(true)
        .open(&vectors_path)
        .map_err(io_error(&vectors_path))?;
    file.set_len(done_before as u64 * row_bytes)
        .map_err(io_error(&vectors_path))?;
    drop(file);
    let mut file = OpenOptions::new()
        .append(true)
        .open(&vectors_path)
        .map_err(io_error(&vectors_path))?;
    if done_before > 0 {
        tracing::info!(
            "resuming {}: {done_before} of {total} names already embedded",
            out.display()
        );
    }
    progress(done_before, total);
    let start = Instant::now();
    let mut done = done_before;
    let mut bytes = Vec::with_capacity(options.chunk * dim * 4);
    while done < total {
        if stop.load(Ordering::SeqCst) {
            manifest.embed_seconds += start.elapsed().as_secs_f64();
            manifest.write(&manifest_path)?;
            return Err(IndexError::Interrupted { done, total });
        }
        let end = (done + options.chunk.max(1)).min(total);
        let texts: Vec<&str> = names.names[done..end]
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        let vectors = encoder.embed_with_progress(&texts, options.limits, |_| {})?;
        bytes.clear();
        for row in vectors.rows() {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            for x in row {
                bytes.extend_from_slice(&(x / norm).to_le_bytes());
            }
        }
        file.write_all(&bytes).map_err(io_error(&vectors_path))?;
        file.sync_data().map_err(io_error(&vectors_path))?;
        done = end;
        progress(done, total);
    }
    let seconds = start.elapsed().as_secs_f64();
    manifest.embed_seconds += seconds;
    manifest.complete = true;
    manifest.write(&manifest_path)?;
    ensure_graph(out, dim, options)?;
    Ok(BuildReport {
        names: total,
        resumed_from: done_before,
        embedded: total - done_before,
        seconds,
        bytes: folder_size(out),
    })
}

/// The distinct names of `kb` to index into `out`; an error when there are none.
pub(crate) fn index_names(
    kb: &KnowledgeBase,
    include_obsolete: bool,
    out: &Path,
) -> Result<NameTable> {
    let names = NameTable::from_kb(kb, include_obsolete);
    if names.is_empty() {
        return Err(IndexError::Invalid {
            path: out.to_path_buf(),
            message: "the KB has no names to index".into(),
        });
    }
    Ok(names)
}

/// Starts a new index folder `out` (absent or empty): the KB, the names, an empty vectors file
/// and a manifest marked incomplete.
pub(crate) fn start_folder(
    kb: &KnowledgeBase,
    names: &NameTable,
    model: &str,
    model_path: &str,
    dim: usize,
    out: &Path,
) -> Result<Manifest> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(io_error(out))?
            .next()
            .is_some()
    {
        return Err(IndexError::Invalid {
            path: out.to_path_buf(),
            message: "the folder exists, is not empty and holds no index".into(),
        });
    }
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    biolore_kb::store::save(kb, &out.join(KB_FILE))?;
    write_bincode(names, &out.join(NAMES_FILE))?;
    let vectors_path = out.join(VECTORS_FILE);
    std::fs::File::create(&vectors_path).map_err(io_error(&vectors_path))?;
    let m = Manifest {
        format: FORMAT,
        model: model.to_string(),
        model_path: model_path.to_string(),
        dim,
        names: names.len(),
        concepts: kb.len(),
        fingerprint: names.fingerprint(),
        kb_source: kb.source.clone(),
        complete: false,
        embed_seconds: 0.0,
    };
    m.write(&out.join(MANIFEST))?;
    Ok(m)
}

/// Builds the HNSW graph when asked for and not there yet.
pub(crate) fn ensure_graph(out: &Path, dim: usize, options: &BuildOptions) -> Result<()> {
    let Some(params) = options.hnsw else {
        return Ok(());
    };
    if out
        .join(format!("{}.hnsw.graph", crate::ann::HNSW_BASENAME))
        .is_file()
    {
        return Ok(());
    }
    let path = out.join(VECTORS_FILE);
    let bytes = std::fs::read(&path).map_err(io_error(&path))?;
    let vectors: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    tracing::info!("building the HNSW graph of {}", out.display());
    let seconds = crate::ann::build_graph(&vectors, dim, out, params)?;
    tracing::info!("HNSW graph built in {seconds:.1}s");
    Ok(())
}
