//! Training-mention augmentation: the annotated mentions of a training corpus become extra
//! names of their concepts (`--add-mentions`).

use biolore_kb::KnowledgeBase;
use biolore_text::Document;

use crate::queries::{abbreviations, QueryOptions};

/// The `(mention, concept index)` pairs of the documents' single-concept annotations whose
/// ids `kb` knows; mentions are abbreviation-expanded as queries are.
pub fn training_mentions(
    docs: &[Document],
    kb: &KnowledgeBase,
    options: QueryOptions,
) -> Vec<(String, u32)> {
    let mut items = Vec::new();
    for doc in docs {
        let abbreviations = abbreviations(&doc.text(), options);
        for a in &doc.annotations {
            if a.is_composite() {
                continue; // the span names several concepts
            }
            for id in a.concept_ids() {
                if let Some(ci) = kb.index_of(id) {
                    items.push((abbreviations.expand(&a.span.text), ci as u32));
                }
            }
        }
    }
    items
}
