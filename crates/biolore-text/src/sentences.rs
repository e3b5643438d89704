//! Sentence splitting that keeps character offsets.

/// Character spans `(start, end)` of the sentences of `text`: a sentence ends after `.`, `?` or
/// `!` followed by a space and an upper-case letter or digit; spans are trimmed of whitespace
/// and empty ones left out.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let push = |from: usize, to: usize, out: &mut Vec<(usize, usize)>| {
        let mut s = from;
        let mut e = to;
        while s < e && chars[s].is_whitespace() {
            s += 1;
        }
        while e > s && chars[e - 1].is_whitespace() {
            e -= 1;
        }
        if s < e {
            out.push((s, e));
        }
    };
    for i in 0..chars.len() {
        if matches!(chars[i], '.' | '?' | '!')
            && chars.get(i + 1) == Some(&' ')
            && chars
                .get(i + 2)
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            push(start, i + 1, &mut out);
            start = i + 2;
        }
    }
    push(start, chars.len(), &mut out);
    out
}

/// The sentences of `text` as slices (see [`sentence_spans`]).
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
    bytes.push(text.len());
    sentence_spans(text)
        .into_iter()
        .map(|(s, e)| &text[bytes[s]..bytes[e]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_terminal_punctuation_and_keep_offsets() {
        let text =
            "WNT signalling is key. In response, béta-catenin is stable. e.g. no split. 3 cases.";
        let s = split_sentences(text);
        assert_eq!(
            s,
            vec![
                "WNT signalling is key.",
                "In response, béta-catenin is stable. e.g. no split.",
                "3 cases."
            ]
        );
        let spans = sentence_spans(text);
        let chars: Vec<char> = text.chars().collect();
        for ((start, end), sentence) in spans.iter().zip(&s) {
            assert_eq!(chars[*start..*end].iter().collect::<String>(), *sentence);
        }
        assert!(sentence_spans("  ").is_empty());
    }
}
