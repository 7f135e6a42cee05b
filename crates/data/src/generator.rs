//! The seeded, portable vector generator.
//!
//! Portability is by construction, not by luck:
//! - randomness comes only from ChaCha8 (`rand_chacha` guarantees its output stream), read as raw
//!   `u64` words; no `rand` distribution whose algorithm may change between versions is used;
//! - normals come from the Box–Muller transform with the pure-Rust `libm` (the same `log`, `sin`
//!   and `cos` bits on every platform, unlike the system libm);
//! - every vector belongs to a chunk of [`CHUNK`] vectors with its own ChaCha stream, so chunks
//!   are generated in parallel in any order and still give the same bytes;
//! - float sums run in a fixed order (no FMA contraction in Rust, no parallel reductions).
//!
//! A change to any of this must bump [`GENERATOR_VERSION`], which is part of every dataset hash.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::vectors::{DatasetSpec, Vectors};

/// Version of the generation algorithm; part of every dataset's hash.
pub const GENERATOR_VERSION: u32 = 1;

/// Vectors per independently seeded chunk.
pub(crate) const CHUNK: usize = 256;

/// How vectors are spread in space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Distribution {
    /// A Gaussian mixture in a random low-rank subspace plus isotropic noise. Like real embeddings
    /// it has low intrinsic dimension and clusters, so HNSW behaves as it does in production.
    Clustered {
        /// Number of mixture components.
        clusters: usize,
        /// Dimension of the subspace the clusters live in.
        rank: usize,
        /// Standard deviation of a point around its cluster centre, relative to the spread of
        /// the centres (which is 1).
        spread: f32,
        /// Fraction of each vector's energy that is full-dimensional noise, in [0, 1).
        noise: f32,
    },
    /// Isotropic standard normal: no structure at all, the worst case for a graph index.
    Normal,
    /// Each coordinate uniform in [-1, 1).
    Uniform,
}

/// Clusters, rank, spread and noise of [`Distribution::realistic`].
const REALISTIC: (usize, usize, f32, f32) = (64, 16, 1.0, 0.1);

impl Default for Distribution {
    fn default() -> Self {
        Distribution::Clustered {
            clusters: 64,
            rank: 32,
            spread: 0.5,
            noise: 0.1,
        }
    }
}

impl Distribution {
    /// The `realistic` preset: the clustered model with parameters tuned toward the LID and
    /// RC measured on real sentence embeddings (see the README's "How hard the data is").
    pub fn realistic() -> Self {
        Distribution::Clustered {
            clusters: REALISTIC.0,
            rank: REALISTIC.1,
            spread: REALISTIC.2,
            noise: REALISTIC.3,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            d @ Distribution::Clustered { .. } if *d == Distribution::realistic() => "realistic",
            Distribution::Clustered { .. } => "clustered",
            Distribution::Normal => "normal",
            Distribution::Uniform => "uniform",
        }
    }

    /// Parses `clustered` (with its default parameters), `realistic` (see
    /// [`Distribution::realistic`]), `normal` or `uniform`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "clustered" => Ok(Distribution::default()),
            "realistic" => Ok(Distribution::realistic()),
            "normal" => Ok(Distribution::Normal),
            "uniform" => Ok(Distribution::Uniform),
            other => Err(DataError::InvalidSpec {
                field: "distribution",
                value: other.to_string(),
                reason: "expected one of: clustered, realistic, normal, uniform".into(),
            }),
        }
    }

    pub(crate) fn validate(&self, dim: usize) -> Result<()> {
        if let Distribution::Clustered {
            clusters,
            rank,
            spread,
            noise,
        } = *self
        {
            let invalid = |field, value: String, reason: &str| DataError::InvalidSpec {
                field,
                value,
                reason: reason.into(),
            };
            if clusters == 0 {
                return Err(invalid("clusters", "0".into(), "need at least one cluster"));
            }
            if rank == 0 {
                return Err(invalid(
                    "rank",
                    "0".into(),
                    "the subspace rank must be at least 1",
                ));
            }
            if !(spread.is_finite() && spread >= 0.0) {
                return Err(invalid(
                    "spread",
                    spread.to_string(),
                    "must be finite and >= 0",
                ));
            }
            if !(0.0..1.0).contains(&noise) {
                return Err(invalid("noise", noise.to_string(), "must be in [0, 1)"));
            }
            let _ = dim;
        }
        Ok(())
    }
}

/// Similarity metric; the generator normalises vectors for Cosine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    #[serde(alias = "Cosine")]
    Cosine,
    #[serde(alias = "Dot")]
    Dot,
    #[serde(alias = "Euclid")]
    Euclid,
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::Euclid => "euclid",
        }
    }

    /// Qdrant's spelling: `Cosine`, `Dot`, `Euclid`.
    pub fn qdrant_name(&self) -> &'static str {
        match self {
            Metric::Cosine => "Cosine",
            Metric::Dot => "Dot",
            Metric::Euclid => "Euclid",
        }
    }
}

/// Which vectors of a dataset to generate. Each part has its own random streams, so queries
/// are never copies of stored points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Points,
    Queries,
}

impl Part {
    fn stream_base(self) -> u64 {
        match self {
            Part::Points => 1 << 40,
            Part::Queries => 2 << 40,
        }
    }

    fn count(self, spec: &DatasetSpec) -> usize {
        match self {
            Part::Points => spec.points,
            Part::Queries => spec.queries,
        }
    }
}

/// Stream 0 holds the model (subspace basis and cluster centres); parts use their own streams.
const MODEL_STREAM: u64 = 0;

pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Uniform in [0, 1) with 53 random bits.
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Fills `out` with standard normals (Box–Muller, portable libm).
fn fill_normal(rng: &mut ChaCha8Rng, out: &mut [f32]) {
    let mut pairs = out.chunks_exact_mut(2);
    for pair in &mut pairs {
        let (a, b) = box_muller(rng);
        pair[0] = a as f32;
        pair[1] = b as f32;
    }
    if let [last] = pairs.into_remainder() {
        *last = box_muller(rng).0 as f32;
    }
}

fn box_muller(rng: &mut ChaCha8Rng) -> (f64, f64) {
    // u1 in (0, 1]: never 0, so the log is finite.
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let theta = std::f64::consts::TAU * u2;
    (r * libm::cos(theta), r * libm::sin(theta))
}

/// A uniform index below `n` (multiply-shift; the bias is below 2^-32 for any n we use).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// The random model behind the clustered distribution, shared by points and queries.
struct Mixture {
    rank: usize,
    /// rank x dim, rows of N(0, 1/dim): nearly orthonormal directions.
    basis: Vec<f32>,
    /// clusters x rank, N(0, 1).
    centres: Vec<f32>,
    spread: f32,
    noise_sd: f32,
}

impl Mixture {
    fn new(spec: &DatasetSpec, clusters: usize, rank: usize, spread: f32, noise: f32) -> Self {
        let dim = spec.dim;
        let mut rng = rng(spec.seed, MODEL_STREAM);
        let mut basis = vec![0.0f32; rank * dim];
        fill_normal(&mut rng, &mut basis);
        let scale = 1.0 / (dim as f32).sqrt();
        basis.iter_mut().for_each(|x| *x *= scale);
        let mut centres = vec![0.0f32; clusters * rank];
        fill_normal(&mut rng, &mut centres);
        // Signal energy is about rank * (1 + spread^2); give noise its fraction of the total.
        let signal = rank as f32 * (1.0 + spread * spread);
        let noise_energy = signal * noise / (1.0 - noise);
        let noise_sd = (noise_energy / dim as f32).sqrt();
        Self {
            rank,
            basis,
            centres,
            spread,
            noise_sd,
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng, latent: &mut [f32], out: &mut [f32]) {
        let clusters = self.centres.len() / self.rank;
        let c = below(rng, clusters);
        fill_normal(rng, latent);
        let centre = &self.centres[c * self.rank..(c + 1) * self.rank];
        for (l, m) in latent.iter_mut().zip(centre) {
            *l = m + self.spread * *l;
        }
        fill_normal(rng, out);
        let dim = out.len();
        out.iter_mut().for_each(|x| *x *= self.noise_sd);
        // out += latent . basis, in a fixed order per coordinate (vectorises across coordinates).
        for (r, &l) in latent.iter().enumerate() {
            let row = &self.basis[r * dim..(r + 1) * dim];
            for (o, b) in out.iter_mut().zip(row) {
                *o += l * b;
            }
        }
    }
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Generates one part of a dataset (all its vectors) in parallel, deterministically.
pub fn generate(spec: &DatasetSpec, part: Part) -> Result<Vectors> {
    spec.validate()?;
    let dim = spec.dim;
    let n = part.count(spec);
    let mixture = match spec.distribution {
        Distribution::Clustered {
            clusters,
            rank,
            spread,
            noise,
        } => Some(Mixture::new(spec, clusters, rank, spread, noise)),
        _ => None,
    };
    let mut data = vec![0.0f32; n * dim];
    data.par_chunks_mut(CHUNK * dim)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut rng = rng(spec.seed, part.stream_base() + chunk as u64);
            let mut latent = vec![0.0f32; mixture.as_ref().map_or(0, |m| m.rank)];
            for v in out.chunks_exact_mut(dim) {
                match (&spec.distribution, &mixture) {
                    (Distribution::Clustered { .. }, Some(m)) => m.sample(&mut rng, &mut latent, v),
                    (Distribution::Uniform, _) => v
                        .iter_mut()
                        .for_each(|x| *x = (unit(&mut rng) * 2.0 - 1.0) as f32),
                    _ => fill_normal(&mut rng, v),
                }
                if spec.metric == Metric::Cosine {
                    normalise(v);
                }
            }
        });
    Vectors::new(dim, data)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn digest(v: &Vectors) -> String {
        let mut h = Sha256::new();
        for x in v.as_slice() {
            h.update(x.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn small(distribution: Distribution) -> DatasetSpec {
        DatasetSpec::new(48, 600)
            .with_queries(10)
            .with_distribution(distribution)
    }

    /// These digests are checked in: the same seed must give the same bytes on every machine,
    /// every thread count and every release. If this fails, the generator changed: bump
    /// GENERATOR_VERSION (old caches are then ignored) and update the digests.
    #[test]
    fn same_seed_gives_the_checked_in_bytes() {
        let expected = [
            (
                "clustered",
                "ac22eb2fb44c70178623fe01cdd811acd42656627ef9a06f7967854d675c0246",
            ),
            (
                "normal",
                "8de8e82084a47bb0426ddb4746a6ed8e023fdfa3fe94cdf35755279617381fed",
            ),
            (
                "uniform",
                "15715872176bfd8a39d76ee2ae50d476a8ba616e787606a5741c54c9a3301511",
            ),
        ];
        let got: Vec<(&str, String)> = [
            Distribution::default(),
            Distribution::Normal,
            Distribution::Uniform,
        ]
        .iter()
        .map(|d| {
            (
                d.name(),
                digest(&generate(&small(d.clone()), Part::Points).unwrap()),
            )
        })
        .collect();
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(n, d)| (*n, d.to_string())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn generation_does_not_depend_on_the_thread_count() {
        let spec = small(Distribution::default());
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| generate(&spec, Part::Points).unwrap());
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| generate(&spec, Part::Points).unwrap());
        assert_eq!(digest(&one), digest(&three));
    }

    #[test]
    fn queries_are_drawn_apart_from_points() {
        let spec = small(Distribution::default()).with_queries(300);
        let points = generate(&spec, Part::Points).unwrap();
        let queries = generate(&spec, Part::Queries).unwrap();
        for q in queries.rows() {
            assert!(points.rows().all(|p| p != q));
        }
        // And a different seed gives different points.
        let other = generate(&spec.clone().with_seed(7), Part::Points).unwrap();
        assert_ne!(digest(&points), digest(&other));
    }

    #[test]
    fn cosine_vectors_are_unit_length_and_others_are_not_rescaled() {
        for d in [
            Distribution::default(),
            Distribution::Normal,
            Distribution::Uniform,
        ] {
            let v = generate(&small(d.clone()), Part::Points).unwrap();
            for row in v.rows() {
                let n: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!((n - 1.0).abs() < 1e-4, "{} norm {n}", d.name());
            }
            let dot = generate(&small(d.clone()).with_metric(Metric::Dot), Part::Points).unwrap();
            let mean_norm: f32 = dot
                .rows()
                .map(|r| r.iter().map(|x| x * x).sum::<f32>().sqrt())
                .sum::<f32>()
                / dot.len() as f32;
            assert!(
                (mean_norm - 1.0).abs() > 0.1,
                "{} mean norm {mean_norm}",
                d.name()
            );
        }
    }

    #[test]
    fn normals_have_unit_variance_and_uniforms_stay_in_range() {
        let spec = small(Distribution::Normal).with_metric(Metric::Dot);
        let v = generate(&spec, Part::Points).unwrap();
        let n = v.as_slice().len() as f64;
        let mean = v.as_slice().iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v
            .as_slice()
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "variance {var}");
        let u = generate(
            &small(Distribution::Uniform).with_metric(Metric::Dot),
            Part::Points,
        )
        .unwrap();
        assert!(u.as_slice().iter().all(|x| (-1.0..1.0).contains(x)));
    }

    #[test]
    fn clustered_points_are_closer_to_their_neighbours_than_normal_points() {
        // Structure check: the mean cosine to the nearest other point is far higher for the
        // mixture than for isotropic noise, which is what makes HNSW behave realistically.
        fn mean_nn_cosine(v: &Vectors) -> f32 {
            let n = 200.min(v.len());
            (0..n)
                .map(|i| {
                    (0..v.len())
                        .filter(|&j| j != i)
                        .map(|j| {
                            v.row(i)
                                .iter()
                                .zip(v.row(j))
                                .map(|(a, b)| a * b)
                                .sum::<f32>()
                        })
                        .fold(f32::MIN, f32::max)
                })
                .sum::<f32>()
                / n as f32
        }
        let clustered =
            mean_nn_cosine(&generate(&small(Distribution::default()), Part::Points).unwrap());
        let normal = mean_nn_cosine(&generate(&small(Distribution::Normal), Part::Points).unwrap());
        assert!(clustered > 0.7, "clustered nn cosine {clustered}");
        assert!(normal < 0.55, "normal nn cosine {normal}");
        assert!(clustered - normal > 0.25, "{clustered} vs {normal}");
    }

    #[test]
    fn bad_distribution_parameters_name_the_field() {
        let spec = small(Distribution::Clustered {
            clusters: 0,
            rank: 4,
            spread: 0.5,
            noise: 0.1,
        });
        let err = generate(&spec, Part::Points).unwrap_err().to_string();
        assert!(err.contains("clusters"), "{err}");
        let spec = small(Distribution::Clustered {
            clusters: 4,
            rank: 4,
            spread: 0.5,
            noise: 1.5,
        });
        let err = generate(&spec, Part::Points).unwrap_err().to_string();
        assert!(err.contains("noise"), "{err}");
        let err = Distribution::from_name("gaussian").unwrap_err().to_string();
        assert!(
            err.contains("clustered, realistic, normal, uniform"),
            "{err}"
        );
    }

    #[test]
    fn realistic_is_a_named_preset_of_the_clustered_model_and_the_default_is_unchanged() {
        let r = Distribution::from_name("realistic").unwrap();
        assert_eq!(r, Distribution::realistic());
        assert_eq!(r.name(), "realistic");
        assert!(matches!(r, Distribution::Clustered { .. }));
        // The default keeps its parameters (and so every cached dataset its hash).
        assert_eq!(
            Distribution::from_name("clustered").unwrap(),
            Distribution::Clustered {
                clusters: 64,
                rank: 32,
                spread: 0.5,
                noise: 0.1
            }
        );
        assert_eq!(Distribution::default().name(), "clustered");
        let spec = DatasetSpec::new(64, 100);
        assert_ne!(
            spec.clone().with_distribution(r).hash(),
            spec.hash(),
            "another dataset, another cache entry"
        );
        assert!(
            DatasetSpec::new(64, 100)
                .with_distribution(Distribution::realistic())
                .label()
                .starts_with("realistic-")
        );
    }
}
