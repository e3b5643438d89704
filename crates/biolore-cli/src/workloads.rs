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
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, '|');
        let (Some(_pmid), Some(kind), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if kind != "t" && kind != "a" {
            continue;
        }
        for s in split_sentences(body) {
            if out.len() == limit {
                return Ok(out);
            }
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// Splits text after `.`, `?` or `!` followed by a space and an upper-case letter or digit.
pub fn split_sentences(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..bytes.len() {
        if matches!(bytes[i], b'.' | b'?' | b'!')
            && bytes.get(i + 1) == Some(&b' ')
            && bytes
                .get(i + 2)
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            let s = text[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 2;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_terminal_punctuation() {
        let s = split_sentences(
            "WNT signalling is key. In response, beta-catenin is stable. e.g. no split. 3 cases.",
        );
        assert_eq!(
            s,
            vec![
                "WNT signalling is key.",
                "In response, beta-catenin is stable. e.g. no split.",
                "3 cases."
            ]
        );
    }
}
