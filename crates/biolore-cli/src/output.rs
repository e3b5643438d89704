//! Writing embeddings: JSONL records or a NumPy `.npy` matrix, written in order as batches finish.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::input::InputText;

/// Where and how embeddings are written.
pub enum Sink {
    /// JSONL records to stdout or a file (written as `.partial`, renamed on success).
    Jsonl(TextOut),
    /// A float32 `.npy` matrix `[n, dim]`.
    Npy {
        /// Destination (a temporary file until finished).
        out: BufWriter<File>,
        /// (temporary path, final path).
        paths: (PathBuf, PathBuf),
    },
}

/// The temporary name a file is written under before it is renamed into place.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// NumPy format 1.0 header for a little-endian float32 C-order matrix.
pub fn npy_header(rows: usize, dim: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header_len = dict.len() + pad + 1;
    let mut h = Vec::with_capacity(10 + header_len);
    h.extend_from_slice(b"\x93NUMPY\x01\x00");
    h.extend_from_slice(&(header_len as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    h
}

impl Sink {
    /// Opens the sink: `.npy` when `path` ends so, else JSONL (stdout when `path` is `None`).
    pub fn open(path: Option<&Path>, rows: usize, dim: usize) -> Result<Self> {
        match path {
            Some(p) if p.extension().is_some_and(|e| e == "npy") => {
                let tmp = partial_path(p);
                let file = File::create(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                let mut out = BufWriter::new(file);
                out.write_all(&npy_header(rows, dim))?;
                Ok(Sink::Npy {
                    out,
                    paths: (tmp, p.to_path_buf()),
                })
            }
            _ => Ok(Sink::Jsonl(TextOut::open(path)?)),
        }
    }

    /// Writes one input's embedding.
    pub fn write(&mut self, input: &InputText, embedding: &[f32]) -> Result<()> {
        match self {
            Sink::Jsonl(out) => {
                let mut record = input.record.clone().unwrap_or_default();
                if input.record.is_none() {
                    record.insert("text".into(), Value::String(input.text.clone()));
                }
                record.insert(
                    "embedding".into(),
                    Value::Array(
                        embedding
                            .iter()
                            .map(|&x| {
                                serde_json::Number::from_f64(f64::from(x))
                                    .map_or(Value::Null, Value::Number)
                            })
                            .collect(),
                    ),
                );
                serde_json::to_writer(&mut *out, &Value::Object(record))?;
                out.write_all(b"\n")?;
            }
            Sink::Npy { out, .. } => {
                for x in embedding {
                    out.write_all(&x.to_le_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// Flushes and moves a finished file into place.
    pub fn finish(self) -> Result<()> {
        match self {
            Sink::Jsonl(out) => out.finish()?,
            Sink::Npy { mut out, paths } => {
                out.flush()?;
                drop(out);
                std::fs::rename(&paths.0, &paths.1).with_context(|| {
                    format!("cannot move {} to {}", paths.0.display(), paths.1.display())
                })?;
            }
        }
        Ok(())
    }
}

/// The `--output` of a command whose input is the Parquet file `input`: it must be Parquet too.
pub fn parquet_output<'a>(output: Option<&'a Path>, input: &Path) -> Result<&'a Path> {
    match output {
        Some(o) if biolore_columnar::is_parquet(o) => Ok(o),
        _ => anyhow::bail!(
            "a Parquet input is written as Parquet: give --output FILE.parquet (for {})",
            input.display()
        ),
    }
}

/// Text output (JSONL or a listing) to stdout, or to a file written as `FILE.partial` and
/// renamed when finished, so a failed run leaves any earlier file as it was.
pub struct TextOut {
    out: Box<dyn Write>,
    paths: Option<(PathBuf, PathBuf)>,
}

impl TextOut {
    /// Opens stdout (`None` or `-`) or a file.
    pub fn open(path: Option<&Path>) -> Result<Self> {
        match path {
            Some(p) if p != Path::new("-") => {
                let tmp = partial_path(p);
                let file = File::create(&tmp)
                    .with_context(|| format!("cannot create {}", tmp.display()))?;
                Ok(Self {
                    out: Box::new(BufWriter::new(file)),
                    paths: Some((tmp, p.to_path_buf())),
                })
            }
            _ => Ok(Self {
                out: Box::new(BufWriter::new(std::io::stdout().lock())),
                paths: None,
            }),
        }
    }

    /// Flushes and moves a finished file into place.
    pub fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        if let Some((tmp, dest)) = self.paths.take() {
            std::fs::rename(&tmp, &dest)
                .with_context(|| format!("cannot move {} to {}", tmp.display(), dest.display()))?;
        }
        Ok(())
    }
}

impl Write for TextOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for TextOut {
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.paths.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_parseable() {
        let h = npy_header(3, 768);
        assert_eq!(h.len() % 64, 0);
        assert!(h.starts_with(b"\x93NUMPY\x01\x00"));
        let text = String::from_utf8_lossy(&h[10..]);
        assert!(text.contains("'shape': (3, 768)"));
        assert!(text.ends_with('\n'));
    }
}
