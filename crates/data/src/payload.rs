//! Seeded payloads with exactly known selectivity.
//!
//! Every point gets three fields, generated like the vectors (portable ChaCha8 words, one stream
//! per chunk of [`CHUNK`] points, so generation is parallel and does not depend on the thread
//! count):
//! - `kw` ([`KEYWORD_FIELD`]): a keyword, one of `keyword_values` values `k0`, `k1`, ... drawn
//!   uniformly or by a Zipf law (value `i` with weight `(i + 1)^-exponent`);
//! - `num` ([`INTEGER_FIELD`]): an integer uniform in an inclusive range;
//! - `price` ([`FLOAT_FIELD`]): a float uniform in `[min, max)` with six decimals (a whole
//!   number of millionths, so its JSON text reads back to the same `f64` with any parser).
//!
//! A filter's selectivity is the fraction of points that match it, counted on the generated data
//! ([`Payloads::select`] picks a condition for a wanted selectivity and returns the exact matching
//! set), never estimated.
//!
//! On disk, payloads are JSON lines (`payloads.jsonl`): line `i` is the payload of point `i`, e.g.
//! `{"kw":"k17","num":52341,"price":713.25}`, the same JSON Qdrant stores.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rand::RngCore;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{DataError, Result};
use crate::files::write_atomic;
use crate::generator::{CHUNK, rng, unit};

/// Version of the payload algorithm; part of the hash of every dataset with payloads.
pub const PAYLOAD_VERSION: u32 = 1;

/// Name of the keyword field.
pub const KEYWORD_FIELD: &str = "kw";
/// Name of the integer field.
pub const INTEGER_FIELD: &str = "num";
/// Name of the float field.
pub const FLOAT_FIELD: &str = "price";

/// Payload streams start here, apart from the vector streams of [`crate::Part`].
const STREAM_BASE: u64 = 3 << 40;

/// The type of a payload field (and of a payload index on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Keyword,
    Integer,
    Float,
}

impl FieldKind {
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Keyword => "keyword",
            FieldKind::Integer => "integer",
            FieldKind::Float => "float",
        }
    }

    /// Parses `keyword`, `integer` or `float`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "keyword" => Ok(FieldKind::Keyword),
            "integer" => Ok(FieldKind::Integer),
            "float" => Ok(FieldKind::Float),
            other => Err(DataError::InvalidSpec {
                field: "field kind",
                value: other.into(),
                reason: "expected one of: keyword, integer, float".into(),
            }),
        }
    }

    /// The generated field of this kind.
    pub fn field(&self) -> &'static str {
        match self {
            FieldKind::Keyword => KEYWORD_FIELD,
            FieldKind::Integer => INTEGER_FIELD,
            FieldKind::Float => FLOAT_FIELD,
        }
    }
}

/// How often each keyword value occurs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "law", deny_unknown_fields)]
pub enum Frequency {
    /// Every value equally likely.
    Uniform,
    /// Value `i` with weight `(i + 1)^-exponent`: a few common values and a long tail, like
    /// tenants or languages.
    Zipf { exponent: f64 },
}

/// Everything that changes the generated payloads (with the dataset's seed and size).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadSpec {
    /// Number of distinct keyword values.
    pub keyword_values: usize,
    pub keyword_frequency: Frequency,
    /// Inclusive range of the integer field.
    pub integer_min: i64,
    pub integer_max: i64,
    /// Half-open range `[min, max)` of the float field (values have six decimals; both bounds
    /// within ±1e9).
    pub float_min: f64,
    pub float_max: f64,
}

impl Default for PayloadSpec {
    /// 1,000 uniform keywords (each matches about 0.1 % of points), integers in
    /// [0, 999,999,999] (so ties are rare and a range can match an exact count), floats in
    /// [0, 1000).
    fn default() -> Self {
        Self {
            keyword_values: 1_000,
            keyword_frequency: Frequency::Uniform,
            integer_min: 0,
            integer_max: 999_999_999,
            float_min: 0.0,
            float_max: 1000.0,
        }
    }
}

fn invalid(field: &'static str, value: impl ToString, reason: &str) -> DataError {
    DataError::InvalidSpec {
        field,
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl PayloadSpec {
    /// Checks every field; errors name the field and what is allowed.
    pub fn validate(&self) -> Result<()> {
        if self.keyword_values == 0 || self.keyword_values > u32::MAX as usize {
            return Err(invalid(
                "payload.keyword_values",
                self.keyword_values,
                "need at least 1 distinct keyword value (and at most 4,294,967,295)",
            ));
        }
        if let Frequency::Zipf { exponent } = self.keyword_frequency
            && !(exponent.is_finite() && exponent > 0.0)
        {
            return Err(invalid(
                "payload.keyword_frequency.exponent",
                exponent,
                "a Zipf exponent must be finite and > 0 (use `uniform` for equal frequencies)",
            ));
        }
        if self.integer_min > self.integer_max {
            return Err(invalid(
                "payload.integer_min",
                format!("{} > integer_max {}", self.integer_min, self.integer_max),
                "the range's min must not exceed its max; swap them",
            ));
        }
        if (self.integer_max as i128 - self.integer_min as i128) >= u64::MAX as i128 {
            return Err(invalid(
                "payload.integer_max",
                self.integer_max,
                "the integer range must span fewer than 2^64 values",
            ));
        }
        if !(self.float_min.is_finite() && self.float_max.is_finite()) {
            return Err(invalid(
                "payload.float_min",
                format!("[{}, {})", self.float_min, self.float_max),
                "the float range must be finite",
            ));
        }
        if self.float_min.abs() > 1e9 || self.float_max.abs() > 1e9 {
            return Err(invalid(
                "payload.float_min",
                format!("[{}, {})", self.float_min, self.float_max),
                "the float range must lie within [-1e9, 1e9] (values keep six decimals)",
            ));
        }
        if self.float_min > self.float_max {
            return Err(invalid(
                "payload.float_min",
                format!("{} > float_max {}", self.float_min, self.float_max),
                "the range's min must not exceed its max; swap them",
            ));
        }
        Ok(())
    }

    /// The generated fields and their kinds.
    pub fn fields(&self) -> Vec<(String, FieldKind)> {
        fields()
    }
}

/// The generated fields and their kinds, in a fixed order.
pub fn fields() -> Vec<(String, FieldKind)> {
    vec![
        (KEYWORD_FIELD.into(), FieldKind::Keyword),
        (INTEGER_FIELD.into(), FieldKind::Integer),
        (FLOAT_FIELD.into(), FieldKind::Float),
    ]
}

/// Checks a wanted selectivity: a fraction in (0, 1].
pub fn check_selectivity(selectivity: f64) -> Result<()> {
    if !(selectivity > 0.0 && selectivity <= 1.0) {
        return Err(invalid(
            "selectivity",
            selectivity,
            "a selectivity is the fraction of points a filter matches: it must be in (0, 1], \
             e.g. 0.01 for 1 %",
        ));
    }
    Ok(())
}

/// The payloads of a dataset, one row per point, stored by column.
#[derive(Clone, Debug, PartialEq)]
pub struct Payloads {
    vocabulary: Vec<String>,
    keyword: Vec<u32>,
    integer: Vec<i64>,
    float: Vec<f64>,
}

/// A condition on one generated field, chosen to match a wanted fraction of points.
#[derive(Clone, Debug, PartialEq)]
pub enum Bound {
    /// `kw` is any of these values.
    KeywordAny(Vec<String>),
    /// `num <= value`.
    IntegerAtMost(i64),
    /// `price <= value`.
    FloatAtMost(f64),
}

/// What [`Payloads::select`] (or [`SourcePayloads::select`]) chose: the condition and exactly
/// which points match it.
#[derive(Clone, Debug, PartialEq)]
pub struct Selected {
    /// The field the condition is on.
    pub field: String,
    pub kind: FieldKind,
    pub bound: Bound,
    /// Ids (row numbers) of the matching points, ascending.
    pub matching: Vec<u32>,
    /// `matching.len() / points`: the selectivity measured on the data.
    pub selectivity: f64,
}

impl Payloads {
    /// Generates the payloads of `points` points from `seed`, in parallel, deterministically.
    pub fn generate(spec: &PayloadSpec, seed: u64, points: usize) -> Result<Self> {
        spec.validate()?;
        let cdf: Option<Vec<f64>> = match spec.keyword_frequency {
            Frequency::Uniform => None,
            Frequency::Zipf { exponent } => {
                let mut total = 0.0;
                let cdf = (0..spec.keyword_values)
                    .map(|i| {
                        total += libm::pow(i as f64 + 1.0, -exponent);
                        total
                    })
                    .collect::<Vec<f64>>();
                Some(cdf.iter().map(|c| c / total).collect())
            }
        };
        let span = (spec.integer_max as i128 - spec.integer_min as i128 + 1) as u128;
        // Floats are whole millionths in [lo, hi): exact in JSON with any float parser.
        let micro_lo = (spec.float_min * 1e6).ceil() as i64;
        let micro_span = ((spec.float_max * 1e6).ceil() as i64 - micro_lo).max(1) as u128;
        let values = spec.keyword_values as u128;
        let mut keyword = vec![0u32; points];
        let mut integer = vec![0i64; points];
        let mut float = vec![0f64; points];
        keyword
            .par_chunks_mut(CHUNK)
            .zip(integer.par_chunks_mut(CHUNK))
            .zip(float.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(chunk, ((kw, num), price))| {
                let mut rng = rng(seed, STREAM_BASE + chunk as u64);
                for ((k, n), p) in kw.iter_mut().zip(num.iter_mut()).zip(price.iter_mut()) {
                    *k = match &cdf {
                        None => ((rng.next_u64() as u128 * values) >> 64) as u32,
                        Some(cdf) => {
                            let u = unit(&mut rng);
                            cdf.partition_point(|&c| c <= u).min(cdf.len() - 1) as u32
                        }
                    };
                    *n = (spec.integer_min as i128
                        + ((rng.next_u64() as u128 * span) >> 64) as i128)
                        as i64;
                    let micro = micro_lo + ((rng.next_u64() as u128 * micro_span) >> 64) as i64;
                    *p = micro as f64 / 1e6;
                }
            });
        Ok(Self {
            vocabulary: vocabulary(spec.keyword_values),
            keyword,
            integer,
            float,
        })
    }

    pub fn len(&self) -> usize {
        self.keyword.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keyword.is_empty()
    }

    pub fn keyword(&self, i: usize) -> &str {
        &self.vocabulary[self.keyword[i] as usize]
    }

    pub fn integer(&self, i: usize) -> i64 {
        self.integer[i]
    }

    pub fn float(&self, i: usize) -> f64 {
        self.float[i]
    }

    /// The payload of point `i` as Qdrant stores it.
    pub fn to_json(&self, i: usize) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(KEYWORD_FIELD.into(), Value::from(self.keyword(i)));
        m.insert(INTEGER_FIELD.into(), Value::from(self.integer[i]));
        m.insert(FLOAT_FIELD.into(), Value::from(self.float[i]));
        m
    }

    /// Chooses a condition on the field of `kind` that matches `selectivity` of the points, and
    /// returns it with the exact set of points it matches.
    ///
    /// Integer and float: `field <= v` with `v` the ⌈s·N⌉-th smallest value, so exactly ⌈s·N⌉
    /// points match unless that value is tied (then the ties match too; the measured selectivity
    /// says so). Keyword: a set of values whose counts add up as close to ⌈s·N⌉ as the data
    /// allows (exact only when some values' counts sum to it; the measured selectivity says).
    pub fn select(&self, kind: FieldKind, selectivity: f64) -> Result<Selected> {
        check_selectivity(selectivity)?;
        if self.is_empty() {
            return Err(invalid(
                "payloads",
                0,
                "no points to select from; generate a dataset with at least one point",
            ));
        }
        let n = self.len();
        let target = target_count(selectivity, n);
        let bound = match kind {
            FieldKind::Integer => Bound::IntegerAtMost(nth_smallest(self.integer.clone(), target)),
            FieldKind::Float => Bound::FloatAtMost(nth_smallest_f64(self.float.clone(), target)),
            FieldKind::Keyword => {
                let mut counts = vec![0usize; self.vocabulary.len()];
                for &k in &self.keyword {
                    counts[k as usize] += 1;
                }
                let taken = pick_values(&counts, target);
                Bound::KeywordAny(taken.iter().map(|&v| self.vocabulary[v].clone()).collect())
            }
        };
        let matching: Vec<u32> = (0..n)
            .filter(|&i| self.matches(i, &bound))
            .map(|i| i as u32)
            .collect();
        Ok(Selected {
            field: kind.field().to_string(),
            kind,
            selectivity: matching.len() as f64 / n as f64,
            bound,
            matching,
        })
    }

    /// True when point `i` satisfies `bound`.
    pub fn matches(&self, i: usize, bound: &Bound) -> bool {
        match bound {
            Bound::KeywordAny(values) => values.iter().any(|v| v == self.keyword(i)),
            Bound::IntegerAtMost(v) => self.integer[i] <= *v,
            Bound::FloatAtMost(v) => self.float[i] <= *v,
        }
    }

    /// Writes the payloads as JSON lines, atomically (temporary file, then rename).
    pub fn write_jsonl(&self, path: &Path) -> Result<()> {
        write_atomic(path, |out| {
            for i in 0..self.len() {
                serde_json::to_writer(&mut *out, &self.to_json(i))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        })
    }

    /// Reads payloads written by [`Payloads::write_jsonl`] for `spec`; a line that does not
    /// match the spec (a missing field, a keyword outside the vocabulary) is an error naming the
    /// line.
    pub fn read_jsonl(path: &Path, spec: &PayloadSpec) -> Result<Self> {
        let file = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let vocabulary = vocabulary(spec.keyword_values);
        let index: HashMap<&str, u32> = vocabulary
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_str(), i as u32))
            .collect();
        let (mut keyword, mut integer, mut float) = (Vec::new(), Vec::new(), Vec::new());
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| DataError::io(path, e))?;
            let bad = |what: &str| DataError::bad_file(path, format!("line {}: {what}", n + 1));
            let v: Value = serde_json::from_str(&line).map_err(|e| bad(&e.to_string()))?;
            let k = v[KEYWORD_FIELD]
                .as_str()
                .and_then(|s| index.get(s))
                .ok_or_else(|| bad("`kw` is missing or not one of the spec's keyword values"))?;
            keyword.push(*k);
            integer.push(
                v[INTEGER_FIELD]
                    .as_i64()
                    .ok_or_else(|| bad("`num` is missing or not an integer"))?,
            );
            float.push(
                v[FLOAT_FIELD]
                    .as_f64()
                    .ok_or_else(|| bad("`price` is missing or not a number"))?,
            );
        }
        Ok(Self {
            vocabulary,
            keyword,
            integer,
            float,
        })
    }
}

/// The number of points a wanted selectivity of `n` points is: ⌈s·n⌉, at least 1.
fn target_count(selectivity: f64, n: usize) -> usize {
    ((selectivity * n as f64).ceil() as usize).clamp(1, n)
}

/// The `target`-th smallest value (1-based; the largest when there are fewer).
fn nth_smallest(mut values: Vec<i64>, target: usize) -> i64 {
    values.sort_unstable();
    values[target.clamp(1, values.len()) - 1]
}

fn nth_smallest_f64(mut values: Vec<f64>, target: usize) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    values[target.clamp(1, values.len()) - 1]
}

/// Keyword values (indexes into `counts`, ascending) whose counts add up as close to `target`
/// as the data allows: the most frequent first while they fit, then one more when that brings
/// the total closer (or when none fitted at all).
fn pick_values(counts: &[usize], target: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..counts.len()).filter(|&v| counts[v] > 0).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let mut taken = Vec::new();
    let mut sum = 0;
    for &v in &order {
        if sum + counts[v] <= target {
            sum += counts[v];
            taken.push(v);
        }
    }
    if let Some(&extra) = order.iter().rev().find(|v| !taken.contains(v)) {
        let over = sum + counts[extra] - target;
        if taken.is_empty() || over < target.saturating_sub(sum) {
            taken.push(extra);
        }
    }
    taken.sort_unstable();
    taken
}

impl Bound {
    /// True when a payload value satisfies the bound (a missing or other-typed value does not).
    pub fn matches_value(&self, value: Option<&Value>) -> bool {
        match self {
            Bound::KeywordAny(values) => value
                .and_then(Value::as_str)
                .is_some_and(|v| values.iter().any(|w| w == v)),
            Bound::IntegerAtMost(max) => value.and_then(Value::as_i64).is_some_and(|v| v <= *max),
            Bound::FloatAtMost(max) => value.and_then(Value::as_f64).is_some_and(|v| v <= *max),
        }
    }
}

/// A user's dataset's own payloads (VectorDBBench Parquet: train's scalar columns), one JSON
/// object per point, with the fields a filter can use: a column whose every non-null value is a
/// string is a keyword field, one whose every non-null value is an integer is an integer field,
/// one of numbers a float field. Booleans, all-null and mixed columns are uploaded but are not
/// filter fields.
#[derive(Clone, Debug, PartialEq)]
pub struct SourcePayloads {
    rows: Vec<Map<String, Value>>,
    fields: Vec<(String, FieldKind)>,
}

impl SourcePayloads {
    /// The payloads of `rows` (row `i` belongs to point `i`), their fields derived from the values.
    pub fn new(rows: Vec<Map<String, Value>>) -> Self {
        let mut names: Vec<&String> = Vec::new();
        for r in &rows {
            for k in r.keys() {
                if !names.contains(&k) {
                    names.push(k);
                }
            }
        }
        let fields = names
            .into_iter()
            .filter_map(|name| {
                let values = rows
                    .iter()
                    .filter_map(|r| r.get(name))
                    .filter(|v| !v.is_null());
                let (mut strings, mut integers, mut numbers, mut any) = (true, true, true, false);
                for v in values {
                    any = true;
                    strings &= v.is_string();
                    integers &= v.is_i64();
                    numbers &= v.is_number();
                }
                let kind = match (any, strings, integers, numbers) {
                    (false, ..) => return None,
                    (_, true, ..) => FieldKind::Keyword,
                    (_, _, true, _) => FieldKind::Integer,
                    (_, _, _, true) => FieldKind::Float,
                    _ => return None,
                };
                Some((name.clone(), kind))
            })
            .collect();
        Self { rows, fields }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The payload of point `i`.
    pub fn row(&self, i: usize) -> &Map<String, Value> {
        &self.rows[i]
    }

    /// The filter fields and their kinds, in column order.
    pub fn fields(&self) -> &[(String, FieldKind)] {
        &self.fields
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        self.rows.truncate(n);
    }

    /// Chooses a condition on `field` that matches as close to `selectivity` of the points as
    /// the data allows, with the exact set of points it matches: `field <= v` for numbers (the
    /// ⌈s·N⌉-th smallest value, or the largest when fewer points have the field), a set of
    /// values for keywords (as [`Payloads::select`]). Points without the field never match.
    pub fn select(&self, field: &str, selectivity: f64) -> Result<Selected> {
        check_selectivity(selectivity)?;
        let Some(&(_, kind)) = self.fields.iter().find(|(f, _)| f == field) else {
            return Err(invalid(
                "payload field",
                field,
                &format!(
                    "the dataset's filter fields are: {}",
                    self.fields
                        .iter()
                        .map(|(f, k)| format!("{f} ({})", k.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let n = self.len();
        let target = target_count(selectivity, n.max(1));
        let values = self
            .rows
            .iter()
            .filter_map(|r| r.get(field))
            .filter(|v| !v.is_null());
        let bound = match kind {
            FieldKind::Integer => Bound::IntegerAtMost(nth_smallest(
                values.filter_map(Value::as_i64).collect(),
                target,
            )),
            FieldKind::Float => Bound::FloatAtMost(nth_smallest_f64(
                values.filter_map(Value::as_f64).collect(),
                target,
            )),
            FieldKind::Keyword => {
                let mut vocabulary: Vec<&str> = Vec::new();
                let mut index: HashMap<&str, usize> = HashMap::new();
                let mut counts: Vec<usize> = Vec::new();
                for v in values.filter_map(Value::as_str) {
                    let i = *index.entry(v).or_insert_with(|| {
                        vocabulary.push(v);
                        counts.push(0);
                        vocabulary.len() - 1
                    });
                    counts[i] += 1;
                }
                let taken = pick_values(&counts, target);
                Bound::KeywordAny(taken.iter().map(|&v| vocabulary[v].to_string()).collect())
            }
        };
        let matching: Vec<u32> = (0..n)
            .filter(|&i| bound.matches_value(self.rows[i].get(field)))
            .map(|i| i as u32)
            .collect();
        Ok(Selected {
            field: field.to_string(),
            kind,
            selectivity: matching.len() as f64 / n.max(1) as f64,
            bound,
            matching,
        })
    }
}

/// The payloads that go with a dataset's points on upload: generated ones or the source's own.
#[derive(Clone, Copy, Debug)]
pub enum PointPayloads<'a> {
    Generated(&'a Payloads),
    Source(&'a SourcePayloads),
}

impl<'a> From<&'a Payloads> for PointPayloads<'a> {
    fn from(p: &'a Payloads) -> Self {
        PointPayloads::Generated(p)
    }
}

impl<'a> From<&'a SourcePayloads> for PointPayloads<'a> {
    fn from(p: &'a SourcePayloads) -> Self {
        PointPayloads::Source(p)
    }
}

impl PointPayloads<'_> {
    pub fn len(&self) -> usize {
        match self {
            PointPayloads::Generated(p) => p.len(),
            PointPayloads::Source(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload of point `i` as Qdrant stores it.
    pub fn to_json(&self, i: usize) -> Map<String, Value> {
        match self {
            PointPayloads::Generated(p) => p.to_json(i),
            PointPayloads::Source(p) => p.row(i).clone(),
        }
    }

    /// The fields a filter or a payload index can name, with their kinds.
    pub fn fields(&self) -> Vec<(String, FieldKind)> {
        match self {
            PointPayloads::Generated(_) => fields(),
            PointPayloads::Source(p) => p.fields().to_vec(),
        }
    }

    /// A condition on `field` for a wanted selectivity, with its exact matches
    /// ([`Payloads::select`], [`SourcePayloads::select`]).
    pub fn select(&self, field: &str, selectivity: f64) -> Result<Selected> {
        match self {
            PointPayloads::Generated(p) => {
                let kind = [FieldKind::Keyword, FieldKind::Integer, FieldKind::Float]
                    .into_iter()
                    .find(|k| k.field() == field)
                    .ok_or_else(|| {
                        invalid(
                            "payload field",
                            field,
                            "the generated fields are kw, num, price",
                        )
                    })?;
                p.select(kind, selectivity)
            }
            PointPayloads::Source(p) => p.select(field, selectivity),
        }
    }
}

fn vocabulary(values: usize) -> Vec<String> {
    (0..values).map(|i| format!("k{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PayloadSpec {
        PayloadSpec::default()
    }

    #[test]
    fn integer_and_float_selections_match_exactly_the_wanted_fraction() {
        let n = 20_000;
        let p = Payloads::generate(&spec(), 42, n).unwrap();
        for s in [0.001, 0.01, 0.1, 0.5, 1.0] {
            for kind in [FieldKind::Integer, FieldKind::Float] {
                let sel = p.select(kind, s).unwrap();
                let want = (s * n as f64).ceil() as usize;
                // Counted independently of `select`: a plain pass over the generated values.
                let counted = (0..n).filter(|&i| p.matches(i, &sel.bound)).count();
                assert_eq!(counted, want, "{kind:?} at {s}");
                assert_eq!(sel.matching.len(), want, "{kind:?} at {s}");
                assert_eq!(sel.selectivity, want as f64 / n as f64);
            }
        }
    }

    #[test]
    fn keyword_selection_is_close_and_its_selectivity_is_counted() {
        let n = 20_000;
        let p = Payloads::generate(&spec(), 42, n).unwrap();
        for s in [0.001, 0.01, 0.1, 0.5, 1.0] {
            let sel = p.select(FieldKind::Keyword, s).unwrap();
            let Bound::KeywordAny(values) = &sel.bound else {
                panic!("keyword bound expected")
            };
            let counted = (0..n)
                .filter(|&i| values.iter().any(|v| v == p.keyword(i)))
                .count();
            assert_eq!(counted, sel.matching.len());
            let want = s * n as f64;
            // Each uniform keyword holds about 20 of 20,000 points.
            assert!(
                (counted as f64 - want).abs() <= 20.0_f64.max(want * 0.02),
                "at {s}: {counted} points, wanted {want}"
            );
        }
        assert_eq!(p.select(FieldKind::Keyword, 1.0).unwrap().matching.len(), n);
    }

    #[test]
    fn payloads_are_deterministic_and_independent_of_the_thread_count() {
        let spec = PayloadSpec {
            keyword_frequency: Frequency::Zipf { exponent: 1.1 },
            ..spec()
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| Payloads::generate(&spec, 7, 3_000).unwrap());
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| Payloads::generate(&spec, 7, 3_000).unwrap());
        assert_eq!(one, three);
        assert_ne!(one, Payloads::generate(&spec, 8, 3_000).unwrap());
        // Values stay in their ranges.
        for i in 0..one.len() {
            assert!((0..=999_999_999).contains(&one.integer(i)));
            assert!((0.0..1000.0).contains(&one.float(i)));
        }
    }

    #[test]
    fn zipf_keywords_are_skewed_and_uniform_ones_are_not() {
        let count = |p: &Payloads, v: &str| (0..p.len()).filter(|&i| p.keyword(i) == v).count();
        let zipf = Payloads::generate(
            &PayloadSpec {
                keyword_values: 100,
                keyword_frequency: Frequency::Zipf { exponent: 1.0 },
                ..spec()
            },
            1,
            20_000,
        )
        .unwrap();
        // Value 0 has weight 1 / H(100) = 19 %; value 99 has 0.19 %.
        let first = count(&zipf, "k0") as f64 / 20_000.0;
        assert!((first - 0.193).abs() < 0.02, "{first}");
        assert!(count(&zipf, "k99") < 100);
        let uniform = Payloads::generate(
            &PayloadSpec {
                keyword_values: 100,
                ..spec()
            },
            1,
            20_000,
        )
        .unwrap();
        for v in ["k0", "k50", "k99"] {
            let c = count(&uniform, v);
            assert!((140..=260).contains(&c), "{v}: {c}");
        }
    }

    #[test]
    fn jsonl_round_trips_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payloads.jsonl");
        let p = Payloads::generate(&spec(), 3, 500).unwrap();
        p.write_jsonl(&path).unwrap();
        assert_eq!(Payloads::read_jsonl(&path, &spec()).unwrap(), p);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.lines().next().unwrap().starts_with("{\"kw\":\"k"));
        let broken = text.replacen("\"num\"", "\"nom\"", 1);
        fs::write(&path, broken).unwrap();
        let err = Payloads::read_jsonl(&path, &spec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("num"), "{err}");
    }

    #[test]
    fn bad_payload_parameters_are_rejected_with_the_field() {
        let cases = [
            (
                PayloadSpec {
                    keyword_values: 0,
                    ..spec()
                },
                "keyword_values",
            ),
            (
                PayloadSpec {
                    integer_min: 10,
                    integer_max: 5,
                    ..spec()
                },
                "integer_min",
            ),
            (
                PayloadSpec {
                    float_min: 2.0,
                    float_max: 1.0,
                    ..spec()
                },
                "float_min",
            ),
            (
                PayloadSpec {
                    keyword_frequency: Frequency::Zipf { exponent: -1.0 },
                    ..spec()
                },
                "exponent",
            ),
        ];
        for (s, needle) in cases {
            let err = Payloads::generate(&s, 1, 10).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let p = Payloads::generate(&spec(), 1, 10).unwrap();
        for s in [0.0, -0.5, 1.5, f64::NAN] {
            let err = p.select(FieldKind::Integer, s).unwrap_err().to_string();
            assert!(
                err.contains("selectivity") && err.contains("(0, 1]"),
                "{err}"
            );
        }
    }
}
