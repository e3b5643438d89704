//! Dense-linker training pairs from an annotated corpus (BioSyn's and SapBERT's fine-tuning
//! protocol): each training mention with the name of its gold concept closest to it (character
//! 3-gram TF-IDF), and as a hard negative the best-ranked wrong concept the current index gives.

use std::collections::HashSet;

use biolore_kb::KnowledgeBase;
use biolore_link::generative::prompt_text;
use biolore_link::mention_context::WIDE_CONTEXT_CHARS;
use biolore_link::queries::{abbreviations, is_composite};
use biolore_link::{Linker, MentionContext, PromptSettings, QueryOptions, TrigramTfIdf};
use biolore_text::Document;
use serde::Serialize;

use crate::error::{Result, TrainError};
use crate::pairs::{Negative, Pair, PairKind};

/// Mentions searched at once while mining hard negatives.
const MINING_CHUNK: usize = 256;

/// How an annotated corpus becomes pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkPairOptions {
    /// Concepts ranked per mention when looking for a hard negative (0: no hard negatives).
    pub search_depth: usize,
    /// How mentions become queries (the same preparation as `link` and `eval link`).
    pub queries: QueryOptions,
}

impl Default for LinkPairOptions {
    fn default() -> Self {
        Self {
            search_depth: 10,
            queries: QueryOptions::default(),
        }
    }
}

/// How the corpus was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkPairStats {
    /// Annotations in all.
    pub annotations: usize,
    /// Left out: no concept id, or an empty mention.
    pub without_id: usize,
    /// Left out: composite mentions (one span naming several concepts).
    pub composites: usize,
    /// Left out: no id the KB knows.
    pub unknown_concept: usize,
    /// Left out: the same (mention, concept) again.
    pub duplicates: usize,
    /// Pairs made.
    pub pairs: usize,
    /// Pairs with a hard negative.
    pub with_negative: usize,
    /// Mentions whose gold concept the index already ranks first.
    pub ranked_first: usize,
}

/// One distinct annotated mention (abbreviations expanded) and its gold concepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldMention {
    /// The mention as queried.
    pub mention: String,
    /// KB positions of its gold ids (the first is the concept it is paired with).
    pub gold: Vec<usize>,
    /// The text around its first occurrence.
    pub context: Option<MentionContext>,
}

/// The distinct single-concept mentions of `docs` whose ids `kb` knows, and what was left out.
pub fn gold_mentions(
    docs: &[Document],
    kb: &KnowledgeBase,
    queries: QueryOptions,
) -> (Vec<GoldMention>, LinkPairStats) {
    let mut stats = LinkPairStats::default();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for doc in docs {
        let text = doc.text();
        let abbreviations = abbreviations(&text, queries);
        for a in &doc.annotations {
            stats.annotations += 1;
            let mention = abbreviations.expand(&a.span.text).trim().to_string();
            if a.concept_ids().next().is_none() || mention.is_empty() {
                stats.without_id += 1;
                continue;
            }
            if is_composite(a) {
                stats.composites += 1;
                continue;
            }
            let mut gold: Vec<usize> = a.concept_ids().filter_map(|id| kb.index_of(id)).collect();
            gold.dedup();
            let Some(&first) = gold.first() else {
                stats.unknown_concept += 1;
                continue;
            };
            if !seen.insert((mention.to_lowercase(), first)) {
                stats.duplicates += 1;
                continue;
            }
            let context =
                MentionContext::around(&text, a.span.start, a.span.end, WIDE_CONTEXT_CHARS);
            out.push(GoldMention {
                mention,
                gold,
                context,
            });
        }
    }
    (out, stats)
}

/// The error for a corpus that gives nothing to train on, with what was left out.
pub fn no_usable_mentions(stats: &LinkPairStats) -> TrainError {
    TrainError::Empty(format!(
        "no usable mentions: of {} annotations, {} have no id or text, {} are composite, {} name no concept of the KB",
        stats.annotations, stats.without_id, stats.composites, stats.unknown_concept
    ))
}

/// The pairs of `docs` against the linker's KB; `progress` gets the mentions searched so far and
/// how many there are.
pub fn link_pairs(
    docs: &[Document],
    linker: &Linker,
    options: LinkPairOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Pair>, LinkPairStats)> {
    let kb = linker.index().kb();
    let (mentions, mut stats) = gold_mentions(docs, kb, options.queries);
    if mentions.is_empty() {
        return Err(no_usable_mentions(&stats));
    }
    let tfidf = TrigramTfIdf::fit(kb.concepts().iter().flat_map(|c| c.names()));
    // (pair, every KB position of the gold ids).
    let mut items: Vec<(Pair, Vec<usize>)> = Vec::new();
    for GoldMention { mention, gold, .. } in mentions {
        let concept = &kb.concepts()[gold[0]];
        let names = concept.names();
        let Some(&best) = tfidf.closest(&mention, &names, 1).first() else {
            stats.unknown_concept += 1;
            continue;
        };
        let pair = Pair {
            concept: concept.id.clone(),
            kind: PairKind::Mention,
            name: names[best].to_string(),
            text: mention,
            negative: None,
        };
        items.push((pair, gold));
    }
    if options.search_depth > 0 {
        let mut done = 0;
        let total = items.len();
        for chunk in items.chunks_mut(MINING_CHUNK) {
            let texts: Vec<&str> = chunk.iter().map(|(p, _)| p.text.as_str()).collect();
            let ranked = linker.link(&texts, options.search_depth)?;
            for ((pair, gold), candidates) in chunk.iter_mut().zip(ranked) {
                let is_gold = |id: &str| kb.index_of(id).is_some_and(|i| gold.contains(&i));
                if candidates.first().is_some_and(|c| is_gold(&c.id)) {
                    stats.ranked_first += 1;
                }
                pair.negative =
                    candidates
                        .into_iter()
                        .find(|c| !is_gold(&c.id))
                        .map(|c| Negative {
                            concept: c.id,
                            name: c.matched,
                        });
            }
            done += chunk.len();
            progress(done, total);
        }
    }
    let pairs: Vec<Pair> = items.into_iter().map(|(p, _)| p).collect();
    stats.pairs = pairs.len();
    stats.with_negative = pairs.iter().filter(|p| p.negative.is_some()).count();
    Ok((pairs, stats))
}

/// A prompt and the name the generator should write for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenerationExample {
    /// The user turn (see [`prompt_text`]).
    pub prompt: String,
    /// A name of the gold concept.
    pub completion: String,
}

/// Generator training examples: each mention (in its context, as `prompt` says) with up to
/// `synonyms` names of its gold concept, the closest by character 3-gram TF-IDF first (ANGEL's
/// SYN3 targets with `synonyms = 3`).
pub fn generation_examples(
    mentions: &[GoldMention],
    kb: &KnowledgeBase,
    synonyms: usize,
    prompt: PromptSettings,
) -> Vec<GenerationExample> {
    let tfidf = TrigramTfIdf::fit(kb.concepts().iter().flat_map(|c| c.names()));
    let mut out = Vec::new();
    for m in mentions {
        let names = kb.concepts()[m.gold[0]].names();
        let context = prompt.context(m.context.as_ref());
        for i in tfidf.closest(&m.mention, &names, synonyms.max(1)) {
            out.push(GenerationExample {
                prompt: prompt_text(&m.mention, context.as_ref()),
                completion: names[i].to_string(),
            });
        }
    }
    out
}

/// KB-guided examples (GenBioEL's pre-training): a synonym, or a definition, as the mention and
/// the concept's preferred name as the answer; a seeded sample of at most `limit`. They carry no
/// context: a generator trained with context sees the mention alone in them.
pub fn kb_examples(kb: &KnowledgeBase, limit: usize, seed: u64) -> Vec<GenerationExample> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut all: Vec<GenerationExample> = kb
        .concepts()
        .iter()
        .filter(|c| !c.obsolete)
        .flat_map(|c| {
            let names = c.names();
            let preferred = names.first().copied().unwrap_or_default().to_string();
            names
                .into_iter()
                .skip(1)
                .filter(|s| !s.eq_ignore_ascii_case(&preferred))
                .chain(c.definitions.iter().map(String::as_str))
                .filter(|s| !s.trim().is_empty())
                .map(|s| GenerationExample {
                    prompt: prompt_text(s, None),
                    completion: preferred.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    all.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    all.truncate(limit);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use biolore_kb::{Concept, Synonym};

    fn kb() -> KnowledgeBase {
        let mut kb = KnowledgeBase::new("test");
        kb.add(Concept {
            id: "MESH:D006527".into(),
            name: "Hepatolenticular Degeneration".into(),
            synonyms: vec![
                Synonym::exact("Wilson Disease"),
                Synonym::exact("Wilson's disease"),
                Synonym::exact("Copper storage disease"),
            ],
            ..Default::default()
        });
        kb.add(Concept {
            id: "MESH:D001943".into(),
            name: "Breast Neoplasms".into(),
            ..Default::default()
        });
        kb
    }

    fn docs() -> Vec<Document> {
        let text = "1|t|Wilson disease (WD) and breast cancer.\n1|a|WD again.\n\
                    1\t0\t14\tWilson disease\tSpecificDisease\tD006527\n\
                    1\t16\t18\tWD\tSpecificDisease\tD006527\n\
                    1\t24\t37\tbreast cancer\tDiseaseClass\tD001943|D000001\n\
                    1\t24\t37\tbreast cancer\tDiseaseClass\tD999999\n\
                    1\t39\t41\tWD\tSpecificDisease\t\n";
        biolore_text::pubtator::parse(std::path::Path::new("t"), text).unwrap()
    }

    #[test]
    fn mentions_are_expanded_deduplicated_and_accounted_for() {
        let (mentions, stats) = gold_mentions(&docs(), &kb(), QueryOptions::default());
        // "WD" expands to "Wilson disease": the same mention as the first, so a duplicate.
        assert_eq!(mentions.len(), 1);
        assert_eq!(mentions[0].mention, "Wilson disease");
        assert_eq!(
            (
                stats.duplicates,
                stats.composites,
                stats.unknown_concept,
                stats.without_id
            ),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn generation_targets_are_the_closest_names_of_the_gold_concept() {
        let (mentions, _) = gold_mentions(&docs(), &kb(), QueryOptions::default());
        let examples = generation_examples(&mentions, &kb(), 3, PromptSettings::default());
        let targets: Vec<&str> = examples.iter().map(|e| e.completion.as_str()).collect();
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[0], "Wilson Disease");
        assert!(targets.contains(&"Wilson's disease"));
        assert!(examples[0].prompt.ends_with("Mention: Wilson disease"));
        assert!(!examples[0].prompt.contains("START"));
        let in_context =
            generation_examples(&mentions, &kb(), 1, PromptSettings { context_chars: 12 });
        assert!(
            in_context[0]
                .prompt
                .contains("\nContext: START Wilson disease END (WD) and\nMention: Wilson disease"),
            "{}",
            in_context[0].prompt
        );
        let kb_ex = kb_examples(&kb(), 10, 1);
        assert_eq!(kb_ex.len(), 3);
        let mut with_definition = kb();
        with_definition.add(Concept {
            id: "MESH:D000001".into(),
            name: "Calcimycin".into(),
            definitions: vec!["An ionophore antibiotic.".into()],
            ..Default::default()
        });
        let defined = kb_examples(&with_definition, 10, 1);
        assert!(defined.iter().any(|e| e.completion == "Calcimycin"
            && e.prompt.ends_with("Mention: An ionophore antibiotic.")));
        assert!(kb_ex
            .iter()
            .all(|e| e.completion == "Hepatolenticular Degeneration"));
        assert_eq!(kb_examples(&kb(), 2, 1).len(), 2);
    }
}
