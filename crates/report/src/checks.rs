//! Targets as data: each check has a name, the collection it is about, a measured value with its
//! sample size, a limit and a verdict. A check that could not run (no cache configured, no
//! gateway given, server telemetry not collected) is listed as `not run` with the reason: it is
//! never counted as met.
//!
//! Exit policy ([`exit_code`]): 0 when every check that ran passed, 1 when any check that ran
//! missed, 2 when the run itself could not happen (the binary returns 2 on errors). With
//! `strict`, a check that did not run counts as missed (exit 1).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::run::RunResult;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    Failed,
    NotRun,
    /// Not measured at the target's size but extrapolated from smaller measured sizes (the
    /// note gives the figures and how far the same extrapolation missed a measured size). Not
    /// `met`, and never a reason to exit 1.
    Extrapolated,
    /// A figure the run reports without a target to judge it against (the configuration gives
    /// none: disk and network I/O). Neither met nor missed; never a reason to exit 1.
    Figure,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Passed => "met",
            Verdict::Failed => "MISSED",
            Verdict::NotRun => "not run",
            Verdict::Extrapolated => "extrapolated",
            Verdict::Figure => "figure",
        })
    }
}

/// How the measured value must compare with the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bound {
    /// measured < limit
    #[serde(rename = "<")]
    Below,
    /// measured <= limit
    #[serde(rename = "<=")]
    AtMost,
    /// measured > limit
    #[serde(rename = ">")]
    Above,
    /// measured >= limit
    #[serde(rename = ">=")]
    AtLeast,
}

impl Bound {
    pub fn symbol(&self) -> &'static str {
        match self {
            Bound::Below => "<",
            Bound::AtMost => "<=",
            Bound::Above => ">",
            Bound::AtLeast => ">=",
        }
    }

    pub fn holds(&self, measured: f64, limit: f64) -> bool {
        match self {
            Bound::Below => measured < limit,
            Bound::AtMost => measured <= limit,
            Bound::Above => measured > limit,
            Bound::AtLeast => measured >= limit,
        }
    }
}

/// One target checked against a measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `latency_mean`, `latency_p95`, `throughput_sustained`, ...
    pub name: String,
    /// A collection name, or `overall`.
    pub collection: String,
    pub measured: Option<f64>,
    pub unit: String,
    pub limit: f64,
    pub bound: Bound,
    /// How many requests (or samples) the measured value summarises.
    pub samples: Option<u64>,
    /// `true`/`false` for a check that ran, `null` for one that did not.
    pub passed: Option<bool>,
    pub verdict: Verdict,
    /// Why a check did not run, or how its limit was scaled (`--quick`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Check {
    /// A check that ran: the verdict follows from the value, limit and bound.
    pub fn measured(
        name: &str,
        collection: &str,
        measured: f64,
        unit: &str,
        bound: Bound,
        limit: f64,
        samples: u64,
    ) -> Self {
        let passed = measured.is_finite() && bound.holds(measured, limit);
        Self {
            name: name.into(),
            collection: collection.into(),
            measured: Some(measured),
            unit: unit.into(),
            limit,
            bound,
            samples: Some(samples),
            passed: Some(passed),
            verdict: if passed {
                Verdict::Passed
            } else {
                Verdict::Failed
            },
            note: None,
        }
    }

    /// A check that could not run, with the reason.
    pub fn not_run(
        name: &str,
        collection: &str,
        unit: &str,
        bound: Bound,
        limit: f64,
        why: &str,
    ) -> Self {
        Self {
            samples: None,
            passed: None,
            verdict: Verdict::NotRun,
            ..Self::failed_without_value(name, collection, unit, bound, limit, why)
        }
    }

    /// A check judged on an extrapolation: `measured` is what was measured (the largest size),
    /// the note the extrapolated figures and their back-test error.
    pub fn extrapolated(
        name: &str,
        collection: &str,
        measured: f64,
        unit: &str,
        bound: Bound,
        limit: f64,
        note: &str,
    ) -> Self {
        Self {
            samples: None,
            passed: None,
            verdict: Verdict::Extrapolated,
            ..Self::measured(name, collection, measured, unit, bound, limit, 0).with_note(note)
        }
    }

    /// A figure without a target ([`Verdict::Figure`]): measured, with its sample size and
    /// note, or (`measured` None) not collected, the note saying why.
    pub fn figure(
        name: &str,
        collection: &str,
        measured: Option<f64>,
        unit: &str,
        samples: u64,
        note: &str,
    ) -> Self {
        let mut c = Self::measured(name, collection, 0.0, unit, Bound::AtMost, 0.0, samples);
        (c.measured, c.passed, c.verdict) = (measured, None, Verdict::Figure);
        if measured.is_none() {
            c.samples = None;
        }
        c.with_note(note)
    }

    /// A check whose measurement failed outright (the run had no samples).
    pub fn failed_without_value(
        name: &str,
        collection: &str,
        unit: &str,
        bound: Bound,
        limit: f64,
        why: &str,
    ) -> Self {
        // A value that holds no bound: missed, with no samples.
        Self {
            measured: None,
            ..Self::measured(name, collection, f64::NAN, unit, bound, limit, 0).with_note(why)
        }
    }

    /// The same check judged missed whatever its value, because the measurement cannot be
    /// trusted (`why`: the cache lost Redis mid-check, say); the value stays beside the reason.
    pub fn missed_because(mut self, why: impl Into<String>) -> Self {
        self.passed = Some(false);
        self.verdict = Verdict::Failed;
        self.note = Some(match self.note.take() {
            Some(note) => format!("{}; {note}", why.into()),
            None => why.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn measured_text(&self) -> String {
        match self.measured {
            Some(v) => {
                let n = self.samples.map_or(String::new(), |s| format!(" (n={s})"));
                if self.unit.is_empty() {
                    format!("{}{n}", number(v))
                } else {
                    format!("{} {}{n}", number(v), self.unit)
                }
            }
            None => "-".into(),
        }
    }

    pub fn limit_text(&self) -> String {
        if self.verdict == Verdict::Figure {
            return "no target".into();
        }
        format!(
            "{} {} {}",
            self.bound.symbol(),
            number(self.limit),
            self.unit
        )
        .trim_end()
        .to_string()
    }
}

/// `all_nodes_served` of a run against several server nodes (or one that was lost): missed when
/// any node was lost mid-run (a request could not reach it), the note naming each lost node, the
/// second it was lost and whether it came back; `None` for other runs. A lost node is judged on
/// its own, not averaged into the error rate.
pub fn all_nodes_served(r: &RunResult) -> Option<Check> {
    if !r.shows_nodes() {
        return None;
    }
    let lost: Vec<String> = r.lost_nodes().filter_map(|n| n.lost_text()).collect();
    let check = Check::measured(
        "all_nodes_served",
        "overall",
        lost.len() as f64,
        "nodes lost",
        Bound::AtMost,
        0.0,
        r.nodes.len() as u64,
    );
    Some(if lost.is_empty() {
        check
    } else {
        check.with_note(lost.join("; "))
    })
}

/// For the error-rate check of a run with per-node figures: where the errors were, e.g.
/// `errors by node: http://h:2 12 (unreachable 12)`; `None` when no node had errors.
pub fn errors_by_node_note(r: &RunResult) -> Option<String> {
    let at: Vec<String> = r
        .nodes
        .iter()
        .filter(|n| n.errors > 0)
        .map(|n| format!("{} {}", n.url, n.errors_text()))
        .collect();
    (!at.is_empty()).then(|| format!("errors by node: {}", at.join("; ")))
}

/// A number in a readable precision.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v);
        // Thousands separators.
        let (sign, digits) = s.split_at(if v < 0.0 { 1 } else { 0 });
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Counts of each verdict but `extrapolated` (see [`extrapolated_count`]).
pub fn tally(checks: &[Check]) -> (usize, usize, usize) {
    let count = |v| checks.iter().filter(|c| c.verdict == v).count();
    (
        count(Verdict::Passed),
        count(Verdict::Failed),
        count(Verdict::NotRun),
    )
}

/// How many checks were judged on an extrapolation.
pub fn extrapolated_count(checks: &[Check]) -> usize {
    checks
        .iter()
        .filter(|c| c.verdict == Verdict::Extrapolated)
        .count()
}

/// 0 when every check that ran passed (and, with `strict`, every check ran); 1 otherwise. An
/// `extrapolated` check neither passes nor fails: it never makes the code 1, with or without
/// `strict`.
pub fn exit_code(checks: &[Check], strict: bool) -> u8 {
    let (_, failed, not_run) = tally(checks);
    if failed > 0 || (strict && not_run > 0) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_bound_and_not_run_is_never_met() {
        let ok = Check::measured(
            "latency_mean",
            "mixtral",
            4.0,
            "ms",
            Bound::Below,
            10.0,
            100,
        );
        let miss = Check::measured(
            "latency_p95",
            "mixtral",
            25.0,
            "ms",
            Bound::Below,
            20.0,
            100,
        );
        let edge = Check::measured("errors", "overall", 0.0, "", Bound::AtMost, 0.0, 100);
        let skip = Check::not_run(
            "cache_hit_rate",
            "overall",
            "%",
            Bound::Above,
            90.0,
            "no cache configured",
        );
        assert_eq!(ok.verdict, Verdict::Passed);
        assert_eq!(miss.verdict, Verdict::Failed);
        assert_eq!(edge.verdict, Verdict::Passed);
        assert_eq!(skip.passed, None);
        assert_eq!(
            exit_code(&[ok.clone(), edge.clone(), skip.clone()], false),
            0
        );
        assert_eq!(exit_code(&[ok.clone(), skip.clone()], true), 1);
        assert_eq!(exit_code(&[ok, miss, skip], false), 1);
        let nan = Check::measured("x", "y", f64::NAN, "ms", Bound::Below, 1.0, 0);
        assert_eq!(nan.verdict, Verdict::Failed);
        // A figure is neither met nor missed, with or without strict, and says it has no target.
        let io = Check::figure("disk_io", "overall", Some(5.0), "MB/s", 30, "from /proc");
        assert_eq!((io.verdict, io.passed), (Verdict::Figure, None));
        assert_eq!(io.limit_text(), "no target");
        assert_eq!(tally(std::slice::from_ref(&io)), (0, 0, 0));
        assert_eq!(exit_code(std::slice::from_ref(&io), true), 0);
        let back: Check = serde_json::from_str(&serde_json::to_string(&io).unwrap()).unwrap();
        assert_eq!(back, io);
        let none = Check::figure("network_io", "overall", None, "MB/s", 0, "no host source");
        assert_eq!((none.measured_text(), none.samples), ("-".into(), None));
        assert_eq!(exit_code(&[none], true), 0);
    }

    #[test]
    fn an_extrapolated_check_is_neither_met_nor_missed_and_never_exits_1() {
        let ok = Check::measured("errors", "overall", 0.0, "", Bound::AtMost, 0.0, 100);
        let x = Check::extrapolated(
            "scalability",
            "overall",
            1e6,
            "vectors",
            Bound::AtLeast,
            1e8,
            "p50 2.00 ms at 100M (back-test error +5.0 %)",
        );
        assert_eq!(x.verdict, Verdict::Extrapolated);
        assert_eq!(x.passed, None);
        assert_eq!(x.verdict.to_string(), "extrapolated");
        assert_eq!(
            serde_json::to_value(x.verdict).unwrap(),
            serde_json::json!("extrapolated")
        );
        let checks = [ok, x];
        assert_eq!(exit_code(&checks, false), 0);
        assert_eq!(exit_code(&checks, true), 0);
        assert_eq!(tally(&checks), (1, 0, 0));
        assert_eq!(extrapolated_count(&checks), 1);
    }
}
