//! Splitting composite mentions ("breast and ovarian cancer") into the mentions they stand for.

/// The parts of a coordinated mention, each completed with the shared head:
/// "breast and ovarian cancer" → ["breast cancer", "ovarian cancer"];
/// "Duchenne and Becker muscular dystrophy" → ["Duchenne muscular dystrophy", "Becker muscular dystrophy"];
/// "colorectal, endometrial, and ovarian cancers" → three cancers. Returns one part when the
/// mention is not a coordination.
pub fn split_composite(mention: &str) -> Vec<String> {
    let normalized = mention
        .replace(", and/or ", " and ")
        .replace(" and/or ", " and ");
    let mut pieces: Vec<String> = Vec::new();
    for chunk in normalized.split(',') {
        for piece in chunk
            .split(" and ")
            .flat_map(|p| p.split(" or "))
            .flat_map(|p| p.split('/'))
        {
            let piece = piece.trim();
            let piece = piece
                .strip_prefix("and ")
                .or_else(|| piece.strip_prefix("or "))
                .unwrap_or(piece);
            if !piece.is_empty() {
                pieces.push(piece.to_string());
            }
        }
    }
    if pieces.len() < 2 {
        return vec![mention.trim().to_string()];
    }
    let last_words: Vec<&str> = pieces[pieces.len() - 1].split_whitespace().collect();
    if last_words.len() < 2 {
        // "ovarian cancer and breast": no shared head to distribute.
        return pieces;
    }
    let head = last_words[1..].join(" ");
    let head_last = last_words[last_words.len() - 1].to_lowercase();
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ends_with_head = p
                .split_whitespace()
                .last()
                .is_some_and(|w| w.to_lowercase() == head_last);
            if i == n - 1 || ends_with_head || p.split_whitespace().count() > 3 {
                p.clone()
            } else {
                format!("{p} {head}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split_composite;

    #[test]
    fn coordinations_share_their_head() {
        assert_eq!(
            split_composite("breast and ovarian cancer"),
            vec!["breast cancer", "ovarian cancer"]
        );
        assert_eq!(
            split_composite("Duchenne and Becker muscular dystrophy"),
            vec!["Duchenne muscular dystrophy", "Becker muscular dystrophy"]
        );
        assert_eq!(
            split_composite("colorectal, endometrial, and ovarian cancers"),
            vec![
                "colorectal cancers",
                "endometrial cancers",
                "ovarian cancers"
            ]
        );
        assert_eq!(
            split_composite("hereditary breast and ovarian cancer"),
            vec!["hereditary breast cancer", "ovarian cancer"]
        );
        assert_eq!(
            split_composite("breast/ovarian cancer"),
            vec!["breast cancer", "ovarian cancer"]
        );
        assert_eq!(
            split_composite("breast cancer and ovarian cancer"),
            vec!["breast cancer", "ovarian cancer"]
        );
        assert_eq!(split_composite("Wilson disease"), vec!["Wilson disease"]);
    }
}
