//! BioC JSON (the format of PubTator Central's BioC API and of BioC-JSON corpora): a collection
//! of documents, each of passages with an `offset`, a `text` and located annotations
//! (`infons.type`, `infons.identifier`, `locations: [{offset, length}]`), and relations whose
//! nodes refer to annotation ids.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::document::{Annotation, Document, Node, Passage, Relation, Span};
use crate::error::{Result, TextError};

type Infons = Map<String, Value>;

#[derive(Debug, Serialize, Deserialize)]
struct Collection {
    #[serde(default)]
    source: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    infons: Infons,
    documents: Vec<BiocDocument>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BiocDocument {
    id: Value,
    #[serde(default)]
    infons: Infons,
    #[serde(default)]
    passages: Vec<BiocPassage>,
    #[serde(default)]
    annotations: Vec<BiocAnnotation>,
    #[serde(default)]
    relations: Vec<BiocRelation>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BiocPassage {
    #[serde(default)]
    infons: Infons,
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    sentences: Vec<Value>,
    #[serde(default)]
    annotations: Vec<BiocAnnotation>,
    #[serde(default)]
    relations: Vec<BiocRelation>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BiocAnnotation {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    infons: Infons,
    #[serde(default)]
    text: String,
    #[serde(default)]
    locations: Vec<Location>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Location {
    offset: usize,
    length: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct BiocRelation {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    infons: Infons,
    #[serde(default)]
    nodes: Vec<BiocNode>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BiocNode {
    refid: Value,
    #[serde(default)]
    role: String,
}

/// A JSON scalar as text (ids are strings in BioC, numbers in some files).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn infon(infons: &Infons, key: &str) -> String {
    infons.get(key).map(scalar).unwrap_or_default()
}

/// Parses BioC JSON: a collection, a list of documents, or one document.
pub fn parse(source: &Path, text: &str) -> Result<Vec<Document>> {
    let json_error =
        |e: serde_json::Error| TextError::malformed(source, e.line().max(1), e.to_string());
    let value: Value = serde_json::from_str(text).map_err(json_error)?;
    let documents: Vec<BiocDocument> = match value {
        Value::Array(_) => serde_json::from_value(value),
        Value::Object(ref o) if o.contains_key("documents") => {
            serde_json::from_value::<Collection>(value).map(|c| c.documents)
        }
        Value::Object(_) => serde_json::from_value(value).map(|d| vec![d]),
        _ => {
            return Err(TextError::malformed(
                source,
                1,
                "expected a BioC collection, a list of documents or a document",
            ))
        }
    }
    .map_err(|e| TextError::malformed(source, 1, format!("not BioC JSON: {e}")))?;
    let mut docs = Vec::with_capacity(documents.len());
    for d in documents {
        let doc = document(d);
        doc.check_passages()
            .map_err(|message| TextError::Document {
                path: source.to_path_buf(),
                document: doc.id.clone(),
                message,
            })?;
        docs.push(doc);
    }
    Ok(docs)
}

fn annotation(a: BiocAnnotation) -> Annotation {
    let start = a.locations.iter().map(|l| l.offset).min().unwrap_or(0);
    let end = a
        .locations
        .iter()
        .map(|l| l.offset.saturating_add(l.length))
        .max()
        .unwrap_or(start);
    let parts = infon(&a.infons, "parts");
    Annotation {
        id: a.id.as_ref().map(scalar),
        span: Span {
            start,
            end,
            text: a.text,
            kind: infon(&a.infons, "type"),
        },
        ids: infon(&a.infons, "identifier"),
        parts: parts
            .split('|')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect(),
    }
}

fn relation(r: BiocRelation) -> Relation {
    Relation {
        id: r.id.as_ref().map(scalar),
        kind: infon(&r.infons, "type"),
        nodes: r
            .nodes
            .into_iter()
            .map(|n| Node {
                refid: scalar(&n.refid),
                role: n.role,
            })
            .collect(),
    }
}

fn document(d: BiocDocument) -> Document {
    let mut doc = Document {
        id: scalar(&d.id),
        ..Document::default()
    };
    for p in d.passages {
        doc.passages.push(Passage {
            kind: infon(&p.infons, "type"),
            offset: p.offset,
            text: p.text.unwrap_or_default(),
        });
        doc.annotations
            .extend(p.annotations.into_iter().map(annotation));
        doc.relations.extend(p.relations.into_iter().map(relation));
    }
    doc.annotations
        .extend(d.annotations.into_iter().map(annotation));
    doc.relations.extend(d.relations.into_iter().map(relation));
    doc
}

/// Reads a BioC JSON file.
pub fn read(path: &Path) -> Result<Vec<Document>> {
    parse(path, &crate::error::read_text(path)?)
}

fn bioc_document(doc: &Document) -> BiocDocument {
    let mut passages: Vec<BiocPassage> = doc
        .passages
        .iter()
        .map(|p| BiocPassage {
            infons: Infons::from_iter([("type".to_string(), Value::String(p.kind.clone()))]),
            offset: p.offset,
            text: Some(p.text.clone()),
            sentences: Vec::new(),
            annotations: Vec::new(),
            relations: Vec::new(),
        })
        .collect();
    let mut unplaced = Vec::new();
    for (i, a) in doc.annotations.iter().enumerate() {
        let mut infons = Infons::new();
        infons.insert("type".into(), Value::String(a.span.kind.clone()));
        infons.insert("identifier".into(), Value::String(a.ids.clone()));
        if !a.parts.is_empty() {
            infons.insert("parts".into(), Value::String(a.parts.join("|")));
        }
        let out = BiocAnnotation {
            id: Some(Value::String(a.id.clone().unwrap_or_else(|| i.to_string()))),
            infons,
            text: a.span.text.clone(),
            locations: vec![Location {
                offset: a.span.start,
                length: a.span.len(),
            }],
        };
        let home = doc
            .passages
            .iter()
            .position(|p| p.offset <= a.span.start && a.span.end <= p.end());
        match home {
            Some(p) => passages[p].annotations.push(out),
            None => unplaced.push(out),
        }
    }
    BiocDocument {
        id: Value::String(doc.id.clone()),
        infons: Infons::new(),
        passages,
        annotations: unplaced,
        relations: doc
            .relations
            .iter()
            .map(|r| BiocRelation {
                id: r.id.clone().map(Value::String),
                infons: Infons::from_iter([("type".to_string(), Value::String(r.kind.clone()))]),
                nodes: r
                    .nodes
                    .iter()
                    .map(|n| BiocNode {
                        refid: Value::String(n.refid.clone()),
                        role: n.role.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Writes documents as one BioC JSON collection (annotations inside the passage that holds
/// them; annotations without an id get their position as id).
pub fn write<W: Write>(mut out: W, docs: &[Document]) -> std::io::Result<()> {
    let collection = Collection {
        source: "biolore".into(),
        date: String::new(),
        key: "biolore.key".into(),
        infons: Infons::new(),
        documents: docs.iter().map(bioc_document).collect(),
    };
    serde_json::to_writer(&mut out, &collection)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pubtator_central_shape() {
        let json = r#"{"source":"PubTator","date":"","key":"","infons":{},"documents":[{"id":123,"infons":{},
          "passages":[{"infons":{"type":"title"},"offset":0,"text":"Wilson disease.","annotations":[
            {"id":"1","infons":{"type":"Disease","identifier":"MESH:D006527"},"text":"Wilson disease",
             "locations":[{"offset":0,"length":14}]}]},
            {"infons":{"type":"abstract"},"offset":16,"text":"Rare.","annotations":[]}],
          "relations":[{"id":"R1","infons":{"type":"CID"},"nodes":[{"refid":"1","role":"Disease"}]}]}]}"#;
        let docs = parse(Path::new("b.json"), json).unwrap();
        assert_eq!(docs[0].id, "123");
        assert_eq!(docs[0].text(), "Wilson disease. Rare.");
        assert_eq!(docs[0].annotations[0].ids, "MESH:D006527");
        assert!(docs[0].misaligned().is_empty());
        assert_eq!(docs[0].relations[0].nodes[0].refid, "1");
        let e = parse(
            Path::new("b.json"),
            "{\"documents\": [\n{\"id\": 1, \"passages\": 3}]}",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("b.json:"), "{e}");
        let e = parse(Path::new("b.json"), "{\n\"documents\": [").unwrap_err();
        assert!(e.to_string().starts_with("b.json:2:"), "{e}");
    }
}
