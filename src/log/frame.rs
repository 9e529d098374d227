//! Byte layout of log segments and records (see `docs/design.md`, "Log format").
//!
//! Segment header (40 bytes, little-endian): `magic "SESSDBLG" | format u32 (2) |
//! first_lsn u64 | epoch [16] | crc32 u32 (of the 36 bytes before)`. The epoch is drawn at
//! random for each segment; an encrypted store binds its records to it. Format 1 (still
//! read) had no epoch: `magic | format u32 (1) | first_lsn u64 | crc32 u32` (24 bytes).
//!
//! Record: `len u32 | crc u32 | lsn u64 | horizon u64 | payload[len]`, crc over
//! `len ‖ lsn ‖ horizon ‖ payload`; payload = `version u8 | postcard(Vec<Op>)`.

use crate::crypto::Place;
use crate::error::{Error, Result};
use crate::state::op::Op;

/// Magic bytes at the start of every segment.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"SESSDBLG";
/// Log format version written by this build.
pub(crate) const LOG_FORMAT: u32 = 2;
/// The format before segments had an epoch (read, never written).
const OLD_LOG_FORMAT: u32 = 1;
/// Length of the segment header this build writes.
pub(crate) const SEGMENT_HEADER_LEN: usize = 40;
/// Length of a format-1 segment header: no record starts before it, in either format.
pub(crate) const OLD_SEGMENT_HEADER_LEN: usize = 24;
/// Length of a record header.
pub(crate) const RECORD_HEADER_LEN: usize = 24;
/// Largest payload accepted, checked before anything is allocated.
pub(crate) const MAX_PAYLOAD: usize = 16 << 20;
/// Version byte of the record payload.
const PAYLOAD_VERSION: u8 = 1;

/// Encodes a segment header.
pub(crate) fn segment_header(first_lsn: u64, epoch: &[u8; 16]) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&LOG_FORMAT.to_le_bytes());
    h[12..20].copy_from_slice(&first_lsn.to_le_bytes());
    h[20..36].copy_from_slice(epoch);
    let crc = crc32fast::hash(&h[..36]);
    h[36..40].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a segment header is not usable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Too short, wrong magic or wrong checksum: damaged (or never fully written).
    Damaged(&'static str),
    /// A well-formed header of a format this build does not read.
    Version(u32),
}

/// A parsed segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    /// The LSN of the segment's first record.
    pub first_lsn: u64,
    /// The segment's epoch (`None`: format 1).
    pub epoch: Option<[u8; 16]>,
    /// Where its records start.
    pub len: usize,
}

/// Parses a segment header (either format).
pub(crate) fn parse_segment_header(
    bytes: &[u8],
) -> std::result::Result<SegmentHeader, HeaderError> {
    let sound = |len: usize| {
        bytes
            .get(..len)
            .is_some_and(|h| crc32fast::hash(&h[..len - 4]) == u32_at(h, len - 4))
    };
    let h = bytes
        .get(..OLD_SEGMENT_HEADER_LEN)
        .ok_or(HeaderError::Damaged("segment shorter than its header"))?;
    if &h[..8] != SEGMENT_MAGIC {
        return Err(HeaderError::Damaged("bad segment magic"));
    }
    let first_lsn = u64_at(h, 12);
    match u32_at(h, 8) {
        LOG_FORMAT if sound(SEGMENT_HEADER_LEN) => {
            let mut epoch = [0u8; 16];
            epoch.copy_from_slice(&bytes[20..36]);
            Ok(SegmentHeader {
                first_lsn,
                epoch: Some(epoch),
                len: SEGMENT_HEADER_LEN,
            })
        }
        OLD_LOG_FORMAT if sound(OLD_SEGMENT_HEADER_LEN) => Ok(SegmentHeader {
            first_lsn,
            epoch: None,
            len: OLD_SEGMENT_HEADER_LEN,
        }),
        // A sound header of another format, or a damaged one (a flipped format field too).
        v if v > LOG_FORMAT && (sound(OLD_SEGMENT_HEADER_LEN) || sound(SEGMENT_HEADER_LEN)) => {
            Err(HeaderError::Version(v))
        }
        _ if bytes.len() < SEGMENT_HEADER_LEN && u32_at(h, 8) == LOG_FORMAT => {
            Err(HeaderError::Damaged("segment shorter than its header"))
        }
        _ => Err(HeaderError::Damaged("bad segment header checksum")),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn record_crc(len: &[u8], lsn_and_horizon: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(lsn_and_horizon);
    h.update(payload);
    h.finalize()
}

/// Encodes the payload of a batch, in a buffer wiped when dropped (it may hold auth keys).
pub(crate) fn encode_payload(ops: &[Op]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let out = crate::codec::encode_wiped(ops, &[PAYLOAD_VERSION])
        .map_err(|e| Error::InvalidArgument(format!("cannot encode batch: {e}")))?;
    if out.len() > MAX_PAYLOAD {
        return Err(Error::InvalidArgument(format!(
            "batch encodes to {} bytes; the limit is {MAX_PAYLOAD}: write it as smaller \
             batches (a whole-account replace is one batch: import into a new account, then \
             delete the old one)",
            out.len()
        )));
    }
    Ok(out)
}

pub(crate) use crate::crypto::LogKeys;

/// The plaintext of a record's payload: as stored, or opened with an encrypted store's keys
/// (`Err` if it fails authentication: damaged, moved, sealed with another key or for another
/// lineage or segment). A format-1 record opens only in a store that has no lineage yet:
/// after the upgrade every such record is at or below the checkpoint, never read again.
pub(crate) fn open_payload<'a>(
    keys: Option<LogKeys<'_>>,
    header: &SegmentHeader,
    record: &RecordRef,
    payload: &'a [u8],
) -> std::result::Result<Plain<'a>, &'static str> {
    let Some(LogKeys { keys, lineage }) = keys else {
        return Ok(Plain::Stored(payload));
    };
    let (lsn, horizon) = (record.lsn, record.horizon);
    let place = match (lineage, &header.epoch) {
        (Some(lineage), Some(epoch)) => Place::Log {
            lineage,
            epoch,
            lsn,
            horizon,
        },
        (None, None) => Place::OldLog { lsn },
        (Some(_), None) => return Err("record sealed before the store's upgrade"),
        (None, Some(_)) => return Err("record of a newer log in an index of an older format"),
    };
    keys.open(&place, payload)
        .map(Plain::Opened)
        .ok_or("record failed authentication")
}

/// A payload's plaintext: the stored bytes, or a decrypted copy wiped when dropped.
pub(crate) enum Plain<'a> {
    Stored(&'a [u8]),
    Opened(zeroize::Zeroizing<Vec<u8>>),
}

impl std::ops::Deref for Plain<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Plain::Stored(b) => b,
            Plain::Opened(v) => v,
        }
    }
}

/// Decodes a payload; errors are typed, never panics.
pub(crate) fn decode_payload(payload: &[u8]) -> std::result::Result<Vec<Op>, String> {
    let (&version, body) = payload.split_first().ok_or("empty payload")?;
    if version != PAYLOAD_VERSION {
        return Err(format!("unknown payload version {version}"));
    }
    let (ops, rest) = postcard::take_from_bytes(body).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing bytes after batch".into());
    }
    Ok(ops)
}

/// Appends one framed record to `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, lsn: u64, horizon: u64, payload: &[u8]) {
    // encode_payload bounds payloads far below u32::MAX.
    let len = (payload.len() as u32).to_le_bytes();
    let mut lh = [0u8; 16];
    lh[..8].copy_from_slice(&lsn.to_le_bytes());
    lh[8..].copy_from_slice(&horizon.to_le_bytes());
    let crc = record_crc(&len, &lh, payload);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&lh);
    out.extend_from_slice(payload);
}

/// A record that passed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordRef {
    /// Offset of the record header in the segment.
    pub offset: usize,
    /// The record's LSN.
    pub lsn: u64,
    /// Highest LSN known synced when the record was written.
    pub horizon: u64,
    /// Payload position.
    pub payload: (usize, usize),
}

impl RecordRef {
    /// Offset just past the record.
    pub fn end(&self) -> usize {
        self.payload.1
    }
}

/// Reads the record at `offset`, if one that passes length and CRC checks is there.
/// `Err` says why not; LSN continuity is the caller's check.
pub(crate) fn read_record(
    buf: &[u8],
    offset: usize,
) -> std::result::Result<RecordRef, &'static str> {
    let header = buf
        .get(offset..offset.saturating_add(RECORD_HEADER_LEN))
        .ok_or("short record header")?;
    let len = u32_at(header, 0) as usize;
    if len > MAX_PAYLOAD + crate::crypto::SEAL_OVERHEAD {
        return Err("record length out of bounds");
    }
    let start = offset + RECORD_HEADER_LEN;
    let payload = buf.get(start..start + len).ok_or("short record")?;
    if record_crc(&header[..4], &header[8..24], payload) != u32_at(header, 4) {
        return Err("record checksum mismatch");
    }
    Ok(RecordRef {
        offset,
        lsn: u64_at(header, 8),
        horizon: u64_at(header, 16),
        payload: (start, start + len),
    })
}

/// Whether everything from `offset` to the end is zeros: the unused, preallocated end of a
/// segment, where the log ends cleanly (a record is never all zeros: its CRC is not).
pub(crate) fn is_zero_tail(buf: &[u8], offset: usize) -> bool {
    buf.get(offset..)
        .is_some_and(|tail| tail.iter().all(|&b| b == 0))
}

/// Searches `buf[from..]` for valid records with an LSN in `(after, max_lsn]` (used past a
/// damaged record to learn whether anything later was ever synced). Cheap: the LSN field is
/// checked before the CRC is computed.
pub(crate) fn valid_records_after(
    buf: &[u8],
    from: usize,
    after: u64,
    max_lsn: u64,
) -> Vec<RecordRef> {
    let mut found = Vec::new();
    let mut at = from;
    while at + RECORD_HEADER_LEN <= buf.len() {
        let lsn = u64_at(buf, at + 8);
        if lsn > after
            && lsn <= max_lsn
            && let Ok(r) = read_record(buf, at)
        {
            found.push(r);
            at = r.end();
            continue;
        }
        at += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(lsn: u64, horizon: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_record(&mut out, lsn, horizon, payload);
        out
    }

    #[test]
    fn a_record_reads_back_and_any_flipped_bit_is_refused() {
        let payload = b"some payload bytes";
        let buf = framed(7, 5, payload);
        let r = read_record(&buf, 0).expect("valid");
        assert_eq!((r.lsn, r.horizon, r.end()), (7, 5, buf.len()));
        assert_eq!(&buf[r.payload.0..r.payload.1], payload);
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[byte] ^= 1 << bit;
                assert!(read_record(&bad, 0).is_err(), "flip at {byte}.{bit} passed");
            }
        }
    }

    #[test]
    fn short_and_oversized_records_are_refused() {
        let buf = framed(1, 0, b"abc");
        for cut in 0..buf.len() {
            assert!(read_record(&buf[..cut], 0).is_err(), "cut at {cut} passed");
        }
        let mut huge = buf.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_record(&huge, 0), Err("record length out of bounds"));
    }

    #[test]
    fn records_are_found_past_damage_and_a_zero_tail_ends_the_log() {
        let mut buf = framed(1, 0, b"one");
        let second = buf.len();
        buf.extend(framed(2, 1, b"two"));
        buf.extend(framed(3, 2, b"three"));
        buf[second + RECORD_HEADER_LEN + 1] ^= 0xff; // damage record 2's payload
        let found = valid_records_after(&buf, second + 1, 1, 10);
        assert_eq!(found.iter().map(|r| r.lsn).collect::<Vec<_>>(), vec![3]);
        assert!(
            valid_records_after(&buf, 0, 3, 10).is_empty(),
            "nothing after LSN 3"
        );
        let end = buf.len();
        buf.resize(end + 64, 0);
        assert!(is_zero_tail(&buf, end) && !is_zero_tail(&buf, end - 1));
    }

    #[test]
    fn segment_headers_round_trip_and_damage_is_seen() {
        let epoch = [9u8; 16];
        let h = segment_header(42, &epoch);
        let parsed = parse_segment_header(&h).expect("header");
        assert_eq!(
            (parsed.first_lsn, parsed.epoch, parsed.len),
            (42, Some(epoch), SEGMENT_HEADER_LEN)
        );
        let mut bad = h;
        bad[20] ^= 1;
        assert!(parse_segment_header(&bad).is_err());
        assert!(parse_segment_header(&h[..10]).is_err());
    }

    #[test]
    fn payloads_round_trip_and_bad_ones_are_typed_errors() {
        let ops = vec![Op::CreateAccount {
            account: "a".into(),
        }];
        let payload = encode_payload(&ops).expect("encode");
        assert_eq!(decode_payload(&payload).expect("decode"), ops);
        assert!(decode_payload(&[]).is_err());
        assert!(decode_payload(&[PAYLOAD_VERSION + 1, 0]).is_err());
        let mut trailing = payload.to_vec();
        trailing.push(0);
        assert!(decode_payload(&trailing).is_err());
        let big = vec![Op::CreateAccount {
            account: "x".repeat(MAX_PAYLOAD + 1),
        }];
        assert!(matches!(
            encode_payload(&big),
            Err(Error::InvalidArgument(_))
        ));
    }
}
