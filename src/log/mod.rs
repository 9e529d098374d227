//! The append-only log: record framing, the segment writer and recovery.

pub(crate) mod frame;
pub(crate) mod recovery;
pub(crate) mod writer;

use std::path::{Path, PathBuf};

/// File name of the segment whose first record has `first_lsn`.
pub(crate) fn segment_path(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("{first_lsn:020}.log"))
}

/// The first LSN encoded in a segment file name, if `name` is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // LSNs start at 1, so no segment is named 0.
    digits.parse().ok().filter(|&lsn| lsn > 0)
}
