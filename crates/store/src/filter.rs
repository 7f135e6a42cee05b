//! Payload filters of a search, one type for every engine.
//!
//! A [`Filter`] is a conjunction (`must`) of [`Condition`]s: a keyword equal to one value or to
//! any of several, an integer range, a float range. It translates to Qdrant's REST JSON
//! ([`Filter::to_qdrant_json`], which the embedded engine also reads) and to the gRPC message
//! ([`Filter::to_grpc`]), and [`Filter::matches`] evaluates it on a payload, which is how exact
//! filtered ground truth and the tests know which points a filter selects.

use qdrant_perf_data::{Bound, FieldKind, Selected};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Result, StoreError};

/// The type of a payload index: the same three kinds as the generated fields.
pub type PayloadIndexKind = FieldKind;

/// One condition on one payload field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Condition {
    /// The keyword field equals `value`.
    Keyword { field: String, value: String },
    /// The keyword field equals any of `values`.
    KeywordAny { field: String, values: Vec<String> },
    /// `gte <= field <= lte` on an integer field (an open side is `None`).
    IntegerRange {
        field: String,
        gte: Option<i64>,
        lte: Option<i64>,
    },
    /// `gte <= field <= lte` on a float field (an open side is `None`).
    FloatRange {
        field: String,
        gte: Option<f64>,
        lte: Option<f64>,
    },
}

impl Condition {
    pub fn field(&self) -> &str {
        match self {
            Condition::Keyword { field, .. }
            | Condition::KeywordAny { field, .. }
            | Condition::IntegerRange { field, .. }
            | Condition::FloatRange { field, .. } => field,
        }
    }

    /// The type of field the condition applies to.
    pub fn kind(&self) -> FieldKind {
        match self {
            Condition::Keyword { .. } | Condition::KeywordAny { .. } => FieldKind::Keyword,
            Condition::IntegerRange { .. } => FieldKind::Integer,
            Condition::FloatRange { .. } => FieldKind::Float,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(StoreError::InvalidFilter { reason });
        match self {
            Condition::KeywordAny { field, values } if values.is_empty() => bad(format!(
                "`{field}` must match any of an empty list of values, which nothing matches; \
                 give at least one value"
            )),
            Condition::IntegerRange {
                field,
                gte: Some(lo),
                lte: Some(hi),
            } if lo > hi => bad(format!(
                "integer range on `{field}` has min {lo} > max {hi}; swap them"
            )),
            Condition::FloatRange { field, gte, lte } => {
                if gte.is_some_and(|v| !v.is_finite()) || lte.is_some_and(|v| !v.is_finite()) {
                    return bad(format!(
                        "float range on `{field}` has a bound that is not a finite number"
                    ));
                }
                if let (Some(lo), Some(hi)) = (gte, lte)
                    && lo > hi
                {
                    return bad(format!(
                        "float range on `{field}` has min {lo} > max {hi}; swap them"
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, payload: &Map<String, Value>) -> bool {
        let value = payload.get(self.field());
        match self {
            Condition::Keyword { value: want, .. } => value.and_then(Value::as_str) == Some(want),
            Condition::KeywordAny { values, .. } => value
                .and_then(Value::as_str)
                .is_some_and(|v| values.iter().any(|w| w == v)),
            Condition::IntegerRange { gte, lte, .. } => value
                .and_then(Value::as_i64)
                .is_some_and(|v| gte.is_none_or(|lo| v >= lo) && lte.is_none_or(|hi| v <= hi)),
            Condition::FloatRange { gte, lte, .. } => value
                .and_then(Value::as_f64)
                .is_some_and(|v| gte.is_none_or(|lo| v >= lo) && lte.is_none_or(|hi| v <= hi)),
        }
    }

    fn to_qdrant_json(&self) -> Value {
        let range = |gte: Option<Value>, lte: Option<Value>| {
            let mut r = Map::new();
            if let Some(v) = gte {
                r.insert("gte".into(), v);
            }
            if let Some(v) = lte {
                r.insert("lte".into(), v);
            }
            Value::Object(r)
        };
        match self {
            Condition::Keyword { field, value } => {
                json!({"key": field, "match": {"value": value}})
            }
            Condition::KeywordAny { field, values } => {
                json!({"key": field, "match": {"any": values}})
            }
            Condition::IntegerRange { field, gte, lte } => json!({
                "key": field,
                "range": range(gte.map(Value::from), lte.map(Value::from)),
            }),
            Condition::FloatRange { field, gte, lte } => json!({
                "key": field,
                "range": range(gte.map(Value::from), lte.map(Value::from)),
            }),
        }
    }

    fn to_grpc(&self) -> qdrant_client::qdrant::Condition {
        use qdrant_client::qdrant::{Condition as C, Range};
        match self {
            Condition::Keyword { field, value } => C::matches(
                field.clone(),
                qdrant_client::qdrant::r#match::MatchValue::Keyword(value.clone()),
            ),
            Condition::KeywordAny { field, values } => C::matches(field.clone(), values.clone()),
            Condition::IntegerRange { field, gte, lte } => C::range(
                field.clone(),
                Range {
                    gte: gte.map(|v| v as f64),
                    lte: lte.map(|v| v as f64),
                    ..Default::default()
                },
            ),
            Condition::FloatRange { field, gte, lte } => C::range(
                field.clone(),
                Range {
                    gte: *gte,
                    lte: *lte,
                    ..Default::default()
                },
            ),
        }
    }
}

/// A conjunction of conditions: a point matches when it meets every one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub must: Vec<Condition>,
}

impl Filter {
    /// All of `conditions`.
    pub fn all(conditions: impl IntoIterator<Item = Condition>) -> Self {
        Self {
            must: conditions.into_iter().collect(),
        }
    }

    pub fn keyword(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::all([Condition::Keyword {
            field: field.into(),
            value: value.into(),
        }])
    }

    pub fn keyword_any(field: impl Into<String>, values: Vec<String>) -> Self {
        Self::all([Condition::KeywordAny {
            field: field.into(),
            values,
        }])
    }

    pub fn integer_range(field: impl Into<String>, gte: Option<i64>, lte: Option<i64>) -> Self {
        Self::all([Condition::IntegerRange {
            field: field.into(),
            gte,
            lte,
        }])
    }

    pub fn float_range(field: impl Into<String>, gte: Option<f64>, lte: Option<f64>) -> Self {
        Self::all([Condition::FloatRange {
            field: field.into(),
            gte,
            lte,
        }])
    }

    /// This filter and `other`: both must hold.
    pub fn and(mut self, other: Filter) -> Self {
        self.must.extend(other.must);
        self
    }

    /// The filter of a condition chosen on payloads ([`qdrant_perf_data::Payloads::select`],
    /// [`qdrant_perf_data::SourcePayloads::select`]).
    pub fn from_selected(selected: &Selected) -> Self {
        let field = selected.field.as_str();
        match &selected.bound {
            Bound::KeywordAny(values) if values.len() == 1 => Self::keyword(field, &values[0]),
            Bound::KeywordAny(values) => Self::keyword_any(field, values.clone()),
            Bound::IntegerAtMost(v) => Self::integer_range(field, None, Some(*v)),
            Bound::FloatAtMost(v) => Self::float_range(field, None, Some(*v)),
        }
    }

    /// Rejects a filter that is malformed on its own: a range with min > max, an empty list of
    /// keyword values, a non-finite float bound.
    pub fn validate(&self) -> Result<()> {
        self.must.iter().try_for_each(Condition::validate)
    }

    /// Checks the filter against the fields a dataset has: each condition must name a field of
    /// the right type. The error names the field and lists the fields there are.
    pub fn check_fields(&self, fields: &[(String, FieldKind)]) -> Result<()> {
        self.validate()?;
        for c in &self.must {
            match fields.iter().find(|(name, _)| name == c.field()) {
                None => {
                    return Err(StoreError::InvalidFilter {
                        reason: format!(
                            "the dataset has no payload field `{}`; its fields are: {}",
                            c.field(),
                            list_fields(fields)
                        ),
                    });
                }
                Some((name, kind)) if *kind != c.kind() => {
                    return Err(StoreError::InvalidFilter {
                        reason: format!(
                            "`{name}` is a {} field, but the condition is a {} condition; \
                             use a {} condition on it",
                            kind.name(),
                            c.kind().name(),
                            kind.name()
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// True when `payload` meets every condition (a missing field meets none).
    pub fn matches(&self, payload: &Map<String, Value>) -> bool {
        self.must.iter().all(|c| c.matches(payload))
    }

    /// Qdrant's REST JSON (`{"must": [...]}`); the embedded engine parses the same JSON.
    pub fn to_qdrant_json(&self) -> Value {
        json!({"must": self.must.iter().map(Condition::to_qdrant_json).collect::<Vec<_>>()})
    }

    /// The gRPC message of `qdrant-client`.
    pub fn to_grpc(&self) -> qdrant_client::qdrant::Filter {
        qdrant_client::qdrant::Filter::must(self.must.iter().map(Condition::to_grpc))
    }
}

fn list_fields(fields: &[(String, FieldKind)]) -> String {
    if fields.is_empty() {
        return "none (generate the dataset with payloads)".into();
    }
    fields
        .iter()
        .map(|(n, k)| format!("{n} ({})", k.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks payload indexes against the dataset's fields: each must name a field that exists,
/// with the field's type.
pub fn check_payload_indexes(
    indexes: &[(String, PayloadIndexKind)],
    fields: &[(String, FieldKind)],
) -> Result<()> {
    for (name, kind) in indexes {
        match fields.iter().find(|(f, _)| f == name) {
            None => {
                return Err(StoreError::InvalidSpec {
                    field: "payload_indexes",
                    value: name.clone(),
                    reason: format!(
                        "the dataset has no payload field `{name}`; its fields are: {}",
                        list_fields(fields)
                    ),
                });
            }
            Some((_, field_kind)) if field_kind != kind => {
                return Err(StoreError::InvalidSpec {
                    field: "payload_indexes",
                    value: format!("{name}: {}", kind.name()),
                    reason: format!(
                        "`{name}` holds {} values; index it as {}",
                        field_kind.name(),
                        field_kind.name()
                    ),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use qdrant_perf_data::{PayloadSpec, Payloads, payload_fields};

    use super::*;

    #[test]
    fn matches_evaluates_every_condition_on_a_payload() {
        let p = json!({"kw": "k3", "num": 40, "price": 2.5});
        let p = p.as_object().unwrap();
        assert!(Filter::keyword("kw", "k3").matches(p));
        assert!(!Filter::keyword("kw", "k4").matches(p));
        assert!(Filter::keyword_any("kw", vec!["k1".into(), "k3".into()]).matches(p));
        assert!(Filter::integer_range("num", Some(40), Some(40)).matches(p));
        assert!(!Filter::integer_range("num", Some(41), None).matches(p));
        assert!(Filter::float_range("price", None, Some(2.5)).matches(p));
        let both = Filter::keyword("kw", "k3").and(Filter::float_range("price", Some(3.0), None));
        assert!(!both.matches(p));
        assert!(!Filter::keyword("other", "k3").matches(p));
    }

    #[test]
    fn a_selected_filter_matches_exactly_the_selected_points() {
        let payloads = Payloads::generate(&PayloadSpec::default(), 42, 5_000).unwrap();
        for kind in [FieldKind::Keyword, FieldKind::Integer, FieldKind::Float] {
            for s in [0.001, 0.1, 1.0] {
                let sel = payloads.select(kind, s).unwrap();
                let filter = Filter::from_selected(&sel);
                filter.check_fields(&payload_fields()).unwrap();
                let ids: Vec<u32> = (0..payloads.len())
                    .filter(|&i| filter.matches(&payloads.to_json(i)))
                    .map(|i| i as u32)
                    .collect();
                assert_eq!(ids, sel.matching, "{kind:?} {s}");
            }
        }
    }

    #[test]
    fn the_qdrant_json_is_what_the_rest_api_documents() {
        let f = Filter::keyword_any("kw", vec!["a".into(), "b".into()])
            .and(Filter::integer_range("num", Some(1), Some(9)))
            .and(Filter::float_range("price", None, Some(0.5)))
            .and(Filter::keyword("kw", "a"));
        assert_eq!(
            f.to_qdrant_json(),
            json!({"must": [
                {"key": "kw", "match": {"any": ["a", "b"]}},
                {"key": "num", "range": {"gte": 1, "lte": 9}},
                {"key": "price", "range": {"lte": 0.5}},
                {"key": "kw", "match": {"value": "a"}},
            ]})
        );
        let grpc = f.to_grpc();
        assert_eq!(grpc.must.len(), 4);
        // A filter round-trips through its serde form (the cache keys hash it).
        let back: Filter = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn bad_filters_and_indexes_are_rejected_with_the_fix() {
        let fields = payload_fields();
        let err = Filter::keyword("lang", "en")
            .check_fields(&fields)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`lang`") && err.contains("kw (keyword), num (integer), price (float)"),
            "{err}"
        );
        let err = Filter::integer_range("num", Some(9), Some(1))
            .check_fields(&fields)
            .unwrap_err()
            .to_string();
        assert!(err.contains("min 9 > max 1"), "{err}");
        let err = Filter::float_range("price", Some(2.0), Some(1.0))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("min 2 > max 1"), "{err}");
        let err = Filter::keyword_any("kw", vec![])
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least one value"), "{err}");
        let err = Filter::integer_range("kw", None, Some(3))
            .check_fields(&fields)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`kw` is a keyword field"), "{err}");
        let err = check_payload_indexes(&[("num".into(), FieldKind::Keyword)], &fields)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`num` holds integer values; index it as integer"),
            "{err}"
        );
        let err = check_payload_indexes(&[("lang".into(), FieldKind::Keyword)], &fields)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no payload field `lang`"), "{err}");
        check_payload_indexes(
            &[
                ("kw".into(), FieldKind::Keyword),
                ("num".into(), FieldKind::Integer),
                ("price".into(), FieldKind::Float),
            ],
            &fields,
        )
        .unwrap();
    }
}
