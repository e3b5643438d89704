//! Mentions to link, read from each input format and prepared by [`crate::queries`]: plain lines,
//! JSONL records (`mention`, optional `context` and `type`), PubTator or BioC JSON documents
//! (every annotation, composites split).

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::queries::{prepare_document, prepare_mention, PreparedMention, QueryOptions};

/// Input formats of mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MentionFormat {
    /// One mention per line.
    Text,
    /// JSONL objects with `mention`, optionally `context` (for abbreviations) and `type`.
    Jsonl,
    /// PubTator documents: every annotation.
    Pubtator,
    /// BioC JSON documents: every annotation.
    Bioc,
}

/// One mention to link: the fields echoed with its result, and the prepared queries.
#[derive(Debug, Clone, PartialEq)]
pub struct MentionRecord {
    /// Output fields (the JSONL record without `context`; document id, offsets and type for
    /// documents).
    pub fields: Map<String, Value>,
    /// What is searched.
    pub prepared: PreparedMention,
}

/// The mentions of `bytes` (read from `source`, named in errors) in `format`.
pub fn read_mentions(
    source: &Path,
    bytes: Vec<u8>,
    format: MentionFormat,
    options: QueryOptions,
) -> Result<Vec<MentionRecord>> {
    let mut records = Vec::new();
    match format {
        MentionFormat::Text => {
            for t in biolore_text::records::parse_plain(source, &bytes)? {
                if !t.text.trim().is_empty() {
                    records.push(mention_record(&t.text, None, false, Map::new(), options));
                }
            }
        }
        MentionFormat::Jsonl => {
            for t in biolore_text::records::parse_jsonl(source, &bytes, "mention")? {
                let mut fields = t.record.unwrap_or_default();
                let context = fields.remove("context");
                let composite =
                    fields.get("type").and_then(Value::as_str) == Some("CompositeMention");
                let context = context.as_ref().and_then(Value::as_str);
                let prepared = prepare_mention(&t.text, context, composite, options);
                records.push(MentionRecord { fields, prepared });
            }
        }
        MentionFormat::Pubtator | MentionFormat::Bioc => {
            let text = biolore_text::error::decode(source, bytes)?;
            let format = if format == MentionFormat::Pubtator {
                biolore_text::Format::Pubtator
            } else {
                biolore_text::Format::BiocJson
            };
            for doc in biolore_text::parse(source, &text, format)? {
                for (a, prepared) in doc.annotations.iter().zip(prepare_document(&doc, options)) {
                    let fields = json!({"pmid": doc.id, "start": a.span.start, "end": a.span.end,
                                        "mention": a.span.text, "type": a.span.kind});
                    let Value::Object(fields) = fields else {
                        continue;
                    };
                    records.push(MentionRecord { fields, prepared });
                }
            }
        }
    }
    Ok(records)
}

/// A record for one mention given on its own.
pub fn mention_record(
    mention: &str,
    context: Option<&str>,
    composite: bool,
    mut fields: Map<String, Value>,
    options: QueryOptions,
) -> MentionRecord {
    fields.insert("mention".into(), Value::String(mention.to_string()));
    MentionRecord {
        fields,
        prepared: prepare_mention(mention, context, composite, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_prepares_its_mentions() {
        let o = QueryOptions::default();
        let text = read_mentions(
            Path::new("m.txt"),
            b"WD\n\nheart attack\n".to_vec(),
            MentionFormat::Text,
            o,
        )
        .unwrap();
        assert_eq!(text.len(), 2);
        assert_eq!(text[0].fields["mention"], "WD");
        let jsonl = read_mentions(
            Path::new("m.jsonl"),
            br#"{"id": "m1", "mention": "WD", "context": "Wilson disease (WD) is rare."}
{"mention": "breast and ovarian cancer", "type": "CompositeMention"}"#
                .to_vec(),
            MentionFormat::Jsonl,
            o,
        )
        .unwrap();
        assert_eq!(jsonl[0].prepared.parts, vec!["Wilson disease"]);
        assert!(jsonl[0].fields.get("context").is_none());
        assert_eq!(
            jsonl[1].prepared.parts,
            vec!["breast cancer", "ovarian cancer"]
        );
        let e = read_mentions(
            Path::new("m.jsonl"),
            b"{\"x\": 1}\n".to_vec(),
            MentionFormat::Jsonl,
            o,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("m.jsonl:1:"), "{e}");
        let docs = read_mentions(
            Path::new("d.txt"),
            b"1|t|Breast and ovarian cancer.\n1|a|\n1\t0\t25\tBreast and ovarian cancer\tCompositeMention\tD001943|D010051\n".to_vec(),
            MentionFormat::Pubtator,
            o,
        )
        .unwrap();
        assert_eq!(docs[0].fields["start"], 0);
        assert_eq!(docs[0].prepared.parts.len(), 2);
    }
}
