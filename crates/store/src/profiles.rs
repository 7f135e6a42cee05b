//! The deployment's collection profiles (`fixtures/collections.json`): name, vector size,
//! distance, test size and query load of each collection, and the index and search defaults.
//!
//! collections.json is derived from the deployment's `fixtures/performance-tests.yaml` (which
//! `qdrant-perf validate` reads; it names no distance, and its collections are Cosine), and the
//! test `crates/load/tests/collections_source.rs` keeps the two in step: change the yaml first,
//! then this file to match.

use std::path::Path;

use qdrant_perf_data::{MAX_DIM, Metric};
use serde::Deserialize;

use crate::spec::{CollectionSpec, HnswParams};

/// `fixtures/collections.json`, compiled in so the suite works from any directory.
pub const BUNDLED_PROFILES: &str = include_str!("../../../fixtures/collections.json");

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("unknown collection profile `{name}`; valid names: {}", .valid.join(", "))]
    Unknown { name: String, valid: Vec<String> },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Index parameters every collection gets unless told otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexDefaults {
    pub hnsw_m: usize,
    pub hnsw_ef_construct: usize,
    pub full_scan_threshold: usize,
}

impl From<IndexDefaults> for HnswParams {
    fn from(d: IndexDefaults) -> Self {
        HnswParams {
            m: d.hnsw_m,
            ef_construct: d.hnsw_ef_construct,
            full_scan_threshold: d.full_scan_threshold,
        }
    }
}

/// Search parameters of the deployment's queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchDefaults {
    pub k: usize,
    pub hnsw_ef: usize,
}

/// One of the deployment's collections.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionProfile {
    pub name: String,
    pub vector_size: usize,
    pub distance: Metric,
    /// Vectors the deployment tests this collection with.
    pub test_vectors: usize,
    /// Queries per second the collection must sustain.
    pub query_load: u32,
}

/// The whole profile file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    pub index: IndexDefaults,
    pub search: SearchDefaults,
    pub collections: Vec<CollectionProfile>,
}

impl Profiles {
    /// The profiles shipped in `fixtures/collections.json`.
    pub fn bundled() -> Self {
        Self::parse(BUNDLED_PROFILES, "fixtures/collections.json")
            .expect("the bundled collections.json is valid (tested)")
    }

    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates profile JSON. Unknown keys, zero or absurd dimensions and duplicate
    /// names are errors that name the field.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            source_name: source_name.to_string(),
            message,
        };
        let profiles: Profiles = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if profiles.collections.is_empty() {
            return Err(invalid("collections: the list is empty".into()));
        }
        let hnsw = profiles.index;
        if hnsw.hnsw_m < 2 {
            return Err(invalid(format!(
                "index.hnsw_m = {}: must be at least 2",
                hnsw.hnsw_m
            )));
        }
        if hnsw.hnsw_ef_construct < 4 {
            return Err(invalid(format!(
                "index.hnsw_ef_construct = {}: must be at least 4",
                hnsw.hnsw_ef_construct
            )));
        }
        if profiles.search.k == 0 {
            return Err(invalid("search.k = 0: must be at least 1".into()));
        }
        if profiles.search.hnsw_ef < profiles.search.k {
            return Err(invalid(format!(
                "search.hnsw_ef = {}: must be at least search.k = {}",
                profiles.search.hnsw_ef, profiles.search.k
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in profiles.collections.iter().enumerate() {
            let at = format!("collections[{i}] ({})", c.name);
            let name_ok = !c.name.is_empty()
                && c.name.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-'
                });
            if !name_ok {
                return Err(invalid(format!(
                    "{at}.name = {:?}: use lowercase letters, digits, '_' and '-'",
                    c.name
                )));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(invalid(format!(
                    "{at}.name: duplicate collection name `{}`",
                    c.name
                )));
            }
            if c.vector_size == 0 || c.vector_size > MAX_DIM {
                return Err(invalid(format!(
                    "{at}.vector_size = {}: must be between 1 and {MAX_DIM}",
                    c.vector_size
                )));
            }
            if c.test_vectors == 0 {
                return Err(invalid(format!(
                    "{at}.test_vectors = 0: must be at least 1"
                )));
            }
            if c.query_load == 0 {
                return Err(invalid(format!(
                    "{at}.query_load = 0: must be at least 1 qps"
                )));
            }
        }
        Ok(profiles)
    }

    pub fn names(&self) -> Vec<String> {
        self.collections.iter().map(|c| c.name.clone()).collect()
    }

    /// The profile called `name`; the error lists the valid names.
    pub fn get(&self, name: &str) -> Result<&CollectionProfile, ProfileError> {
        self.collections
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ProfileError::Unknown {
                name: name.into(),
                valid: self.names(),
            })
    }

    /// Profiles by a selection: `all`, `dims` (the first profile of each distinct dimension,
    /// largest first), or a comma-separated list of names.
    pub fn select(&self, selection: &str) -> Result<Vec<&CollectionProfile>, ProfileError> {
        match selection.trim() {
            "all" => Ok(self.collections.iter().collect()),
            "dims" | "" => {
                let mut picked: Vec<&CollectionProfile> = Vec::new();
                for c in &self.collections {
                    if !picked.iter().any(|p| p.vector_size == c.vector_size) {
                        picked.push(c);
                    }
                }
                picked.sort_by_key(|c| std::cmp::Reverse(c.vector_size));
                Ok(picked)
            }
            list => list.split(',').map(|n| self.get(n.trim())).collect(),
        }
    }

    /// The collection spec of a profile with the file's index defaults, under the given name.
    pub fn collection_spec(&self, profile: &CollectionProfile, name: String) -> CollectionSpec {
        CollectionSpec::new(name, profile.vector_size, profile.distance)
            .with_hnsw(self.index.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_file_has_the_nine_collections_and_the_deployment_defaults() {
        let p = Profiles::bundled();
        let dims: Vec<(&str, usize)> = p
            .collections
            .iter()
            .map(|c| (c.name.as_str(), c.vector_size))
            .collect();
        assert_eq!(
            dims,
            [
                ("mixtral", 4096),
                ("hermes", 4096),
                ("openchat", 4096),
                ("phi3", 3072),
                ("yi34b", 4096),
                ("deepcoder", 768),
                ("imp", 2048),
                ("deepseek", 4096),
                ("general", 1536)
            ]
        );
        assert!(p.collections.iter().all(|c| c.distance == Metric::Cosine
            && c.test_vectors == 1_000_000
            && c.query_load == 1_000));
        assert_eq!(
            HnswParams::from(p.index),
            HnswParams {
                m: 16,
                ef_construct: 100,
                full_scan_threshold: 20_000
            }
        );
    }

    #[test]
    fn selection_by_dims_all_and_names() {
        let p = Profiles::bundled();
        let dims: Vec<usize> = p
            .select("dims")
            .unwrap()
            .iter()
            .map(|c| c.vector_size)
            .collect();
        assert_eq!(dims, [4096, 3072, 2048, 1536, 768]);
        assert_eq!(p.select("all").unwrap().len(), 9);
        let two: Vec<&str> = p
            .select("phi3, deepcoder")
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(two, ["phi3", "deepcoder"]);
    }

    #[test]
    fn an_unknown_profile_lists_the_valid_names() {
        let err = Profiles::bundled().get("mixtrall").unwrap_err().to_string();
        assert!(
            err.contains("unknown collection profile `mixtrall`"),
            "{err}"
        );
        assert!(err.contains("mixtral, hermes, openchat, phi3"), "{err}");
    }

    fn with_collection(collection: &str) -> String {
        format!(
            r#"{{"index": {{"hnsw_m": 16, "hnsw_ef_construct": 100, "full_scan_threshold": 20000}},
               "search": {{"k": 10, "hnsw_ef": 128}},
               "collections": [{collection}]}}"#
        )
    }

    #[test]
    fn bad_files_are_errors_that_name_the_field() {
        let good = r#"{"name": "a", "vector_size": 8, "distance": "Cosine", "test_vectors": 1, "query_load": 1}"#;
        Profiles::parse(&with_collection(good), "t.json").unwrap();
        let cases = [
            (
                good.replace("vector_size", "vectr_size"),
                "unknown field `vectr_size`",
            ),
            (
                good.replace(": 8,", ": 0,"),
                "collections[0] (a).vector_size = 0",
            ),
            (
                good.replace(": 8,", ": 70000,"),
                "vector_size = 70000: must be between 1 and 65536",
            ),
            (format!("{good}, {good}"), "duplicate collection name `a`"),
            (
                good.replace("Cosine", "Manhattan"),
                "unknown variant `Manhattan`",
            ),
            (
                good.replace("\"a\"", "\"A b\""),
                "collections[0] (A b).name",
            ),
        ];
        for (collection, needle) in cases {
            let err = Profiles::parse(&with_collection(&collection), "t.json")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("t.json: "), "{err}");
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }
}
