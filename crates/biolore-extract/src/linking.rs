//! Extracted spans linked to concepts through the dense linker: adverse effects to a disease or
//! phenotype index (MEDIC, HPO, …), drugs to the index of a drug KB the user supplies.

use std::collections::BTreeMap;

use biolore_link::Linker;

use crate::error::Result;
use crate::sentence::{AdeRelation, AdeSentence, LinkedConcept};

/// Which indexes the spans are linked against, and the lowest score kept.
#[derive(Clone, Copy, Default)]
pub struct SpanLinkers<'a> {
    /// Linker for effect spans.
    pub effects: Option<&'a Linker>,
    /// Linker for drug spans.
    pub drugs: Option<&'a Linker>,
    /// A best concept scoring below this (cosine) is left out.
    pub min_score: f32,
}

/// The best concept of each distinct text, `None` below `min_score`.
fn best_concepts(
    linker: &Linker,
    texts: Vec<String>,
    min_score: f32,
) -> Result<BTreeMap<String, LinkedConcept>> {
    let ranked = linker.link(&texts, 1)?;
    Ok(texts
        .into_iter()
        .zip(ranked)
        .filter_map(|(text, cands)| {
            let best = cands.into_iter().next()?;
            (best.score >= min_score).then_some((
                text,
                LinkedConcept {
                    id: best.id,
                    name: best.name,
                    score: best.score,
                },
            ))
        })
        .collect())
}

/// Links the drug and effect spans of every relation in `found` (each distinct text once),
/// setting `drug_concept` / `effect_concept`.
pub fn link_relations(found: &mut [AdeSentence], linkers: SpanLinkers<'_>) -> Result<()> {
    type Pick = fn(&mut AdeRelation) -> (&str, &mut Option<LinkedConcept>);
    let sides: [(Option<&Linker>, Pick); 2] = [
        (linkers.drugs, |r| (&r.drug.text, &mut r.drug_concept)),
        (linkers.effects, |r| (&r.effect.text, &mut r.effect_concept)),
    ];
    for (linker, pick) in sides {
        let Some(linker) = linker else { continue };
        let mut texts: Vec<String> = found
            .iter_mut()
            .flat_map(|s| s.relations.iter_mut())
            .map(|r| pick(r).0.to_string())
            .collect();
        texts.sort();
        texts.dedup();
        if texts.is_empty() {
            continue;
        }
        let concepts = best_concepts(linker, texts, linkers.min_score)?;
        for r in found.iter_mut().flat_map(|s| s.relations.iter_mut()) {
            let (text, slot) = pick(r);
            *slot = concepts.get(text).cloned();
        }
    }
    Ok(())
}
