//! Character 3-gram TF-IDF similarity of a mention and a concept's names: which name a trainer
//! pairs with a mention (the closest of the gold concept's names, as ANGEL chooses its synonym
//! targets), independent of any model.

use std::collections::HashMap;

/// Inverse document frequencies of character 3-grams over a list of names.
#[derive(Debug, Clone, Default)]
pub struct TrigramTfIdf {
    idf: HashMap<String, f32>,
    /// IDF of a 3-gram no name has (as rare as can be).
    unseen: f32,
}

/// The character 3-grams of `text`, lower-cased and padded with one space on each side.
fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = std::iter::once(' ')
        .chain(text.trim().chars().flat_map(char::to_lowercase))
        .chain(std::iter::once(' '))
        .collect();
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

impl TrigramTfIdf {
    /// Learns the 3-gram IDFs (smoothed, `ln((1 + N) / (1 + df)) + 1`) from `names`.
    pub fn fit<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut n = 0u32;
        for name in names {
            n += 1;
            let mut grams = trigrams(name);
            grams.sort_unstable();
            grams.dedup();
            for g in grams {
                *df.entry(g).or_default() += 1;
            }
        }
        let idf_of = |d: u32| ((1.0 + n as f32) / (1.0 + d as f32)).ln() + 1.0;
        Self {
            idf: df.into_iter().map(|(g, d)| (g, idf_of(d))).collect(),
            unseen: idf_of(0),
        }
    }

    /// The L2-normalised TF-IDF vector of `text`: (3-gram, weight) sorted by 3-gram.
    ///
    /// Sorted, so that sums run in one order whatever the hash seed: two names that differ only
    /// in case get bit-identical vectors, and ties between them resolve by name order in every
    /// run (a `HashMap` here made the chosen training targets vary from run to run).
    fn vector(&self, text: &str) -> Vec<(String, f32)> {
        let mut grams = trigrams(text);
        grams.sort_unstable();
        let mut v: Vec<(String, f32)> = Vec::with_capacity(grams.len());
        for g in grams {
            match v.last_mut() {
                Some((last, count)) if *last == g => *count += 1.0,
                _ => v.push((g, 1.0)),
            }
        }
        for (g, w) in v.iter_mut() {
            *w *= self.idf.get(g.as_str()).copied().unwrap_or(self.unseen);
        }
        let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|(_, w)| *w /= norm);
        }
        v
    }

    /// Cosine similarity of the TF-IDF vectors of `a` and `b` (0 when either has no 3-gram).
    pub fn similarity(&self, a: &str, b: &str) -> f32 {
        dot(&self.vector(a), &self.vector(b))
    }

    /// Indices of the `k` names most similar to `mention`, best first (ties keep name order).
    pub fn closest(&self, mention: &str, names: &[&str], k: usize) -> Vec<usize> {
        let vm = self.vector(mention);
        let mut scored: Vec<(usize, f32)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i, dot(&vm, &self.vector(n))))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().take(k).map(|(i, _)| i).collect()
    }
}

/// Dot product of two vectors sorted by 3-gram, summed in 3-gram order.
fn dot(a: &[(String, f32)], b: &[(String, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_share_the_most_informative_trigrams() {
        let names = [
            "Breast Neoplasms",
            "Breast Cancer",
            "Tumors of the breast",
            "Ovarian Neoplasms",
        ];
        let tfidf = TrigramTfIdf::fit(names);
        let idx = tfidf.closest("breast cancers", &names, 4);
        assert_eq!(idx[0], 1, "the name sharing most trigrams comes first");
        assert_eq!(
            idx[3], 3,
            "a name sharing only 'neoplasms'-like trigrams comes last"
        );
        assert!((tfidf.similarity("Breast Cancer", "breast cancer") - 1.0).abs() < 1e-5);
        assert_eq!(tfidf.similarity("", "breast"), 0.0);
        assert!(tfidf.closest("x", &[], 3).is_empty());
    }

    #[test]
    fn ties_keep_the_order_of_the_names() {
        let names = ["abc", "abc", "xyz"];
        let tfidf = TrigramTfIdf::fit(names);
        assert_eq!(tfidf.closest("abc", &names, 3), vec![0, 1, 2]);
    }

    #[test]
    fn names_equal_but_for_case_tie_in_every_fit() {
        // Each fit and vector used to be a HashMap with its own hash seed: the summation order,
        // and so the last bit of equal names' scores, changed from one map to the next.
        let names = [
            "VLCAD DEFICIENCY",
            "VLCAD deficiency",
            "Vlcad Deficiency",
            "deficiency",
        ];
        for _ in 0..50 {
            let tfidf = TrigramTfIdf::fit(names);
            assert_eq!(
                tfidf.closest("VLCAD-deficient", &names, 4),
                vec![0, 1, 2, 3]
            );
            let s = tfidf.similarity("VLCAD-deficient", names[0]);
            assert_eq!(
                s.to_bits(),
                tfidf.similarity("VLCAD-deficient", names[1]).to_bits()
            );
            assert_eq!(
                s.to_bits(),
                tfidf.similarity(names[2], "vlcad-DEFICIENT").to_bits()
            );
        }
    }
}
