//! The regression gate on hand-written criterion-shaped baselines and run reports
//! (`tests/fixtures/`): which changes count, which do not, and how bad input is reported.

use std::path::{Path, PathBuf};

use qdrant_perf_gate::compare::{
    self, Change, CompareError, Comparison, Direction, Row, RunReport, Source, Statistic,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn criterion_dir() -> PathBuf {
    fixtures().join("criterion")
}

fn report(name: &str) -> String {
    fixtures().join("reports").join(name).display().to_string()
}

fn baselines(threshold: f64, statistic: Statistic) -> Comparison {
    compare::compare("base", "head", &criterion_dir(), threshold, statistic)
        .expect("fixtures compare")
}

fn row<'a>(c: &'a Comparison, name: &str) -> &'a Row {
    c.rows
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name} in {:#?}", c.rows))
}

#[test]
fn a_20_percent_slowdown_with_tight_intervals_is_a_regression() {
    let c = baselines(10.0, Statistic::Mean);
    let r = row(&c, "search/deepcoder/768");
    assert_eq!(r.verdict, Change::Regressed);
    assert!((r.change_pct.unwrap() - 20.0).abs() < 1e-9, "{r:?}");
    assert_eq!(r.base.as_ref().unwrap().samples, Some(100));
    assert!(c.has_regression());
    assert_eq!(c.regressed(), vec!["search/deepcoder/768"]);
}

#[test]
fn the_same_slowdown_with_overlapping_wide_intervals_is_not() {
    let c = baselines(10.0, Statistic::Mean);
    let r = row(&c, "search/phi3/3072");
    assert!((r.change_pct.unwrap() - 20.0).abs() < 1e-9, "{r:?}");
    assert_eq!(r.verdict, Change::Unchanged);
}

#[test]
fn no_change_is_never_flagged_even_at_a_zero_threshold() {
    for threshold in [0.0, 10.0] {
        let c = baselines(threshold, Statistic::Mean);
        let r = row(&c, "ground_truth/768");
        assert_eq!(r.change_pct, Some(0.0));
        assert_eq!(r.verdict, Change::Unchanged, "threshold {threshold}");
    }
}

#[test]
fn a_25_percent_speedup_with_tight_intervals_is_an_improvement_not_a_failure() {
    let c = baselines(10.0, Statistic::Mean);
    assert_eq!(
        row(&c, "search_exact/deepcoder/768").verdict,
        Change::Improved
    );
    assert_eq!(c.count(Change::Improved), 1);
}

#[test]
fn a_threshold_above_the_change_lets_it_pass() {
    let c = baselines(25.0, Statistic::Mean);
    assert_eq!(row(&c, "search/deepcoder/768").verdict, Change::Unchanged);
    assert!(!c.has_regression());
}

#[test]
fn benchmarks_on_one_side_only_are_listed_not_failed() {
    let c = baselines(10.0, Statistic::Mean);
    assert_eq!(row(&c, "search/general/1536").verdict, Change::OnlyInBase);
    assert!(row(&c, "search/general/1536").new.is_none());
    assert_eq!(row(&c, "search/imp/2048").verdict, Change::OnlyInNew);
    assert!(row(&c, "search/imp/2048").base.is_none());
    let md = c.to_markdown();
    assert!(md.contains("| search/imp/2048 | — |"), "{md}");
    assert!(md.contains("1 only in base, 1 only in new"), "{md}");
    // The only regression is the tight 20 % one: one-sided rows do not fail the gate.
    assert_eq!(c.regressed(), vec!["search/deepcoder/768"]);
}

#[test]
fn criterion_scratch_dirs_and_the_html_report_are_not_benchmarks() {
    let c = baselines(10.0, Statistic::Mean);
    assert_eq!(c.rows.len(), 6, "{:#?}", c.rows);
    // `new` is criterion's latest run and can itself be compared by name.
    let latest = compare::compare("base", "new", &criterion_dir(), 10.0, Statistic::Mean).unwrap();
    assert_eq!(
        row(&latest, "search/deepcoder/768").verdict,
        Change::Regressed
    );
}

#[test]
fn typical_uses_the_slope_when_both_sides_have_one_else_the_mean() {
    let c = baselines(10.0, Statistic::Typical);
    assert_eq!(
        row(&c, "search/deepcoder/768")
            .base
            .as_ref()
            .unwrap()
            .statistic,
        Some("slope")
    );
    assert_eq!(
        row(&c, "search/phi3/3072").base.as_ref().unwrap().statistic,
        Some("mean")
    );
    let m = baselines(10.0, Statistic::Median);
    assert_eq!(
        row(&m, "search/deepcoder/768").base.as_ref().unwrap().value,
        399_500.0
    );
}

#[test]
fn the_markdown_table_shows_estimates_intervals_change_and_verdict() {
    let md = baselines(10.0, Statistic::Mean).to_markdown();
    assert!(md.contains("`base` → `head`"), "{md}");
    assert!(
        md.contains("| search/deepcoder/768 | 400.0 µs [398.0, 402.0] | 480.0 µs [478.0, 482.0] | +20.00 % | yes (intervals apart) | **regressed**"),
        "{md}"
    );
    assert!(md.contains("1 regressed, 1 improved, 2 unchanged"), "{md}");
    assert!(md.contains("exceeds 10 %"), "{md}");
}

#[test]
fn the_json_output_carries_every_row_with_its_verdict() {
    let c = baselines(10.0, Statistic::Mean);
    let v: serde_json::Value = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(v["source"], "criterion_baselines");
    assert_eq!(v["statistic"], "mean");
    let rows = v["rows"].as_array().unwrap();
    let deep = rows
        .iter()
        .find(|r| r["name"] == "search/deepcoder/768")
        .unwrap();
    assert_eq!(deep["verdict"], "regressed");
    assert_eq!(deep["base"]["ci"]["low"], 398_000.0);
    assert!(rows.iter().any(|r| r["verdict"] == "only_in_new"));
}

#[test]
fn a_missing_criterion_dir_names_it_and_says_how_to_make_it() {
    let err = compare::compare(
        "base",
        "head",
        Path::new("/nonexistent/criterion"),
        10.0,
        Statistic::Mean,
    )
    .unwrap_err();
    assert!(matches!(err, CompareError::NoCriterionDir { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/criterion") && msg.contains("--save-baseline"),
        "{msg}"
    );
}

#[test]
fn an_unknown_baseline_lists_the_baselines_that_exist() {
    let err =
        compare::compare("base", "nightly", &criterion_dir(), 10.0, Statistic::Mean).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"nightly\""), "{msg}");
    assert!(msg.contains("base, head"), "{msg}");
    assert!(
        msg.contains("cargo bench -- --save-baseline nightly"),
        "{msg}"
    );
}

#[test]
fn a_missing_estimates_file_is_an_error_naming_it() {
    let dir = fixtures().join("criterion-missing");
    let err = compare::read_baseline(&dir, "base").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CompareError::Read { .. }), "{msg}");
    assert!(
        msg.contains("search/deepcoder/768/base/estimates.json"),
        "{msg}"
    );
}

#[test]
fn a_truncated_estimates_file_is_an_error_naming_it_and_the_fix() {
    let dir = fixtures().join("criterion-malformed");
    let err = compare::read_baseline(&dir, "base").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, CompareError::Malformed { .. }), "{msg}");
    assert!(
        msg.contains("search/deepcoder/768/base/estimates.json"),
        "{msg}"
    );
    assert!(msg.contains("--save-baseline"), "{msg}");
}

#[test]
fn report_compare_treats_higher_latency_and_lower_throughput_as_regressions() {
    let c = compare::compare(
        &report("base.json"),
        &report("worse.json"),
        &criterion_dir(),
        10.0,
        Statistic::Mean,
    )
    .unwrap();
    assert_eq!(c.source, Source::RunReports);
    let p99 = row(&c, "search/p99_ms");
    assert_eq!(
        (p99.direction, p99.verdict),
        (Direction::LowerIsBetter, Change::Regressed)
    );
    assert!((p99.change_pct.unwrap() - 30.0).abs() < 1e-9);
    let qps = row(&c, "search/qps");
    assert_eq!(
        (qps.direction, qps.verdict),
        (Direction::HigherIsBetter, Change::Regressed)
    );
    assert!((qps.change_pct.unwrap() + 30.0).abs() < 1e-9);
    // +1.25 % on the median is within the threshold.
    assert_eq!(row(&c, "search/p50_ms").verdict, Change::Unchanged);
    assert_eq!(row(&c, "upload/points_per_s").verdict, Change::OnlyInBase);
    assert_eq!(row(&c, "recall@10").verdict, Change::OnlyInNew);
    assert_eq!(c.regressed(), vec!["search/p99_ms", "search/qps"]);
    // Only the commit differs: no provenance warning.
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn report_compare_treats_lower_latency_and_higher_throughput_as_improvements() {
    let c = compare::compare(
        &report("base.json"),
        &report("better.json"),
        &criterion_dir(),
        10.0,
        Statistic::Mean,
    )
    .unwrap();
    assert_eq!(row(&c, "search/p99_ms").verdict, Change::Improved);
    assert_eq!(row(&c, "search/qps").verdict, Change::Improved);
    assert!(!c.has_regression());
    // The datasets differ: the comparison says so.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("dataset"), "{:?}", c.warnings);
    assert!(
        c.to_markdown()
            .contains("> warning: the runs differ in dataset")
    );
}

#[test]
fn a_malformed_report_names_the_file_and_the_expected_shape() {
    let path = report("malformed.json");
    let err = RunReport::load(Path::new(&path)).unwrap_err();
    assert!(err.to_string().contains("malformed.json"), "{err}");
    // The cause (serde's message, naming the bad value) follows once, as the source.
    let cause = std::error::Error::source(&err)
        .expect("a source")
        .to_string();
    assert!(!err.to_string().contains(&cause), "{err}");
    let msg = format!("{err}: {cause}");
    assert!(
        msg.contains("lower_is_worse") && msg.contains("higher_is_better"),
        "{msg}"
    );
}

#[test]
fn a_missing_report_file_is_an_error_naming_it() {
    let err = compare::compare(
        "base.json",
        "missing-new.json",
        &criterion_dir(),
        10.0,
        Statistic::Mean,
    )
    .unwrap_err();
    assert!(matches!(err, CompareError::Read { .. }));
    assert!(err.to_string().contains("base.json"), "{err}");
}

#[test]
fn a_report_and_a_baseline_name_cannot_be_compared() {
    let err = compare::compare(
        "base",
        &report("base.json"),
        &criterion_dir(),
        10.0,
        Statistic::Mean,
    )
    .unwrap_err();
    assert!(matches!(err, CompareError::Mixed { .. }), "{err}");
}

#[test]
fn a_report_round_trips_and_duplicate_metric_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = RunReport::load(Path::new(&report("base.json"))).unwrap();
    let path = dir.path().join("copy.json");
    base.save(&path).unwrap();
    assert_eq!(RunReport::load(&path).unwrap(), base);

    let mut dup = base.clone();
    dup.metrics.push(dup.metrics[0].clone());
    dup.save(&path).unwrap();
    let msg = RunReport::load(&path).unwrap_err().to_string();
    assert!(
        msg.contains("appears twice") && msg.contains("copy.json"),
        "{msg}"
    );
}

#[test]
fn the_table_is_appended_to_the_github_step_summary_when_set() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    // SAFETY: this is the only test in this binary that touches GITHUB_STEP_SUMMARY.
    unsafe { std::env::set_var("GITHUB_STEP_SUMMARY", &summary) };
    let written = baselines(10.0, Statistic::Mean)
        .append_to_step_summary()
        .unwrap();
    unsafe { std::env::remove_var("GITHUB_STEP_SUMMARY") };
    assert_eq!(written.as_deref(), Some(summary.as_path()));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("earlier step\n### Performance"), "{text}");
    assert!(text.contains("**regressed**"), "{text}");
}

#[test]
fn a_change_the_second_base_run_does_not_show_is_drift_not_a_regression() {
    let mut c = baselines(10.0, Statistic::Mean);
    assert!(c.has_regression());
    // The second base run (A') measured what the new side measured: the slowdown against the
    // first base run was the machine drifting, not the code.
    let drift = compare::compare("head", "head", &criterion_dir(), 10.0, Statistic::Mean).unwrap();
    c.confirm_with(&drift);
    assert!(!c.has_regression(), "{:#?}", c.rows);
    assert_eq!(row(&c, "search/deepcoder/768").verdict, Change::Unchanged);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("search/deepcoder/768") && w.contains("+20.00 %")),
        "{:?}",
        c.warnings
    );
    assert!(
        c.to_markdown().contains("against both"),
        "{}",
        c.to_markdown()
    );

    // A second base run that shows the same slowdown confirms it.
    let mut c = baselines(10.0, Statistic::Mean);
    c.confirm_with(&baselines(10.0, Statistic::Mean));
    assert_eq!(c.regressed(), vec!["search/deepcoder/768"]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}
