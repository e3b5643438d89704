//! Text inputs: plain text (one text per line) or JSONL records whose field holds the text —
//! what `embed` and `link` read. Errors name `source:line`.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Result, TextError};

/// One input text, with the JSONL record it came from (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct InputText {
    /// The text.
    pub text: String,
    /// The whole JSONL object, for echoing its other fields.
    pub record: Option<Map<String, Value>>,
}

/// Splits `bytes` into lines (LF or CRLF), checking each is UTF-8.
fn lines<'a>(
    source: &'a Path,
    bytes: &'a [u8],
) -> impl Iterator<Item = Result<(usize, &'a str)>> + 'a {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter(move |_| !empty)
        .map(move |(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            std::str::from_utf8(line)
                .map(|s| (i + 1, s))
                .map_err(|_| TextError::Utf8 {
                    path: source.to_path_buf(),
                    line: i + 1,
                })
        })
}

/// Parses plain text: one text per line (a UTF-8 byte-order mark at the start is dropped).
pub fn parse_plain(source: &Path, bytes: &[u8]) -> Result<Vec<InputText>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    lines(source, bytes)
        .map(|l| {
            l.map(|(_, text)| InputText {
                text: text.to_string(),
                record: None,
            })
        })
        .collect()
}

/// Parses JSONL: one object per non-blank line, whose `field` holds the text.
pub fn parse_jsonl(source: &Path, bytes: &[u8], field: &str) -> Result<Vec<InputText>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::new();
    for l in lines(source, bytes) {
        let (n, line) = l?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| TextError::malformed(source, n, message);
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad(format!("malformed JSON ({e})")))?;
        let Value::Object(record) = value else {
            return Err(bad(format!(
                "expected a JSON object with a \"{field}\" field"
            )));
        };
        let text = match record.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(bad(format!(
                    "field \"{field}\" must be a string, found {}",
                    type_name(other)
                )))
            }
            None => return Err(bad(format!("missing field \"{field}\""))),
        };
        out.push(InputText {
            text,
            record: Some(record),
        });
    }
    Ok(out)
}

/// "a number", "an array", … for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    #[test]
    fn plain_lines_keep_order_and_handle_crlf() {
        let got = parse_plain(p("f"), b"a\r\nb\n\nc").unwrap();
        let texts: Vec<_> = got.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["a", "b", "", "c"]);
        assert!(parse_plain(p("f"), b"").unwrap().is_empty());
        assert_eq!(parse_plain(p("f"), b"x\n").unwrap().len(), 1);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let e = parse_plain(p("notes.txt"), b"ok\nbad \xff here\n").unwrap_err();
        assert!(
            e.to_string().starts_with("notes.txt:2: invalid UTF-8"),
            "{e}"
        );
    }

    #[test]
    fn jsonl_errors_name_the_line() {
        let e = parse_jsonl(p("in.jsonl"), b"{\"text\":\"a\"}\n{oops}\n", "text").unwrap_err();
        assert!(
            e.to_string().starts_with("in.jsonl:2: malformed JSON"),
            "{e}"
        );
        let e = parse_jsonl(p("in.jsonl"), b"{\"id\":1}\n", "text").unwrap_err();
        assert!(
            e.to_string().contains("in.jsonl:1: missing field \"text\""),
            "{e}"
        );
        let e = parse_jsonl(p("in.jsonl"), b"{\"text\":3}\n", "text").unwrap_err();
        assert!(e.to_string().contains("must be a string"), "{e}");
        let e = parse_jsonl(p("in.jsonl"), b"[1]\n", "text").unwrap_err();
        assert!(e.to_string().contains("expected a JSON object"), "{e}");
    }

    #[test]
    fn jsonl_keeps_records_and_skips_blank_lines() {
        let got = parse_jsonl(
            p("f"),
            b"{\"id\":7,\"text\":\"fever\"}\n\n{\"text\":\"cough\"}\n",
            "text",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text, "fever");
        assert_eq!(got[0].record.as_ref().unwrap()["id"], 7);
    }
}
