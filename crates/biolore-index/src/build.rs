//! Building an index folder: embed every distinct name, append vectors in chunks, resume after
//! an interruption (Ctrl-C or kill -9) from the last complete chunk.
//!
//! Layout: `manifest.json` (written last with `complete: true`), `kb.bin` (the KB), `names.bin`
//! (the name table), `vectors.f32` (little-endian float32 rows, L2-normalised). An int8 index
//! (`BuildOptions::precision`) is built as float32 first, then quantized: `vectors.i8` and
//! `vector-scales.f32` replace `vectors.f32` (see [`crate::quantized`]).

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
use crate::quantized::{Precision, QuantizeReport};

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
    /// How to store the vectors (int8: quantized once every name is embedded).
    pub precision: Precision,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            chunk: 2048,
            limits: BatchLimits::default(),
            include_obsolete: false,
            hnsw: None,
            precision: Precision::F32,
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
    /// The quantization this run did (int8 indexes; `None` when there was none to do).
    pub quantized: Option<QuantizeReport>,
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
        let why = if m.fingerprint != names.fingerprint() {
            Some("another KB (its names differ)".to_string())
        } else if m.dim != dim || !same_folder(&m.model_path, &model_path) {
            Some(format!(
                "another model ({}, {} dimensions)",
                m.model_path, m.dim
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(IndexError::Invalid {
                path: out.to_path_buf(),
                message: format!("it holds an index of {why}; choose another --out or remove it"),
            });
        }
        m
    } else {
        start_folder(kb, &names, model, &model_path, dim, out)?
    };
    let total = names.len();
    // A finished int8 index has no float file to count rows in.
    let finished_int8 = manifest.complete && manifest.precision == Precision::Int8;
    if finished_int8 {
        check_precision(out, &manifest, options.precision)?;
    }
    let done_before = if finished_int8 {
        total
    } else {
        let on_disk = std::fs::metadata(&vectors_path)
            .map_err(io_error(&vectors_path))?
            .len();
        ((on_disk / row_bytes) as usize).min(total)
    };
    if manifest.complete && done_before == total {
        progress(total, total);
        ensure_graph(out, dim, options)?;
        let quantized = ensure_precision(out, &mut manifest, options.precision)?;
        return Ok(BuildReport {
            names: total,
            resumed_from: total,
            embedded: 0,
            seconds: 0.0,
            bytes: folder_size(out),
            quantized,
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
    let quantized = ensure_precision(out, &mut manifest, options.precision)?;
    Ok(BuildReport {
        names: total,
        resumed_from: done_before,
        embedded: total - done_before,
        seconds,
        bytes: folder_size(out),
        quantized,
    })
}

/// Whether two model paths name the same folder (a relative and an absolute path may).
fn same_folder(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Refuses to turn a complete int8 index back into float32 (its float vectors are gone).
pub(crate) fn check_precision(out: &Path, manifest: &Manifest, wanted: Precision) -> Result<()> {
    if manifest.precision == Precision::Int8 && wanted == Precision::F32 {
        return Err(IndexError::Invalid {
            path: out.to_path_buf(),
            message: "it holds an int8 index (its float32 vectors were removed when it was \
                      quantized); build the float32 index into another --out, or pass \
                      --precision int8"
                .into(),
        });
    }
    Ok(())
}

/// Quantizes a complete float32 index to int8 when `wanted` asks for it: codes and scales are
/// written, the manifest records int8, then `vectors.f32` is removed (an interruption at any
/// point leaves an index that opens, and the next build finishes the job).
pub(crate) fn ensure_precision(
    out: &Path,
    manifest: &mut Manifest,
    wanted: Precision,
) -> Result<Option<QuantizeReport>> {
    if wanted == Precision::F32 || manifest.precision == Precision::Int8 {
        return Ok(None);
    }
    tracing::info!("quantizing {} to int8", out.display());
    let report =
        crate::quantized::quantize_folder(out, manifest.names, manifest.dim, &mut |_, _| {})?;
    manifest.precision = Precision::Int8;
    manifest.write(&out.join(MANIFEST))?;
    let f32_path = out.join(VECTORS_FILE);
    std::fs::remove_file(&f32_path).map_err(io_error(&f32_path))?;
    tracing::info!(
        "quantized {} vectors in {:.1}s (smallest cosine to float32 {:.5})",
        report.rows,
        report.seconds,
        report.min_cosine
    );
    Ok(Some(report))
}

/// Every vector of a complete index as float32 rows (int8 rows dequantized).
pub(crate) fn read_vectors(out: &Path, manifest: &Manifest) -> Result<Vec<f32>> {
    match manifest.precision {
        Precision::F32 => {
            let path = out.join(VECTORS_FILE);
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }
        Precision::Int8 => {
            let path = out.join(crate::quantized::CODES_FILE);
            let codes = std::fs::read(&path).map_err(io_error(&path))?;
            let scales = crate::quantized::read_scales(out, manifest.names)?;
            let dim = manifest.dim;
            if codes.len() != manifest.names * dim {
                return Err(IndexError::Invalid {
                    path,
                    message: format!(
                        "{} bytes, expected {} rows of {dim}",
                        codes.len(),
                        manifest.names
                    ),
                });
            }
            let mut vectors = vec![0f32; codes.len()];
            for ((row, out_row), scale) in codes
                .chunks_exact(dim)
                .zip(vectors.chunks_exact_mut(dim))
                .zip(scales)
            {
                let row: &[i8] = bytemuck::cast_slice(row);
                crate::quantized::dequantize_row(row, scale, out_row);
            }
            Ok(vectors)
        }
    }
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
        precision: crate::quantized::Precision::F32,
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
    let manifest = Manifest::read(&out.join(MANIFEST))?;
    let vectors = read_vectors(out, &manifest)?;
    tracing::info!("building the HNSW graph of {}", out.display());
    let seconds = crate::ann::build_graph(&vectors, dim, out, params)?;
    tracing::info!("HNSW graph built in {seconds:.1}s");
    Ok(())
}
