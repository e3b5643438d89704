//! An index from vectors computed elsewhere — by Spark or Ray workers, or `biolore embed` on
//! another machine — so that an index built on a cluster is served from one machine.
//!
//! The names come from the KB (`biolore index names` writes them for the workers); each vector is
//! matched to its name by exact text, L2-normalised and written at that name's row. Every name
//! must get a vector; texts that are not names of the KB are counted and ignored.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use biolore_kb::KnowledgeBase;

use crate::build::{
    ensure_graph, folder_size, index_names, start_folder, BuildOptions, MANIFEST, VECTORS_FILE,
};
use crate::error::{io_error, IndexError, Result};
use crate::manifest::Manifest;
use crate::names::NameTable;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Names in the index (each got a vector).
    pub names: usize,
    /// Vectors read.
    pub read: usize,
    /// Vectors whose text is not a name of the KB (ignored).
    pub unknown: usize,
    /// Vectors for a name that already had one (the first is kept).
    pub duplicates: usize,
    /// Size of the index folder in bytes.
    pub bytes: u64,
    /// The int8 quantization done at the end (`BuildOptions::precision`).
    pub quantized: Option<crate::quantized::QuantizeReport>,
}

/// An index folder being filled with vectors from outside.
#[derive(Debug)]
pub struct VectorImport {
    out: PathBuf,
    names: NameTable,
    rows: HashMap<String, usize>,
    filled: Vec<bool>,
    file: File,
    dim: usize,
    manifest: Manifest,
    report: ImportReport,
}

impl VectorImport {
    /// Starts an index of `kb` in the new folder `out` for `dim`-dimensional vectors of `model`
    /// (its folder `model_path`: the linker embeds mentions with it).
    pub fn create(
        kb: &KnowledgeBase,
        model: &str,
        model_path: &Path,
        dim: usize,
        out: &Path,
        include_obsolete: bool,
    ) -> Result<Self> {
        let names = index_names(kb, include_obsolete, out)?;
        let model_path = model_path.display().to_string();
        let manifest = start_folder(kb, &names, model, &model_path, dim, out)?;
        let vectors_path = out.join(VECTORS_FILE);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&vectors_path)
            .map_err(io_error(&vectors_path))?;
        file.set_len((names.len() * dim * 4) as u64)
            .map_err(io_error(&vectors_path))?;
        let rows = names
            .names
            .iter()
            .enumerate()
            .map(|(i, e)| (e.text.clone(), i))
            .collect();
        Ok(Self {
            out: out.to_path_buf(),
            filled: vec![false; names.len()],
            names,
            rows,
            file,
            dim,
            manifest,
            report: ImportReport::default(),
        })
    }

    /// Dimension the vectors must have.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Stores `vector` for the name `text`; false when `text` is not a name of the KB.
    pub fn add(&mut self, text: &str, vector: &[f32]) -> Result<bool> {
        self.report.read += 1;
        if vector.len() != self.dim {
            return Err(IndexError::Invalid {
                path: self.out.clone(),
                message: format!(
                    "the vector of '{text}' has {} dimensions; the model gives {}",
                    vector.len(),
                    self.dim
                ),
            });
        }
        let Some(&row) = self.rows.get(text) else {
            self.report.unknown += 1;
            return Ok(false);
        };
        if self.filled[row] {
            self.report.duplicates += 1;
            return Ok(true);
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        let bytes: Vec<u8> = vector
            .iter()
            .flat_map(|x| (x / norm).to_le_bytes())
            .collect();
        let path = self.out.join(VECTORS_FILE);
        self.file
            .seek(SeekFrom::Start((row * self.dim * 4) as u64))
            .map_err(io_error(&path))?;
        self.file.write_all(&bytes).map_err(io_error(&path))?;
        self.filled[row] = true;
        Ok(true)
    }

    /// Names still without a vector, with up to `examples` of them.
    pub fn missing(&self, examples: usize) -> (usize, Vec<&str>) {
        let missing: Vec<&str> = self
            .filled
            .iter()
            .zip(&self.names.names)
            .filter(|(f, _)| !**f)
            .map(|(_, e)| e.text.as_str())
            .collect();
        let n = missing.len();
        (n, missing.into_iter().take(examples).collect())
    }

    /// Completes the index (and its HNSW graph when `options.hnsw` asks); fails, naming some,
    /// when names are without a vector.
    pub fn finish(mut self, options: &BuildOptions) -> Result<ImportReport> {
        let (n, examples) = self.missing(3);
        if n > 0 {
            return Err(IndexError::Invalid {
                path: self.out.clone(),
                message: format!(
                    "{n} of the KB's {} names have no vector (e.g. {}); embed every name that \
                     `biolore index names` lists",
                    self.names.len(),
                    examples
                        .iter()
                        .map(|e| format!("'{e}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let path = self.out.join(VECTORS_FILE);
        self.file.sync_all().map_err(io_error(&path))?;
        self.manifest.complete = true;
        self.manifest.write(&self.out.join(MANIFEST))?;
        ensure_graph(&self.out, self.dim, options)?;
        self.report.quantized =
            crate::build::ensure_precision(&self.out, &mut self.manifest, options.precision)?;
        self.report.names = self.names.len();
        self.report.bytes = folder_size(&self.out);
        Ok(self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use biolore_kb::Concept;

    fn kb() -> KnowledgeBase {
        let mut kb = KnowledgeBase::new("test");
        for (id, name) in [("D1", "heart attack"), ("D2", "stroke")] {
            kb.add(Concept {
                id: id.into(),
                name: name.into(),
                ..Default::default()
            });
        }
        kb
    }

    #[test]
    fn vectors_land_at_their_names_rows_normalised_and_missing_names_fail() {
        let dir = std::env::temp_dir().join(format!("biolore-import-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kb = kb();
        let mut import = VectorImport::create(&kb, "m", Path::new("/m"), 2, &dir, false).unwrap();
        assert!(import.add("stroke", &[0.0, 2.0]).unwrap());
        assert!(!import.add("not a name", &[1.0, 0.0]).unwrap());
        assert!(import.add("stroke", &[5.0, 0.0]).unwrap());
        assert!(import.add("stroke", &[1.0]).is_err());
        assert_eq!(import.missing(3), (1, vec!["heart attack"]));
        assert!(import.add("heart attack", &[3.0, 4.0]).unwrap());
        let report = import.finish(&BuildOptions::default()).unwrap();
        assert_eq!(
            (report.names, report.read, report.unknown, report.duplicates),
            (2, 5, 1, 1)
        );
        let bytes = std::fs::read(dir.join(VECTORS_FILE)).unwrap();
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(v, [0.6, 0.8, 0.0, 1.0]);
        let index = crate::Index::open(&dir).unwrap();
        assert_eq!(index.names().len(), 2);
        let hits = index.search(&[vec![0.0, 1.0]], 1);
        assert_eq!(kb.concepts()[hits[0][0].concept as usize].id, "D2");
        assert!((hits[0][0].score - 1.0).abs() < 1e-6);

        let dir2 = dir.with_extension("missing");
        let _ = std::fs::remove_dir_all(&dir2);
        let mut import = VectorImport::create(&kb, "m", Path::new("/m"), 2, &dir2, false).unwrap();
        import.add("stroke", &[0.0, 1.0]).unwrap();
        let e = import
            .finish(&BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("1 of the KB's 2 names") && e.contains("'heart attack'"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&dir2);
    }
}
