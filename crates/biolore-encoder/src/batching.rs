//! Grouping tokenized texts into length-sorted batches bounded by a token budget.

/// Limits on the batches an encoder runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most texts in one batch.
    pub max_texts: usize,
    /// Most padded tokens (texts × longest length) in one batch.
    pub max_tokens: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_texts: 32,
            max_tokens: 8192,
        }
    }
}

/// Splits texts (given by their token lengths) into batches of similar length.
///
/// Returns, for each batch, the indices of its texts, longest first. Every index appears once.
/// A single text longer than the token budget still gets a batch of its own.
pub fn plan_batches(lengths: &[usize], limits: BatchLimits) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Longest first: memory peaks early and the progress bar's ETA is pessimistic, not optimistic.
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let max_texts = limits.max_texts.max(1);
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0usize;
    for i in order {
        let len = lengths[i].max(1);
        let width = longest.max(len);
        if !current.is_empty()
            && (current.len() >= max_texts || (current.len() + 1) * width > limits.max_tokens)
        {
            batches.push(std::mem::take(&mut current));
            longest = 0;
        }
        longest = longest.max(len);
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_every_text_once_within_limits() {
        let lengths: Vec<usize> = (0..500).map(|i| (i * 37) % 120 + 2).collect();
        let limits = BatchLimits {
            max_texts: 16,
            max_tokens: 600,
        };
        let batches = plan_batches(&lengths, limits);
        let mut seen = vec![false; lengths.len()];
        for b in &batches {
            assert!(b.len() <= 16);
            let w = b.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(b.len() * w <= 600 || b.len() == 1);
            for &i in b {
                assert!(!seen[i]);
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn similar_lengths_share_batches_and_oversized_texts_stand_alone() {
        let lengths = vec![5, 300, 6, 5, 7];
        let b = plan_batches(
            &lengths,
            BatchLimits {
                max_texts: 8,
                max_tokens: 100,
            },
        );
        assert_eq!(b[0], vec![1]);
        assert_eq!(b[1], vec![4, 2, 0, 3]);
        assert!(plan_batches(&[], BatchLimits::default()).is_empty());
    }
}
