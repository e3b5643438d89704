//! The ADE corpus (Gurulingappa et al., 2012): `DRUG-AE.rel` (one drug–effect relation per line,
//! offsets at document level) and `ADE-NEG.txt` (sentences without an adverse effect), read as
//! sentences with relations at sentence-level character offsets.
//!
//! The files give each sentence's text but not where it starts in its document, so the sentence
//! start is inferred: every place the drug and the effect occur in the sentence proposes one,
//! and the start most of the sentence's mentions agree on wins. A mention whose text is not in
//! its sentence is skipped with a warning naming the line (counted in [`AdeCorpus::skipped`]).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{ExtractError, Result};
use crate::sentence::{span_of, AdeRelation, AdeSentence, DRUG, EFFECT};

/// File of drug–effect relations.
pub const RELATIONS_FILE: &str = "DRUG-AE.rel";
/// File of sentences without adverse effects.
pub const NEGATIVES_FILE: &str = "ADE-NEG.txt";

/// The sentences of an ADE corpus folder.
#[derive(Debug, Clone, Default)]
pub struct AdeCorpus {
    /// Sentences with at least one relation (from `DRUG-AE.rel`), in file order.
    pub positive: Vec<AdeSentence>,
    /// Sentences without adverse effects (from `ADE-NEG.txt`; empty when the file is absent).
    pub negative: Vec<AdeSentence>,
    /// Relation lines that could not be placed in their sentence: `file:line: why`.
    pub skipped: Vec<String>,
}

impl AdeCorpus {
    /// Positive then negative sentences.
    pub fn all(&self) -> impl Iterator<Item = &AdeSentence> {
        self.positive.iter().chain(&self.negative)
    }
}

/// Which sentences of a corpus to use: all, a uniform sample, or a sample of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    /// A uniform sample of this many sentences (positive and negative alike; no gold label used).
    pub limit: Option<usize>,
    /// This many positive sentences (a sample when fewer than the corpus has).
    pub positives: Option<usize>,
    /// This many negative sentences.
    pub negatives: Option<usize>,
    /// Seed of the samples.
    pub seed: u64,
}

impl AdeCorpus {
    /// The selected sentences, each with whether it is positive, in corpus order.
    pub fn select(&self, selection: &Selection) -> Vec<(AdeSentence, bool)> {
        use rand::seq::index::sample;
        use rand::SeedableRng;
        let all: Vec<(&AdeSentence, bool)> = self
            .positive
            .iter()
            .map(|s| (s, true))
            .chain(self.negative.iter().map(|s| (s, false)))
            .collect();
        let pick = |n: usize, pool: Vec<usize>, salt: u64| -> Vec<usize> {
            if n >= pool.len() {
                return pool;
            }
            let mut rng = rand::rngs::StdRng::seed_from_u64(selection.seed ^ salt);
            let mut chosen: Vec<usize> = sample(&mut rng, pool.len(), n)
                .into_iter()
                .map(|i| pool[i])
                .collect();
            chosen.sort_unstable();
            chosen
        };
        let indices: Vec<usize> = if selection.positives.is_some() || selection.negatives.is_some()
        {
            let pos: Vec<usize> = (0..self.positive.len()).collect();
            let neg: Vec<usize> = (self.positive.len()..all.len()).collect();
            let mut v = pick(selection.positives.unwrap_or(pos.len()), pos, 1);
            v.extend(pick(selection.negatives.unwrap_or(neg.len()), neg, 2));
            v
        } else {
            pick(
                selection.limit.unwrap_or(all.len()),
                (0..all.len()).collect(),
                3,
            )
        };
        indices
            .into_iter()
            .map(|i| (all[i].0.clone(), all[i].1))
            .collect()
    }
}

struct Row {
    line: usize,
    effect: (String, usize, usize),
    drug: (String, usize, usize),
}

/// Reads `DRUG-AE.rel` and (when present) `ADE-NEG.txt` from `dir`.
pub fn read_corpus(dir: &Path) -> Result<AdeCorpus> {
    let rel_path = dir.join(RELATIONS_FILE);
    if !rel_path.is_file() {
        return Err(ExtractError::Model {
            path: dir.to_path_buf(),
            message: format!("not an ADE corpus folder: no {RELATIONS_FILE}"),
        });
    }
    let text = read(&rel_path)?;
    let mut corpus = AdeCorpus::default();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut rows: HashMap<(String, String), Vec<Row>> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (key, row) = parse_relation(line).map_err(|message| ExtractError::Malformed {
            path: rel_path.clone(),
            line: i + 1,
            message,
        })?;
        let row = Row { line: i + 1, ..row };
        if !rows.contains_key(&key) {
            order.push(key.clone());
        }
        rows.entry(key).or_default().push(row);
    }
    for key in order {
        let group = rows.remove(&key).unwrap_or_default();
        let (sentence, skipped) = place(&key.0, &key.1, &group);
        for (line, why) in skipped {
            let message = format!("{}:{line}: {why}", rel_path.display());
            tracing::warn!("{message}; relation skipped");
            corpus.skipped.push(message);
        }
        if !sentence.relations.is_empty() {
            corpus.positive.push(sentence);
        }
    }
    let neg_path = dir.join(NEGATIVES_FILE);
    if neg_path.is_file() {
        let positive: std::collections::HashSet<(&str, &str)> = corpus
            .positive
            .iter()
            .map(|s| (s.id.as_str(), s.text.as_str()))
            .collect();
        let mut negative = Vec::new();
        for (i, line) in read(&neg_path)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (id, text) = parse_negative(line).map_err(|message| ExtractError::Malformed {
                path: neg_path.clone(),
                line: i + 1,
                message,
            })?;
            if !positive.contains(&(id, text)) {
                negative.push(AdeSentence::new(id, text));
            }
        }
        corpus.negative = negative;
    }
    Ok(corpus)
}

fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| ExtractError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| ExtractError::Malformed {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not UTF-8: {e}"),
    })
}

/// `PMID|sentence|effect|begin|end|drug|begin|end` (the sentence may itself hold `|`).
fn parse_relation(line: &str) -> Result<((String, String), Row), String> {
    let f: Vec<&str> = line.split('|').collect();
    let n = f.len();
    if n < 8 {
        return Err(format!(
            "expected 8 fields separated by '|' (PMID|sentence|effect|begin|end|drug|begin|end), found {n}"
        ));
    }
    let num = |i: usize, what: &str| -> Result<usize, String> {
        f[i].trim()
            .parse::<usize>()
            .map_err(|_| format!("{what} offset '{}' is not a number", f[i]))
    };
    let effect = (
        f[n - 6].to_string(),
        num(n - 5, "effect begin")?,
        num(n - 4, "effect end")?,
    );
    let drug = (
        f[n - 3].to_string(),
        num(n - 2, "drug begin")?,
        num(n - 1, "drug end")?,
    );
    for (what, (t, b, e)) in [("effect", &effect), ("drug", &drug)] {
        if e <= b || t.trim().is_empty() {
            return Err(format!("the {what} '{t}' has an empty span {b}..{e}"));
        }
    }
    let id = f[0].trim().to_string();
    let sentence = f[1..n - 6].join("|");
    if sentence.trim().is_empty() {
        return Err("the sentence is empty".into());
    }
    Ok((
        (id, sentence),
        Row {
            line: 0,
            effect,
            drug,
        },
    ))
}

/// `PMID NEG sentence`.
fn parse_negative(line: &str) -> Result<(&str, &str), String> {
    let mut parts = line.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(id), Some("NEG"), Some(text)) if !text.trim().is_empty() => Ok((id, text.trim())),
        _ => Err("expected 'PMID NEG sentence'".into()),
    }
}

/// Character positions where `needle` occurs in `hay`.
fn occurrences(hay: &str, needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    hay.match_indices(needle)
        .map(|(b, _)| hay[..b].chars().count())
        .collect()
}

/// Sentence-level relations of one sentence's rows, and the rows that could not be placed.
fn place(id: &str, text: &str, rows: &[Row]) -> (AdeSentence, Vec<(usize, String)>) {
    let mut votes: HashMap<isize, usize> = HashMap::new();
    for row in rows {
        for (t, b, _) in [&row.effect, &row.drug] {
            for p in occurrences(text, t) {
                *votes.entry(*b as isize - p as isize).or_default() += 1;
            }
        }
    }
    // The most agreed-on start; ties go to the smallest, so the result is deterministic.
    let start = votes
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(s, _)| *s)
        .unwrap_or(0);
    let locate = |(t, b, _): &(String, usize, usize)| -> Option<usize> {
        let want = *b as isize - start;
        occurrences(text, t)
            .into_iter()
            .min_by_key(|&p| ((p as isize - want).abs(), p))
    };
    let mut sentence = AdeSentence::new(id, text);
    let mut skipped = Vec::new();
    for row in rows {
        match (locate(&row.drug), locate(&row.effect)) {
            (Some(d), Some(e)) => sentence.add(AdeRelation {
                drug: span_of(text, d, d + row.drug.0.chars().count(), DRUG),
                effect: span_of(text, e, e + row.effect.0.chars().count(), EFFECT),
                score: None,
                drug_concept: None,
                effect_concept: None,
            }),
            (d, _) => {
                let (what, t) = if d.is_none() {
                    ("drug", &row.drug.0)
                } else {
                    ("effect", &row.effect.0)
                };
                skipped.push((
                    row.line,
                    format!("the {what} '{t}' does not occur in its sentence"),
                ));
            }
        }
    }
    (sentence, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn document_offsets_become_sentence_offsets() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            RELATIONS_FILE,
            "1|Aspirin caused asthma and aspirin caused rash.|rash|141|145|aspirin|126|133\n\
             1|Aspirin caused asthma and aspirin caused rash.|asthma|115|121|Aspirin|100|107\n\
             2|Gold text.|missing|10|17|Gold|0|4\n",
        );
        write(dir.path(), NEGATIVES_FILE, "3 NEG Nothing happened.\n");
        let c = read_corpus(dir.path()).unwrap();
        assert_eq!(c.positive.len(), 1);
        let r = &c.positive[0].relations;
        assert_eq!(
            (r[0].drug.start, r[0].drug.end, r[0].effect.start),
            (26, 33, 41)
        );
        assert_eq!(
            (r[1].drug.start, r[1].effect.start, r[1].effect.end),
            (0, 15, 21)
        );
        assert_eq!(c.negative.len(), 1);
        assert_eq!(c.skipped.len(), 1);
        assert!(
            c.skipped[0].contains(":3: the effect 'missing'"),
            "{}",
            c.skipped[0]
        );
    }

    #[test]
    fn selections_are_seeded_samples() {
        let corpus = AdeCorpus {
            positive: (0..10)
                .map(|i| AdeSentence::new(&i.to_string(), "p"))
                .collect(),
            negative: (0..30)
                .map(|i| AdeSentence::new(&i.to_string(), "n"))
                .collect(),
            skipped: Vec::new(),
        };
        assert_eq!(corpus.select(&Selection::default()).len(), 40);
        let s = Selection {
            limit: Some(8),
            seed: 7,
            ..Default::default()
        };
        assert_eq!(corpus.select(&s), corpus.select(&s));
        assert_eq!(corpus.select(&s).len(), 8);
        let s = Selection {
            positives: Some(3),
            negatives: Some(5),
            seed: 7,
            ..Default::default()
        };
        let picked = corpus.select(&s);
        assert_eq!(picked.iter().filter(|p| p.1).count(), 3);
        assert_eq!(picked.iter().filter(|p| !p.1).count(), 5);
    }

    #[test]
    fn malformed_lines_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), RELATIONS_FILE, "1|A caused B.|B|x|9|A|0|1\n");
        let e = read_corpus(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("DRUG-AE.rel:1") && e.contains("not a number"),
            "{e}"
        );
        write(dir.path(), RELATIONS_FILE, "1|short\n");
        assert!(read_corpus(dir.path()).is_err());
        let missing = read_corpus(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("not an ADE corpus folder"), "{missing}");
    }
}
