//! Byte layout of log segments and records (see `docs/design.md`, "Log format").
//!
//! Segment header (24 bytes, little-endian):
//! `magic "SESSDBLG" | format u32 | first_lsn u64 | crc32 u32 (of the 20 bytes before)`.
//!
//! Record: `len u32 | crc u32 | lsn u64 | horizon u64 | payload[len]`, crc over
//! `len ‖ lsn ‖ horizon ‖ payload`; payload = `version u8 | postcard(Vec<Op>)`.

use crate::error::{Error, Result};
use crate::op::Op;

/// Magic bytes at the start of every segment.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"SESSDBLG";
/// Log format version written by this build.
pub(crate) const LOG_FORMAT: u32 = 1;
/// Length of the segment header.
pub(crate) const SEGMENT_HEADER_LEN: usize = 24;
/// Length of a record header.
pub(crate) const RECORD_HEADER_LEN: usize = 24;
/// Largest payload accepted, checked before anything is allocated.
pub(crate) const MAX_PAYLOAD: usize = 16 << 20;
/// Version byte of the record payload.
const PAYLOAD_VERSION: u8 = 1;

/// Encodes a segment header.
pub(crate) fn segment_header(first_lsn: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&LOG_FORMAT.to_le_bytes());
    h[12..20].copy_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
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

/// Parses a segment header and returns its first LSN.
pub(crate) fn parse_segment_header(bytes: &[u8]) -> std::result::Result<u64, HeaderError> {
    let h = bytes
        .get(..SEGMENT_HEADER_LEN)
        .ok_or(HeaderError::Damaged("segment shorter than its header"))?;
    if &h[..8] != SEGMENT_MAGIC {
        return Err(HeaderError::Damaged("bad segment magic"));
    }
    if crc32fast::hash(&h[..20]) != u32_at(h, 20) {
        return Err(HeaderError::Damaged("bad segment header checksum"));
    }
    let format = u32_at(h, 8);
    if format != LOG_FORMAT {
        return Err(HeaderError::Version(format));
    }
    Ok(u64_at(h, 12))
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

/// Encodes the payload of a batch.
pub(crate) fn encode_payload(ops: &[Op]) -> Result<Vec<u8>> {
    let out = postcard::to_extend(ops, vec![PAYLOAD_VERSION])
        .map_err(|e| Error::InvalidArgument(format!("cannot encode batch: {e}")))?;
    if out.len() > MAX_PAYLOAD {
        return Err(Error::InvalidArgument(format!(
            "batch encodes to {} bytes; the limit is {MAX_PAYLOAD}",
            out.len()
        )));
    }
    Ok(out)
}

/// The plaintext of a record's payload: as stored, or opened with an encrypted store's keys
/// (`Err` if it fails authentication: damaged, moved, or sealed with another key).
pub(crate) fn open_payload<'a>(
    keys: Option<&crate::crypto::Keys>,
    lsn: u64,
    payload: &'a [u8],
) -> std::result::Result<Plain<'a>, &'static str> {
    match keys {
        None => Ok(Plain::Stored(payload)),
        Some(keys) => keys
            .open(&crate::crypto::Place::Log { lsn }, payload)
            .map(Plain::Opened)
            .ok_or("record failed authentication"),
    }
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
