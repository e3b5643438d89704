//! Reading texts for `embed` and `link`: a file or stdin; plain lines or JSONL records (parsed by
//! `biolore_text::records`).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
pub use biolore_text::records::InputText;

/// Reads all bytes of `path`, or of stdin when `path` is `None` or `-`.
pub fn read_source(path: Option<&Path>) -> Result<(String, Vec<u8>)> {
    match path {
        Some(p) if p != Path::new("-") => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Ok((p.display().to_string(), bytes))
        }
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            Ok(("<stdin>".to_string(), bytes))
        }
    }
}

/// Parses plain text: one text per line (see [`biolore_text::records::parse_plain`]).
pub fn parse_plain(source: &str, bytes: &[u8]) -> Result<Vec<InputText>> {
    Ok(biolore_text::records::parse_plain(
        Path::new(source),
        bytes,
    )?)
}

/// Parses JSONL records whose `field` holds the text (see [`biolore_text::records::parse_jsonl`]).
pub fn parse_jsonl(source: &str, bytes: &[u8], field: &str) -> Result<Vec<InputText>> {
    Ok(biolore_text::records::parse_jsonl(
        Path::new(source),
        bytes,
        field,
    )?)
}
