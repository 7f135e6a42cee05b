//! Recall@k: the fraction of the true k nearest neighbours that a search returned.

/// Recall of one result list against the exact neighbours `truth` (best first).
///
/// Only the first `k` of each side count. When fewer than `k` true neighbours exist (a tiny
/// collection, or a filter that few points match), recall is measured against what exists, so a
/// search that returns all of them scores 1.0. An empty truth gives 1.0: nothing was missed.
pub fn recall_at_k(found: &[u64], truth: &[u32], k: usize) -> f64 {
    let truth = &truth[..k.min(truth.len())];
    if truth.is_empty() {
        return 1.0;
    }
    let found = &found[..k.min(found.len())];
    let hits = truth
        .iter()
        .filter(|t| found.contains(&u64::from(**t)))
        .count();
    hits as f64 / truth.len() as f64
}

/// Mean recall@k over many queries: `results[i]` is the answer to the query whose truth is
/// `truth(i)`.
pub fn mean_recall<'a>(
    results: impl IntoIterator<Item = &'a [u64]>,
    truth: impl Fn(usize) -> &'a [u32],
    k: usize,
) -> f64 {
    let (sum, n) = results
        .into_iter()
        .enumerate()
        .fold((0.0, 0usize), |(s, n), (i, r)| {
            (s + recall_at_k(r, truth(i), k), n + 1)
        });
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_true_neighbours_found_in_any_order() {
        assert_eq!(recall_at_k(&[3, 2, 1], &[1, 2, 3], 3), 1.0);
        assert_eq!(recall_at_k(&[1, 9, 8, 7], &[1, 2, 3, 4], 4), 0.25);
        assert_eq!(recall_at_k(&[], &[1, 2], 2), 0.0);
    }

    #[test]
    fn only_the_first_k_count_on_both_sides() {
        // The 4th true neighbour is returned, but at rank 4: recall@3 ignores it.
        assert!((recall_at_k(&[1, 2, 9, 3], &[1, 2, 3, 4], 3) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn short_truth_is_measured_against_what_exists() {
        assert_eq!(recall_at_k(&[5, 6], &[6, 5], 10), 1.0);
        assert_eq!(recall_at_k(&[5], &[6, 5], 10), 0.5);
        assert_eq!(recall_at_k(&[1, 2, 3], &[], 10), 1.0);
    }

    #[test]
    fn mean_recall_averages_per_query() {
        let results: Vec<Vec<u64>> = vec![vec![1, 2], vec![9, 9]];
        let truth = [vec![1u32, 2], vec![3, 4]];
        let r = mean_recall(results.iter().map(|r| r.as_slice()), |i| &truth[i], 2);
        assert!((r - 0.5).abs() < 1e-12);
    }
}
