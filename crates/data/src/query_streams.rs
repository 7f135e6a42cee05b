//! Query streams: which query of a pool each request of a workload sends.
//!
//! A result cache's hit rate is a property of the workload, not of the cache: it depends on how
//! often the same request comes back. Production search traffic is skewed: a few queries are very
//! popular and most are rare, close to a Zipf law (the query of popularity rank `r` is sent with
//! probability proportional to `1 / r^s`). A [`QueryStream`] replays such a workload over a pool
//! of distinct queries: [`Popularity::Zipf`] (default exponent 1.0) for realistic traffic,
//! [`Popularity::Uniform`] for the worst case (every query equally likely).
//!
//! Portable like the vector generator: randomness is ChaCha8 read as raw `u64` words, and a Zipf
//! sample is an exact inverse-CDF lookup in a table computed with the pure-Rust `libm`, so a seed
//! gives the same stream on every machine and `rand` version. Rank `r` is query index `r`: query 0
//! of the pool is the most popular (the queries themselves are independent draws, so which one is
//! popular does not matter).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// The seed of a stream unless told otherwise.
pub const DEFAULT_STREAM_SEED: u64 = 7;

/// The Zipf exponent of production search traffic unless told otherwise.
pub const DEFAULT_ZIPF_EXPONENT: f64 = 1.0;

/// How popular each query of the pool is.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Popularity {
    /// Rank `r` (from 1) is sent with probability proportional to `1 / r^exponent`.
    Zipf { exponent: f64 },
    /// Every query equally likely: the worst case for a cache.
    Uniform,
}

impl Popularity {
    pub fn name(&self) -> String {
        match self {
            Popularity::Zipf { exponent } => format!("zipf(s={exponent})"),
            Popularity::Uniform => "uniform".into(),
        }
    }
}

/// A seeded stream of query indices in `0..pool`.
#[derive(Clone, Debug)]
pub struct QueryStream {
    popularity: Popularity,
    seed: u64,
    /// Cumulative probabilities by rank; the last is 1.
    cdf: Vec<f64>,
}

impl QueryStream {
    /// Zipf popularity over `pool` distinct queries. The exponent must be finite and >= 0 (0 is
    /// uniform; production traffic is usually near 1).
    pub fn zipf(pool: usize, exponent: f64) -> Result<Self> {
        if !exponent.is_finite() || exponent < 0.0 {
            return Err(DataError::InvalidSpec {
                field: "zipf exponent",
                value: exponent.to_string(),
                reason: format!(
                    "must be a finite number >= 0 (0 is uniform, {DEFAULT_ZIPF_EXPONENT} is typical of search traffic)"
                ),
            });
        }
        Self::new(pool, Popularity::Zipf { exponent })
    }

    /// Every query of the pool equally likely.
    pub fn uniform(pool: usize) -> Result<Self> {
        Self::new(pool, Popularity::Uniform)
    }

    pub fn new(pool: usize, popularity: Popularity) -> Result<Self> {
        if pool == 0 {
            return Err(DataError::InvalidSpec {
                field: "query pool",
                value: "0".into(),
                reason: "a stream needs at least one distinct query".into(),
            });
        }
        if let Popularity::Zipf { exponent } = popularity
            && (!exponent.is_finite() || exponent < 0.0)
        {
            return Self::zipf(pool, exponent);
        }
        // Sum in rank order (a fixed order: the same bits everywhere).
        let weight = |r: usize| match popularity {
            Popularity::Zipf { exponent } => libm::pow((r + 1) as f64, -exponent),
            Popularity::Uniform => 1.0,
        };
        let mut cdf = Vec::with_capacity(pool);
        let mut total = 0.0;
        for r in 0..pool {
            total += weight(r);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        *cdf.last_mut().expect("pool > 0") = 1.0;
        Ok(Self {
            popularity,
            seed: DEFAULT_STREAM_SEED,
            cdf,
        })
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn pool(&self) -> usize {
        self.cdf.len()
    }

    pub fn popularity(&self) -> Popularity {
        self.popularity
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Probability that one request sends query `index`.
    pub fn probability(&self, index: usize) -> f64 {
        match index {
            0 => self.cdf[0],
            i if i < self.cdf.len() => self.cdf[i] - self.cdf[i - 1],
            _ => 0.0,
        }
    }

    /// The endless stream of query indices for this seed.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        std::iter::repeat_with(move || {
            // 53 random bits: a uniform double in [0, 1).
            let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            self.cdf
                .partition_point(|&c| c <= u)
                .min(self.cdf.len() - 1)
        })
    }

    /// The first `requests` indices of the stream.
    pub fn indices(&self, requests: usize) -> Vec<usize> {
        self.iter().take(requests).collect()
    }

    /// The hit rate an ideal cache (never full, nothing expires, starts empty) would have over
    /// the first `requests` requests of this kind of stream, in expectation: every request is a
    /// hit except the first of each distinct query. A measured hit rate below it means the cache
    /// lost entries (evictions, TTL, errors).
    pub fn expected_ideal_hit_rate(&self, requests: usize) -> f64 {
        if requests == 0 {
            return 0.0;
        }
        let n = requests as f64;
        let distinct: f64 = (0..self.pool())
            .map(|i| 1.0 - libm::pow(1.0 - self.probability(i), n))
            .sum();
        1.0 - distinct / n
    }
}

/// The share of `indices` that repeat an earlier index: the hit rate of an ideal cache on exactly
/// this sequence.
pub fn ideal_hit_rate(indices: &[usize]) -> f64 {
    if indices.is_empty() {
        return 0.0;
    }
    let distinct = indices
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    1.0 - distinct as f64 / indices.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_stream_and_another_seed_another() {
        let s = QueryStream::zipf(1_000, 1.0).unwrap();
        assert_eq!(s.indices(500), s.clone().indices(500));
        assert_ne!(s.indices(500), s.clone().with_seed(8).indices(500));
        assert!(s.indices(10_000).iter().all(|&i| i < 1_000));
    }

    #[test]
    fn a_draw_is_the_inverse_cdf_of_one_raw_chacha8_word() {
        // The portability argument: the stream depends only on ChaCha8's guaranteed output and
        // the libm-computed table, not on any `rand` distribution.
        let s = QueryStream::zipf(1_000, 1.0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(DEFAULT_STREAM_SEED);
        for drawn in s.indices(12) {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            assert_eq!(drawn, s.cdf.partition_point(|&c| c <= u));
        }
    }

    #[test]
    fn zipf_frequencies_follow_the_law() {
        let s = QueryStream::zipf(1_000, 1.0).unwrap();
        let n = 200_000;
        let mut counts = vec![0usize; 1_000];
        for i in s.indices(n) {
            counts[i] += 1;
        }
        // p(rank 1) = 1 / H_1000 = 0.1336; p(rank 2) = half of it.
        let h: f64 = (1..=1_000).map(|r| 1.0 / r as f64).sum();
        assert!((s.probability(0) - 1.0 / h).abs() < 1e-12);
        let f0 = counts[0] as f64 / n as f64;
        let f1 = counts[1] as f64 / n as f64;
        assert!((f0 - 1.0 / h).abs() < 0.005, "rank 1 frequency {f0}");
        assert!((f1 - 0.5 / h).abs() < 0.005, "rank 2 frequency {f1}");
        // Skewed: the top 10 % of queries take most of the traffic.
        let top: usize = counts[..100].iter().sum();
        assert!(top as f64 / n as f64 > 0.6, "top 100 share {top}");
    }

    #[test]
    fn a_uniform_stream_spreads_evenly_and_is_the_worst_case() {
        let u = QueryStream::uniform(100).unwrap();
        let mut counts = vec![0usize; 100];
        for i in u.indices(100_000) {
            counts[i] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1_200).contains(&c)),
            "{counts:?}"
        );
        let z = QueryStream::zipf(1_000, 1.0).unwrap();
        let u = QueryStream::uniform(1_000).unwrap();
        // 2,000 requests over 1,000 queries: an ideal cache hits 0.75 of Zipf and 0.57 of uniform.
        let (zr, ur) = (
            ideal_hit_rate(&z.indices(2_000)),
            ideal_hit_rate(&u.indices(2_000)),
        );
        assert!(
            zr > ur + 0.1,
            "zipf repeats more than uniform: {zr} vs {ur}"
        );
    }

    #[test]
    fn the_expected_ideal_hit_rate_matches_a_sampled_stream() {
        for s in [
            QueryStream::zipf(1_000, 1.0).unwrap(),
            QueryStream::uniform(1_000).unwrap(),
        ] {
            let expected = s.expected_ideal_hit_rate(10_000);
            let seen = ideal_hit_rate(&s.indices(10_000));
            assert!((expected - seen).abs() < 0.01, "{expected} vs {seen}");
        }
        // Uniform over 1,000 with 10,000 requests: about 1000 distinct, so 0.9.
        let u = QueryStream::uniform(1_000).unwrap();
        assert!((u.expected_ideal_hit_rate(10_000) - 0.9).abs() < 0.001);
    }

    #[test]
    fn bad_parameters_are_refused_with_the_fix() {
        for e in [-1.0, f64::NAN, f64::INFINITY] {
            let err = QueryStream::zipf(10, e).unwrap_err().to_string();
            assert!(
                err.contains("zipf exponent") && err.contains(">= 0"),
                "{err}"
            );
        }
        let err = QueryStream::uniform(0).unwrap_err().to_string();
        assert!(err.contains("at least one"), "{err}");
        // Exponent 0 is uniform.
        let z0 = QueryStream::zipf(10, 0.0).unwrap();
        assert!((z0.probability(3) - 0.1).abs() < 1e-12);
    }
}
