//! The document model: passages at character offsets, typed spans, annotations with concept ids.

use serde::{Deserialize, Serialize};

/// A stretch of a document's text, in characters: `start..end`, with its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First character (0-based, in the document's text).
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// The text of the span as written.
    pub text: String,
    /// Entity type (`Disease`, `SpecificDisease`, `CompositeMention`, `Chemical`, `ADE`, …).
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl Span {
    /// Length in characters.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the span covers no character.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// A span linked to concepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Annotation id, when the format gives one (BioC) or a writer needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where, what and of which type.
    #[serde(flatten)]
    pub span: Span,
    /// Concept ids as the corpus writes them: `D006527`; `D001943|D010051` for a composite
    /// mention (several concepts, all required); `D007153+D040181` for one mention naming a
    /// combination; empty or `-1` for none.
    #[serde(default)]
    pub ids: String,
    /// The individual mentions of a composite, when the corpus gives them (BC5CDR's 7th column).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
}

impl Annotation {
    /// An annotation of `text` at `start..end` of type `kind` with concept ids `ids`.
    pub fn new(start: usize, end: usize, text: &str, kind: &str, ids: &str) -> Self {
        Self {
            id: None,
            span: Span {
                start,
                end,
                text: text.to_string(),
                kind: kind.to_string(),
            },
            ids: ids.to_string(),
            parts: Vec::new(),
        }
    }

    /// Whether the ids mark a composite mention (several concepts in one span).
    pub fn is_composite(&self) -> bool {
        self.ids.contains('|')
    }

    /// Every concept id named, in order, without `-1` or blanks.
    pub fn concept_ids(&self) -> impl Iterator<Item = &str> {
        self.ids
            .split(['|', '+'])
            .map(str::trim)
            .filter(|id| !id.is_empty() && *id != "-1")
    }
}

/// One part of a document's text: a title, an abstract, a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    /// Passage type (`title`, `abstract`, `text`, a section name).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Character offset of the passage's first character in the document's text.
    #[serde(default)]
    pub offset: usize,
    /// The passage's text.
    pub text: String,
}

impl Passage {
    /// One past the passage's last character, in document offsets.
    pub fn end(&self) -> usize {
        self.offset + self.text.chars().count()
    }
}

/// One argument of a relation: an annotation id or a concept id, with its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The annotation (BioC `refid`) or concept (PubTator relation lines) it refers to.
    pub refid: String,
    /// Its role in the relation (`Chemical`, `Disease`, `drug`, `effect`, or empty).
    #[serde(default)]
    pub role: String,
}

/// A relation between annotations or concepts (`CID`, `ADE`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// Relation id, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Relation type.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its arguments.
    #[serde(default)]
    pub nodes: Vec<Node>,
}

/// A document: passages, annotations (in document offsets) and relations.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Document {
    /// Document id (a PubMed id, a note id).
    pub id: String,
    /// Passages, in offset order.
    #[serde(default)]
    pub passages: Vec<Passage>,
    /// Annotations, in file order.
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    /// Relations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Relation>,
}

impl Document {
    /// A document of one passage of type `text`.
    pub fn from_text(id: &str, text: &str) -> Self {
        Self {
            id: id.to_string(),
            passages: vec![Passage {
                kind: "text".into(),
                offset: 0,
                text: text.to_string(),
            }],
            ..Self::default()
        }
    }

    /// Checks that passages come in offset order without overlapping, and that no gap between
    /// them exceeds [`MAX_PASSAGE_GAP`] characters (a corrupt offset would otherwise make
    /// [`Document::text`] pad gigabytes).
    pub fn check_passages(&self) -> Result<(), String> {
        let mut end = 0usize;
        for (i, p) in self.passages.iter().enumerate() {
            if p.offset < end {
                return Err(format!(
                    "passage {} starts at {} but the one before ends at {end}",
                    i + 1,
                    p.offset
                ));
            }
            if p.offset - end > MAX_PASSAGE_GAP {
                return Err(format!(
                    "passage {} starts at {}, {} characters after the one before (at most {MAX_PASSAGE_GAP})",
                    i + 1,
                    p.offset,
                    p.offset - end
                ));
            }
            end = p.end();
        }
        Ok(())
    }

    /// The first passage of `kind`, if any.
    pub fn passage(&self, kind: &str) -> Option<&Passage> {
        self.passages.iter().find(|p| p.kind == kind)
    }

    /// The document's text: every passage at its offset, gaps filled with spaces
    /// (PubTator's "title, a space, abstract").
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut at = 0usize;
        for p in &self.passages {
            if p.offset > at {
                out.extend(std::iter::repeat_n(' ', p.offset - at));
                at = p.offset;
            }
            if p.offset < at {
                // Overlapping passages: append after what is there (offsets past this point
                // then refer to the declared offsets only approximately).
                out.push(' ');
                at += 1;
            }
            out.push_str(&p.text);
            at += p.text.chars().count();
        }
        out
    }

    /// The text of characters `start..end` of the document, when in range.
    pub fn slice(&self, start: usize, end: usize) -> Option<String> {
        if start > end {
            return None;
        }
        let text = self.text();
        let n = text.chars().count();
        (end <= n).then(|| text.chars().skip(start).take(end - start).collect())
    }

    /// Annotations whose span text differs from the document's text at their offsets:
    /// `(index, the text at the offsets)`.
    pub fn misaligned(&self) -> Vec<(usize, Option<String>)> {
        let chars: Vec<char> = self.text().chars().collect();
        self.annotations
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let found: Option<String> = (a.span.start <= a.span.end
                    && a.span.end <= chars.len())
                .then(|| chars[a.span.start..a.span.end].iter().collect());
                (found.as_deref() != Some(a.span.text.as_str())).then_some((i, found))
            })
            .collect()
    }
}

/// The largest gap allowed between passages, in characters.
pub const MAX_PASSAGE_GAP: usize = 100_000;

/// Character offset → byte offset in `text` (the end of the text for offsets past it).
pub fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_join_at_their_offsets() {
        let doc = Document {
            id: "1".into(),
            passages: vec![
                Passage {
                    kind: "title".into(),
                    offset: 0,
                    text: "Café au lait".into(),
                },
                Passage {
                    kind: "abstract".into(),
                    offset: 13,
                    text: "Spots (CALS).".into(),
                },
            ],
            annotations: vec![Annotation::new(13, 18, "Spots", "Disease", "D1")],
            relations: vec![],
        };
        assert_eq!(doc.text(), "Café au lait Spots (CALS).");
        assert_eq!(doc.slice(13, 18).as_deref(), Some("Spots"));
        assert_eq!(doc.slice(20, 99), None);
        assert!(doc.misaligned().is_empty());
        assert_eq!(byte_offset("Café x", 5), 6);
    }
}
