//! The text around a mention, for generators trained to read it (ANGEL marks the mention in
//! its context with `START` and `END`), and the generator's prompt settings saved beside it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{LinkError, Result};

/// Characters kept either side of a mention when a document is prepared (generators trim further).
pub const WIDE_CONTEXT_CHARS: usize = 256;

/// Characters of context either side of the mention a new generator is trained with.
pub const DEFAULT_CONTEXT_CHARS: usize = 64;

/// The file in a generator folder that records how its prompts were written.
pub const PROMPT_FILE: &str = "biolore-prompt.json";

/// A mention's surroundings in its document: whole words, whitespace collapsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MentionContext {
    /// Text before the mention.
    pub left: String,
    /// The mention as written in the document.
    pub span: String,
    /// Text after the mention.
    pub right: String,
}

impl MentionContext {
    /// The context of characters `start..end` of `text` (character offsets), at most `chars`
    /// characters either side; `None` when the offsets do not fall inside the text.
    pub fn around(text: &str, start: usize, end: usize, chars: usize) -> Option<Self> {
        if start >= end {
            return None;
        }
        let byte = |c: usize| {
            text.char_indices()
                .nth(c)
                .map(|(b, _)| b)
                .or((c == text.chars().count()).then_some(text.len()))
        };
        let (s, e) = (byte(start)?, byte(end)?);
        let context = Self {
            left: text[..s].to_string(),
            span: text[s..e].to_string(),
            right: text[e..].to_string(),
        };
        Some(context.trimmed(chars))
    }

    /// The same context cut to at most `chars` characters either side, at word boundaries.
    pub fn trimmed(&self, chars: usize) -> Self {
        Self {
            left: last_words(&self.left, chars),
            span: collapse(&self.span),
            right: first_words(&self.right, chars),
        }
    }

    /// The context with the mention marked: `left START span END right`.
    pub fn marked(&self) -> String {
        let mut out = String::new();
        for part in [self.left.as_str(), "START", &self.span, "END", &self.right] {
            if !part.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(part);
            }
        }
        out
    }
}

/// Whitespace runs (newlines included) as single spaces, trimmed.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The words at the end of `s` that fit in `chars` characters.
fn last_words(s: &str, chars: usize) -> String {
    let mut words = words_within(s.split_whitespace().rev(), chars);
    words.reverse();
    words.join(" ")
}

/// The words at the start of `s` that fit in `chars` characters.
fn first_words(s: &str, chars: usize) -> String {
    words_within(s.split_whitespace(), chars).join(" ")
}

/// The leading `words` that, joined by single spaces, fit in `chars` characters.
fn words_within<'a>(words: impl Iterator<Item = &'a str>, chars: usize) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    let mut used = 0;
    for w in words {
        let n = w.chars().count() + usize::from(!out.is_empty());
        if used + n > chars {
            break;
        }
        used += n;
        out.push(w);
    }
    out
}

/// How a generator's prompts are written; saved as [`PROMPT_FILE`] in its folder. A folder
/// without the file was trained on the mention alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptSettings {
    /// Characters of context either side of the mention (0: the mention alone).
    pub context_chars: usize,
}

impl PromptSettings {
    /// The settings saved in generator folder `dir` (the mention alone when there are none, or
    /// when `dir` is a GGUF file).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(PROMPT_FILE);
        if !dir.is_dir() || !path.is_file() {
            return Ok(Self::default());
        }
        let fail = |message: String| LinkError::Path {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        serde_json::from_str(&text)
            .map_err(|e| fail(format!("not the generator's prompt settings: {e}")))
    }

    /// Saves the settings into generator folder `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LinkError::Mismatch(format!("prompt settings: {e}")))?;
        let path = dir.join(PROMPT_FILE);
        std::fs::write(&path, text + "\n").map_err(|e| LinkError::Path {
            path,
            message: e.to_string(),
        })
    }

    /// The context a prompt shows, trimmed to these settings (none when they say mention alone).
    pub fn context(&self, context: Option<&MentionContext>) -> Option<MentionContext> {
        (self.context_chars > 0)
            .then(|| context.map(|c| c.trimmed(self.context_chars)))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_cut_at_words_and_marks_the_mention() {
        let text = "Patients with\nbreast cancer often carry BRCA1 mutations.";
        let c = MentionContext::around(text, 14, 27, 20).unwrap();
        assert_eq!(c.span, "breast cancer");
        assert_eq!(c.left, "Patients with");
        assert_eq!(c.right, "often carry BRCA1");
        assert_eq!(
            c.marked(),
            "Patients with START breast cancer END often carry BRCA1"
        );
        let narrow = c.trimmed(5);
        assert_eq!(narrow.left, "with");
        assert_eq!(narrow.right, "often");
        assert_eq!(c.trimmed(0).marked(), "START breast cancer END");
    }

    #[test]
    fn offsets_are_characters_and_bad_offsets_give_none() {
        let text = "Maladie de Hodgkin évoluée chez l'enfant";
        let c = MentionContext::around(text, 11, 26, 100).unwrap();
        assert_eq!(c.span, "Hodgkin évoluée");
        assert_eq!(c.right, "chez l'enfant");
        let end = text.chars().count();
        assert_eq!(
            MentionContext::around(text, 27, end, 10).unwrap().span,
            "chez l'enfant"
        );
        assert!(MentionContext::around(text, 5, 500, 10).is_none());
        assert!(MentionContext::around(text, 5, 5, 10).is_none());
    }

    #[test]
    fn prompt_settings_default_to_the_mention_alone() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PromptSettings::load(dir.path()).unwrap().context_chars, 0);
        let s = PromptSettings { context_chars: 32 };
        s.save(dir.path()).unwrap();
        assert_eq!(PromptSettings::load(dir.path()).unwrap(), s);
        let c = MentionContext::around("a b c d e f", 4, 5, 100).unwrap();
        assert_eq!(PromptSettings::default().context(Some(&c)), None);
        assert_eq!(
            s.context(Some(&c)).unwrap().marked(),
            "a b START c END d e f"
        );
        std::fs::write(dir.path().join(PROMPT_FILE), "{").unwrap();
        assert!(PromptSettings::load(dir.path()).is_err());
    }
}
