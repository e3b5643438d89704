//! Opening a linker: the index (given, or the default terminology's, imported and built on first
//! use), its model, and training mentions added as names. The CLI, the server and the Python
//! package call this; they only supply how an index build reports progress.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use biolore_encoder::{resolve_model, BatchLimits, Encoder, Precision};
use biolore_index::Index;
use biolore_kb::KnowledgeBase;
use candle_core::Device;

use crate::augment::training_mentions;
use crate::error::{LinkError, Result};
use crate::linker::Linker;
use crate::queries::QueryOptions;

/// Builds an index: `(kb, encoder, model name, output folder)`. The CLI passes one that shows a
/// progress bar and stops cleanly on Ctrl-C; [`build_quietly`] is the plain one.
pub type IndexBuilder<'a> = dyn FnMut(
        &KnowledgeBase,
        &Encoder,
        &str,
        &Path,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>
    + 'a;

/// Builds an index without progress output.
pub fn build_quietly(
    kb: &KnowledgeBase,
    encoder: &Encoder,
    model: &str,
    out: &Path,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    biolore_index::build(
        kb,
        encoder,
        model,
        out,
        &biolore_index::BuildOptions::default(),
        &stop,
        &mut |_, _| {},
    )?;
    Ok(())
}

/// What to open.
#[derive(Debug, Clone, Default)]
pub struct LinkerOptions {
    /// Index folder (default: the default terminology's index for `model`).
    pub index: Option<PathBuf>,
    /// Model for the mentions (default: the index's model).
    pub model: Option<String>,
    /// Search through the index's HNSW graph.
    pub approximate: bool,
    /// A PubTator training corpus whose annotated mentions become names of their concepts.
    pub add_mentions: Option<PathBuf>,
    /// How mentions become queries (abbreviations of the training mentions too).
    pub queries: QueryOptions,
    /// Batch limits of the encoder.
    pub limits: BatchLimits,
    /// Where the default terminology and its indexes live (default: `BIOLORE_DATA`, else `data`).
    pub data_dir: Option<PathBuf>,
    /// Precision of the mention encoder (int8: faster on the CPU, vectors within cosine 0.999).
    pub precision: Precision,
}

/// An opened linker and how it was opened.
#[derive(Debug)]
pub struct OpenedLinker {
    /// The linker.
    pub linker: Linker,
    /// The index folder.
    pub index_dir: PathBuf,
    /// Names added from the training corpus.
    pub added: usize,
}

/// The data directory: `BIOLORE_DATA`, else `./data`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("BIOLORE_DATA").map_or_else(|| PathBuf::from("data"), PathBuf::from)
}

/// Opens the index and its model, and adds the training mentions.
pub fn open_linker(
    options: &LinkerOptions,
    device: &Device,
    builder: &mut IndexBuilder<'_>,
) -> Result<OpenedLinker> {
    let dir = match &options.index {
        Some(dir) => dir.clone(),
        None => default_index(
            options.model.as_deref(),
            &options.data_dir.clone().unwrap_or_else(data_dir),
            device,
            builder,
        )?,
    };
    let mut index = Index::open(&dir)?;
    if options.approximate && !index.has_graph() {
        tracing::warn!("{} has no HNSW graph: searching exactly", dir.display());
    }
    let folder = match &options.model {
        Some(m) => resolve_model(m)?,
        None => PathBuf::from(&index.manifest().model_path),
    };
    let encoder = Encoder::load_with_precision(&folder, device, options.precision)?;
    if encoder.dim() != index.dim() {
        return Err(LinkError::Mismatch(format!(
            "model {} gives {}-d vectors but the index {} holds {}-d vectors",
            folder.display(),
            encoder.dim(),
            dir.display(),
            index.dim()
        )));
    }
    let mut added = 0;
    if let Some(train) = &options.add_mentions {
        let docs = biolore_text::pubtator::read(train)?;
        let items = training_mentions(&docs, index.kb(), options.queries);
        added = index.add_names(&items, &encoder)?;
        tracing::info!("added {added} names from {}", train.display());
    }
    let linker = Linker::new(Arc::new(encoder), Arc::new(index), options.limits)
        .approximate(options.approximate);
    Ok(OpenedLinker {
        linker,
        index_dir: dir,
        added,
    })
}

/// A folder-name-safe short form of a model name (`sentence-transformers/x` → `x`).
fn short_name(model: &str) -> String {
    model
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or(model)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The default terminology's index for `model`, importing and building it on first use.
///
/// The Human Phenotype Ontology (`DATA/terminologies/hp.obo`, fetched by `scripts/setup.sh`) is
/// imported to `DATA/indexes/hpo.kb` and indexed into `DATA/indexes/hpo.<model>`; later calls
/// reuse both, and an interrupted build resumes.
pub fn default_index(
    model: Option<&str>,
    data: &Path,
    device: &Device,
    builder: &mut IndexBuilder<'_>,
) -> Result<PathBuf> {
    let model = model.unwrap_or(biolore_encoder::DEFAULT_MODEL);
    let obo = data.join("terminologies/hp.obo");
    if !obo.is_file() {
        return Err(LinkError::Path {
            path: obo,
            message: "the default terminology is missing: run scripts/setup.sh terminologies (or pass --index)".into(),
        });
    }
    let indexes = data.join("indexes");
    std::fs::create_dir_all(&indexes).map_err(|e| LinkError::Path {
        path: indexes.clone(),
        message: format!("cannot create: {e}"),
    })?;
    let kb_path = indexes.join("hpo.kb");
    if !kb_path.is_file() {
        let loaded = biolore_kb::load::obo::load(&[obo.as_path()], biolore_kb::Policy::Skip)?;
        let mut kb = loaded.kb;
        kb.source = format!("obo: {}", obo.display());
        biolore_kb::store::save(&kb, &kb_path)?;
    }
    let dir = indexes.join(format!("hpo.{}", short_name(model)));
    let complete =
        biolore_index::Manifest::read(&dir.join("manifest.json")).is_ok_and(|m| m.complete);
    if !complete {
        tracing::info!(
            "building the default index (HPO) with {model} into {} — once; later runs reuse it",
            dir.display()
        );
        let kb = biolore_kb::store::open(&kb_path)?;
        let encoder = Encoder::load_with_precision(
            &resolve_model(model)?,
            device,
            biolore_encoder::Precision::F32,
        )?;
        builder(&kb, &encoder, model, &dir).map_err(|source| LinkError::Build {
            path: dir.clone(),
            source,
        })?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_index_names_the_missing_terminology() {
        let tmp = std::env::temp_dir().join("biolore-link-no-data");
        let e = default_index(Some("m"), &tmp, &Device::Cpu, &mut build_quietly).unwrap_err();
        assert!(e.to_string().contains("terminologies/hp.obo"), "{e}");
        assert_eq!(
            short_name("sentence-transformers/all-MiniLM-L6-v2"),
            "all-MiniLM-L6-v2"
        );
    }
}
