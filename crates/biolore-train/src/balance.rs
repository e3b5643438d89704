//! Micro-batches of equal cost: texts grouped by length so that the worker threads finish together.
//!
//! A forward and backward pass costs about its padded tokens (texts × the longest text). Cutting
//! a length-sorted batch into micro-batches of a fixed number of texts gives jobs of very
//! different cost (32 short names against 32 definitions of 32 tokens: about 1 to 5), and a
//! round of jobs on the worker threads lasts as long as its slowest job. These jobs instead hold
//! contiguous runs of the length-sorted texts with about the same padded tokens each, never more
//! than the memory budget `micro_batch × max_length` tokens, and come in an even number (so that
//! 2, 4, … workers share them evenly); the split depends only on the texts and the settings, never
//! on the number of threads, so a step's result does not either.

/// Splits texts of the given token `lengths` into jobs of about equal padded cost.
///
/// Returns each job's text indices, shortest first; the jobs cover every index once, in order of
/// length. `micro_batch × max_length` (at least the longest text) bounds each job's padded tokens.
pub fn balanced_jobs(lengths: &[usize], micro_batch: usize, max_length: usize) -> Vec<Vec<usize>> {
    let n = lengths.len();
    if n == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| lengths[i]);
    let sorted: Vec<usize> = order.iter().map(|&i| lengths[i].max(1)).collect();
    let longest = sorted[n - 1];
    let budget = micro_batch.max(1) * max_length.max(longest);
    let total: usize = sorted.iter().sum();
    // Fewest jobs the budget allows, at least two when there are two texts, and an even number.
    let mut jobs = total.div_ceil(budget).max(n.min(2));
    if jobs % 2 == 1 && jobs < n {
        jobs += 1;
    }
    loop {
        let cost = smallest_cost(&sorted, jobs);
        if cost <= budget || jobs >= n {
            let bounds = split_to(&sorted, cut(&sorted, cost), jobs);
            return bounds
                .windows(2)
                .map(|w| order[w[0]..w[1]].to_vec())
                .collect();
        }
        jobs = (jobs + 2).min(n);
    }
}

/// The smallest largest-job cost with which `sorted` lengths fit in at most `jobs` runs.
fn smallest_cost(sorted: &[usize], jobs: usize) -> usize {
    let (mut lo, mut hi) = (
        sorted[sorted.len() - 1],
        sorted.len() * sorted[sorted.len() - 1],
    );
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cut(sorted, mid).len() - 1 <= jobs {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Halves the costliest run until there are `jobs` runs (or every run holds one text).
fn split_to(sorted: &[usize], mut bounds: Vec<usize>, jobs: usize) -> Vec<usize> {
    while bounds.len() - 1 < jobs {
        let costliest = bounds
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[1] - w[0] > 1)
            .max_by_key(|(k, w)| ((w[1] - w[0]) * sorted[w[1] - 1], std::cmp::Reverse(*k)));
        let Some((k, w)) = costliest else { break };
        let middle = w[0] + (w[1] - w[0]) / 2;
        bounds.insert(k + 1, middle);
    }
    bounds
}

/// Boundaries of the runs a greedy pass makes with at most `cost` padded tokens per run.
fn cut(sorted: &[usize], cost: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    let mut start = 0;
    for (i, &len) in sorted.iter().enumerate() {
        // Sorted ascending: the run's padded cost is its size times this (its longest) text.
        if i > start && (i - start + 1) * len > cost {
            bounds.push(i);
            start = i;
        }
    }
    bounds.push(sorted.len());
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(lengths: &[usize], job: &[usize]) -> usize {
        job.len() * job.iter().map(|&i| lengths[i]).max().unwrap_or(0)
    }

    #[test]
    fn names_and_definitions_split_into_jobs_of_equal_cost() {
        // 64 short names (4–9 tokens) and 64 partner texts, half of them 32-token definitions.
        let lengths: Vec<usize> = (0..64)
            .map(|i| 4 + i % 6)
            .chain((0..64).map(|i| if i % 2 == 0 { 32 } else { 6 + i % 10 }))
            .collect();
        let jobs = balanced_jobs(&lengths, 32, 32);
        assert_eq!(jobs.len() % 2, 0);
        let mut seen: Vec<usize> = jobs.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..128).collect::<Vec<_>>());
        let costs: Vec<usize> = jobs.iter().map(|j| padded(&lengths, j)).collect();
        assert!(costs.iter().all(|&c| c <= 32 * 32), "{costs:?}");
        let (lo, hi) = (costs.iter().min().unwrap(), costs.iter().max().unwrap());
        // Equal-count micro-batches of these texts cost 1 : 5; these stay within 1.5×.
        assert!(*hi * 2 <= *lo * 3, "{costs:?}");
    }

    #[test]
    fn the_budget_bounds_every_job() {
        let lengths = vec![32; 100];
        let jobs = balanced_jobs(&lengths, 8, 32);
        assert!(jobs.iter().all(|j| j.len() <= 8));
        assert_eq!(jobs.iter().map(Vec::len).sum::<usize>(), 100);
        assert_eq!(jobs.len() % 2, 0);
    }

    #[test]
    fn tiny_batches() {
        assert!(balanced_jobs(&[], 4, 8).is_empty());
        assert_eq!(balanced_jobs(&[5], 4, 8), vec![vec![0]]);
        assert_eq!(balanced_jobs(&[5, 3], 4, 8), vec![vec![1], vec![0]]);
        let three = balanced_jobs(&[5, 3, 4], 4, 8);
        assert_eq!(three.concat().len(), 3);
    }
}
