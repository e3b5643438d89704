//! The BioSyn/SapBERT evaluation protocol for entity linking on PubTator corpora.
//!
//! A prediction is correct when its concept's ids (id and alternatives) intersect the gold
//! ids. Gold `|` marks a composite mention (several concepts in one span): it is split into
//! its parts (BC5CDR's 7th column when present, else [`split_composite`]) and counts as correct
//! at k only when every gold id is hit by some part's top-k. Gold `+` marks one mention naming
//! a combination: predicting any of those ids counts. Mentions without an id (empty or `-1`)
//! are left out. Abbreviations defined in the document are expanded first (on by default).

use serde::Serialize;

use crate::error::Result;
use crate::linker::Candidate;
use crate::mention_context::MentionContext;
use crate::mention_ranker::MentionRanker;
use crate::queries::{abbreviations, prepare_annotation, QueryOptions};
use biolore_kb::normalize_id;
use biolore_text::Document;

/// One gold mention, ready to query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    /// Document.
    pub pmid: String,
    /// The mention as annotated.
    pub mention: String,
    /// The texts queried: the (expanded) mention, or a composite's parts.
    pub parts: Vec<String>,
    /// The text around the mention (for generators that read it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<MentionContext>,
    /// Gold units: each must be hit; within a unit any id counts.
    pub gold: Vec<Vec<String>>,
    /// Whether the gold ids mark a composite mention.
    pub composite: bool,
}

/// Counts of how the corpus was read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CorpusStats {
    /// Documents.
    pub documents: usize,
    /// Annotations in all.
    pub annotations: usize,
    /// Left out for having no concept id.
    pub without_id: usize,
    /// Composite mentions (gold with `|`).
    pub composites: usize,
    /// Composite mentions split into two or more parts.
    pub composites_split: usize,
    /// Mentions changed by abbreviation expansion.
    pub abbreviations_expanded: usize,
}

/// Gold units of an id field: `|` separates required units, `+` alternatives within one.
pub fn gold_units(ids: &str) -> Vec<Vec<String>> {
    ids.split('|')
        .map(|unit| {
            unit.split('+')
                .map(normalize_id)
                .filter(|id| !id.is_empty() && id != "-1")
                .collect::<Vec<_>>()
        })
        .filter(|u| !u.is_empty())
        .collect()
}

/// Turns annotated documents into queries under the protocol (query preparation is
/// [`crate::queries`]'s, the same as `link`'s).
pub fn prepare(docs: &[Document], options: QueryOptions) -> (Vec<Query>, CorpusStats) {
    let mut stats = CorpusStats {
        documents: docs.len(),
        ..CorpusStats::default()
    };
    let mut queries = Vec::new();
    for doc in docs {
        let text = doc.text();
        let abbreviations = abbreviations(&text, options);
        for a in &doc.annotations {
            stats.annotations += 1;
            let gold = gold_units(&a.ids);
            if gold.is_empty() {
                stats.without_id += 1;
                continue;
            }
            let prepared = prepare_annotation(a, &abbreviations, &text);
            if prepared.was_expanded() {
                stats.abbreviations_expanded += 1;
            }
            if prepared.composite {
                stats.composites += 1;
                if prepared.parts.len() > 1 {
                    stats.composites_split += 1;
                }
            }
            queries.push(Query {
                pmid: doc.id.clone(),
                mention: prepared.mention,
                parts: prepared.parts,
                context: prepared.context,
                gold,
                composite: prepared.composite,
            });
        }
    }
    (queries, stats)
}

/// Whether every gold unit is hit by some part's top-`k` candidates.
pub fn correct_at(gold: &[Vec<String>], predictions: &[Vec<Candidate>], k: usize) -> bool {
    gold.iter().all(|unit| {
        predictions.iter().any(|cands| {
            cands
                .iter()
                .take(k)
                .any(|c| c.all_ids.iter().any(|id| unit.contains(id)))
        })
    })
}

/// A mention linked wrongly at rank 1.
#[derive(Debug, Clone, Serialize)]
pub struct LinkingError {
    /// Document.
    pub pmid: String,
    /// The mention as annotated.
    pub mention: String,
    /// What was queried.
    pub queried: Vec<String>,
    /// Gold ids.
    pub gold: Vec<Vec<String>>,
    /// Top candidates of each queried part.
    pub predicted: Vec<Vec<Candidate>>,
}

/// The evaluation's result.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Accuracy at rank 1.
    pub acc1: f64,
    /// Accuracy within the top 5.
    pub acc5: f64,
    /// Mentions evaluated.
    pub n: usize,
    /// How the corpus was read.
    #[serde(flatten)]
    pub stats: CorpusStats,
    /// Whether abbreviations were expanded.
    pub abbreviation_expansion: bool,
    /// Names added from a training corpus (0 without `--add-mentions`).
    pub added_names: usize,
    /// Rank-1 errors, for inspection.
    #[serde(skip)]
    pub errors: Vec<LinkingError>,
}

/// Evaluates `linker` on the documents' gold mentions.
pub fn evaluate(
    linker: &dyn MentionRanker,
    docs: &[Document],
    options: QueryOptions,
) -> Result<EvalReport> {
    let (queries, stats) = prepare(docs, options);
    let texts: Vec<(&str, Option<&MentionContext>)> = queries
        .iter()
        .flat_map(|q| q.parts.iter().map(|p| (p.as_str(), q.context.as_ref())))
        .collect();
    let mut candidates = linker.rank_in_context(&texts, 5)?.into_iter();
    let (mut hit1, mut hit5) = (0usize, 0usize);
    let mut errors = Vec::new();
    for q in &queries {
        let predicted: Vec<Vec<Candidate>> = candidates.by_ref().take(q.parts.len()).collect();
        let ok1 = correct_at(&q.gold, &predicted, 1);
        hit1 += usize::from(ok1);
        hit5 += usize::from(correct_at(&q.gold, &predicted, 5));
        if !ok1 {
            errors.push(LinkingError {
                pmid: q.pmid.clone(),
                mention: q.mention.clone(),
                queried: q.parts.clone(),
                gold: q.gold.clone(),
                predicted,
            });
        }
    }
    let n = queries.len();
    let frac = |h: usize| if n == 0 { 0.0 } else { h as f64 / n as f64 };
    Ok(EvalReport {
        acc1: frac(hit1),
        acc5: frac(hit5),
        n,
        stats,
        abbreviation_expansion: options.expand_abbreviations,
        added_names: 0,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use biolore_text::pubtator::parse;
    use std::path::Path;

    fn cand(ids: &[&str]) -> Candidate {
        Candidate {
            id: ids[0].into(),
            name: String::new(),
            matched: String::new(),
            score: 0.0,
            all_ids: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn gold_ids_follow_the_corpus_conventions() {
        assert_eq!(
            gold_units("D001943|D010051"),
            vec![vec!["MESH:D001943"], vec!["MESH:D010051"]]
        );
        assert_eq!(
            gold_units("D007153+D040181"),
            vec![vec!["MESH:D007153", "MESH:D040181"]]
        );
        assert_eq!(gold_units("OMIM:607116"), vec![vec!["OMIM:607116"]]);
        assert!(gold_units("-1").is_empty());
        assert!(gold_units("").is_empty());
    }

    #[test]
    fn metric_requires_every_composite_unit() {
        let gold = gold_units("D001943|D010051");
        let both = vec![vec![cand(&["MESH:D001943"])], vec![cand(&["MESH:D010051"])]];
        let one = vec![vec![cand(&["MESH:D001943"])], vec![cand(&["MESH:D000001"])]];
        assert!(correct_at(&gold, &both, 1));
        assert!(!correct_at(&gold, &one, 1));
        // A combination mention: either id counts; alternative ids count.
        let combo = gold_units("D007153+D040181");
        assert!(correct_at(&combo, &[vec![cand(&["MESH:D040181"])]], 1));
        assert!(correct_at(
            &gold_units("OMIM:277900"),
            &[vec![cand(&["MESH:D006527", "OMIM:277900"])]],
            1
        ));
        // Rank matters.
        let ranked = vec![vec![cand(&["MESH:X"]), cand(&["MESH:D001943"])]];
        let single = gold_units("D001943");
        assert!(!correct_at(&single, &ranked, 1) && correct_at(&single, &ranked, 5));
    }

    #[test]
    fn prepare_splits_composites_expands_abbreviations_and_skips_unlinked() {
        let text = "1|t|Breast and ovarian cancer in Wilson disease (WD).\n1|a|WD is rare.\n\
                    1\t0\t25\tBreast and ovarian cancer\tCompositeMention\tD001943|D010051\n\
                    1\t29\t43\tWilson disease\tSpecificDisease\tD006527\n\
                    1\t51\t53\tWD\tSpecificDisease\tD006527\n\
                    1\t51\t53\tWD\tSpecificDisease\t-1\n";
        let docs = parse(Path::new("t"), text).unwrap();
        let (queries, stats) = prepare(&docs, QueryOptions::default());
        assert_eq!(queries.len(), 3);
        assert_eq!(stats.without_id, 1);
        assert_eq!((stats.composites, stats.composites_split), (1, 1));
        assert_eq!(queries[0].parts, vec!["Breast cancer", "ovarian cancer"]);
        assert_eq!(queries[2].parts, vec!["Wilson disease"]);
        assert_eq!(stats.abbreviations_expanded, 1);
        let (queries, _) = prepare(
            &docs,
            QueryOptions {
                expand_abbreviations: false,
            },
        );
        assert_eq!(queries[2].parts, vec!["WD"]);
    }
}
