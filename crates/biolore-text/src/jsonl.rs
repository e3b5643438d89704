//! JSON lines: one document per line, `{"id", "passages": [{"type", "offset", "text"}],
//! "annotations": [{"start", "end", "text", "type", "ids"}], "relations"}`; `"text"` may stand
//! for a single passage, and a missing `"id"` becomes the line number.

use std::io::Write;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::document::{Annotation, Document, Passage, Relation};
use crate::error::{Result, TextError};

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    passages: Vec<Passage>,
    #[serde(default)]
    annotations: Vec<Annotation>,
    #[serde(default)]
    relations: Vec<Relation>,
}

/// Parses JSON lines; blank lines are skipped, errors name `source:line`.
pub fn parse(source: &Path, text: &str) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(line)
            .map_err(|e| TextError::malformed(source, n, format!("not a document: {e}")))?;
        let id = match parsed.id {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => n.to_string(),
            Some(other) => other.to_string(),
        };
        let mut passages = parsed.passages;
        if let Some(text) = parsed.text {
            if !passages.is_empty() {
                return Err(TextError::malformed(
                    source,
                    n,
                    "give \"text\" or \"passages\", not both",
                ));
            }
            passages.push(Passage {
                kind: "text".into(),
                offset: 0,
                text,
            });
        }
        let doc = Document {
            id,
            passages,
            annotations: parsed.annotations,
            relations: parsed.relations,
        };
        doc.check_passages()
            .map_err(|message| TextError::malformed(source, n, message))?;
        docs.push(doc);
    }
    Ok(docs)
}

/// Reads a JSONL file of documents.
pub fn read(path: &Path) -> Result<Vec<Document>> {
    parse(path, &crate::error::read_text(path)?)
}

/// Writes one document per line.
pub fn write<W: Write>(mut out: W, docs: &[Document]) -> std::io::Result<()> {
    for doc in docs {
        serde_json::to_writer(&mut out, doc)?;
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_text_or_passages() {
        let text = "{\"id\": \"a\", \"text\": \"Wilson disease.\", \"annotations\": [{\"start\": 0, \"end\": 14, \"text\": \"Wilson disease\", \"type\": \"Disease\", \"ids\": \"D006527\"}]}\n\n{\"passages\": [{\"type\": \"title\", \"offset\": 0, \"text\": \"x\"}]}\n";
        let docs = parse(Path::new("d.jsonl"), text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].annotations[0].span.kind, "Disease");
        assert!(docs[0].misaligned().is_empty());
        assert_eq!(docs[1].id, "3");
        let mut out = Vec::new();
        write(&mut out, &docs).unwrap();
        assert_eq!(
            parse(Path::new("w"), std::str::from_utf8(&out).unwrap()).unwrap(),
            docs
        );
        let e = parse(Path::new("d.jsonl"), "{}\n{\"text\": 3}\n").unwrap_err();
        assert!(e.to_string().starts_with("d.jsonl:2:"), "{e}");
    }
}
