//! The cached value of a search: its hits in a compact binary form.
//!
//! ```text
//! magic "QPC1" (4 bytes) | flags (1 byte) | count (u32 LE) | count x (id u64 LE, score f32 LE)
//!                                                          | [payloads: JSON array, if flag 1]
//! ```
//!
//! A top-10 result without payload takes 9 + 10 x 12 = 129 bytes. Results with payload (queries
//! with `with_payload`) are cached too: flag bit 0 is set and a JSON array of `count` entries
//! (`null` or the hit's payload object) follows the fixed part. Anything else under one of our
//! keys (another program's value, a truncated write, an older format) fails [`decode`] and is
//! treated as a miss and overwritten, never trusted.

use crate::spec::Hit;

pub const MAGIC: &[u8; 4] = b"QPC1";
const HEADER: usize = 4 + 1 + 4;
const PER_HIT: usize = 12;
const FLAG_PAYLOAD: u8 = 1;

/// Encodes `hits` (with their payloads when any hit carries one).
pub fn encode(hits: &[Hit]) -> Vec<u8> {
    let with_payload = hits.iter().any(|h| h.payload.is_some());
    let mut out = Vec::with_capacity(HEADER + hits.len() * PER_HIT);
    out.extend_from_slice(MAGIC);
    out.push(if with_payload { FLAG_PAYLOAD } else { 0 });
    out.extend_from_slice(&(hits.len() as u32).to_le_bytes());
    for h in hits {
        out.extend_from_slice(&h.id.to_le_bytes());
        out.extend_from_slice(&h.score.to_le_bytes());
    }
    if with_payload {
        let payloads: Vec<_> = hits.iter().map(|h| &h.payload).collect();
        serde_json::to_writer(&mut out, &payloads).expect("a JSON map always serialises");
    }
    out
}

/// Why a value is not a result of ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign(pub &'static str);

/// Decodes a value written by [`encode`]; anything else is [`Foreign`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Hit>, Foreign> {
    if bytes.len() < HEADER {
        return Err(Foreign("shorter than the header"));
    }
    if &bytes[..4] != MAGIC {
        return Err(Foreign("wrong magic"));
    }
    let flags = bytes[4];
    if flags & !FLAG_PAYLOAD != 0 {
        return Err(Foreign("unknown flags"));
    }
    let count = u32::from_le_bytes(bytes[5..9].try_into().expect("4 bytes")) as usize;
    let fixed_end = count
        .checked_mul(PER_HIT)
        .and_then(|n| n.checked_add(HEADER))
        .ok_or(Foreign("count overflows"))?;
    let with_payload = flags & FLAG_PAYLOAD != 0;
    if bytes.len() < fixed_end || (!with_payload && bytes.len() != fixed_end) {
        return Err(Foreign("length does not match the count"));
    }
    let mut hits: Vec<Hit> = bytes[HEADER..fixed_end]
        .chunks_exact(PER_HIT)
        .map(|c| Hit {
            id: u64::from_le_bytes(c[..8].try_into().expect("8 bytes")),
            score: f32::from_le_bytes(c[8..].try_into().expect("4 bytes")),
            payload: None,
        })
        .collect();
    if with_payload {
        let payloads: Vec<Option<serde_json::Map<String, serde_json::Value>>> =
            serde_json::from_slice(&bytes[fixed_end..])
                .map_err(|_| Foreign("payloads are not a JSON array of objects"))?;
        if payloads.len() != count {
            return Err(Foreign("payload count does not match"));
        }
        for (h, p) in hits.iter_mut().zip(payloads) {
            h.payload = p;
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(n: u64) -> Vec<Hit> {
        (0..n)
            .map(|i| Hit {
                id: i * 1_000_003,
                score: 1.0 / (i + 1) as f32,
                payload: None,
            })
            .collect()
    }

    #[test]
    fn hits_round_trip_exactly() {
        for n in [0, 1, 10, 100] {
            let h = hits(n);
            let bytes = encode(&h);
            assert_eq!(bytes.len(), 9 + 12 * n as usize);
            assert_eq!(decode(&bytes).unwrap(), h);
        }
    }

    #[test]
    fn payloads_round_trip_after_the_fixed_part() {
        let mut h = hits(3);
        let mut m = serde_json::Map::new();
        m.insert("city".into(), "Berlin".into());
        m.insert("n".into(), 3.into());
        h[1].payload = Some(m);
        let bytes = encode(&h);
        assert_eq!(bytes[4], 1);
        assert_eq!(decode(&bytes).unwrap(), h);
    }

    #[test]
    fn values_that_are_not_ours_are_refused_not_trusted() {
        let good = encode(&hits(10));
        let mut wrong_magic = good.clone();
        wrong_magic[0] = b'X';
        let mut bad_flags = good.clone();
        bad_flags[4] = 0x80;
        let mut big_count = good.clone();
        big_count[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut bad_json = encode(&hits(2));
        bad_json[4] = 1;
        bad_json.extend_from_slice(b"{not json");
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            b"hello".to_vec(),
            b"some other program's value".to_vec(),
            wrong_magic,
            bad_flags,
            big_count,
            good[..good.len() - 1].to_vec(),
            [good.as_slice(), b"x"].concat(),
            bad_json,
        ];
        for bytes in cases {
            assert!(decode(&bytes).is_err(), "accepted {bytes:?}");
        }
    }
}
