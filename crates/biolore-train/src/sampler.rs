//! Seeded batches that never hold two pairs of the same concept (in-batch negatives must be negatives).

use std::collections::{HashSet, VecDeque};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Mixes a run seed with other numbers into an independent stream seed (SplitMix64 finaliser).
pub fn mix_seed(parts: &[u64]) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64;
    for &p in parts {
        h ^= p.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(h << 6);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// The batches of one epoch: item indices grouped `batch_size` at a time, no two with the same group key.
///
/// The order depends only on `seed` and `epoch`, so a resumed run sees the same data order.
/// An item whose group is already in the batch being filled waits for the next batch; the
/// last, incomplete batch is dropped.
pub fn epoch_batches(groups: &[u32], batch_size: usize, seed: u64, epoch: u64) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(mix_seed(&[seed, epoch])));
    let mut waiting: VecDeque<usize> = VecDeque::new();
    let mut batches = Vec::with_capacity(groups.len() / batch_size + 1);
    let mut batch = Vec::with_capacity(batch_size);
    let mut seen = HashSet::with_capacity(batch_size);
    let mut queue = order.into_iter();
    loop {
        // Items that waited go first, each once per batch.
        let mut retry = std::mem::take(&mut waiting);
        while batch.len() < batch_size {
            let Some(i) = retry.pop_front() else { break };
            if seen.insert(groups[i]) {
                batch.push(i);
            } else {
                waiting.push_back(i);
            }
        }
        waiting.extend(retry);
        let mut exhausted = true;
        while batch.len() < batch_size {
            let Some(i) = queue.next() else { break };
            exhausted = false;
            if seen.insert(groups[i]) {
                batch.push(i);
            } else {
                waiting.push_back(i);
            }
        }
        if batch.len() == batch_size {
            batches.push(std::mem::take(&mut batch));
            seen.clear();
        } else if exhausted {
            break;
        }
    }
    batches
}

/// The batches of a run, step by step: epochs of [`epoch_batches`], the current one cached.
#[derive(Debug, Clone)]
pub struct EpochBatches {
    groups: Vec<u32>,
    batch_size: usize,
    seed: u64,
    per_epoch: usize,
    current: (u64, Vec<Vec<usize>>),
}

impl EpochBatches {
    /// Batches of items grouped by key (a concept id); `None` when they cannot fill one batch.
    pub fn new<'k>(
        keys: impl Iterator<Item = &'k str>,
        batch_size: usize,
        seed: u64,
    ) -> Option<Self> {
        let mut ids = std::collections::HashMap::new();
        let groups: Vec<u32> = keys
            .map(|k| {
                let n = ids.len() as u32;
                *ids.entry(k).or_insert(n)
            })
            .collect();
        let first = epoch_batches(&groups, batch_size, seed, 0);
        if first.is_empty() {
            return None;
        }
        Some(Self {
            groups,
            batch_size,
            seed,
            per_epoch: first.len(),
            current: (0, first),
        })
    }

    /// Batches in one pass over the items.
    pub fn per_epoch(&self) -> usize {
        self.per_epoch
    }

    /// Item indices of 0-based `step`.
    pub fn batch(&mut self, step: usize) -> Vec<usize> {
        let epoch = (step / self.per_epoch) as u64;
        if self.current.0 != epoch {
            self.current = (
                epoch,
                epoch_batches(&self.groups, self.batch_size, self.seed, epoch),
            );
        }
        self.current
            .1
            .get(step % self.per_epoch)
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_repeatable_full_and_free_of_repeated_groups() {
        let groups: Vec<u32> = (0..1000u32).map(|i| i % 37).collect();
        let a = epoch_batches(&groups, 16, 7, 0);
        assert_eq!(a, epoch_batches(&groups, 16, 7, 0));
        assert_ne!(a, epoch_batches(&groups, 16, 7, 1));
        assert!(a.len() >= 1000 / 16 - 2, "{} batches", a.len());
        let mut used = HashSet::new();
        for b in &a {
            assert_eq!(b.len(), 16);
            let g: HashSet<u32> = b.iter().map(|&i| groups[i]).collect();
            assert_eq!(g.len(), 16, "a batch repeats a concept");
            for &i in b {
                assert!(used.insert(i), "item {i} used twice");
            }
        }
    }

    #[test]
    fn too_few_groups_give_no_batch() {
        assert!(epoch_batches(&[1, 1, 1], 2, 0, 0).is_empty());
        assert_eq!(epoch_batches(&[1, 2, 1, 2], 2, 0, 0).len(), 2);
    }
}
