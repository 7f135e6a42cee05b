//! One source for the nine collections: `fixtures/collections.json` (what the benches and
//! `qdrant-perf profiles` read) is derived from the deployment's
//! `fixtures/performance-tests.yaml` (what `validate` and `load` read), and this test keeps them
//! in step: the same collections in the same order, with the same vector size, distance, test
//! size and query load, and the same HNSW index defaults.

use qdrant_perf_load::config::{BUNDLED_CONFIG, COLLECTION_DISTANCE, PerformanceConfig};
use qdrant_perf_store::{BUNDLED_PROFILES, Profiles};

const YAML: &str = "fixtures/performance-tests.yaml";
const JSON: &str = "fixtures/collections.json";

/// Every way `json` differs from `yaml`, one line each, naming the collection and the field.
fn disagreements(yaml: &PerformanceConfig, json: &Profiles) -> Vec<String> {
    let tests = &yaml.performance_tests;
    let mut wrong = Vec::new();
    let mut differ = |what: String, in_yaml: String, in_json: String| {
        if in_yaml != in_json {
            wrong.push(format!(
                "{what} is {in_yaml} in {YAML} but {in_json} in {JSON}"
            ));
        }
    };
    let yaml_names: Vec<&str> = tests
        .collections
        .0
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    let json_names: Vec<&str> = json.collections.iter().map(|p| p.name.as_str()).collect();
    differ(
        "the list of collections (in order)".into(),
        yaml_names.join(", "),
        json_names.join(", "),
    );
    for (name, c) in &tests.collections.0 {
        let Some(p) = json.collections.iter().find(|p| p.name == *name) else {
            continue; // named in the list above
        };
        let field = |f: &str| format!("collection `{name}`: {f}");
        differ(
            field("vector_size"),
            c.vector_size.to_string(),
            p.vector_size.to_string(),
        );
        differ(
            field("distance (the yaml names none: validate uses config::COLLECTION_DISTANCE)"),
            COLLECTION_DISTANCE.name().into(),
            p.distance.name().into(),
        );
        differ(
            field("test_vectors"),
            c.test_vectors.to_string(),
            p.test_vectors.to_string(),
        );
        differ(
            field("query_load (qps)"),
            c.query_load.to_string(),
            f64::from(p.query_load).to_string(),
        );
    }
    let (ix, index) = (&tests.optimization.indexing, &json.index);
    let defaults =
        |f: &str| format!("index default {f} (yaml: optimization.indexing, json: index)");
    differ(
        defaults("hnsw_m"),
        ix.hnsw_m.to_string(),
        index.hnsw_m.to_string(),
    );
    differ(
        defaults("hnsw_ef_construct"),
        ix.hnsw_ef_construct.to_string(),
        index.hnsw_ef_construct.to_string(),
    );
    differ(
        defaults("full_scan_threshold"),
        ix.full_scan_threshold.to_string(),
        index.full_scan_threshold.to_string(),
    );
    wrong
}

fn assert_agree(yaml: &PerformanceConfig, json: &Profiles) {
    let wrong = disagreements(yaml, json);
    assert!(
        wrong.is_empty(),
        "{JSON} disagrees with {YAML}:\n  {}\nfix {JSON} to match {YAML} (the deployment's file, \
         from which collections.json is derived); if the deployment changed, change {YAML} first",
        wrong.join("\n  ")
    );
}

#[test]
fn collections_json_agrees_with_performance_tests_yaml() {
    assert_agree(&PerformanceConfig::bundled(), &Profiles::bundled());
}

#[test]
fn a_disagreement_names_the_collection_the_field_and_the_file_to_fix() {
    let json = BUNDLED_PROFILES.replace(
        r#""name": "phi3",      "vector_size": 3072"#,
        r#""name": "phi3",      "vector_size": 3070"#,
    );
    assert_ne!(json, BUNDLED_PROFILES, "the edit found its line");
    let json = Profiles::parse(&json, JSON).unwrap();
    let yaml = PerformanceConfig::bundled();
    assert_eq!(
        disagreements(&yaml, &json),
        [format!(
            "collection `phi3`: vector_size is 3072 in {YAML} but 3070 in {JSON}"
        )]
    );
    let message = std::panic::catch_unwind(|| assert_agree(&yaml, &json))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(
        message.contains(&format!("fix {JSON} to match {YAML}")),
        "{message}"
    );

    // A collection out of order is named in the list; its fields still agree.
    let swapped = BUNDLED_CONFIG
        .replacen("    mixtral:", "    tmp_mixtral:", 1)
        .replacen("    hermes:", "    mixtral:", 1)
        .replacen("    tmp_mixtral:", "    hermes:", 1);
    let yaml = PerformanceConfig::parse(&swapped, YAML).unwrap();
    let wrong = disagreements(&yaml, &Profiles::bundled());
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(
        wrong[0].starts_with("the list of collections (in order) is hermes, mixtral, openchat"),
        "{wrong:?}"
    );
}
