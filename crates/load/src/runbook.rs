//! big-ann-benchmarks' streaming runbooks (`neurips23/runbooks/*.yaml` in
//! harsha-simhadri/big-ann-benchmarks), read as is.
//!
//! A file maps dataset names to runbooks. Each runbook has `max_pts` (the most points present
//! at once), an optional `gt_url` (their precomputed truth: ignored here, the truth is computed
//! exactly as the run goes), and steps numbered 1..n, each an `operation`:
//! - `insert` with `start`, `end`: the tags `start..end` (half open) are inserted, tag t with
//!   the vector of row t;
//! - `delete` with `start`, `end`: the tags `start..end` are deleted;
//! - `replace` with `tags_start`, `tags_end`, `ids_start`, `ids_end`: tag t henceforth has the
//!   vector of row `ids_start + (t - tags_start)`;
//! - `search`: the points present (the tags alive after the steps before it) are searched and
//!   scored.
//!
//! [`Runbook::validate`] replays the steps over the tag set before any work and refuses what
//! cannot run, naming the step, the key and the fix.

use std::collections::BTreeMap;
use std::fmt;

use yaml_serde::Value;

/// One step's operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Insert {
        start: usize,
        end: usize,
    },
    Delete {
        start: usize,
        end: usize,
    },
    Replace {
        tags_start: usize,
        tags_end: usize,
        ids_start: usize,
        ids_end: usize,
    },
    Search,
}

impl Op {
    /// `insert`, `delete`, `replace` or `search`.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Insert { .. } => "insert",
            Op::Delete { .. } => "delete",
            Op::Replace { .. } => "replace",
            Op::Search => "search",
        }
    }

    /// Points the step writes (0 for a search).
    pub fn points(&self) -> usize {
        match *self {
            Op::Insert { start, end } | Op::Delete { start, end } => end - start,
            Op::Replace {
                tags_start,
                tags_end,
                ..
            } => tags_end - tags_start,
            Op::Search => 0,
        }
    }
}

/// One numbered step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based, as in the file.
    pub number: usize,
    pub op: Op,
}

impl Step {
    /// The step's stable label in reports: `step 3 delete`.
    pub fn label(&self) -> String {
        format!("step {} {}", self.number, self.op.name())
    }
}

/// One dataset's runbook.
#[derive(Clone, Debug)]
pub struct Runbook {
    /// The dataset key it was read from.
    pub dataset: String,
    pub max_pts: usize,
    /// Present in the file, not used (the truth is computed exactly during the run).
    pub gt_url: Option<String>,
    pub steps: Vec<Step>,
}

/// A runbook that cannot run: what is wrong, where, and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunbookError(pub String);

impl fmt::Display for RunbookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunbookError {}

fn err<T>(msg: String) -> Result<T, RunbookError> {
    Err(RunbookError(msg))
}

fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

impl Runbook {
    /// Reads the runbook of `dataset` from the YAML `text` (of file `source`, for errors); with
    /// no `dataset`, the file's only one.
    pub fn from_yaml(
        text: &str,
        dataset: Option<&str>,
        source: &str,
    ) -> Result<Self, RunbookError> {
        let doc: Value = yaml_serde::from_str(text)
            .map_err(|e| RunbookError(format!("{source}: not YAML: {e}")))?;
        let Value::Mapping(top) = doc else {
            return err(format!(
                "{source}: a runbook file maps dataset names to runbooks (random-xs: {{max_pts: 10000, 1: {{operation: insert, start: 0, end: 10000}}, ...}})"
            ));
        };
        let keys: Vec<String> = top.keys().map(key_name).collect();
        let (name, body) = match dataset {
            Some(d) => match top.iter().find(|(k, _)| key_name(k) == d) {
                Some((_, v)) => (d.to_string(), v),
                None => {
                    return err(format!(
                        "{source}: no dataset key {d:?}; the file has {}: pick one with --runbook-dataset",
                        keys.join(", ")
                    ));
                }
            },
            None if top.len() == 1 => {
                let (k, v) = top.iter().next().expect("one");
                (key_name(k), v)
            }
            None => {
                return err(format!(
                    "{source}: the file has {} dataset keys ({}): pick one with --runbook-dataset",
                    keys.len(),
                    keys.join(", ")
                ));
            }
        };
        let Value::Mapping(body) = body else {
            return err(format!(
                "{source}: {name}: a runbook is a mapping of max_pts and numbered steps"
            ));
        };
        let at = |what: &str| format!("{source}: {name}: {what}");
        let max_pts = match body.get("max_pts") {
            Some(v) => v.as_u64().filter(|&m| m > 0).ok_or_else(|| {
                RunbookError(at(&format!(
                    "max_pts = {}: the most points present at once, a whole number > 0",
                    key_name(v)
                )))
            })? as usize,
            None => {
                return err(at(
                    "key max_pts is missing: add `max_pts: N`, the most points present at once (big-ann-benchmarks' own load_runbook.py refuses a runbook without it too)",
                ));
            }
        };
        let gt_url = body
            .get("gt_url")
            .and_then(|v| v.as_str())
            .map(String::from);
        let mut numbered: BTreeMap<u64, &Value> = BTreeMap::new();
        for (k, v) in body {
            match k {
                Value::Number(n) if n.as_u64().is_some() => {
                    numbered.insert(n.as_u64().expect("checked"), v);
                }
                Value::String(s) if s == "max_pts" || s == "gt_url" => {}
                other => {
                    return err(at(&format!(
                        "unknown key {}: a runbook holds max_pts, gt_url and steps numbered 1, 2, ...",
                        key_name(other)
                    )));
                }
            }
        }
        if numbered.is_empty() {
            return err(at(
                "no steps: add steps numbered 1, 2, ... (1: {operation: insert, start: 0, end: 1000})",
            ));
        }
        let mut steps = Vec::new();
        for (i, (&n, v)) in numbered.iter().enumerate() {
            if n != i as u64 + 1 {
                return err(at(&format!(
                    "step {} is missing (steps are numbered 1, 2, ... without gaps; the next found is {n})",
                    i + 1
                )));
            }
            steps.push(Step {
                number: n as usize,
                op: parse_op(v, &at(&format!("step {n}")))?,
            });
        }
        Ok(Self {
            dataset: name,
            max_pts,
            gt_url,
            steps,
        })
    }

    /// Rows of the dataset the runbook reads (the highest `end` or `ids_end`).
    pub fn rows_needed(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s.op {
                Op::Insert { end, .. } => end,
                Op::Replace { ids_end, .. } => ids_end,
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// Replays the steps over the tag set, before any work: refuses an insert of a tag present,
    /// a delete or replace of a tag absent, more than `max_pts` present after a step, and a row
    /// past the dataset's `rows`. Returns the points present after each step. `more_rows` is how
    /// the user gets a larger dataset (`--points`).
    pub fn validate(&self, rows: usize, more_rows: &str) -> Result<Vec<usize>, RunbookError> {
        let top = self
            .steps
            .iter()
            .map(|s| match s.op {
                Op::Insert { end, .. } | Op::Delete { end, .. } => end,
                Op::Replace { tags_end, .. } => tags_end,
                Op::Search => 0,
            })
            .max()
            .unwrap_or(0);
        let mut alive = vec![false; top];
        let mut present = 0usize;
        let mut out = Vec::new();
        let d = &self.dataset;
        for s in &self.steps {
            let at = |key: &str| {
                format!(
                    "runbook {d}: step {} ({}), key {key}",
                    s.number,
                    s.op.name()
                )
            };
            let past = |key: &str, row: usize| {
                RunbookError(format!(
                    "{}: row {row} is past the dataset's {rows} rows; make the dataset larger with {more_rows} (at least {}) or use rows below {rows}",
                    at(key),
                    self.rows_needed()
                ))
            };
            match s.op {
                Op::Insert { start, end } => {
                    if end > rows {
                        return Err(past("end", end - 1));
                    }
                    if let Some(t) = (start..end).find(|&t| alive[t]) {
                        return err(format!(
                            "{}: tag {t} is already present (inserted before and not deleted); insert only absent tags, or delete it first",
                            at("start")
                        ));
                    }
                    alive[start..end].fill(true);
                    present += end - start;
                }
                Op::Delete { start, end } => {
                    if let Some(t) = (start..end).find(|&t| !alive[t]) {
                        return err(format!(
                            "{}: tag {t} is not present (never inserted, or deleted before); delete only present tags",
                            at("start")
                        ));
                    }
                    alive[start..end].fill(false);
                    present -= end - start;
                }
                Op::Replace {
                    tags_start,
                    tags_end,
                    ids_end,
                    ..
                } => {
                    if ids_end > rows {
                        return Err(past("ids_end", ids_end - 1));
                    }
                    if let Some(t) = (tags_start..tags_end).find(|&t| !alive[t]) {
                        return err(format!(
                            "{}: tag {t} is not present (never inserted, or deleted before); replace only present tags",
                            at("tags_start")
                        ));
                    }
                }
                Op::Search => {}
            }
            if present > self.max_pts {
                return err(format!(
                    "{}: {present} points present after the step, more than max_pts = {}; raise max_pts or delete before inserting",
                    at("max_pts"),
                    self.max_pts
                ));
            }
            out.push(present);
        }
        Ok(out)
    }
}

fn parse_op(v: &Value, at: &str) -> Result<Op, RunbookError> {
    let Value::Mapping(m) = v else {
        return err(format!(
            "{at}: a step is a mapping with an operation (operation: search)"
        ));
    };
    let Some(op) = m.get("operation") else {
        return err(format!(
            "{at}: key operation is missing: one of insert, delete, replace, search"
        ));
    };
    let num = |key: &str| -> Result<usize, RunbookError> {
        match m.get(key) {
            Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
                RunbookError(format!(
                    "{at}: key {key} = {}: a row number >= 0",
                    key_name(v)
                ))
            }),
            None => err(format!(
                "{at} ({}): key {key} is missing; add it (a row number, half-open ranges start..end)",
                op.as_str().unwrap_or("?")
            )),
        }
    };
    let range = |a: &str, b: &str| -> Result<(usize, usize), RunbookError> {
        let (s, e) = (num(a)?, num(b)?);
        if e <= s {
            return err(format!(
                "{at}: key {b} = {e} is not above {a} = {s}: the range {a}..{b} is half open and holds at least one row"
            ));
        }
        Ok((s, e))
    };
    match op.as_str() {
        Some("insert") => {
            let (start, end) = range("start", "end")?;
            Ok(Op::Insert { start, end })
        }
        Some("delete") => {
            let (start, end) = range("start", "end")?;
            Ok(Op::Delete { start, end })
        }
        Some("replace") => {
            let (tags_start, tags_end) = range("tags_start", "tags_end")?;
            let (ids_start, ids_end) = range("ids_start", "ids_end")?;
            if tags_end - tags_start != ids_end - ids_start {
                return err(format!(
                    "{at} (replace): key ids_end: tags {tags_start}..{tags_end} ({} tags) and ids {ids_start}..{ids_end} ({} rows) differ in length; give as many rows as tags",
                    tags_end - tags_start,
                    ids_end - ids_start
                ));
            }
            Ok(Op::Replace {
                tags_start,
                tags_end,
                ids_start,
                ids_end,
            })
        }
        Some("search") => Ok(Op::Search),
        _ => err(format!(
            "{at}: key operation = {}: unknown; one of insert, delete, replace, search",
            key_name(op)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAND: &str = "
tiny:
  max_pts: 1000
  gt_url: \"https://example.org/ignored\"
  1: {operation: insert, start: 0, end: 1000}
  2: {operation: search}
  3: {operation: delete, start: 0, end: 500}
  4: {operation: search}
  5: {operation: replace, tags_start: 500, tags_end: 750, ids_start: 1000, ids_end: 1250}
  6: {operation: search}
";

    #[test]
    fn big_anns_simple_runbook_reads_as_is() {
        let text = include_str!("../../../fixtures/runbooks/simple_runbook.yaml");
        let e = Runbook::from_yaml(text, None, "simple_runbook.yaml").unwrap_err();
        assert!(
            e.0.contains("random-xs") && e.0.contains("--runbook-dataset"),
            "{e}"
        );
        let r = Runbook::from_yaml(text, Some("random-xs"), "simple_runbook.yaml").unwrap();
        assert_eq!(r.max_pts, 10_000);
        assert!(r.gt_url.is_some());
        assert_eq!(r.steps.len(), 6);
        assert_eq!(r.steps[2].label(), "step 3 delete");
        assert_eq!(r.rows_needed(), 10_000);
        assert_eq!(
            r.validate(10_000, "--points").unwrap(),
            vec![10_000, 10_000, 5_000, 5_000, 10_000, 10_000]
        );
        let heavy = include_str!("../../../fixtures/runbooks/delete_heavy.yaml");
        let r = Runbook::from_yaml(heavy, None, "delete_heavy.yaml").unwrap();
        let present = r.validate(20_000, "--points").unwrap();
        assert!(present.iter().all(|&p| p <= r.max_pts));
        assert!(r.steps.iter().any(|s| matches!(s.op, Op::Replace { .. })));
    }

    #[test]
    fn a_hand_made_runbook_counts_the_points_present() {
        let r = Runbook::from_yaml(HAND, None, "hand.yaml").unwrap();
        assert_eq!(r.dataset, "tiny");
        assert_eq!(
            r.validate(1250, "--points").unwrap(),
            vec![1000, 1000, 500, 500, 500, 500]
        );
        assert_eq!(r.rows_needed(), 1250);
    }

    /// Every bad runbook is refused with the step (when there is one), the key and the fix.
    #[test]
    fn bad_runbooks_name_the_step_the_key_and_the_fix() {
        let one = |body: &str| format!("tiny:\n  max_pts: 1000\n{body}");
        let cases: Vec<(String, usize, &[&str])> = vec![
            (
                "tiny:\n  1: {operation: search}\n".into(),
                1000,
                &["max_pts is missing", "load_runbook.py"],
            ),
            (
                one("  1: {operation: upsert, start: 0, end: 5}\n"),
                1000,
                &[
                    "step 1",
                    "operation",
                    "unknown",
                    "insert, delete, replace, search",
                ],
            ),
            (
                one("  1: {operation: insert, start: 0}\n"),
                1000,
                &["step 1", "key end is missing"],
            ),
            (
                one(
                    "  1: {operation: insert, start: 0, end: 10}\n  2: {operation: replace, tags_start: 0, tags_end: 5, ids_start: 5}\n",
                ),
                1000,
                &["step 2", "key ids_end is missing"],
            ),
            (
                one(
                    "  1: {operation: insert, start: 0, end: 10}\n  2: {operation: insert, start: 5, end: 20}\n",
                ),
                1000,
                &["step 2 (insert), key start", "tag 5 is already present"],
            ),
            (
                one(
                    "  1: {operation: insert, start: 0, end: 10}\n  2: {operation: delete, start: 5, end: 20}\n",
                ),
                1000,
                &["step 2 (delete), key start", "tag 10 is not present"],
            ),
            (
                one(
                    "  1: {operation: insert, start: 0, end: 10}\n  2: {operation: replace, tags_start: 8, tags_end: 12, ids_start: 20, ids_end: 24}\n",
                ),
                1000,
                &["step 2 (replace), key tags_start", "tag 10 is not present"],
            ),
            (
                one(
                    "  1: {operation: insert, start: 0, end: 600}\n  2: {operation: insert, start: 600, end: 1200}\n",
                ),
                2000,
                &[
                    "step 2 (insert), key max_pts",
                    "1200 points present",
                    "max_pts = 1000",
                ],
            ),
            (
                one("  1: {operation: insert, start: 0, end: 900}\n"),
                500,
                &[
                    "step 1 (insert), key end",
                    "row 899 is past the dataset's 500 rows",
                    "--points",
                ],
            ),
            (
                one(
                    "  1: {operation: insert, start: 0, end: 10}\n  2: {operation: replace, tags_start: 0, tags_end: 5, ids_start: 5, ids_end: 7}\n",
                ),
                1000,
                &["step 2 (replace)", "differ in length"],
            ),
            (
                one("  1: {operation: insert, start: 0, end: 10}\n  3: {operation: search}\n"),
                1000,
                &["step 2 is missing"],
            ),
        ];
        for (text, rows, wanted) in cases {
            let e = Runbook::from_yaml(&text, None, "bad.yaml")
                .and_then(|r| r.validate(rows, "--points").map(|_| ()))
                .expect_err(&text);
            for w in wanted {
                assert!(e.0.contains(w), "{text}\nwanted {w:?} in: {e}");
            }
        }
    }
}
