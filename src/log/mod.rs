//! The append-only log: record framing, the segment writer and recovery.

pub(crate) mod frame;
pub(crate) mod recovery;
pub(crate) mod writer;

pub(crate) use crate::paths::{parse_segment_name, segment_path};
