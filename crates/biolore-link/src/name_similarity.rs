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

    /// The L2-normalised TF-IDF vector of `text` (3-gram → weight).
    fn vector(&self, text: &str) -> HashMap<String, f32> {
        let mut v: HashMap<String, f32> = HashMap::new();
        for g in trigrams(text) {
            *v.entry(g).or_default() += 1.0;
        }
        for (g, w) in v.iter_mut() {
            *w *= self.idf.get(g).copied().unwrap_or(self.unseen);
        }
        let norm = v.values().map(|w| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.values_mut().for_each(|w| *w /= norm);
        }
        v
    }

    /// Cosine similarity of the TF-IDF vectors of `a` and `b` (0 when either has no 3-gram).
    pub fn similarity(&self, a: &str, b: &str) -> f32 {
        let (va, vb) = (self.vector(a), self.vector(b));
        va.iter()
            .filter_map(|(g, w)| vb.get(g).map(|x| w * x))
            .sum()
    }

    /// Indices of the `k` names most similar to `mention`, best first (ties keep name order).
    pub fn closest(&self, mention: &str, names: &[&str], k: usize) -> Vec<usize> {
        let vm = self.vector(mention);
        let mut scored: Vec<(usize, f32)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let vn = self.vector(n);
                (
                    i,
                    vm.iter()
                        .filter_map(|(g, w)| vn.get(g).map(|x| w * x))
                        .sum(),
                )
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.into_iter().take(k).map(|(i, _)| i).collect()
    }
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
}
