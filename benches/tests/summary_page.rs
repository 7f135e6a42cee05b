//! The hnsw suite run for real (small: 2,000 points, 200 queries, two ef values, short criterion
//! times) into a temporary criterion dir: its quality file and the summary page agree with what
//! criterion wrote. No speed is asserted: only that the page shows criterion's own figures, the
//! suite's recall and working links, what the suite's rows share said once above its table, and
//! its chart: a point per ef, placed by the recall and the mean time it shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use qdrant_perf_render::bench_summary;
use qdrant_perf_report::bench::{self, SCHEMA, SuiteQuality};

/// The value of attribute `name` in an HTML fragment (the page writes each once per cell).
fn attr<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = html.find(&key)? + key.len();
    Some(&html[start..start + html[start..].find('"')?])
}

/// The `<tr>` rows of the page, by `data-id`.
fn rows(html: &str) -> Vec<(String, &str)> {
    html.split("<tr data-id=\"")
        .skip(1)
        .map(|rest| {
            let id = &rest[..rest.find('"').unwrap()];
            let row = &rest[..rest.find("</tr>").unwrap()];
            (id.replace("&#39;", "'").replace("&amp;", "&"), row)
        })
        .collect()
}

/// Every `<dir>/new/estimates.json` criterion wrote below `root`, by the id in the
/// `benchmark.json` beside it.
fn criterion_estimates(root: &Path) -> Vec<(String, PathBuf, serde_json::Value)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let benchmark = path.join("new/benchmark.json");
            if benchmark.is_file() {
                let b: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&benchmark).unwrap()).unwrap();
                let e: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(path.join("new/estimates.json")).unwrap(),
                )
                .unwrap();
                out.push((b["full_id"].as_str().unwrap().to_string(), path, e));
            } else {
                stack.push(path);
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_real_suite_run_writes_quality_records_and_a_page_that_agrees_with_criterion() {
    let home = tempfile::tempdir().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // Not the variables cargo set for this test: build scripts (ring's) rerun when one of them
    // differs from the outer build's, and the nested build would compile the engine again.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_tests = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ]
        .iter()
        .any(|p| name.starts_with(p));
        if set_for_tests {
            cmd.env_remove(&*name);
        }
    }
    let out = cmd
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // `--workspace` as scripts/test builds, so the suite is already built and fresh.
        .args([
            "bench",
            "--workspace",
            "--bench",
            "hnsw",
            "--",
            "hnsw_search",
        ])
        .args(["--warm-up-time", "0.5", "--measurement-time", "1"])
        .env("CRITERION_HOME", home.path())
        .env("QDRANT_PERF_POINTS", "2000")
        .env("QDRANT_PERF_QUERIES", "200")
        .env("QDRANT_PERF_HNSW_EF", "16,64")
        .env_remove("QDRANT_URL")
        .env_remove("QDRANT_PERF_DATASET")
        .output()
        .expect("cargo bench --bench hnsw");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the hnsw suite failed:\n{stderr}");
    // The main job's check still finds the recall lines on stderr.
    assert_eq!(
        stderr.matches("recall@10 = ").count(),
        2,
        "one recall line per ef:\n{stderr}"
    );

    // What criterion wrote: exactly the two benchmarks the filter and ef list select.
    let measured = criterion_estimates(home.path());
    let ids: Vec<&str> = measured.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["hnsw_search/768d/16", "hnsw_search/768d/64"],
        "{stderr}"
    );

    // The quality file: this schema, a record per benchmark, each with recall over 200 queries.
    let quality = SuiteQuality::load(&bench::suite_path(home.path(), "hnsw")).expect("hnsw.json");
    assert_eq!(quality.schema, SCHEMA);
    let recorded: Vec<&str> = quality.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(recorded, ids);
    for r in &quality.records {
        let recall = r.recall.expect("recall");
        assert_eq!((recall.k, recall.queries), (10, 200), "{r:?}");
        assert!((0.0..=1.0).contains(&recall.value), "{r:?}");
        assert_eq!(r.setup.points, Some(2000), "{r:?}");
        assert_eq!(r.setup.ef.map(|ef| ef.to_string()), r.value, "{r:?}");
        assert!(r.mode.is_some(), "{r:?}");
    }

    // The page: one row per benchmark criterion wrote, each with the json's recall,
    // criterion's own estimate and a link to criterion's existing page.
    let html = std::fs::read_to_string(home.path().join(bench_summary::PAGE)).expect("page");
    let rows = rows(&html);
    let row_ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(row_ids, ids, "{html}");
    for ((id, row), ((_, dir, estimates), record)) in
        rows.iter().zip(measured.iter().zip(&quality.records))
    {
        let shown: f64 = attr(row, "data-recall").expect(id).parse().unwrap();
        assert_eq!(shown, record.recall.unwrap().value, "{id}: {row}");
        let mean = &estimates["mean"];
        for (name, want) in [
            ("data-mean-ns", &mean["point_estimate"]),
            ("data-low-ns", &mean["confidence_interval"]["lower_bound"]),
            ("data-high-ns", &mean["confidence_interval"]["upper_bound"]),
        ] {
            let got: f64 = attr(row, name).expect(name).parse().unwrap();
            assert_eq!(got, want.as_f64().unwrap(), "{id} {name}: {row}");
        }
        let href = attr(row, "href").expect("a link to criterion's page");
        let target = home.path().join(href);
        assert!(target.is_file(), "{id}: {href} does not exist");
        assert_eq!(target, dir.join("report/index.html"), "{id}");
        assert!(!row.contains(bench_summary::NOT_MEASURED), "{row}");
    }

    // The suite's section: the setup its rows share once, above the chart and the table.
    let start = html
        .find("<section class=\"suite\" id=\"suite-hnsw\"")
        .expect("the hnsw section");
    let section = &html[start..start + html[start..].find("</section>").unwrap()];
    assert_eq!(
        section.matches("<p class=\"shared\"").count(),
        1,
        "{section}"
    );
    let shared = &section[section.find("<p class=\"shared\"").unwrap()..];
    let shared = &shared[..shared.find("</p>").unwrap()];
    let setup_cells: Vec<&str> = section
        .split("<td class=\"setup\">")
        .skip(1)
        .map(|c| &c[..c.find("</td>").unwrap()])
        .collect();
    for fact in ["2000 points", "768 d", "qdrant-edge 0.7.2 (embedded)"] {
        assert!(shared.contains(fact), "{fact} not in {shared}");
        assert!(
            setup_cells.iter().all(|c| !c.contains(fact)),
            "{fact} repeated in a row: {setup_cells:?}"
        );
    }
    let (at_shared, at_chart, at_table) = (
        section.find("<p class=\"shared\"").unwrap(),
        section.find("<figure class=\"chart\">").expect("a chart"),
        section.find("<table>").unwrap(),
    );
    assert!(at_shared < at_chart && at_chart < at_table, "{section}");
    // The chart: one point per ef, in ef order; more recall further right, more time higher.
    let circles: Vec<(f64, f64)> = section
        .split("<circle data-series=\"hnsw_search/768d\"")
        .skip(1)
        .map(|c| {
            let c = &c[..c.find("/>").unwrap()];
            let n = |a: &str| attr(c, a).unwrap().parse::<f64>().unwrap();
            (n("cx"), n("cy"))
        })
        .collect();
    assert_eq!(circles.len(), 2, "{section}");
    let (a, b) = (&quality.records[0], &quality.records[1]);
    let recall = |r: &bench::QualityRecord| r.recall.unwrap().value;
    let mean = |i: usize| measured[i].2["mean"]["point_estimate"].as_f64().unwrap();
    if recall(a) != recall(b) {
        assert_eq!(
            recall(a) < recall(b),
            circles[0].0 < circles[1].0,
            "{circles:?}"
        );
    }
    if (circles[0].1 - circles[1].1).abs() >= 1.0 {
        assert_eq!(
            mean(0) < mean(1),
            circles[0].1 > circles[1].1,
            "{circles:?}"
        );
    }
}
