//! Finding a teacher's strings in the text: exact, then ignoring case and spacing, then fuzzy
//! over word windows above a similarity threshold. What cannot be found is never guessed.

/// How a string was found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Match {
    /// Character for character.
    Exact,
    /// Equal after lower-casing and collapsing whitespace.
    Normalized,
    /// A window of words whose normalized Levenshtein similarity is this (≥ the threshold).
    Fuzzy(f64),
}

/// Default similarity a fuzzy match must reach.
pub const FUZZY_THRESHOLD: f64 = 0.85;

/// Character span `(start, end)` of `needle` in `text`, and how it was found; `None` when it is
/// not there (or `needle` is blank).
pub fn align(text: &str, needle: &str, threshold: f64) -> Option<(usize, usize, Match)> {
    let needle = needle.trim();
    if needle.is_empty() {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let n = needle.chars().count();
    if let Some(start) = text
        .match_indices(needle)
        .map(|(byte, _)| text[..byte].chars().count())
        .find(|&s| at_word_edges(&chars, s, s + n))
    {
        return Some((start, start + n, Match::Exact));
    }
    if let Some((s, e)) = normalized_find(text, needle) {
        return Some((s, e, Match::Normalized));
    }
    fuzzy_find(text, needle, threshold).map(|(s, e, sim)| (s, e, Match::Fuzzy(sim)))
}

/// Lower-cased characters of `text` with runs of whitespace as one space, each with the index
/// of the original character it came from.
fn normalize(text: &str) -> Vec<(char, usize)> {
    let mut out: Vec<(char, usize)> = Vec::new();
    for (i, c) in text.chars().enumerate() {
        if c.is_whitespace() {
            if out.last().is_some_and(|(p, _)| *p != ' ') {
                out.push((' ', i));
            }
        } else {
            out.extend(c.to_lowercase().map(|l| (l, i)));
        }
    }
    while out.last().is_some_and(|(c, _)| *c == ' ') {
        out.pop();
    }
    out
}

/// Whether characters `s..e` neither start nor end inside a word.
fn at_word_edges(chars: &[char], s: usize, e: usize) -> bool {
    let inside = |a: Option<&char>, b: Option<&char>| {
        a.zip(b)
            .is_some_and(|(a, b)| a.is_alphanumeric() && b.is_alphanumeric())
    };
    !inside(s.checked_sub(1).and_then(|i| chars.get(i)), chars.get(s))
        && !inside(e.checked_sub(1).and_then(|i| chars.get(i)), chars.get(e))
}

fn normalized_find(text: &str, needle: &str) -> Option<(usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let hay = normalize(text);
    let pat: Vec<char> = normalize(needle).into_iter().map(|(c, _)| c).collect();
    if pat.is_empty() || pat.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - pat.len())
        .filter(|&i| {
            hay[i..i + pat.len()]
                .iter()
                .map(|(c, _)| *c)
                .eq(pat.iter().copied())
        })
        .map(|i| (hay[i].1, hay[i + pat.len() - 1].1 + 1))
        .find(|&(s, e)| at_word_edges(&chars, s, e))
}

/// Words of `text` (whitespace-separated, punctuation at their edges trimmed) as character spans.
fn words(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut s = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let mut e = i;
        while s < e && !chars[s].is_alphanumeric() {
            s += 1;
        }
        while e > s && !chars[e - 1].is_alphanumeric() {
            e -= 1;
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

fn fuzzy_find(text: &str, needle: &str, threshold: f64) -> Option<(usize, usize, f64)> {
    let chars: Vec<char> = text.chars().collect();
    let target = needle.to_lowercase();
    let n = words(needle).len().max(1);
    let spans = words(text);
    let mut best: Option<(usize, usize, f64)> = None;
    for k in n.saturating_sub(1).max(1)..=n + 1 {
        for w in spans.windows(k) {
            let (s, e) = (w[0].0, w[k - 1].1);
            let cand: String = chars[s..e].iter().collect::<String>().to_lowercase();
            let sim = strsim::normalized_levenshtein(&cand, &target);
            if sim >= threshold && best.is_none_or(|(_, _, b)| sim > b) {
                best = Some((s, e, sim));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Acute  Renal failure after high-dose methotrexate (MTX).";

    #[test]
    fn exact_then_normalized_then_fuzzy() {
        assert_eq!(
            align(TEXT, "methotrexate", 0.85),
            Some((37, 49, Match::Exact))
        );
        assert_eq!(
            align(TEXT, "acute renal failure", 0.85),
            Some((0, 20, Match::Normalized))
        );
        let (s, e, m) = align(TEXT, "methotrexat", 0.85).unwrap();
        assert_eq!((s, e), (37, 49));
        assert!(matches!(m, Match::Fuzzy(x) if x > 0.9));
    }

    #[test]
    fn what_is_not_there_is_not_guessed() {
        assert_eq!(align(TEXT, "cisplatin", 0.85), None);
        // Part of a word is not an exact match.
        assert_eq!(align("hypokalemia", "kalemia", 0.95), None);
        assert_eq!(align(TEXT, "   ", 0.85), None);
        assert_eq!(align("", "x", 0.85), None);
    }

    #[test]
    fn offsets_count_characters() {
        let text = "β-blocker induced bradycardia";
        assert_eq!(
            align(text, "bradycardia", 0.85),
            Some((18, 29, Match::Exact))
        );
        assert_eq!(
            align(text, "Β-BLOCKER", 0.85).map(|a| (a.0, a.1)),
            Some((0, 9))
        );
    }
}
