//! PubTator documents: `PMID|t|title`, `PMID|a|abstract`, then annotation lines
//! `PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>ids[<TAB>individual mentions]`.

use std::path::{Path, PathBuf};

/// One annotated mention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Start offset in the document text (title, a space, abstract).
    pub start: usize,
    /// End offset.
    pub end: usize,
    /// The mention as written.
    pub mention: String,
    /// Entity type (`SpecificDisease`, `CompositeMention`, `Disease`, …).
    pub kind: String,
    /// The raw id field (`D001943|D010051`, `D007153+D040181`, `-1`, or empty).
    pub ids: String,
    /// BC5CDR's 7th column: the individual mentions of a composite, when given.
    pub parts: Vec<String>,
}

/// One document: its text and annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// PubMed id.
    pub pmid: String,
    /// Title.
    pub title: String,
    /// Abstract.
    pub abstract_text: String,
    /// Annotations, in file order.
    pub annotations: Vec<Annotation>,
}

impl Document {
    /// Title and abstract joined by a space (PubTator's offsets refer to this text).
    pub fn text(&self) -> String {
        if self.abstract_text.is_empty() {
            self.title.clone()
        } else {
            format!("{} {}", self.title, self.abstract_text)
        }
    }
}

/// A malformed line of a PubTator file.
#[derive(Debug, thiserror::Error)]
pub enum PubtatorError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not a title, abstract or annotation line.
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Parses PubTator text; errors name `source:line`.
pub fn parse(source: &Path, text: &str) -> Result<Vec<Document>, PubtatorError> {
    let mut docs: Vec<Document> = Vec::new();
    let bad = |line: usize, message: String| PubtatorError::Malformed {
        path: source.to_path_buf(),
        line,
        message,
    };
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
                if docs.last().is_none_or(|d| d.pmid != pmid) {
                    docs.push(Document {
                        pmid: pmid.to_string(),
                        ..Document::default()
                    });
                }
                let doc = docs
                    .last_mut()
                    .ok_or_else(|| bad(n, "no document".into()))?;
                match kind {
                    "t" => doc.title = body.to_string(),
                    "a" => doc.abstract_text = body.to_string(),
                    other => {
                        return Err(bad(
                            n,
                            format!("unknown section '{other}' (expected t or a)"),
                        ))
                    }
                }
                continue;
            }
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            return Err(bad(
                n,
                format!(
                    "annotation with {} tab-separated fields, expected at least 5",
                    f.len()
                ),
            ));
        }
        if f.len() == 5 && f[1].parse::<usize>().is_err() {
            continue; // relation line (PMID, type, id, id): not a mention
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
        let doc = match docs.last_mut() {
            Some(d) if d.pmid == f[0] => d,
            _ => {
                return Err(bad(
                    n,
                    format!("annotation for {} before its title and abstract", f[0]),
                ))
            }
        };
        doc.annotations.push(Annotation {
            start,
            end,
            mention: f[3].to_string(),
            kind: f[4].to_string(),
            ids: f.get(5).map(|s| s.trim().to_string()).unwrap_or_default(),
            parts: f
                .get(6)
                .map(|s| {
                    s.split('|')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    Ok(docs)
}

/// Reads and parses a PubTator file.
pub fn read(path: &Path) -> Result<Vec<Document>, PubtatorError> {
    let text = std::fs::read_to_string(path).map_err(|source| PubtatorError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_documents_and_annotations() {
        let text = "1|t|Breast and ovarian cancer.\n1|a|Wilson disease (WD) is rare.\n\
                    1\t0\t25\tBreast and ovarian cancer\tCompositeMention\tD001943|D010051\n\
                    1\t27\t41\tWilson disease\tSpecificDisease\tD006527\n\n\
                    2|t|x\n2|a|\n2\t0\t1\tx\tDisease\t-1\tx1|x2\n";
        let docs = parse(Path::new("c.txt"), text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].annotations.len(), 2);
        assert_eq!(&docs[0].text()[27..41], "Wilson disease");
        assert_eq!(docs[1].annotations[0].parts, vec!["x1", "x2"]);
        let e = parse(Path::new("c.txt"), "1|t|x\n1\tzero\t3\tx\tDisease\tD1\n").unwrap_err();
        assert!(e.to_string().starts_with("c.txt:2:"), "{e}");
    }
}
