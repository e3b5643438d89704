//! Sentences to label, train on or evaluate: an ADE corpus folder, a JSONL file of sentences
//! (`{"id", "text", "relations"}` — labels files and `extract`'s output), or plain text (one
//! sentence per line).

use std::path::Path;

use crate::ade::{read_corpus, AdeCorpus, Selection};
use crate::error::{ExtractError, Result};
use crate::sentence::AdeSentence;

/// Sentences from `path`, each with whether it holds a relation; an ADE folder is sampled by
/// `selection` (files are read whole, then `limit` applies as a uniform sample).
pub fn read_sentences(path: &Path, selection: &Selection) -> Result<Vec<(AdeSentence, bool)>> {
    let corpus = if path.is_dir() {
        read_corpus(path)?
    } else {
        let sentences = read_file(path)?;
        let (positive, negative) = sentences.into_iter().partition(|s| !s.relations.is_empty());
        AdeCorpus {
            positive,
            negative,
            skipped: Vec::new(),
        }
    };
    Ok(corpus.select(selection))
}

/// Sentences of a JSONL (`.jsonl`/`.json`) or plain-text file; errors name `file:line`.
pub fn read_file(path: &Path) -> Result<Vec<AdeSentence>> {
    let bytes = std::fs::read(path).map_err(|e| ExtractError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| ExtractError::Malformed {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not UTF-8: {e}"),
    })?;
    let jsonl = path
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "json");
    let mut out = Vec::new();
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut sentence = if jsonl {
            serde_json::from_str::<AdeSentence>(line).map_err(|e| ExtractError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("expected {{\"text\": …}} with optional id and relations: {e}"),
            })?
        } else {
            AdeSentence::new("", line.trim())
        };
        if sentence.id.is_empty() {
            sentence.id = (i + 1).to_string();
        }
        let chars = sentence.text.chars().count();
        if let Some(r) = sentence
            .relations
            .iter()
            .find(|r| r.drug.end > chars || r.effect.end > chars)
        {
            return Err(ExtractError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!(
                    "a relation's span ends past the text ({} characters): drug {}..{}, effect {}..{}",
                    chars, r.drug.start, r.drug.end, r.effect.start, r.effect.end
                ),
            });
        }
        out.push(sentence);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_and_plain_sentences() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("s.jsonl");
        std::fs::write(
            &jsonl,
            "{\"text\": \"Aspirin caused asthma.\", \"relations\": [{\"drug\": {\"start\": 0, \"end\": 7, \"text\": \"Aspirin\"}, \"effect\": {\"start\": 15, \"end\": 21, \"text\": \"asthma\"}}]}\n\n{\"id\": \"x\", \"text\": \"Nothing.\"}\n",
        )
        .unwrap();
        let s = read_sentences(&jsonl, &Selection::default()).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].1 && !s[1].1);
        assert_eq!((s[0].0.id.as_str(), s[1].0.id.as_str()), ("1", "x"));
        let plain = dir.path().join("s.txt");
        std::fs::write(&plain, "One.\nTwo.\n").unwrap();
        assert_eq!(read_file(&plain).unwrap().len(), 2);
    }

    #[test]
    fn spans_past_the_text_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("s.jsonl");
        std::fs::write(
            &jsonl,
            "{\"text\": \"Short.\", \"relations\": [{\"drug\": {\"start\": 0, \"end\": 5, \"text\": \"Short\"}, \"effect\": {\"start\": 20, \"end\": 30, \"text\": \"x\"}}]}\n",
        )
        .unwrap();
        let e = read_file(&jsonl).unwrap_err().to_string();
        assert!(
            e.contains("s.jsonl:1") && e.contains("past the text"),
            "{e}"
        );
        let bad = dir.path().join("b.jsonl");
        std::fs::write(&bad, "{\"id\": 3}\n").unwrap();
        assert!(read_file(&bad)
            .unwrap_err()
            .to_string()
            .contains("b.jsonl:1"));
    }
}
