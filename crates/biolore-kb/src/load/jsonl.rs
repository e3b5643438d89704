//! biolore's own JSONL format: one [`Concept`] per line.
//!
//! ```json
//! {"id": "HP:0001250", "name": "Seizure", "synonyms": [{"text": "Epileptic seizure", "scope": "exact"}],
//!  "alt_ids": [], "definitions": ["..."], "semantic_types": [], "relations": [{"kind": "is_a", "target": "HP:0012638"}],
//!  "xrefs": ["UMLS:C0036572"], "obsolete": false}
//! ```
//! Only `id` and `name` are required; synonyms may also be given as plain strings.

use std::path::Path;

use serde::Deserialize;

use super::{for_each_line, Issues, Loaded, Policy};
use crate::concept::{Concept, KnowledgeBase, Relation, Scope, Synonym};
use crate::error::Result;

#[derive(Deserialize)]
#[serde(untagged)]
enum SynonymIn {
    Text(String),
    Full(Synonym),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConceptIn {
    id: String,
    name: String,
    #[serde(default)]
    synonyms: Vec<SynonymIn>,
    #[serde(default)]
    alt_ids: Vec<String>,
    #[serde(default)]
    definitions: Vec<String>,
    #[serde(default)]
    semantic_types: Vec<String>,
    #[serde(default)]
    relations: Vec<Relation>,
    #[serde(default)]
    xrefs: Vec<String>,
    #[serde(default)]
    obsolete: bool,
}

/// Loads concept JSONL files.
pub fn load(paths: &[&Path], policy: Policy) -> Result<Loaded> {
    let mut kb = KnowledgeBase::new("jsonl");
    let mut issues = Issues::new(policy);
    for path in paths {
        for_each_line(path, &mut issues, |n, line, issues| {
            if line.trim().is_empty() {
                return Ok(());
            }
            let c: ConceptIn = match serde_json::from_str(line) {
                Ok(c) => c,
                Err(e) => return issues.report(path, n, format!("invalid concept: {e}")),
            };
            if c.id.trim().is_empty() || c.name.trim().is_empty() {
                return issues.report(path, n, "\"id\" and \"name\" must not be empty");
            }
            kb.add(Concept {
                id: c.id,
                name: c.name,
                synonyms: c
                    .synonyms
                    .into_iter()
                    .map(|s| match s {
                        SynonymIn::Text(text) => Synonym {
                            text,
                            scope: Scope::Exact,
                        },
                        SynonymIn::Full(s) => s,
                    })
                    .collect(),
                alt_ids: c.alt_ids,
                definitions: c.definitions,
                semantic_types: c.semantic_types,
                relations: c.relations,
                xrefs: c.xrefs,
                obsolete: c.obsolete,
            });
            Ok(())
        })?;
    }
    Ok(issues.finish(kb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_concepts_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"HP:0001250\",\"name\":\"Seizure\",\"synonyms\":[\"Epileptic seizure\",{\"text\":\"Fits\",\"scope\":\"related\"}]}\n\
             {\"id\":\"HP:1\"}\n\
             \n\
             {\"id\":\"HP:2\",\"name\":\"x\",\"nmae\":\"typo\"}\n",
        )
        .unwrap();
        let loaded = load(&[&p], Policy::Skip).unwrap();
        assert_eq!(loaded.kb.len(), 1);
        assert_eq!(loaded.skipped, 2);
        assert_eq!(loaded.issues[1].line, 4);
        let c = loaded.kb.get("HP:0001250").unwrap();
        assert_eq!(c.synonyms[1].scope, Scope::Related);
    }
}
