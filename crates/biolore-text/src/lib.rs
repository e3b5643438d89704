//! Documents with character offsets — the text side of biolore's data path.
//!
//! A [`Document`] holds passages (title, abstract, …) placed at character offsets in the
//! document's text, annotations ([`Annotation`]: a [`Span`] with its type and concept ids) and
//! relations between them. [`pubtator`], [`bioc`] and [`jsonl`] read and write it;
//! [`sentences`] splits text into sentences without losing offsets. Offsets count Unicode
//! scalar values (characters), as PubTator and BioC do, never bytes.

pub mod bioc;
pub mod document;
pub mod error;
pub mod jsonl;
pub mod pubtator;
pub mod records;
pub mod sentences;

pub use document::{Annotation, Document, Node, Passage, Relation, Span};
pub use error::{Result, TextError};
pub use sentences::{sentence_spans, split_sentences};

/// Document formats biolore reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PubTator: `PMID|t|title`, `PMID|a|abstract`, tab-separated annotation lines.
    Pubtator,
    /// BioC JSON: a collection of documents with passages and located annotations.
    BiocJson,
    /// JSON lines: one [`Document`] per line.
    Jsonl,
}

impl Format {
    /// The format a file name suggests: `.json` BioC JSON, `.jsonl` JSONL, anything else PubTator.
    pub fn from_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Self::BiocJson,
            Some(e) if e.eq_ignore_ascii_case("jsonl") => Self::Jsonl,
            _ => Self::Pubtator,
        }
    }
}

/// Reads documents from `path` in `format`.
pub fn read(path: &std::path::Path, format: Format) -> Result<Vec<Document>> {
    let text = error::read_text(path)?;
    parse(path, &text, format)
}

/// Parses documents from `text` (read from `source`, named in errors) in `format`.
pub fn parse(source: &std::path::Path, text: &str, format: Format) -> Result<Vec<Document>> {
    match format {
        Format::Pubtator => pubtator::parse(source, text),
        Format::BiocJson => bioc::parse(source, text),
        Format::Jsonl => jsonl::parse(source, text),
    }
}

/// Writes documents in `format`.
pub fn write<W: std::io::Write>(out: W, docs: &[Document], format: Format) -> std::io::Result<()> {
    match format {
        Format::Pubtator => pubtator::write(out, docs),
        Format::BiocJson => bioc::write(out, docs),
        Format::Jsonl => jsonl::write(out, docs),
    }
}
