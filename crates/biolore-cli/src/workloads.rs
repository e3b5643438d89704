//! The fixed benchmark workloads: MEDIC disease names and NCBI-disease abstract sentences.

use std::path::Path;

use anyhow::{Context, Result};

/// Preferred names of the first `limit` concepts of a MEDIC/BioSyn dictionary (`ID||name|synonym…`).
pub fn medic_names(path: &Path, limit: usize) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once("||"))
        .filter_map(|(_, names)| names.split('|').next())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .take(limit)
        .map(String::from)
        .collect())
}

/// Sentences of the titles and abstracts of PubTator documents, in file order, at most `limit`.
pub fn pubtator_sentences(path: &Path, limit: usize) -> Result<Vec<String>> {
    let docs = biolore_text::pubtator::read(path)?;
    Ok(docs
        .iter()
        .flat_map(|d| d.passages.iter())
        .flat_map(|p| biolore_text::split_sentences(&p.text))
        .take(limit)
        .map(String::from)
        .collect())
}
