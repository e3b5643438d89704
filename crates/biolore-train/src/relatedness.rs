//! Concept relatedness: Spearman correlation between cosine similarity and human ratings (EHR-Rel).

use std::collections::HashMap;
use std::path::Path;

use biolore_encoder::{cosine, Encoder};
use serde::Serialize;

use crate::error::{Result, TrainError};

/// A rated pair of concept labels.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedPair {
    /// First label.
    pub a: String,
    /// Second label.
    pub b: String,
    /// Mean human rating.
    pub rating: f64,
}

/// The result of a relatedness evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelatednessReport {
    /// Spearman's rank correlation of cosine similarity with the ratings.
    pub spearman: f64,
    /// Pearson's correlation.
    pub pearson: f64,
    /// Pairs evaluated.
    pub n: usize,
    /// The model folder.
    pub model: String,
    /// The data file.
    pub data: String,
}

/// Reads a tab-separated file with a header naming `snomed_label_1`, `snomed_label_2` and `mean_rating`.
pub fn read_pairs(path: &Path) -> Result<Vec<RatedPair>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| TrainError::Empty(format!("{} is empty", path.display())))?;
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| TrainError::Data {
                path: path.to_path_buf(),
                line: 1,
                message: format!(
                    "the header has no '{name}' column (found: {})",
                    cols.join(", ")
                ),
            })
    };
    let (ia, ib, ir) = (
        col("snomed_label_1")?,
        col("snomed_label_2")?,
        col("mean_rating")?,
    );
    let mut out = Vec::new();
    for (i, line) in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let field = |k: usize, name: &str| {
            f.get(k).map(|s| s.trim()).ok_or_else(|| TrainError::Data {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("no '{name}' field"),
            })
        };
        let rating_text = field(ir, "mean_rating")?;
        let rating: f64 = rating_text.parse().map_err(|_| TrainError::Data {
            path: path.to_path_buf(),
            line: i + 1,
            message: format!("mean_rating '{rating_text}' is not a number"),
        })?;
        out.push(RatedPair {
            a: field(ia, "snomed_label_1")?.to_string(),
            b: field(ib, "snomed_label_2")?.to_string(),
            rating,
        });
    }
    if out.is_empty() {
        return Err(TrainError::Empty(format!(
            "{} has no pairs",
            path.display()
        )));
    }
    Ok(out)
}

/// Ranks (1-based), ties sharing their mean rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Pearson's correlation (0 when either side is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx.sqrt() * syy.sqrt())
    }
}

/// Spearman's rank correlation with ties handled by mean ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Cosine similarity of each pair under `encoder`, then the correlations with the ratings.
pub fn evaluate(encoder: &Encoder, pairs: &[RatedPair], data: &Path) -> Result<RelatednessReport> {
    let mut labels: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for p in pairs {
        for l in [p.a.as_str(), p.b.as_str()] {
            if !index.contains_key(l) {
                index.insert(l, labels.len());
                labels.push(l);
            }
        }
    }
    let vectors = encoder.embed(&labels)?;
    let sims: Vec<f64> = pairs
        .iter()
        .map(|p| {
            f64::from(cosine(
                vectors.row(index[p.a.as_str()]),
                vectors.row(index[p.b.as_str()]),
            ))
        })
        .collect();
    let ratings: Vec<f64> = pairs.iter().map(|p| p.rating).collect();
    Ok(RelatednessReport {
        spearman: spearman(&sims, &ratings),
        pearson: pearson(&sims, &ratings),
        n: pairs.len(),
        model: encoder.spec().folder.display().to_string(),
        data: data.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_with_ties_matches_hand_computation() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // x ranks 1,2,3,4; y ranks 1,2.5,2.5,4 → Pearson of the ranks = 4.5 / sqrt(5 · 4.5).
        let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[0.0, 1.0, 1.0, 2.0]);
        assert!((r - 4.5 / (5.0f64 * 4.5).sqrt()).abs() < 1e-12, "{r}");
    }

    #[test]
    fn pairs_need_the_named_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.tsv");
        std::fs::write(
            &p,
            "snomed_label_1\tsnomed_label_2\tmean_rating\na\tb\t2.5\nc\td\tx\n",
        )
        .unwrap();
        let e = read_pairs(&p).unwrap_err().to_string();
        assert!(e.contains("r.tsv:3") && e.contains("'x'"), "{e}");
        std::fs::write(&p, "label1\tlabel2\tmean_rating\na\tb\t2\n").unwrap();
        assert!(read_pairs(&p)
            .unwrap_err()
            .to_string()
            .contains("snomed_label_1"));
        std::fs::write(
            &p,
            "snomed_label_1\tsnomed_label_2\tmean_rating\na\tb\t2.5\n",
        )
        .unwrap();
        assert_eq!(read_pairs(&p).unwrap()[0].rating, 2.5);
    }
}
