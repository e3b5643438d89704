//! Query preparation, the one place that turns a mention into the texts to search: abbreviations
//! defined in the document are expanded (Schwartz–Hearst) and composite mentions are split into
//! their parts. `link`, `eval link` and `serve /link` all go through it.

use biolore_text::{Annotation, Document};
use serde::Serialize;

use crate::abbreviations::Abbreviations;
use crate::composite::split_composite;
use crate::mention_context::{MentionContext, WIDE_CONTEXT_CHARS};

/// How mentions become queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// Expand abbreviations defined in the mention's document (default on).
    pub expand_abbreviations: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        Self {
            expand_abbreviations: true,
        }
    }
}

/// One mention made ready to search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreparedMention {
    /// The mention as written.
    pub mention: String,
    /// The mention after abbreviation expansion.
    pub expanded: String,
    /// The texts searched: the expanded mention, or a composite's parts.
    pub parts: Vec<String>,
    /// Whether the mention is a composite (several concepts in one span).
    pub composite: bool,
    /// The text around the mention in its document, when its offsets are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<MentionContext>,
}

impl PreparedMention {
    /// Whether abbreviation expansion changed the mention.
    pub fn was_expanded(&self) -> bool {
        self.expanded != self.mention
    }
}

/// The abbreviations a document defines (none when expansion is off).
pub fn abbreviations(text: &str, options: QueryOptions) -> Abbreviations {
    if options.expand_abbreviations {
        Abbreviations::find(text)
    } else {
        Abbreviations::default()
    }
}

/// Whether an annotation stands for several concepts: its ids are joined by `|`, or it has no
/// ids yet and its type is `CompositeMention`.
pub fn is_composite(a: &Annotation) -> bool {
    a.is_composite() || (a.concept_ids().next().is_none() && a.span.kind == "CompositeMention")
}

/// Prepares one annotation of a document whose abbreviations are `abbreviations` and whose text
/// is `text` (for the mention's context): composites are split into the parts the corpus gives
/// (BC5CDR's 7th column) or [`split_composite`]'s.
pub fn prepare_annotation(
    a: &Annotation,
    abbreviations: &Abbreviations,
    text: &str,
) -> PreparedMention {
    let mention = a.span.text.clone();
    let expanded = abbreviations.expand(&mention);
    let composite = is_composite(a);
    let parts = if !composite {
        vec![expanded.clone()]
    } else if a.parts.len() > 1 {
        a.parts.iter().map(|p| abbreviations.expand(p)).collect()
    } else {
        split_composite(&expanded)
    };
    PreparedMention {
        mention,
        expanded,
        parts,
        composite,
        context: MentionContext::around(text, a.span.start, a.span.end, WIDE_CONTEXT_CHARS),
    }
}

/// Prepares every annotation of `doc`, in order.
pub fn prepare_document(doc: &Document, options: QueryOptions) -> Vec<PreparedMention> {
    let text = doc.text();
    let abbreviations = abbreviations(&text, options);
    doc.annotations
        .iter()
        .map(|a| prepare_annotation(a, &abbreviations, &text))
        .collect()
}

/// Prepares a mention given on its own, with the text it came from as `context` (for
/// abbreviations); `composite` splits it into parts.
pub fn prepare_mention(
    mention: &str,
    context: Option<&str>,
    composite: bool,
    options: QueryOptions,
) -> PreparedMention {
    let abbreviations = context.map_or_else(Abbreviations::default, |c| abbreviations(c, options));
    let expanded = abbreviations.expand(mention);
    let parts = if composite {
        split_composite(&expanded)
    } else {
        vec![expanded.clone()]
    };
    PreparedMention {
        mention: mention.to_string(),
        expanded,
        parts,
        composite,
        context: context.and_then(|c| context_of(mention, c)),
    }
}

/// The context of `mention`'s first occurrence in `text` (none when it does not occur).
fn context_of(mention: &str, text: &str) -> Option<MentionContext> {
    let mention = mention.trim();
    if mention.is_empty() {
        return None;
    }
    let byte = text.find(mention)?;
    let start = text[..byte].chars().count();
    let end = start + mention.chars().count();
    MentionContext::around(text, start, end, WIDE_CONTEXT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn documents_expand_abbreviations_and_split_composites() {
        let text = "1|t|Breast and ovarian cancer in Wilson disease (WD).\n1|a|WD is rare.\n\
                    1\t0\t25\tBreast and ovarian cancer\tCompositeMention\tD001943|D010051\n\
                    1\t51\t53\tWD\tSpecificDisease\tD006527\n\
                    1\t0\t25\tBreast and ovarian cancer\tCompositeMention\t\n";
        let docs = biolore_text::pubtator::parse(Path::new("t"), text).unwrap();
        let prepared = prepare_document(&docs[0], QueryOptions::default());
        assert_eq!(prepared[0].parts, vec!["Breast cancer", "ovarian cancer"]);
        assert!(prepared[0].composite);
        assert_eq!(prepared[1].parts, vec!["Wilson disease"]);
        assert!(prepared[1].was_expanded());
        assert_eq!(
            prepared[2].parts.len(),
            2,
            "unlinked composite type splits too"
        );
        let off = prepare_document(
            &docs[0],
            QueryOptions {
                expand_abbreviations: false,
            },
        );
        assert_eq!(off[1].parts, vec!["WD"]);
        let m = prepare_mention(
            "WD",
            Some("Wilson disease (WD) is rare."),
            false,
            QueryOptions::default(),
        );
        assert_eq!(m.parts, vec!["Wilson disease"]);
        let context = m.context.unwrap();
        assert_eq!(context.marked(), "Wilson disease ( START WD END ) is rare.");
        assert!(
            prepare_mention("XY", Some("no such text"), false, QueryOptions::default())
                .context
                .is_none()
        );
    }

    #[test]
    fn document_mentions_carry_their_context() {
        let text = "1|t|Breast and ovarian cancer in Wilson disease (WD).\n1|a|WD is rare.\n\
                    1\t50\t52\tWD\tSpecificDisease\tD006527\n";
        let docs = biolore_text::pubtator::parse(Path::new("t"), text).unwrap();
        let prepared = prepare_document(&docs[0], QueryOptions::default());
        let context = prepared[0].context.as_ref().unwrap();
        assert_eq!(context.span, "WD");
        assert_eq!(context.right, "is rare.");
        assert!(
            context.left.ends_with("Wilson disease (WD)."),
            "{context:?}"
        );
    }
}
