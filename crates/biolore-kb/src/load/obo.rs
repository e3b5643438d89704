//! OBO 1.2/1.4 ontologies (Disease Ontology, HPO, MONDO): `[Term]` stanzas with id, name,
//! synonyms (with scope), def, is_a, relationship, xref, alt_id and is_obsolete.

use std::path::Path;

use super::{for_each_line, Issues, Loaded, Policy};
use crate::concept::{Concept, KnowledgeBase, Relation, Scope, Synonym};
use crate::error::Result;
use crate::ids::normalize_id;

/// Parses a leading OBO quoted string (`"…"` with `\` escapes); returns it and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        if escaped {
            out.push(match c {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Some((out, &s[i + 1..]));
        } else {
            out.push(c);
        }
    }
    None
}

/// Drops a trailing `! comment` and `{qualifiers}` from an unquoted value.
fn bare(value: &str) -> &str {
    let v = value.split(" !").next().unwrap_or(value);
    let v = v.split(" {").next().unwrap_or(v);
    v.trim()
}

struct Stanza {
    start: usize,
    concept: Concept,
}

/// Loads OBO files; obsolete terms are kept and marked.
pub fn load(paths: &[&Path], policy: Policy) -> Result<Loaded> {
    let mut kb = KnowledgeBase::new("obo");
    let mut issues = Issues::new(policy);
    for path in paths {
        let mut current: Option<Stanza> = None;
        let finish =
            |stanza: Option<Stanza>, kb: &mut KnowledgeBase, issues: &mut Issues| -> Result<()> {
                if let Some(s) = stanza {
                    if s.concept.id.is_empty() {
                        return issues.report(path, s.start, "[Term] without an id");
                    }
                    if s.concept.name.is_empty() && !s.concept.obsolete {
                        return issues.report(
                            path,
                            s.start,
                            format!("term {} has no name", s.concept.id),
                        );
                    }
                    kb.add(s.concept);
                }
                Ok(())
            };
        for_each_line(path, &mut issues, |n, line, issues| {
            let line = line.trim();
            if line.starts_with('[') {
                finish(current.take(), &mut kb, issues)?;
                if line == "[Term]" {
                    current = Some(Stanza {
                        start: n,
                        concept: Concept::default(),
                    });
                }
                return Ok(());
            }
            let Some(stanza) = current.as_mut() else {
                return Ok(()); // header or a non-Term stanza
            };
            if line.is_empty() || line.starts_with('!') {
                return Ok(());
            }
            let Some((tag, value)) = line.split_once(':') else {
                return issues.report(path, n, format!("expected 'tag: value', found {line:?}"));
            };
            let value = value.trim();
            let c = &mut stanza.concept;
            match tag.trim() {
                "id" => c.id = bare(value).to_string(),
                "name" => c.name = value.to_string(),
                "alt_id" => c.alt_ids.push(bare(value).to_string()),
                "def" => match quoted(value) {
                    Some((text, _)) => c.definitions.push(text),
                    None => return issues.report(path, n, "def: expected a quoted definition"),
                },
                "synonym" => {
                    let Some((text, rest)) = quoted(value) else {
                        return issues.report(path, n, "synonym: expected a quoted name");
                    };
                    let scope = match rest.split_whitespace().next() {
                        Some("BROAD") => Scope::Broad,
                        Some("NARROW") => Scope::Narrow,
                        Some("RELATED") => Scope::Related,
                        _ => Scope::Exact,
                    };
                    c.synonyms.push(Synonym { text, scope });
                }
                "is_a" => c.relations.push(Relation {
                    kind: "is_a".into(),
                    target: normalize_id(bare(value)),
                }),
                "relationship" => {
                    let mut parts = bare(value).split_whitespace();
                    match (parts.next(), parts.next()) {
                        (Some(kind), Some(target)) => c.relations.push(Relation {
                            kind: kind.to_string(),
                            target: normalize_id(target),
                        }),
                        _ => return issues.report(path, n, "relationship: expected 'type ID'"),
                    }
                }
                "xref" => {
                    if let Some(x) = bare(value).split_whitespace().next() {
                        c.xrefs.push(x.to_string());
                    }
                }
                "is_obsolete" => c.obsolete = value == "true",
                _ => {}
            }
            Ok(())
        })?;
        finish(current.take(), &mut kb, &mut issues)?;
    }
    Ok(issues.finish(kb))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBO: &str = r#"format-version: 1.4
ontology: test

[Term]
id: DOID:0001816
name: angiosarcoma
alt_id: DOID:267
def: "A malignant \"vascular\" tumor." [url:http\://example.org]
synonym: "hemangiosarcoma" EXACT []
synonym: "blood vessel cancer" BROAD [] {source="x"}
xref: MESH:D006394
is_a: DOID:1115 ! sarcoma
relationship: located_in UBERON:0001981 ! blood vessel

[Typedef]
id: located_in
name: located in

[Term]
name: no id here

[Term]
id: DOID:9
name: old term
is_obsolete: true
broken line
"#;

    #[test]
    fn reads_terms_with_scopes_relations_and_obsolete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.obo");
        std::fs::write(&p, OBO).unwrap();
        let loaded = load(&[&p], Policy::Skip).unwrap();
        assert_eq!(loaded.kb.len(), 2);
        assert_eq!(loaded.skipped, 2, "{:?}", loaded.issues);
        let c = loaded.kb.get("DOID:267").unwrap();
        assert_eq!(c.name, "angiosarcoma");
        assert_eq!(c.definitions, vec!["A malignant \"vascular\" tumor."]);
        assert_eq!(c.synonyms[1].scope, Scope::Broad);
        assert_eq!(c.parents().collect::<Vec<_>>(), vec!["DOID:1115"]);
        assert_eq!(c.relations[1].kind, "located_in");
        assert_eq!(c.xrefs, vec!["MESH:D006394"]);
        assert!(loaded.kb.get("DOID:9").unwrap().obsolete);
        assert!(load(&[&p], Policy::Fail).is_err());
    }
}
