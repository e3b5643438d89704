//! Abbreviation definitions found with the Schwartz–Hearst algorithm (PSB 2003): a short form
//! in parentheses next to its long form, "Wilson disease (WD)", or the reverse, "WD (Wilson disease)".

use std::collections::HashMap;

/// Short form → long form, as defined in one document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Abbreviations {
    map: HashMap<String, String>,
}

fn is_short_form(s: &str) -> bool {
    let len = s.chars().count();
    (2..=10).contains(&len)
        && s.split_whitespace().count() <= 2
        && s.chars().next().is_some_and(char::is_alphanumeric)
        && s.chars().any(char::is_alphabetic)
}

/// The long form of `short` ending at the end of `candidate`, matching the short form's
/// characters right to left (the first one at a word start), or `None`.
fn best_long_form(short: &str, candidate: &str) -> Option<String> {
    let s: Vec<char> = short.chars().flat_map(char::to_lowercase).collect();
    let l: Vec<char> = candidate.chars().collect();
    let lower: Vec<char> = l
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let mut si = s.len() as isize - 1;
    let mut li = l.len() as isize - 1;
    while si >= 0 {
        let c = s[si as usize];
        if !c.is_alphanumeric() {
            si -= 1;
            continue;
        }
        while li >= 0
            && (lower[li as usize] != c
                || (si == 0 && li > 0 && l[(li - 1) as usize].is_alphanumeric()))
        {
            li -= 1;
        }
        if li < 0 {
            return None;
        }
        li -= 1;
        si -= 1;
    }
    let start = l[..((li + 1).max(0) as usize)]
        .iter()
        .rposition(|c| *c == ' ')
        .map_or(0, |p| p + 1);
    Some(l[start..].iter().collect::<String>().trim().to_string())
}

fn accept(short: &str, long: &str) -> bool {
    let words = long.split_whitespace().count();
    let n = short.chars().count();
    long.chars().count() > n
        && words <= (n + 5).min(2 * n)
        && !long.to_lowercase().contains(&short.to_lowercase())
}

impl Abbreviations {
    /// Finds the abbreviations defined in `text`.
    pub fn find(text: &str) -> Self {
        let mut map = HashMap::new();
        let mut search_from = 0;
        while let Some(open_rel) = text[search_from..].find(" (") {
            let open = search_from + open_rel + 1;
            let Some(close_rel) = text[open..].find(')') else {
                break;
            };
            let close = open + close_rel;
            search_from = open + 1;
            let inside = text[open + 1..close].trim();
            let inside = inside.split([';', ',']).next().unwrap_or(inside).trim();
            if inside.is_empty() || inside.contains('(') {
                continue;
            }
            // Words before the parenthesis, back to the start of the sentence.
            let before = &text[..open - 1];
            let sentence_start = before.rfind(". ").map_or(0, |p| p + 2);
            let before = &before[sentence_start..];
            if is_short_form(inside) {
                let n = inside.chars().count();
                let max_words = (n + 5).min(2 * n);
                let words: Vec<&str> = before.split_whitespace().collect();
                let window = words[words.len().saturating_sub(max_words)..].join(" ");
                if let Some(long) = best_long_form(inside, &window) {
                    if accept(inside, &long) {
                        map.entry(inside.to_string()).or_insert(long);
                    }
                }
            } else if let Some(last) = before.split_whitespace().last() {
                // Reverse form: "WD (Wilson disease)".
                if is_short_form(last) && inside.split_whitespace().count() >= 2 {
                    if let Some(long) = best_long_form(last, inside) {
                        if accept(last, &long) && long == inside {
                            map.entry(last.to_string()).or_insert(long);
                        }
                    }
                }
            }
        }
        Self { map }
    }

    /// The long form of a short form defined in the document.
    pub fn long_form(&self, short: &str) -> Option<&str> {
        self.map.get(short).map(String::as_str)
    }

    /// Number of definitions.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the document defines none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `mention` with each token that is a defined short form replaced by its long form.
    pub fn expand(&self, mention: &str) -> String {
        if self.map.is_empty() {
            return mention.to_string();
        }
        if let Some(long) = self.long_form(mention.trim()) {
            return long.to_string();
        }
        mention
            .split(' ')
            .map(|tok| {
                let core = tok.trim_matches(|c: char| !c.is_alphanumeric());
                match self.long_form(core) {
                    Some(long) if !core.is_empty() => tok.replacen(core, long, 1),
                    _ => tok.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_classic_definitions() {
        let a = Abbreviations::find(
            "Wilson disease (WD) is an autosomal recessive disorder. Patients with adenomatous polyposis coli (APC) \
             develop tumours. Tumor necrosis factor (TNF) levels rose; the levels (n = 12) did not. \
             WD (Wilson disease) again. Computed tomography (CT) is common.",
        );
        assert_eq!(a.long_form("WD"), Some("Wilson disease"));
        assert_eq!(a.long_form("APC"), Some("adenomatous polyposis coli"));
        assert_eq!(a.long_form("TNF"), Some("Tumor necrosis factor"));
        assert_eq!(a.long_form("CT"), Some("Computed tomography"));
        assert_eq!(a.long_form("n = 12"), None);
    }

    #[test]
    fn expands_mentions() {
        let a = Abbreviations::find("Duchenne muscular dystrophy (DMD) is X-linked.");
        assert_eq!(a.expand("DMD"), "Duchenne muscular dystrophy");
        assert_eq!(
            a.expand("DMD patients"),
            "Duchenne muscular dystrophy patients"
        );
        assert_eq!(a.expand("(DMD)"), "(Duchenne muscular dystrophy)");
        assert_eq!(a.expand("cancer"), "cancer");
    }

    #[test]
    fn reverse_form_is_found() {
        let a = Abbreviations::find("Patients with DMD (Duchenne muscular dystrophy) were seen.");
        assert_eq!(a.long_form("DMD"), Some("Duchenne muscular dystrophy"));
    }
}
