//! The summary page of `cargo bench` (`<criterion dir>/qdrant-perf.html`): per suite, in the
//! README's order ([`SUITE_ORDER`]), what all its rows share said once ([`SharedSetup`]), one
//! chart drawn from its rows ([`suite_chart`]) and a table of one row per benchmark joining
//! criterion's own estimate with the suite's record (qdrant-perf-report's `bench`) and a link
//! to criterion's page.
//!
//! Data first ([`join`]), the page a pure rendering of it ([`render`]); [`write_summary`] does
//! both and writes the page atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use qdrant_perf_plumbing::units::time_unit;
use qdrant_perf_plumbing::write_atomic;
use qdrant_perf_report::bench::{
    BenchSummaryError, CriterionBenchmark, CriterionEstimate, QualityRecord, Result, SearchMode,
    SuiteQuality, read_criterion, read_quality,
};
use qdrant_perf_report::margin::{Ci, with_margin};

use crate::chart::{self, Axis, Bars, Panel, Series};
use crate::html::{escape, page};

/// The summary page's file name, in the criterion dir.
pub const PAGE: &str = "qdrant-perf.html";

/// What the summary page says of a benchmark criterion has no estimate of.
pub const NOT_MEASURED: &str = "not measured (test mode)";

// ---- the page -------------------------------------------------------------------------------

/// One row of the summary page: a benchmark with the suite's record, criterion's figures, or
/// both.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub id: String,
    /// The suite that recorded it (none for a benchmark with criterion's files only).
    pub suite: Option<String>,
    pub record: Option<QualityRecord>,
    pub criterion: Option<CriterionBenchmark>,
}

/// The suites in the README's order: latency first, then throughput (batch), filtered, hnsw,
/// cache, groundtruth, requests, driver. A suite not named here goes after them, by name.
pub const SUITE_ORDER: [&str; 8] = [
    "latency",
    "throughput",
    "filtered",
    "hnsw",
    "cache",
    "groundtruth",
    "requests",
    "driver",
];

/// Where `suite` goes on the page: its place in [`SUITE_ORDER`], else after those, by name.
fn suite_rank(suite: &str) -> (usize, &str) {
    let place = SUITE_ORDER
        .iter()
        .position(|s| *s == suite)
        .unwrap_or(SUITE_ORDER.len());
    (place, suite)
}

/// Joins the suites' records with criterion's benchmarks by id: the suites' rows first, suite
/// by suite in [`SUITE_ORDER`] and each in its records' order, then criterion's benchmarks no
/// suite recorded, by id.
pub fn join(suites: &[SuiteQuality], benchmarks: &[CriterionBenchmark]) -> Vec<SummaryRow> {
    let mut by_id: BTreeMap<&str, &CriterionBenchmark> =
        benchmarks.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    let mut ordered: Vec<&SuiteQuality> = suites.iter().collect();
    ordered.sort_by(|a, b| suite_rank(&a.suite).cmp(&suite_rank(&b.suite)));
    for suite in ordered {
        for r in &suite.records {
            if !seen.insert(r.id.clone()) {
                continue;
            }
            rows.push(SummaryRow {
                id: r.id.clone(),
                suite: Some(suite.suite.clone()),
                record: Some(r.clone()),
                criterion: by_id.remove(r.id.as_str()).cloned(),
            });
        }
    }
    rows.extend(by_id.into_values().map(|b| SummaryRow {
        id: b.id.clone(),
        suite: None,
        record: None,
        criterion: Some(b.clone()),
    }));
    rows
}

/// Characters a relative link's path keeps as they are: everything but controls, space and
/// what a URL reads as syntax (`#`, `?`, `%`, quotes, brackets).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn mean_cell(mean: Option<&CriterionEstimate>) -> String {
    let Some(m) = mean else {
        return format!("<td class=\"notrun\">{NOT_MEASURED}</td>");
    };
    let (scale, unit) = time_unit(m.point_estimate);
    let ci = Ci {
        low: m.confidence_interval.lower_bound * scale,
        high: m.confidence_interval.upper_bound * scale,
    };
    format!(
        "<td class=\"mean\" data-mean-ns=\"{}\" data-low-ns=\"{}\" data-high-ns=\"{}\" \
         title=\"95 % interval [{:.3}, {:.3}] {unit}\">{} {unit}</td>",
        m.point_estimate,
        m.confidence_interval.lower_bound,
        m.confidence_interval.upper_bound,
        ci.low,
        ci.high,
        with_margin(m.point_estimate * scale, Some(ci), 3),
    )
}

/// A record's setup as facts, in the page's order: each a key and its text (`2000 points`,
/// `768 d`, `m=16`, ..., the engine). What every record of a suite has alike is said once above
/// its table ([`SharedSetup`]); the rest in each row.
fn setup_facts(r: &QualityRecord) -> Vec<(&'static str, String)> {
    let s = &r.setup;
    let mut facts = Vec::new();
    if let Some(p) = s.points {
        facts.push(("points", format!("{p} points")));
    }
    if let Some(d) = s.dim {
        facts.push(("dim", format!("{d} d")));
    }
    for (name, v) in [
        ("m", s.m),
        ("ef_construct", s.ef_construct),
        ("ef", s.ef),
        ("segments", s.segments),
        ("batch", s.batch),
    ] {
        if let Some(v) = v {
            facts.push((name, format!("{name}={v}")));
        }
    }
    if let Some(i) = s.payload_indexes {
        let text = if i {
            "payload indexes"
        } else {
            "no payload index"
        };
        facts.push(("payload_indexes", text.into()));
    }
    if let Some(b) = s.build_seconds {
        facts.push(("build_seconds", format!("build {b:.2} s")));
    }
    if let Some(t) = s.setup_seconds {
        facts.push(("setup_seconds", format!("setup {t:.2} s")));
    }
    if let Some(e) = &r.engine {
        facts.push(("engine", e.clone()));
    }
    facts
}

/// What every record of a suite has alike, said once above its table instead of in each row:
/// setup facts (points, dimension, m, ef_construct, the engine, ...), how Qdrant searched, the
/// note (the filter planner's, a lowered full_scan_threshold).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedSetup {
    /// Facts every record has, with the same text, in the page's order.
    pub facts: Vec<(&'static str, String)>,
    pub mode: Option<SearchMode>,
    pub note: Option<String>,
}

impl SharedSetup {
    /// What all of `records` share (nothing of none).
    pub fn of(records: &[&QualityRecord]) -> Self {
        let Some((first, rest)) = records.split_first() else {
            return Self::default();
        };
        let facts = setup_facts(first)
            .into_iter()
            .filter(|f| rest.iter().all(|r| setup_facts(r).contains(f)))
            .collect();
        Self {
            facts,
            mode: first
                .mode
                .filter(|m| rest.iter().all(|r| r.mode == Some(*m))),
            note: first
                .note
                .clone()
                .filter(|n| rest.iter().all(|r| r.note.as_ref() == Some(n))),
        }
    }

    /// `r`'s setup facts that are not shared, as the row says them.
    fn own_facts(&self, r: &QualityRecord) -> Vec<String> {
        setup_facts(r)
            .into_iter()
            .filter(|f| !self.facts.contains(f))
            .map(|(_, text)| text)
            .collect()
    }

    /// The line above the suite's table.
    fn html(&self, suite: &str) -> String {
        let mut parts: Vec<String> = self.facts.iter().map(|(_, t)| escape(t)).collect();
        if let Some(m) = self.mode {
            parts.push(format!("search by {}", m.text()));
        }
        let mut s = format!("<p class=\"shared\" data-suite=\"{}\">", escape(suite));
        if parts.is_empty() && self.note.is_none() {
            s.push_str("<b>Every row:</b> nothing alike; each row gives its own setup.");
        } else {
            s.push_str("<b>Every row:</b> ");
            s.push_str(&parts.join(" · "));
            if let Some(n) = &self.note {
                if !parts.is_empty() {
                    s.push_str(". ");
                }
                let _ = write!(s, "<b>Note:</b> {}", escape(n));
            }
        }
        s.push_str("</p>\n");
        s
    }
}

/// What a suite's rows show beside the id and the time: a column only where some row has a
/// figure for it and the suite does not share it.
#[derive(Clone, Copy, Debug, Default)]
struct Columns {
    recall: bool,
    selectivity: bool,
    mode: bool,
    setup: bool,
    note: bool,
}

impl Columns {
    fn of(records: &[&QualityRecord], shared: &SharedSetup) -> Self {
        Self {
            recall: records.iter().any(|r| r.recall.is_some()),
            selectivity: records.iter().any(|r| r.selectivity.is_some()),
            mode: shared.mode.is_none() && records.iter().any(|r| r.mode.is_some()),
            setup: records.iter().any(|r| !shared.own_facts(r).is_empty()),
            note: shared.note.is_none() && records.iter().any(|r| r.note.is_some()),
        }
    }

    fn header(&self) -> String {
        let mut s = String::from("<tr><th>benchmark</th><th>mean time</th>");
        for (on, name) in [
            (self.recall, "recall"),
            (self.selectivity, "selectivity"),
            (self.mode, "search"),
            (self.setup, "setup"),
            (self.note, "note"),
        ] {
            if on {
                let _ = write!(s, "<th>{name}</th>");
            }
        }
        s.push_str("</tr>");
        s
    }
}

fn row_html(out: &mut String, row: &SummaryRow, columns: &Columns, shared: &SharedSetup) {
    let record = row.record.as_ref();
    let criterion = row.criterion.as_ref();
    let id = escape(&row.id);
    let _ = write!(out, "<tr data-id=\"{id}\"><td>");
    match criterion.and_then(|c| c.report.as_deref()) {
        Some(link) => {
            let href = escape(&utf8_percent_encode(link, PATH).to_string());
            let _ = write!(out, "<a href=\"{href}\"><code>{id}</code></a></td>");
        }
        None => {
            let _ = write!(out, "<code>{id}</code></td>");
        }
    }
    out.push_str(&mean_cell(criterion.and_then(|c| c.mean.as_ref())));
    if columns.recall {
        match record.and_then(|r| r.recall) {
            Some(r) => {
                let _ = write!(
                    out,
                    "<td class=\"recall\" data-recall=\"{}\" data-k=\"{}\" data-queries=\"{}\">\
                     {:.4} <span class=\"muted\">@{} over {}</span></td>",
                    r.value, r.k, r.queries, r.value, r.k, r.queries
                );
            }
            None => out.push_str("<td class=\"recall\">—</td>"),
        }
    }
    if columns.selectivity {
        match record.and_then(|r| r.selectivity.as_ref()) {
            Some(s) => {
                let _ = write!(
                    out,
                    "<td data-selectivity=\"{}\">{:.3} % <span class=\"muted\">({} points: {})</span></td>",
                    s.measured,
                    s.measured * 100.0,
                    s.matching,
                    escape(&s.condition)
                );
            }
            None => out.push_str("<td>—</td>"),
        }
    }
    if columns.mode {
        let _ = write!(
            out,
            "<td>{}</td>",
            record.and_then(|r| r.mode).map_or("—", SearchMode::text)
        );
    }
    if columns.setup {
        let own = record.map(|r| shared.own_facts(r)).unwrap_or_default();
        let _ = write!(
            out,
            "<td class=\"setup\">{}</td>",
            if own.is_empty() {
                "—".to_string()
            } else {
                escape(&own.join(", "))
            }
        );
    }
    if columns.note {
        let _ = write!(
            out,
            "<td class=\"note\">{}</td>",
            record
                .and_then(|r| r.note.as_deref())
                .map_or_else(|| "—".to_string(), escape)
        );
    }
    out.push_str("</tr>\n");
}

// ---- the suites' charts ---------------------------------------------------------------------

/// A suite's chart, drawn from its rows: the suite's records joined with criterion's estimates
/// of the same ids.
#[derive(Clone, Debug)]
pub enum SuiteChart {
    /// Points joined by lines; `labels[i][j]` is written beside point `j` of series `i`.
    Lines {
        panel: Panel,
        labels: Vec<Vec<String>>,
    },
    Bars(Bars),
}

impl SuiteChart {
    pub fn caption(&self) -> &str {
        match self {
            Self::Lines { panel, .. } => &panel.title,
            Self::Bars(b) => &b.title,
        }
    }

    /// Each series' label and its points (bars: each present bar), as drawn.
    pub fn series(&self) -> Vec<(String, usize)> {
        match self {
            Self::Lines { panel, .. } => panel.counts(),
            Self::Bars(b) => b.counts(),
        }
    }

    fn html(&self) -> std::result::Result<String, String> {
        match self {
            Self::Lines { panel, labels } => chart::html_chart_with(
                panel,
                chart::Style {
                    labels,
                    ..chart::Style::default()
                },
            ),
            Self::Bars(b) => chart::html_bars(b),
        }
    }
}

/// criterion's mean of `row`, in ms.
fn mean_ms(row: &SummaryRow) -> Option<f64> {
    Some(row.criterion.as_ref()?.mean?.point_estimate / 1e6)
}

/// The rows with both a record and criterion's mean, each as the record and the mean in ms.
fn measured<'a>(rows: &'a [&SummaryRow]) -> impl Iterator<Item = (&'a QualityRecord, f64)> {
    rows.iter()
        .filter_map(|row| Some((row.record.as_ref()?, mean_ms(row)?)))
}

/// A parameter of `r`: its setup's figure, else the id's value.
fn parameter(r: &QualityRecord, setup: Option<usize>) -> Option<f64> {
    setup
        .map(|v| v as f64)
        .or_else(|| r.value.as_deref()?.parse().ok())
}

/// Log when the figures span more than a factor of 20 (a full scan beside an HNSW search).
fn axis_for(values: impl Iterator<Item = f64>) -> Axis {
    let (lo, hi) = values
        .filter(|v| *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() && hi / lo > 20.0 {
        Axis::Log
    } else {
        Axis::Linear
    }
}

/// A point of a [`Keyed`] series: where it goes in its series, where it is drawn, its label.
struct KeyedPoint {
    order: f64,
    x: f64,
    y: f64,
    label: String,
}

/// Series of points keyed by label, in the order their first point came.
#[derive(Default)]
struct Keyed {
    series: Vec<(String, Vec<KeyedPoint>)>,
}

impl Keyed {
    /// Adds a point at `(x, y)`, ordered by `order` within its series, labelled `label`.
    fn add(&mut self, key: String, x: f64, y: f64, order: f64, label: String) {
        crate::entry(&mut self.series, key).push(KeyedPoint { order, x, y, label });
    }

    fn lines(mut self, title: &str, x_label: &str, y_label: &str, x_axis: Axis) -> SuiteChart {
        for (_, points) in &mut self.series {
            points.sort_by(|a, b| a.order.total_cmp(&b.order));
        }
        let y_axis = axis_for(self.series.iter().flat_map(|(_, p)| p.iter().map(|q| q.y)));
        let labels = self
            .series
            .iter()
            .map(|(_, p)| p.iter().map(|q| q.label.clone()).collect())
            .collect();
        SuiteChart::Lines {
            panel: Panel {
                title: title.into(),
                x_label: x_label.into(),
                y_label: y_label.into(),
                series: self
                    .series
                    .into_iter()
                    .map(|(label, p)| Series {
                        label,
                        points: p.into_iter().map(|q| (q.x, q.y)).collect(),
                        line: true,
                    })
                    .collect(),
                x_axis,
                y_axis,
            },
            labels,
        }
    }
}

/// `group`, with the engine of a function named `<collection>@<engine>` (a server run).
fn group_and_engine(r: &QualityRecord) -> String {
    match r.function.as_deref().and_then(|f| f.split_once('@')) {
        Some((_, engine)) => format!("{} @{engine}", r.group),
        None => r.group.clone(),
    }
}

/// latency: mean time per query against the dimension, a line per group (`search`,
/// `search_exact`, ...), each point labelled with its recall.
fn latency_chart(rows: &[&SummaryRow]) -> SuiteChart {
    let mut k = Keyed::default();
    let mut recall_k = None;
    for (r, ms) in measured(rows) {
        let Some(dim) = parameter(r, r.setup.dim) else {
            continue;
        };
        let label = r.recall.map_or(String::new(), |rc| {
            recall_k.get_or_insert(rc.k);
            format!("recall {:.3}", rc.value)
        });
        k.add(group_and_engine(r), dim, ms, dim, label);
    }
    let title = format!(
        "mean time per query by dimension, each point labelled with its recall@{}",
        recall_k.unwrap_or(10)
    );
    k.lines(
        &title,
        "dimension",
        "mean time per query (ms)",
        Axis::Linear,
    )
}

/// throughput: elements per second (the batch over the mean time) against the batch size, a
/// line per group and collection.
fn throughput_chart(rows: &[&SummaryRow]) -> SuiteChart {
    let mut k = Keyed::default();
    for (r, ms) in measured(rows) {
        let Some(batch) = parameter(r, r.setup.batch) else {
            continue;
        };
        let key = match &r.function {
            Some(f) => format!("{} {f}", r.group),
            None => r.group.clone(),
        };
        k.add(key, batch, batch / (ms / 1e3), batch, String::new());
    }
    k.lines(
        "elements per second by batch size (points written by upsert, queries answered by search_batch)",
        "batch size",
        "elements per second",
        Axis::Log,
    )
}

/// hnsw: the searches' recall against their mean time, a point per ef (labelled), a line per
/// `hnsw_search` group; the builds are in the table.
fn hnsw_chart(rows: &[&SummaryRow]) -> SuiteChart {
    let mut k = Keyed::default();
    let mut recall_k = None;
    for (r, ms) in measured(rows) {
        if !r.group.starts_with("hnsw_search") {
            continue;
        }
        let (Some(recall), Some(ef)) = (r.recall, parameter(r, r.setup.ef)) else {
            continue;
        };
        recall_k.get_or_insert(recall.k);
        k.add(r.group.clone(), recall.value, ms, ef, format!("ef={ef}"));
    }
    let recall = format!("recall@{}", recall_k.unwrap_or(10));
    // Every ef finding the same neighbours (a small collection): the points stand in one
    // column, and the caption says why.
    let values: Vec<f64> = k
        .series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.x))
        .collect();
    let same = match values.split_first() {
        Some((first, rest)) if !rest.is_empty() && rest.iter().all(|v| v == first) => {
            format!(" ({recall} is {first:.3} at every ef)")
        }
        _ => String::new(),
    };
    k.lines(
        &format!("HNSW search: {recall} against mean time per query, one point per ef{same}"),
        &recall,
        "mean time per query (ms)",
        Axis::Linear,
    )
}

/// filtered: mean time per query against the selectivity measured on the data, a line per
/// field kind and index, indexed beside unindexed (both on log axes when they span decades:
/// an unindexed filter can cost a hundred times an indexed one).
fn filtered_chart(rows: &[&SummaryRow]) -> SuiteChart {
    let mut k = Keyed::default();
    // Field kinds in the order they come; per kind indexed, then unindexed, then anything else.
    let mut kinds: Vec<String> = Vec::new();
    for (r, ms) in measured(rows) {
        let Some(sel) = r.selectivity.as_ref() else {
            continue;
        };
        let kind = r
            .group
            .strip_prefix("filtered/")
            .unwrap_or(&r.group)
            .to_string();
        if !kinds.contains(&kind) {
            kinds.push(kind.clone());
        }
        let key = match &r.function {
            Some(f) => format!("{kind} {f}"),
            None => kind,
        };
        let pct = sel.measured * 100.0;
        k.add(key, pct, ms, pct, String::new());
    }
    let rank = |label: &str| {
        let (kind, function) = label.rsplit_once(' ').unwrap_or((label, ""));
        let kind_at = kinds.iter().position(|k| k == kind).unwrap_or(kinds.len());
        let function_at = match function {
            "indexed" => 0,
            "unindexed" => 1,
            _ => 2,
        };
        (kind_at, function_at)
    };
    k.series.sort_by_key(|(label, _)| rank(label));
    let x_axis = axis_for(k.series.iter().flat_map(|(_, p)| p.iter().map(|q| q.x)));
    k.lines(
        "filtered search: mean time per query by selectivity, payload-indexed beside unindexed",
        "selectivity (% of the points matching the filter)",
        "mean time per query (ms)",
        x_axis,
    )
}

/// Any other suite: the mean time of each benchmark, a bar each.
fn time_chart(rows: &[&SummaryRow]) -> SuiteChart {
    let measured: Vec<(&SummaryRow, f64)> = rows
        .iter()
        .filter_map(|row| Some((*row, row.criterion.as_ref()?.mean?.point_estimate)))
        .collect();
    let top = measured.iter().map(|m| m.1).fold(0.0, f64::max);
    let (scale, unit) = time_unit(top);
    let one_group = measured.iter().all(|(row, _)| {
        row.record.as_ref().map(|r| &r.group) == measured[0].0.record.as_ref().map(|r| &r.group)
    });
    let name = |row: &SummaryRow| match &row.record {
        Some(r) if one_group && row.id.len() > r.group.len() => {
            row.id[r.group.len()..].trim_start_matches('/').to_string()
        }
        _ => row.id.clone(),
    };
    SuiteChart::Bars(Bars {
        title: "mean time per benchmark".into(),
        y_label: format!("mean time ({unit})"),
        groups: measured.iter().map(|(row, _)| name(row)).collect(),
        series: vec![(
            "mean time".into(),
            measured.iter().map(|(_, ns)| Some(ns * scale)).collect(),
        )],
    })
}

/// The chart of `suite` from its rows: latency per dimension with recall (latency),
/// elements per second by batch size (throughput), mean time by selectivity, indexed beside
/// unindexed (filtered), recall against mean time per ef (hnsw), mean time per benchmark
/// (any other). `Err` says why there is none: criterion has no estimate of any of its rows
/// (a `--test` run measures nothing).
pub fn suite_chart(suite: &str, rows: &[&SummaryRow]) -> std::result::Result<SuiteChart, String> {
    let chart = match suite {
        "latency" => latency_chart(rows),
        "throughput" => throughput_chart(rows),
        "filtered" => filtered_chart(rows),
        "hnsw" => hnsw_chart(rows),
        _ => time_chart(rows),
    };
    if chart.series().iter().all(|(_, n)| *n == 0) {
        return Err(if rows.iter().any(|r| mean_ms(r).is_some()) {
            "No chart: none of the measured benchmarks has the figures this suite's chart draws."
                .into()
        } else {
            "No chart: criterion has no estimate of these benchmarks yet (a --test run measures \
             nothing); run the suite without --test to draw one."
                .into()
        });
    }
    Ok(chart)
}

/// One line on what a suite measures, for the suites of this workspace.
fn suite_description(suite: &str) -> Option<&'static str> {
    Some(match suite {
        "latency" => {
            "One top-10 search per iteration on an HNSW-indexed collection of each dimension \
             (<code>search</code>), and the same queries by exact scan (<code>search_exact</code>), \
             the reference recall is measured against."
        }
        "throughput" => {
            "One request of a batch of points (<code>upsert</code>) or of queries \
             (<code>search_batch</code>) per iteration; elements per second is the batch over \
             the mean time."
        }
        "filtered" => {
            "Top-10 HNSW search with a payload filter matching a fraction of the points, on a \
             collection with payload indexes and on one without; recall against exact filtered \
             ground truth."
        }
        "hnsw" => {
            "Whole index builds per ef_construct and m (<code>hnsw_build</code>), and top-10 \
             searches of one built index per ef (<code>hnsw_search</code>)."
        }
        "cache" => {
            "Searches through the Redis result cache (and its in-process tier) against the store alone."
        }
        "groundtruth" => "The suite's own exact ground truth (GEMM), per dimension.",
        "requests" => "The HTTP and gRPC targets' request path without a network.",
        "driver" => "The load driver's own cost per request.",
        _ => return None,
    })
}

/// The summary page of `rows`, naming `problems` (files left out) above the tables: per suite
/// (in [`SUITE_ORDER`]) what it measures, what all its rows share, its chart and its table;
/// then the benchmarks criterion measured that no suite recorded.
pub fn render(rows: &[SummaryRow], problems: &[BenchSummaryError]) -> String {
    let mut body = String::new();
    body.push_str("<h1>qdrant-perf: criterion's times beside the suites' recall</h1>\n");
    body.push_str(
        "<p class=\"muted\">Mean time per iteration is criterion's estimate of its latest run \
         (<code>new/estimates.json</code>), ± half its 95 % bootstrap interval (the interval \
         itself on hover); recall@k is the suite's, of the same queries against exact ground \
         truth. Each id links to criterion's own page. Rewritten at the end of every suite of \
         <code>cargo bench</code>; the records are in <code>qdrant-perf/&lt;suite&gt;.json</code>.</p>\n",
    );
    for p in problems {
        let _ = writeln!(
            body,
            "<p class=\"missed\">left out: {}</p>",
            escape(&p.to_string())
        );
    }
    if rows.is_empty() {
        body.push_str(
            "<p>No benchmark yet: run <code>cargo bench</code> (or one suite, \
             <code>cargo bench --bench latency</code>).</p>\n",
        );
        return page("qdrant-perf benchmarks", &body);
    }
    // The rows of each suite, in the order join gave them.
    let mut sections: Vec<(Option<&str>, Vec<&SummaryRow>)> = Vec::new();
    for row in rows {
        crate::entry(&mut sections, row.suite.as_deref()).push(row);
    }
    for (suite, rows) in &sections {
        let Some(suite) = suite else { continue };
        let records: Vec<&QualityRecord> = rows.iter().filter_map(|r| r.record.as_ref()).collect();
        let shared = SharedSetup::of(&records);
        let columns = Columns::of(&records, &shared);
        let _ = writeln!(
            body,
            "<section class=\"suite\" id=\"suite-{0}\" data-suite=\"{0}\">\n<h2>suite <code>{0}</code></h2>",
            escape(suite)
        );
        if let Some(d) = suite_description(suite) {
            let _ = writeln!(body, "<p class=\"muted\">{d}</p>");
        }
        body.push_str(&shared.html(suite));
        match suite_chart(suite, rows).and_then(|c| c.html()) {
            Ok(html) => body.push_str(&html),
            Err(why) => {
                let _ = writeln!(body, "<p class=\"muted nochart\">{}</p>", escape(&why));
            }
        }
        let _ = writeln!(body, "<table>\n{}", columns.header());
        for row in rows {
            row_html(&mut body, row, &columns, &shared);
        }
        body.push_str("</table>\n</section>\n");
    }
    if let Some((_, rows)) = sections.iter().find(|(s, _)| s.is_none()) {
        body.push_str(
            "<section class=\"suite\" id=\"unrecorded\">\n<h2>benchmarks without a quality record</h2>\n\
             <p class=\"muted\">Measured by criterion, recorded by no suite (the driver and requests \
             suites record none; an id no suite runs any more).</p>\n<table>\n\
             <tr><th>benchmark</th><th>mean time</th></tr>\n",
        );
        for row in rows {
            row_html(&mut body, row, &Columns::default(), &SharedSetup::default());
        }
        body.push_str("</table>\n</section>\n");
    }
    page("qdrant-perf benchmarks", &body)
}

/// Rewrites `<criterion dir>/qdrant-perf.html` from every suite's records and criterion's
/// files there; returns its path and the files it left out.
pub fn write_summary(criterion_dir: &Path) -> Result<(PathBuf, Vec<BenchSummaryError>)> {
    let (suites, mut problems) = read_quality(criterion_dir);
    let (benchmarks, more) = read_criterion(criterion_dir);
    problems.extend(more);
    let html = render(&join(&suites, &benchmarks), &problems);
    let path = criterion_dir.join(PAGE);
    write_atomic(&path, html.as_bytes()).map_err(|source| BenchSummaryError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((path, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_perf_report::bench::*;
    use std::fs;

    /// Writes criterion's files of one benchmark as criterion 0.8 does (`new/benchmark.json`,
    /// `new/estimates.json`, and its page when `page`).
    fn criterion_files(root: &Path, dir: &str, id: &str, mean: Option<[f64; 3]>, page: bool) {
        let d = root.join(dir);
        fs::create_dir_all(d.join("new")).unwrap();
        let parts: Vec<&str> = id.split('/').collect();
        fs::write(
            d.join("new/benchmark.json"),
            serde_json::json!({
                "group_id": parts[0],
                "function_id": parts.get(1),
                "value_str": parts.get(2),
                "throughput": null,
                "full_id": id,
                "directory_name": dir,
                "title": id,
            })
            .to_string(),
        )
        .unwrap();
        if let Some([low, point, high]) = mean {
            let est = |p: f64| {
                serde_json::json!({
                    "confidence_interval": {"confidence_level": 0.95, "lower_bound": p * low / point, "upper_bound": p * high / point},
                    "point_estimate": p, "standard_error": 1.0
                })
            };
            fs::write(
                d.join("new/estimates.json"),
                serde_json::json!({
                    "mean": est(point), "median": est(point * 0.99), "median_abs_dev": est(3.0),
                    "slope": null, "std_dev": est(5.0)
                })
                .to_string(),
            )
            .unwrap();
        }
        if page {
            fs::create_dir_all(d.join("report")).unwrap();
            fs::write(d.join("report/index.html"), "<html></html>").unwrap();
        }
    }

    fn record(id: &str, recall: Option<f64>) -> QualityRecord {
        let parts: Vec<&str> = id.splitn(3, '/').collect();
        let r = QualityRecord::new(parts[0], parts.get(1).copied(), parts.get(2).copied())
            .with_mode(SearchMode::Hnsw)
            .with_setup(BenchSetup {
                points: Some(2000),
                dim: Some(768),
                ef: Some(128),
                ..Default::default()
            });
        match recall {
            Some(v) => r.with_recall(10, v, 200),
            None => r,
        }
    }

    /// The `<tr>` of `id` in `html`.
    fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html
            .find(&format!("<tr data-id=\"{}\">", escape(id)))
            .unwrap_or_else(|| panic!("no row {id} in {html}"));
        let end = start + html[start..].find("</tr>").unwrap();
        &html[start..end]
    }

    /// The `<section>` of `suite` in `html`.
    fn section_of<'a>(html: &'a str, suite: &str) -> &'a str {
        let start = html
            .find(&format!("<section class=\"suite\" id=\"suite-{suite}\""))
            .unwrap_or_else(|| panic!("no suite {suite} in {html}"));
        let end = start + html[start..].find("</section>").unwrap();
        &html[start..end]
    }

    #[test]
    fn the_criterion_dir_follows_criterions_own_rule() {
        let ws = Path::new("/ws");
        assert_eq!(
            criterion_dir_from(Some("/home".into()), Some("/t".into()), ws),
            PathBuf::from("/home")
        );
        assert_eq!(
            criterion_dir_from(None, Some("/t".into()), ws),
            PathBuf::from("/t/criterion")
        );
        assert_eq!(
            criterion_dir_from(None, None, ws),
            PathBuf::from("/ws/target/criterion")
        );
    }

    #[test]
    fn a_record_id_joins_group_function_and_value_as_criterion_does() {
        assert_eq!(
            QualityRecord::new("hnsw_build/768d", Some("efc100"), Some("16")).id,
            "hnsw_build/768d/efc100/16"
        );
        assert_eq!(
            QualityRecord::new("hnsw_search/768d", None, Some("64")).id,
            "hnsw_search/768d/64"
        );
        assert_eq!(
            QualityRecord::new("driver", Some("record_latency"), None).id,
            "driver/record_latency"
        );
    }

    #[test]
    fn rows_join_each_record_with_criterions_benchmark_of_the_same_id() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // criterion makes group names with `/` filename-safe: the directory is not the id.
        criterion_files(
            root,
            "search/deepcoder/768",
            "search/deepcoder/768",
            Some([900.0, 1000.0, 1100.0]),
            true,
        );
        criterion_files(
            root,
            "hnsw_search_768d/64",
            "hnsw_search/768d/64",
            Some([2.0e6, 2.5e6, 3.0e6]),
            true,
        );
        criterion_files(
            root,
            "ground_truth/768",
            "ground_truth/768",
            Some([1e9, 2e9, 3e9]),
            false,
        );
        save_suite(
            root,
            "latency",
            vec![
                record("search/deepcoder/768", Some(0.9871)),
                record("search_exact/deepcoder/768", Some(1.0)),
            ],
        )
        .unwrap();
        save_suite(
            root,
            "hnsw",
            vec![record("hnsw_search/768d/64", Some(0.75))],
        )
        .unwrap();
        let (path, problems) = write_summary(root).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let html = fs::read_to_string(path).unwrap();

        let search = row_of(&html, "search/deepcoder/768");
        assert!(search.contains("data-recall=\"0.9871\""), "{search}");
        assert!(search.contains("data-mean-ns=\"1000\""), "{search}");
        assert!(search.contains("data-low-ns=\"900\""), "{search}");
        assert!(search.contains("data-high-ns=\"1100\""), "{search}");
        assert!(search.contains("1.000 ± 0.100 µs"), "{search}");
        assert!(
            search.contains("href=\"search/deepcoder/768/report/index.html\""),
            "{search}"
        );
        // Both latency records search by HNSW: said once above the table, not in the row.
        assert!(!search.contains("HNSW"), "{search}");
        let latency = section_of(&html, "latency");
        assert_eq!(latency.matches("search by HNSW").count(), 1, "{latency}");

        let hnsw = row_of(&html, "hnsw_search/768d/64");
        assert!(hnsw.contains("data-recall=\"0.75\""), "{hnsw}");
        assert!(hnsw.contains("2.500 ± 0.500 ms"), "{hnsw}");
        assert!(
            hnsw.contains("href=\"hnsw_search_768d/64/report/index.html\""),
            "{hnsw}"
        );

        // Recorded but never measured by criterion: test mode.
        let exact = row_of(&html, "search_exact/deepcoder/768");
        assert!(exact.contains(NOT_MEASURED), "{exact}");
        assert!(exact.contains("data-recall=\"1\""), "{exact}");
        assert!(!exact.contains("href="), "{exact}");

        // Measured, with no suite record and no page of criterion's: no recall, no link.
        let gt = row_of(&html, "ground_truth/768");
        assert!(!gt.contains("recall"), "{gt}");
        assert!(gt.contains("data-mean-ns=\"2000000000\""), "{gt}");
        assert!(!gt.contains("href="), "{gt}");

        assert_eq!(html.matches("<tr data-id=").count(), 4, "{html}");
        // The README's order: latency before hnsw, the benchmarks no suite recorded last.
        let latency = html.find("suite <code>latency</code>").unwrap();
        let hnsw = html.find("suite <code>hnsw</code>").unwrap();
        let others = html.find("benchmarks without a quality record").unwrap();
        assert!(latency < hnsw && hnsw < others, "{html}");
    }

    #[test]
    fn everything_shown_is_escaped_and_links_are_percent_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let id = "search/<script>\"x\"&/a b#1";
        criterion_files(
            root,
            "search/_script_x&/a b#1",
            id,
            Some([1.0, 2.0, 3.0]),
            true,
        );
        let r = record(id, Some(0.5))
            .with_note("a <b>note</b> & 'quote'")
            .with_selectivity(Selectivity {
                wanted: 0.01,
                measured: 0.0105,
                matching: 21,
                condition: "kw in [\"<a>\"]".into(),
            });
        save_suite(root, "filtered", vec![r]).unwrap();
        let (path, _) = write_summary(root).unwrap();
        let html = fs::read_to_string(path).unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>note"), "{html}");
        assert!(!html.contains("\"<a>\""), "{html}");
        assert!(html.contains("&lt;script&gt;&quot;x&quot;&amp;"), "{html}");
        assert!(
            html.contains("a &lt;b&gt;note&lt;/b&gt; &amp; &#39;quote&#39;"),
            "{html}"
        );
        assert!(
            html.contains("href=\"search/_script_x&amp;/a%20b%231/report/index.html\""),
            "{html}"
        );
        assert!(html.contains("1.050 %"), "{html}");
    }

    #[test]
    fn missing_and_broken_files_leave_a_page_that_names_them() {
        let dir = tempfile::tempdir().unwrap();
        // No criterion dir at all: a page that says how to fill it.
        let root = dir.path().join("criterion");
        let (path, problems) = write_summary(&root).unwrap();
        assert!(problems.is_empty());
        let html = fs::read_to_string(&path).unwrap();
        assert!(html.contains("No benchmark yet"), "{html}");

        // A broken quality file and broken estimates: the rest still shows, each is named.
        save_suite(&root, "latency", vec![record("search/a/768", Some(0.9))]).unwrap();
        fs::write(suite_path(&root, "hnsw"), "{not json").unwrap();
        criterion_files(&root, "search/a/768", "search/a/768", None, false);
        criterion_files(&root, "search/b/768", "search/b/768", None, false);
        fs::write(root.join("search/b/768/new/estimates.json"), "[]").unwrap();
        let (path, problems) = write_summary(&root).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        let html = fs::read_to_string(&path).unwrap();
        assert!(html.contains("hnsw.json is not a valid"), "{html}");
        assert!(
            html.contains("estimates.json is not a valid criterion estimates"),
            "{html}"
        );
        let a = row_of(&html, "search/a/768");
        assert!(
            a.contains(NOT_MEASURED) && a.contains("data-recall=\"0.9\""),
            "{a}"
        );
        assert!(!html.contains("data-id=\"search/b/768\""), "{html}");
    }

    #[test]
    fn a_suite_keeps_records_its_run_did_not_reach_and_replaces_those_it_did() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        save_suite(
            root,
            "hnsw",
            vec![
                record("hnsw_search/768d/16", Some(0.5)),
                record("hnsw_search/768d/64", Some(0.8)),
            ],
        )
        .unwrap();
        let (path, problem) = save_suite(
            root,
            "hnsw",
            vec![record("hnsw_search/768d/64", Some(0.85))],
        )
        .unwrap();
        assert!(problem.is_none());
        let q = SuiteQuality::load(&path).unwrap();
        assert_eq!(q.schema, SCHEMA);
        assert_eq!(q.suite, "hnsw");
        let recalls: Vec<(&str, f64)> = q
            .records
            .iter()
            .map(|r| (r.id.as_str(), r.recall.unwrap().value))
            .collect();
        assert_eq!(
            recalls,
            [("hnsw_search/768d/16", 0.5), ("hnsw_search/768d/64", 0.85)]
        );
        // The file round-trips through the type, absent fields absent.
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("selectivity"), "{text}");
        assert!(text.contains("\"mode\": \"hnsw\""), "{text}");
    }

    #[test]
    fn an_id_recorded_many_times_in_a_run_is_saved_once_as_its_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let records = (0..500)
            .map(|i| record("upsert/deepcoder/1", Some(i as f64 / 1000.0)))
            .chain([record("upsert/deepcoder/16", None)])
            .collect();
        let (path, _) = save_suite(dir.path(), "throughput", records).unwrap();
        let saved = SuiteQuality::load(&path).unwrap().records;
        let ids: Vec<&str> = saved.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["upsert/deepcoder/1", "upsert/deepcoder/16"]);
        assert_eq!(saved[0].recall.as_ref().map(|r| r.value), Some(0.499));
    }

    #[test]
    fn another_schema_is_refused_by_name_and_replaced_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = suite_path(dir.path(), "latency");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"schema":"qdrant-perf-bench-quality/0","suite":"latency","records":[]}"#,
        )
        .unwrap();
        let e = SuiteQuality::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("qdrant-perf-bench-quality/0") && e.contains(SCHEMA),
            "{e}"
        );
        let (_, problem) =
            save_suite(dir.path(), "latency", vec![record("search/a/1", None)]).unwrap();
        assert!(problem.is_some());
        assert_eq!(SuiteQuality::load(&path).unwrap().records.len(), 1);
    }

    /// A record of `group` / `function` / `value` with the setup every suite of `fixture`
    /// shares (2000 points, m=16, ef_construct=100, the engine).
    fn rec(group: &str, function: Option<&str>, value: &str, setup: BenchSetup) -> QualityRecord {
        QualityRecord::new(group, function, Some(value))
            .with_setup(BenchSetup {
                points: Some(2000),
                m: setup.m.or(Some(16)),
                ef_construct: Some(100),
                ..setup
            })
            .with_engine("qdrant-edge 0.7.2 (embedded)")
    }

    /// Records of the latency, throughput, filtered, hnsw and groundtruth suites as they write
    /// them, with criterion's files of each (mean in ns as given); returns the means by id.
    fn fixture(root: &Path) -> BTreeMap<String, f64> {
        let mut means = BTreeMap::new();
        let latency = latency_records(root, &mut means);
        let throughput = throughput_records(root, &mut means);
        let filtered = filtered_records(root, &mut means);
        let hnsw = hnsw_records(root, &mut means);
        let mut measured = |id: &str, ns: f64| criterion_mean(root, &mut means, id, ns);
        let groundtruth = vec![
            rec("ground_truth", None, "768", BenchSetup::default()),
            rec("ground_truth", None, "4096", BenchSetup::default()),
        ];
        measured("ground_truth/768", 2e8);
        measured("ground_truth/4096", 9e8);
        measured("driver/record_latency", 90.0);
        for (suite, records) in [
            ("hnsw", hnsw),
            ("groundtruth", groundtruth),
            ("filtered", filtered),
            ("throughput", throughput),
            ("latency", latency),
        ] {
            save_suite(root, suite, records).unwrap();
        }
        means
    }

    /// criterion's files of `id` with mean `ns`, noted in `means`.
    fn criterion_mean(root: &Path, means: &mut BTreeMap<String, f64>, id: &str, ns: f64) {
        criterion_files(
            root,
            &id.replace(' ', "_"),
            id,
            Some([ns * 0.95, ns, ns * 1.05]),
            true,
        );
        means.insert(id.to_string(), ns);
    }

    /// The fixture's latency: `search` (HNSW) and `search_exact` per dimension, with recall.
    fn latency_records(root: &Path, means: &mut BTreeMap<String, f64>) -> Vec<QualityRecord> {
        let mut measured = |id: &str, ns: f64| criterion_mean(root, means, id, ns);
        let mut latency = Vec::new();
        for (i, (name, dim)) in [("deepcoder", 768), ("general", 1536), ("mixtral", 4096)]
            .into_iter()
            .enumerate()
        {
            let setup = || BenchSetup {
                dim: Some(dim),
                ..Default::default()
            };
            latency.push(
                rec("search", Some(name), &dim.to_string(), setup())
                    .with_recall(10, 0.99 - 0.01 * i as f64, 200)
                    .with_mode(SearchMode::Hnsw),
            );
            latency.push(
                rec("search_exact", Some(name), &dim.to_string(), setup())
                    .with_recall(10, 1.0, 200)
                    .with_mode(SearchMode::ExactScan),
            );
            measured(&format!("search/{name}/{dim}"), 3e5 * (i + 1) as f64);
            measured(&format!("search_exact/{name}/{dim}"), 2e7 * (i + 1) as f64);
        }
        latency
    }

    /// The fixture's throughput: `upsert` and `search_batch` per batch size.
    fn throughput_records(root: &Path, means: &mut BTreeMap<String, f64>) -> Vec<QualityRecord> {
        let mut measured = |id: &str, ns: f64| criterion_mean(root, means, id, ns);
        let mut throughput = Vec::new();
        for group in ["upsert", "search_batch"] {
            for batch in [1usize, 16, 256] {
                throughput.push(rec(
                    group,
                    Some("deepcoder"),
                    &batch.to_string(),
                    BenchSetup {
                        dim: Some(768),
                        batch: Some(batch),
                        ..Default::default()
                    },
                ));
                measured(
                    &format!("{group}/deepcoder/{batch}"),
                    1e5 * (batch as f64).sqrt(),
                );
            }
        }
        throughput
    }

    /// The fixture's filtered: per selectivity, each field kind indexed and not (out of order).
    fn filtered_records(root: &Path, means: &mut BTreeMap<String, f64>) -> Vec<QualityRecord> {
        let mut measured = |id: &str, ns: f64| criterion_mean(root, means, id, ns);
        let mut filtered = Vec::new();
        // Out of selectivity order, as a criterion filter or a user's list may give them.
        for pct in ["10", "0.1", "100"] {
            for (kind, index) in [
                ("keyword", "indexed"),
                ("keyword", "unindexed"),
                ("integer", "indexed"),
            ] {
                let wanted: f64 = pct.parse::<f64>().unwrap() / 100.0;
                filtered.push(
                    rec(
                        &format!("filtered/{kind}"),
                        Some(index),
                        pct,
                        BenchSetup {
                            dim: Some(768),
                            ef: Some(128),
                            payload_indexes: Some(index == "indexed"),
                            ..Default::default()
                        },
                    )
                    .with_recall(10, 0.97, 100)
                    .with_selectivity(Selectivity {
                        wanted,
                        measured: wanted,
                        matching: (2000.0 * wanted) as usize,
                        condition: "kw in [\"a\"]".into(),
                    })
                    .with_note("the planner may scan a selective filter"),
                );
                let ns = if index == "indexed" {
                    4e5
                } else {
                    4e5 + 1e6 / wanted.sqrt()
                };
                measured(&format!("filtered/{kind}/{index}/{pct}"), ns);
            }
        }
        filtered
    }

    /// The fixture's hnsw: searches per ef, and one build.
    fn hnsw_records(root: &Path, means: &mut BTreeMap<String, f64>) -> Vec<QualityRecord> {
        let mut measured = |id: &str, ns: f64| criterion_mean(root, means, id, ns);
        let mut hnsw = Vec::new();
        for (ef, recall) in [(64, 0.95), (16, 0.8), (256, 0.999)] {
            hnsw.push(
                QualityRecord::new("hnsw_search/768d", None, Some(&ef.to_string()))
                    .with_recall(10, recall, 200)
                    .with_mode(SearchMode::Hnsw)
                    .with_setup(BenchSetup {
                        points: Some(2000),
                        dim: Some(768),
                        m: Some(16),
                        ef_construct: Some(100),
                        ef: Some(ef),
                        build_seconds: Some(1.5),
                        ..Default::default()
                    })
                    .with_engine("qdrant-edge 0.7.2 (embedded)"),
            );
            measured(&format!("hnsw_search/768d/{ef}"), 1e5 + 2e3 * ef as f64);
        }
        hnsw.push(
            QualityRecord::new("hnsw_build/768d", Some("efc100"), Some("8"))
                .with_recall(10, 0.9, 200)
                .with_setup(BenchSetup {
                    points: Some(2000),
                    dim: Some(768),
                    m: Some(8),
                    ef_construct: Some(100),
                    build_seconds: Some(0.9),
                    ..Default::default()
                })
                .with_engine("qdrant-edge 0.7.2 (embedded)"),
        );
        measured("hnsw_build/768d/efc100/8", 9e8);
        hnsw
    }

    /// The rows of `suite` in a fixture's criterion dir.
    fn suite_rows(root: &Path, suite: &str) -> Vec<SummaryRow> {
        let (suites, problems) = read_quality(root);
        assert!(problems.is_empty(), "{problems:?}");
        let (benchmarks, problems) = read_criterion(root);
        assert!(problems.is_empty(), "{problems:?}");
        join(&suites, &benchmarks)
            .into_iter()
            .filter(|r| r.suite.as_deref() == Some(suite))
            .collect()
    }

    fn lines(chart: SuiteChart) -> (Panel, Vec<Vec<String>>) {
        match chart {
            SuiteChart::Lines { panel, labels } => (panel, labels),
            SuiteChart::Bars(b) => panic!("bars, not lines: {b:?}"),
        }
    }

    fn points(p: &Panel) -> Vec<(&str, Vec<(f64, f64)>)> {
        p.series
            .iter()
            .map(|s| (s.label.as_str(), s.points.clone()))
            .collect()
    }

    #[test]
    fn suites_go_in_the_readmes_order_latency_first_and_others_after_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fixture(root);
        for suite in ["zeta", "cache", "alpha"] {
            save_suite(root, suite, vec![record(&format!("{suite}/x/1"), None)]).unwrap();
        }
        let (path, _) = write_summary(root).unwrap();
        let html = fs::read_to_string(path).unwrap();
        let order: Vec<&str> = html
            .split("<section class=\"suite\" id=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        assert_eq!(
            order,
            [
                "suite-latency",
                "suite-throughput",
                "suite-filtered",
                "suite-hnsw",
                "suite-cache",
                "suite-groundtruth",
                "suite-alpha",
                "suite-zeta",
                "unrecorded"
            ]
        );
        assert!(section_of(&html, "latency").contains("<h2>suite <code>latency</code></h2>"));
        let unrecorded = &html[html.find("id=\"unrecorded\"").unwrap()..];
        assert!(
            unrecorded.contains("data-id=\"driver/record_latency\""),
            "{unrecorded}"
        );
    }

    #[test]
    fn what_every_row_of_a_suite_shares_is_said_once_above_its_table_and_not_in_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fixture(root);
        let (path, _) = write_summary(root).unwrap();
        let html = fs::read_to_string(path).unwrap();
        for suite in ["latency", "throughput", "filtered", "hnsw", "groundtruth"] {
            let section = section_of(&html, suite);
            assert_eq!(
                section.matches("<p class=\"shared\"").count(),
                1,
                "{section}"
            );
            let shared = section.find("<p class=\"shared\"").unwrap();
            assert!(shared < section.find("<table>").unwrap(), "{section}");
            // Points and the engine are every suite's: in the line, in no row.
            let line = &section[shared..shared + section[shared..].find("</p>").unwrap()];
            for fact in ["2000 points", "qdrant-edge 0.7.2 (embedded)"] {
                assert!(line.contains(fact), "{suite}: {line}");
                let setups = section.split("<td class=\"setup\">").skip(1);
                assert!(
                    setups
                        .map(|c| &c[..c.find("</td>").unwrap()])
                        .all(|c| !c.contains(fact)),
                    "{suite}: {section}"
                );
            }
        }
        // latency: m, ef_construct shared; the dimension and the search differ by row.
        let latency = section_of(&html, "latency");
        let line = &latency[latency.find("<p class=\"shared\"").unwrap()..];
        let line = &line[..line.find("</p>").unwrap()];
        assert!(
            line.contains("2000 points · m=16 · ef_construct=100 · qdrant-edge 0.7.2 (embedded)"),
            "{line}"
        );
        assert!(
            !line.contains("768 d") && !line.contains("search by"),
            "{line}"
        );
        let row = row_of(&html, "search_exact/mixtral/4096");
        assert!(row.contains("<td class=\"setup\">4096 d</td>"), "{row}");
        assert!(row.contains("<td>exact scan</td>"), "{row}");
        // filtered: the planner's note said once, no note column.
        let filtered = section_of(&html, "filtered");
        assert_eq!(
            filtered
                .matches("the planner may scan a selective filter")
                .count(),
            1,
            "{filtered}"
        );
        assert!(
            filtered.contains("<b>Note:</b> the planner may scan"),
            "{filtered}"
        );
        assert!(!filtered.contains("<th>note</th>"), "{filtered}");
        assert!(filtered.contains("<th>selectivity</th>"), "{filtered}");
        let row = row_of(&html, "filtered/keyword/unindexed/0.1");
        assert!(
            row.contains("<td class=\"setup\">no payload index</td>"),
            "{row}"
        );
        // hnsw: the build's m=8 differs from the searches' m=16: m stays in the rows.
        let hnsw = section_of(&html, "hnsw");
        assert!(
            !hnsw[..hnsw.find("<table>").unwrap()].contains("m=16"),
            "{hnsw}"
        );
        assert!(row_of(&html, "hnsw_build/768d/efc100/8").contains("m=8"));
        // A suite whose rows share nothing still has its one line.
        let shared = SharedSetup::of(&[
            &record("a/b/1", None).with_engine("x"),
            &QualityRecord::new("a", None, Some("2")).with_engine("y"),
        ]);
        assert!(shared.html("s").contains("nothing alike"));
    }

    #[test]
    fn each_suites_chart_is_drawn_from_its_records_and_criterions_estimates() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let means = fixture(root);
        latency_chart_is_mean_time_by_dimension_labelled_with_recall(root, &means);
        throughput_chart_is_elements_per_second_by_batch_size(root, &means);
        filtered_chart_is_mean_time_by_selectivity(root, &means);
        hnsw_chart_is_recall_against_mean_time_by_ef(root, &means);
        other_suites_chart_is_each_benchmarks_mean_time(root);
        each_chart_stands_above_its_suites_table(root);
    }

    fn latency_chart_is_mean_time_by_dimension_labelled_with_recall(
        root: &Path,
        means: &BTreeMap<String, f64>,
    ) {
        let ms = |id: &str| means[id] / 1e6;
        // latency: mean time per dimension, a line per group, each point labelled with recall.
        let rows = suite_rows(root, "latency");
        let refs: Vec<&SummaryRow> = rows.iter().collect();
        let (panel, labels) = lines(suite_chart("latency", &refs).unwrap());
        assert_eq!(
            points(&panel),
            [
                (
                    "search",
                    vec![
                        (768.0, ms("search/deepcoder/768")),
                        (1536.0, ms("search/general/1536")),
                        (4096.0, ms("search/mixtral/4096"))
                    ]
                ),
                (
                    "search_exact",
                    vec![
                        (768.0, ms("search_exact/deepcoder/768")),
                        (1536.0, ms("search_exact/general/1536")),
                        (4096.0, ms("search_exact/mixtral/4096"))
                    ]
                ),
            ]
        );
        assert_eq!(
            labels,
            [
                vec!["recall 0.990", "recall 0.980", "recall 0.970"],
                vec!["recall 1.000", "recall 1.000", "recall 1.000"]
            ]
        );
        // An exact scan 60-200 times an HNSW search: a log axis.
        assert_eq!((panel.x_axis, panel.y_axis), (Axis::Linear, Axis::Log));
    }

    fn throughput_chart_is_elements_per_second_by_batch_size(
        root: &Path,
        means: &BTreeMap<String, f64>,
    ) {
        // throughput: elements per second (batch over the mean) by batch size.
        let rows = suite_rows(root, "throughput");
        let refs: Vec<&SummaryRow> = rows.iter().collect();
        let (panel, _) = lines(suite_chart("throughput", &refs).unwrap());
        let eps = |id: &str, batch: f64| batch / (means[id] / 1e9);
        assert_eq!(
            points(&panel),
            [
                (
                    "upsert deepcoder",
                    vec![
                        (1.0, eps("upsert/deepcoder/1", 1.0)),
                        (16.0, eps("upsert/deepcoder/16", 16.0)),
                        (256.0, eps("upsert/deepcoder/256", 256.0))
                    ]
                ),
                (
                    "search_batch deepcoder",
                    vec![
                        (1.0, eps("search_batch/deepcoder/1", 1.0)),
                        (16.0, eps("search_batch/deepcoder/16", 16.0)),
                        (256.0, eps("search_batch/deepcoder/256", 256.0))
                    ]
                ),
            ]
        );
        assert_eq!(panel.x_axis, Axis::Log);
    }

    fn filtered_chart_is_mean_time_by_selectivity(root: &Path, means: &BTreeMap<String, f64>) {
        let ms = |id: &str| means[id] / 1e6;
        // filtered: mean time by selectivity (in order), a line per kind and index.
        let rows = suite_rows(root, "filtered");
        let refs: Vec<&SummaryRow> = rows.iter().collect();
        let (panel, _) = lines(suite_chart("filtered", &refs).unwrap());
        let by_pct = |id: &str| {
            ["0.1", "10", "100"]
                .iter()
                .map(|pct| (pct.parse::<f64>().unwrap(), ms(&format!("{id}/{pct}"))))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            points(&panel),
            [
                ("keyword indexed", by_pct("filtered/keyword/indexed")),
                ("keyword unindexed", by_pct("filtered/keyword/unindexed")),
                ("integer indexed", by_pct("filtered/integer/indexed")),
            ]
        );
        // 0.1 % to 100 %, and an unindexed filter 80 times an indexed one: log axes.
        assert_eq!((panel.x_axis, panel.y_axis), (Axis::Log, Axis::Log));
    }

    fn hnsw_chart_is_recall_against_mean_time_by_ef(root: &Path, means: &BTreeMap<String, f64>) {
        let ms = |id: &str| means[id] / 1e6;
        // hnsw: the searches' recall against their mean time, by ef; the build left out.
        let rows = suite_rows(root, "hnsw");
        let refs: Vec<&SummaryRow> = rows.iter().collect();
        let (panel, labels) = lines(suite_chart("hnsw", &refs).unwrap());
        assert_eq!(
            points(&panel),
            [(
                "hnsw_search/768d",
                vec![
                    (0.8, ms("hnsw_search/768d/16")),
                    (0.95, ms("hnsw_search/768d/64")),
                    (0.999, ms("hnsw_search/768d/256"))
                ]
            )]
        );
        assert_eq!(labels, [vec!["ef=16", "ef=64", "ef=256"]]);
        assert_eq!(panel.x_label, "recall@10");
        assert!(!panel.title.contains("at every ef"), "{}", panel.title);
        // A small collection where every ef finds the true neighbours: the caption says so.
        let mut flat = rows.clone();
        for row in &mut flat {
            if let Some(r) = row.record.as_mut().and_then(|r| r.recall.as_mut()) {
                r.value = 1.0;
            }
        }
        let refs: Vec<&SummaryRow> = flat.iter().collect();
        let (panel, _) = lines(suite_chart("hnsw", &refs).unwrap());
        assert!(
            panel.title.ends_with("(recall@10 is 1.000 at every ef)"),
            "{}",
            panel.title
        );
    }

    fn other_suites_chart_is_each_benchmarks_mean_time(root: &Path) {
        // Any other suite: its benchmarks' mean times.
        let rows = suite_rows(root, "groundtruth");
        let refs: Vec<&SummaryRow> = rows.iter().collect();
        let SuiteChart::Bars(bars) = suite_chart("groundtruth", &refs).unwrap() else {
            panic!("bars");
        };
        assert_eq!(bars.groups, ["768", "4096"]);
        assert_eq!(bars.y_label, "mean time (ms)");
        assert_eq!(
            bars.series,
            [("mean time".to_string(), vec![Some(200.0), Some(900.0)])]
        );
    }

    fn each_chart_stands_above_its_suites_table(root: &Path) {
        // The page: each suite's chart above its table, its marks tagged with the series.
        let (path, _) = write_summary(root).unwrap();
        let html = fs::read_to_string(path).unwrap();
        for suite in ["latency", "throughput", "filtered", "hnsw", "groundtruth"] {
            let section = section_of(&html, suite);
            assert_eq!(
                section.matches("<figure class=\"chart\">").count(),
                1,
                "{suite}"
            );
            assert!(section.find("<figure").unwrap() < section.find("<table>").unwrap());
        }
        let hnsw = section_of(&html, "hnsw");
        assert_eq!(
            hnsw.matches("<circle data-series=\"hnsw_search/768d\"")
                .count(),
            3,
            "{hnsw}"
        );
        assert!(hnsw.contains(">\nef=16\n</text>"), "{hnsw}");
        let filtered = section_of(&html, "filtered");
        assert_eq!(
            filtered
                .matches("<circle data-series=\"keyword unindexed\"")
                .count(),
            3,
            "{filtered}"
        );
    }

    #[test]
    fn a_suite_criterion_has_not_measured_says_why_it_has_no_chart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A --test run: records, no estimates.
        save_suite(
            root,
            "hnsw",
            vec![
                QualityRecord::new("hnsw_search/768d", None, Some("16")).with_recall(10, 0.8, 200),
            ],
        )
        .unwrap();
        let rows = suite_rows(root, "hnsw");
        let refs: Vec<&SummaryRow> = rows.iter().collect();
        let why = suite_chart("hnsw", &refs).unwrap_err();
        assert!(why.contains("--test"), "{why}");
        let (path, _) = write_summary(root).unwrap();
        let html = fs::read_to_string(path).unwrap();
        let section = section_of(&html, "hnsw");
        assert!(!section.contains("<figure"), "{section}");
        assert!(
            section.contains("class=\"muted nochart\">No chart"),
            "{section}"
        );
    }
}
