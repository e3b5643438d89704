//! Plain-text helpers shared by the benchmark workloads and training: sentence splitting.

/// Splits text after `.`, `?` or `!` followed by a space and an upper-case letter or digit.
pub fn split_sentences(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..bytes.len() {
        if matches!(bytes[i], b'.' | b'?' | b'!')
            && bytes.get(i + 1) == Some(&b' ')
            && bytes
                .get(i + 2)
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            let s = text[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 2;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_terminal_punctuation() {
        let s = split_sentences(
            "WNT signalling is key. In response, beta-catenin is stable. e.g. no split. 3 cases.",
        );
        assert_eq!(
            s,
            vec![
                "WNT signalling is key.",
                "In response, beta-catenin is stable. e.g. no split.",
                "3 cases."
            ]
        );
    }
}
