//! PubTator: `PMID|t|title`, `PMID|a|abstract`, then annotation lines
//! `PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>ids[<TAB>individual mentions]` and relation
//! lines `PMID<TAB>type<TAB>id<TAB>id`; documents separated by blank lines. Offsets count
//! characters of "title, a space, abstract".

use std::io::Write;
use std::path::Path;

use crate::document::{Annotation, Document, Node, Passage, Relation};
use crate::error::{Result, TextError};

/// Parses PubTator text; errors name `source:line`.
pub fn parse(source: &Path, text: &str) -> Result<Vec<Document>> {
    let mut docs: Vec<Document> = Vec::new();
    let bad = |line: usize, message: String| TextError::malformed(source, line, message);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some((pmid, rest)) = line.split_once('|') {
            if !line.contains('\t') || rest.starts_with("t|") || rest.starts_with("a|") {
                let (kind, body) = rest
                    .split_once('|')
                    .ok_or_else(|| bad(n, "expected PMID|t|title or PMID|a|abstract".into()))?;
                let kind = match kind {
                    "t" => "title",
                    "a" => "abstract",
                    other => {
                        return Err(bad(
                            n,
                            format!("unknown section '{other}' (expected t or a)"),
                        ))
                    }
                };
                if docs.last().is_none_or(|d| d.id != pmid) {
                    docs.push(Document {
                        id: pmid.to_string(),
                        ..Document::default()
                    });
                }
                let doc = docs
                    .last_mut()
                    .ok_or_else(|| bad(n, "no document".into()))?;
                set_passage(doc, kind, body);
                continue;
            }
        }
        let f: Vec<&str> = line.split('\t').collect();
        let doc = match docs.last_mut() {
            Some(d) if d.id == f[0] => d,
            _ => {
                return Err(bad(
                    n,
                    format!("line for document '{}' before its title and abstract", f[0]),
                ))
            }
        };
        if (3..=5).contains(&f.len()) && f[1].parse::<usize>().is_err() {
            // A relation line: PMID, type, the concepts it relates.
            doc.relations.push(Relation {
                id: None,
                kind: f[1].to_string(),
                nodes: f[2..]
                    .iter()
                    .map(|id| Node {
                        refid: id.trim().to_string(),
                        role: String::new(),
                    })
                    .collect(),
            });
            continue;
        }
        if f.len() < 5 {
            return Err(bad(
                n,
                format!(
                    "annotation with {} tab-separated fields, expected at least 5",
                    f.len()
                ),
            ));
        }
        let (start, end) = match (f[1].parse::<usize>(), f[2].parse::<usize>()) {
            (Ok(s), Ok(e)) if s <= e => (s, e),
            _ => {
                return Err(bad(
                    n,
                    format!("offsets '{}'..'{}' are not valid", f[1], f[2]),
                ))
            }
        };
        let mut a = Annotation::new(
            start,
            end,
            f[3],
            f[4],
            f.get(5).map(|s| s.trim()).unwrap_or_default(),
        );
        a.parts = f
            .get(6)
            .map(|s| {
                s.split('|')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        doc.annotations.push(a);
    }
    Ok(docs)
}

/// Sets the title or abstract, keeping PubTator's offsets: the abstract starts one character
/// after the title.
fn set_passage(doc: &mut Document, kind: &str, body: &str) {
    doc.passages.retain(|p| p.kind != kind);
    doc.passages.push(Passage {
        kind: kind.to_string(),
        offset: 0,
        text: body.to_string(),
    });
    doc.passages.sort_by_key(|p| p.kind != "title");
    let title_chars = doc.passage("title").map_or(0, |t| t.text.chars().count());
    for p in &mut doc.passages {
        p.offset = if p.kind == "title" {
            0
        } else {
            title_chars + 1
        };
    }
}

/// Reads and parses a PubTator file.
pub fn read(path: &Path) -> Result<Vec<Document>> {
    parse(path, &crate::error::read_text(path)?)
}

/// Writes documents as PubTator: the first passage as the title, the rest of the text as the
/// abstract, then annotations and relations; a blank line after each document.
pub fn write<W: Write>(mut out: W, docs: &[Document]) -> std::io::Result<()> {
    for doc in docs {
        let text = doc.text();
        let title = doc.passages.first().map_or("", |p| p.text.as_str());
        let title_chars = title.chars().count();
        let abstract_text: String = text.chars().skip(title_chars + 1).collect();
        let clean = |s: &str| s.replace(['\n', '\r'], " ");
        writeln!(out, "{}|t|{}", doc.id, clean(title))?;
        writeln!(out, "{}|a|{}", doc.id, clean(&abstract_text))?;
        for a in &doc.annotations {
            write!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}",
                doc.id,
                a.span.start,
                a.span.end,
                clean(&a.span.text).replace('\t', " "),
                a.span.kind,
                a.ids
            )?;
            if !a.parts.is_empty() {
                write!(out, "\t{}", a.parts.join("|"))?;
            }
            writeln!(out)?;
        }
        for r in &doc.relations {
            write!(out, "{}\t{}", doc.id, r.kind)?;
            for node in &r.nodes {
                write!(out, "\t{}", node.refid)?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_documents_annotations_and_relations() {
        let text = "1|t|Breast and ovarian cancer.\n1|a|Wilson disease (WD) is rare.\n\
                    1\t0\t25\tBreast and ovarian cancer\tCompositeMention\tD001943|D010051\n\
                    1\t27\t41\tWilson disease\tSpecificDisease\tD006527\n\
                    1\tCID\tD1\tD006527\n\n\
                    2|t|x\n2|a|\n2\t0\t1\tx\tDisease\t-1\tx1|x2\n";
        let docs = parse(Path::new("c.txt"), text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].annotations.len(), 2);
        assert_eq!(docs[0].slice(27, 41).as_deref(), Some("Wilson disease"));
        assert!(docs[0].misaligned().is_empty());
        assert_eq!(docs[0].relations[0].kind, "CID");
        assert_eq!(docs[0].relations[0].nodes.len(), 2);
        assert_eq!(docs[1].annotations[0].parts, vec!["x1", "x2"]);
        let mut written = Vec::new();
        write(&mut written, &docs).unwrap();
        let again = parse(Path::new("w"), std::str::from_utf8(&written).unwrap()).unwrap();
        assert_eq!(again, docs);
        let e = parse(
            Path::new("c.txt"),
            "1|t|x\n1\tzero\t3\n1\t0\tx\tx\tDisease\tD1\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("c.txt:3:"), "{e}");
        let e = parse(Path::new("c.txt"), "1|t|x\n1\tzero\t3\tx\tDisease\tD1\n").unwrap_err();
        assert!(e.to_string().starts_with("c.txt:2:"), "{e}");
        let e = parse(Path::new("c.txt"), "2\t0\t1\tx\tDisease\tD1\n").unwrap_err();
        assert!(e.to_string().starts_with("c.txt:1:"), "{e}");
    }
}
