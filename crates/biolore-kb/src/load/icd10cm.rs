//! ICD-10-CM's tabular XML: chapters, sections and codes (`<diag>`, nested), with their
//! descriptions and inclusion terms, and the chapter → section → code hierarchy as `is_a`.
//!
//! Ids: codes `ICD10CM:A01.02`, sections `ICD10CM:A00-A09`, chapters `ICD10CM:chapter-1`.
//! Seventh-character extensions (`sevenChrDef`) are not expanded into codes.

use std::path::Path;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{open_text, Issues, Loaded, Policy};
use crate::concept::{Concept, KnowledgeBase, Relation, Synonym};
use crate::error::{KbError, Result};

/// A chapter, section or code being read.
struct Frame {
    element: &'static str,
    concept: Concept,
}

fn node_kind(name: &[u8]) -> Option<&'static str> {
    match name {
        b"chapter" => Some("chapter"),
        b"section" => Some("section"),
        b"diag" => Some("diag"),
        _ => None,
    }
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// Loads ICD-10-CM tabular XML files.
pub fn load(paths: &[&Path], policy: Policy) -> Result<Loaded> {
    let mut kb = KnowledgeBase::new("icd10cm");
    let mut issues = Issues::new(policy);
    for path in paths {
        let malformed = |pos: u64, message: String| KbError::Malformed {
            path: path.to_path_buf(),
            line: 0,
            message: format!("at byte {pos}: {message}"),
        };
        let mut reader = Reader::from_reader(open_text(path)?);
        let mut buf = Vec::new();
        let mut elements: Vec<Vec<u8>> = Vec::new();
        let mut frames: Vec<Frame> = Vec::new();
        let mut text = String::new();
        loop {
            let event = reader
                .read_event_into(&mut buf)
                .map_err(|e| malformed(reader.buffer_position(), e.to_string()))?;
            match event {
                Event::Start(e) => {
                    let name = e.name().as_ref().to_vec();
                    if let Some(kind) = node_kind(&name) {
                        let mut concept = Concept::default();
                        if kind == "section" {
                            for attr in e.attributes().flatten() {
                                if attr.key.as_ref() == b"id" {
                                    let v = String::from_utf8_lossy(&attr.value).into_owned();
                                    concept.id = format!("ICD10CM:{v}");
                                }
                            }
                        }
                        frames.push(Frame {
                            element: kind,
                            concept,
                        });
                    }
                    elements.push(name);
                    text.clear();
                }
                Event::Text(t) => {
                    let s = t
                        .decode()
                        .map_err(|e| malformed(reader.buffer_position(), e.to_string()))?;
                    text.push_str(&s);
                }
                Event::CData(t) => {
                    let s = t
                        .decode()
                        .map_err(|e| malformed(reader.buffer_position(), e.to_string()))?;
                    text.push_str(&s);
                }
                Event::GeneralRef(r) => {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                    } else if let Some(c) = r.decode().ok().and_then(|n| entity(&n)) {
                        text.push(c);
                    }
                }
                Event::End(_) => {
                    let Some(name) = elements.pop() else {
                        return Err(malformed(
                            reader.buffer_position(),
                            "unbalanced end tag".into(),
                        ));
                    };
                    let parent = elements.last().map(Vec::as_slice);
                    let grandparent = elements
                        .len()
                        .checked_sub(2)
                        .map(|i| elements[i].as_slice());
                    let value = text.trim().to_string();
                    if let Some(frame) = frames.last_mut() {
                        let owner = frame.element.as_bytes();
                        match name.as_slice() {
                            b"name" if parent == Some(owner) => {
                                frame.concept.id = if frame.element == "chapter" {
                                    format!("ICD10CM:chapter-{value}")
                                } else {
                                    format!("ICD10CM:{value}")
                                };
                            }
                            b"desc" if parent == Some(owner) => frame.concept.name = value,
                            b"note"
                                if parent == Some(b"inclusionTerm")
                                    && grandparent == Some(owner)
                                    && !value.is_empty() =>
                            {
                                frame.concept.synonyms.push(Synonym::exact(value));
                            }
                            _ => {}
                        }
                    }
                    if node_kind(&name).is_some() {
                        if let Some(mut frame) = frames.pop() {
                            if let Some(up) = frames.last() {
                                if !up.concept.id.is_empty() {
                                    frame.concept.relations.push(Relation {
                                        kind: "is_a".into(),
                                        target: up.concept.id.clone(),
                                    });
                                }
                            }
                            if frame.concept.id.is_empty() || frame.concept.name.is_empty() {
                                issues.report(
                                    path,
                                    0,
                                    format!(
                                        "<{}> without a name or description near byte {}",
                                        frame.element,
                                        reader.buffer_position()
                                    ),
                                )?;
                            } else {
                                kb.add(frame.concept);
                            }
                        }
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
    }
    Ok(issues.finish(kb))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2026</version>
  <chapter>
    <name>1</name>
    <desc>Certain infectious and parasitic diseases (A00-B99)</desc>
    <section id="A00-A09">
      <desc>Intestinal infectious diseases (A00-A09)</desc>
      <diag>
        <name>A01</name>
        <desc>Typhoid and paratyphoid fevers</desc>
        <diag>
          <name>A01.02</name>
          <desc>Typhoid fever with heart involvement</desc>
          <inclusionTerm>
            <note>Typhoid endocarditis</note>
            <note>Typhoid myocarditis</note>
          </inclusionTerm>
          <excludes1><note>not this one</note></excludes1>
        </diag>
        <diag>
          <name>A01.4</name>
          <desc>Paratyphoid fever, unspecified &amp; NOS</desc>
        </diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"#;

    #[test]
    fn reads_codes_inclusion_terms_and_hierarchy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("icd.xml");
        std::fs::write(&p, XML).unwrap();
        let loaded = load(&[&p], Policy::Fail).unwrap();
        assert_eq!(loaded.kb.len(), 5);
        let c = loaded.kb.get("ICD10CM:A01.02").unwrap();
        assert_eq!(c.name, "Typhoid fever with heart involvement");
        assert_eq!(c.names().len(), 3);
        assert_eq!(c.parents().collect::<Vec<_>>(), vec!["ICD10CM:A01"]);
        assert_eq!(
            loaded
                .kb
                .get("ICD10CM:A01")
                .unwrap()
                .parents()
                .collect::<Vec<_>>(),
            vec!["ICD10CM:A00-A09"]
        );
        assert_eq!(
            loaded.kb.get("ICD10CM:A01.4").unwrap().name,
            "Paratyphoid fever, unspecified & NOS"
        );
        std::fs::write(&p, "<a><b></a>").unwrap();
        assert!(load(&[&p], Policy::Skip).is_err());
    }

    #[test]
    fn reads_cdata_sections_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("icd.xml");
        std::fs::write(
            &p,
            "<ICD10CM.tabular><chapter><name>4</name><desc>Endocrine</desc><section id=\"E08-E13\">\
             <desc>Diabetes <![CDATA[mellitus & <co>]]></desc><diag><name><![CDATA[E11]]></name>\
             <desc><![CDATA[Type 2 diabetes mellitus]]></desc></diag></section></chapter>\
             </ICD10CM.tabular>",
        )
        .unwrap();
        let loaded = load(&[&p], Policy::Fail).unwrap();
        assert_eq!(loaded.kb.len(), 3);
        assert_eq!(
            loaded.kb.get("ICD10CM:E08-E13").unwrap().name,
            "Diabetes mellitus & <co>"
        );
        let c = loaded.kb.get("ICD10CM:E11").unwrap();
        assert_eq!(c.name, "Type 2 diabetes mellitus");
        assert_eq!(c.parents().collect::<Vec<_>>(), vec!["ICD10CM:E08-E13"]);
    }
}
