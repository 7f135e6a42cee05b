use crate::error::{Result, StoreError};

/// The prefix of every collection the suite creates, unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "perf_";

/// The safety guard: the suite writes to and drops only collections whose names carry its
/// prefix, so a production collection (say `mixtral`) can be benchmarked read-only but never
/// changed. Every store checks it before sending anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    prefix: String,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.into(),
        }
    }
}

impl Guard {
    /// A guard for another prefix. An empty prefix would own everything, so it is refused.
    pub fn new(prefix: impl Into<String>) -> Result<Self> {
        let prefix = prefix.into();
        if prefix.is_empty() {
            return Err(StoreError::InvalidSpec {
                field: "prefix",
                value: "\"\"".into(),
                reason: "an empty prefix would let the suite write to every collection".into(),
            });
        }
        Ok(Self { prefix })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The name the suite gives the collection of a profile: `perf_mixtral`.
    pub fn name_for(&self, profile: &str) -> String {
        format!("{}{profile}", self.prefix)
    }

    pub fn owns(&self, name: &str) -> bool {
        name.len() > self.prefix.len() && name.starts_with(&self.prefix)
    }

    /// Ok when the suite may `action` (create, write to, drop) the collection `name`.
    pub fn check(&self, name: &str, action: &'static str) -> Result<()> {
        if self.owns(name) {
            Ok(())
        } else {
            Err(StoreError::NotOwned {
                name: name.into(),
                prefix: self.prefix.clone(),
                action,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prefixed_names_are_owned() {
        let g = Guard::default();
        assert!(g.owns("perf_mixtral"));
        assert!(!g.owns("mixtral"));
        assert!(
            !g.owns("perf_"),
            "the bare prefix is not a collection we made"
        );
        assert!(!g.owns("xperf_mixtral"));
        assert_eq!(g.name_for("phi3"), "perf_phi3");
        let err = g.check("mixtral", "drop").unwrap_err().to_string();
        assert!(
            err.contains("refusing to drop collection `mixtral`"),
            "{err}"
        );
        assert!(err.contains("`perf_`"), "{err}");
    }

    #[test]
    fn an_empty_prefix_is_refused() {
        assert!(Guard::new("").is_err());
        assert!(Guard::new("bench_").unwrap().owns("bench_x"));
    }
}
