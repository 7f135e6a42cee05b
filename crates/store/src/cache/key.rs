//! The cache key of a search.
//!
//! ```text
//! qperf:v1:<collection>:<32 hex digits>
//! ```
//!
//! The hex digits are the xxh3 128-bit hash of a canonical byte encoding of every field of the
//! [`Query`] that can change its result, in a fixed order, each in a fixed width, little-endian:
//!
//! | field          | bytes                                                               |
//! |----------------|---------------------------------------------------------------------|
//! | `vector`       | length as u64, then each f32's bits                                 |
//! | `k`            | u64                                                                 |
//! | `ef`           | tag byte 0 (none) or 1 then u64                                     |
//! | `exact`        | one byte 0/1                                                        |
//! | `with_payload` | one byte 0/1                                                        |
//! | `rescore`      | one byte: 0 none, 1 false, 2 true                                   |
//! | `oversampling` | tag byte 0 (none) or 1 then the f64's bits                          |
//!
//! So identical requests share a key and a request that differs in any field (one bit of one
//! float of the vector, another `k`, another `ef`...) gets another key. The collection is in the
//! key in clear, so `redis-cli --scan --pattern 'qperf:v1:perf_mixtral:*'` finds one collection's
//! entries. The version (`v1`) changes whenever the encoding or the value format changes, so a
//! new suite never reads entries of an old one. A 128-bit hash makes an accidental collision
//! between two distinct queries practically impossible (about 2^-64 at 2^32 entries).

use xxhash_rust::xxh3::Xxh3;

use crate::spec::Query;

/// Every key the suite writes starts with this.
pub const KEY_PREFIX: &str = "qperf:v1:";

/// The cache key of `query` on `collection`.
pub fn cache_key(collection: &str, query: &Query) -> String {
    format!(
        "{KEY_PREFIX}{collection}:{:032x}",
        query_hash(&canonical_bytes(query))
    )
}

/// The xxh3-128 of a canonical encoding.
pub fn query_hash(bytes: &[u8]) -> u128 {
    let mut h = Xxh3::new();
    h.update(bytes);
    h.digest128()
}

/// The canonical encoding of every field of `query` that changes its result (see the module
/// docs). Destructures the query, so a new field cannot be added without deciding its encoding.
pub fn canonical_bytes(query: &Query) -> Vec<u8> {
    let Query {
        vector,
        k,
        ef,
        exact,
        with_payload,
        rescore,
        oversampling,
        filter,
    } = query;
    let mut out = Vec::with_capacity(vector.len() * 4 + 64);
    out.extend_from_slice(&(vector.len() as u64).to_le_bytes());
    for x in vector {
        out.extend_from_slice(&x.to_bits().to_le_bytes());
    }
    out.extend_from_slice(&(*k as u64).to_le_bytes());
    encode_option(&mut out, ef.map(|ef| (ef as u64).to_le_bytes()));
    out.push(u8::from(*exact));
    out.push(u8::from(*with_payload));
    out.push(match rescore {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
    encode_option(&mut out, oversampling.map(|o| o.to_bits().to_le_bytes()));
    // The filter: a tag byte 0 (none) or 1 followed by the length (u64 LE) and bytes of its
    // canonical JSON (`serde_json::to_vec`: struct fields in declaration order, conditions in
    // the order given, so the same filter always encodes alike).
    match filter {
        None => out.push(0),
        Some(f) => {
            let json = serde_json::to_vec(f).expect("a filter serialises");
            out.push(1);
            out.extend_from_slice(&(json.len() as u64).to_le_bytes());
            out.extend_from_slice(&json);
        }
    }
    out
}

fn encode_option<const N: usize>(out: &mut Vec<u8>, value: Option<[u8; N]>) {
    match value {
        None => out.push(0),
        Some(bytes) => {
            out.push(1);
            out.extend_from_slice(&bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Query {
        Query::new(vec![0.25, -1.0, 3.5, 0.0], 10).with_ef(128)
    }

    #[test]
    fn identical_requests_share_a_key() {
        assert_eq!(cache_key("perf_a", &base()), cache_key("perf_a", &base()));
        let key = cache_key("perf_a", &base());
        assert!(key.starts_with("qperf:v1:perf_a:"), "{key}");
        assert_eq!(key.len(), "qperf:v1:perf_a:".len() + 32);
    }

    #[test]
    fn a_change_of_any_field_changes_the_key() {
        let b = base();
        let variants: Vec<(&str, Query)> = vec![
            ("vector value", {
                let mut q = b.clone();
                q.vector[2] = 3.500_000_2;
                q
            }),
            ("vector sign of zero", {
                let mut q = b.clone();
                q.vector[3] = -0.0;
                q
            }),
            ("vector length", {
                let mut q = b.clone();
                q.vector.push(0.0);
                q
            }),
            ("k", Query { k: 11, ..b.clone() }),
            (
                "ef",
                Query {
                    ef: Some(64),
                    ..b.clone()
                },
            ),
            (
                "ef none",
                Query {
                    ef: None,
                    ..b.clone()
                },
            ),
            ("exact", b.clone().exact()),
            ("with_payload", b.clone().with_payload()),
            (
                "rescore false",
                Query {
                    rescore: Some(false),
                    ..b.clone()
                },
            ),
            (
                "rescore true",
                Query {
                    rescore: Some(true),
                    ..b.clone()
                },
            ),
            (
                "oversampling",
                Query {
                    oversampling: Some(2.0),
                    ..b.clone()
                },
            ),
            (
                "a filter",
                b.clone().with_filter(crate::Filter::keyword("kw", "k1")),
            ),
            (
                "the filter's value",
                b.clone().with_filter(crate::Filter::keyword("kw", "k2")),
            ),
            (
                "the filter's range",
                b.clone()
                    .with_filter(crate::Filter::integer_range("num", Some(1), Some(9))),
            ),
        ];
        let mut keys = vec![cache_key("perf_a", &b)];
        for (what, q) in &variants {
            let key = cache_key("perf_a", q);
            assert!(
                !keys.contains(&key),
                "changing {what} did not change the key"
            );
            keys.push(key);
        }
        assert_ne!(
            cache_key("perf_a", &b),
            cache_key("perf_b", &b),
            "collection"
        );
    }

    #[test]
    fn the_encoding_is_stable() {
        // Pinned: a change to the encoding must bump KEY_PREFIX's version.
        let q = Query::new(vec![1.0], 3);
        let bytes = canonical_bytes(&q);
        assert_eq!(
            bytes,
            [
                1, 0, 0, 0, 0, 0, 0, 0, // vector length
                0, 0, 0x80, 0x3f, // 1.0f32
                3, 0, 0, 0, 0, 0, 0, 0, // k
                0, // ef none
                0, 0, // exact, with_payload
                0, // rescore none
                0, // oversampling none
                0, // filter none
            ]
        );
    }
}
