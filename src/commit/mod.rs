//! The commit pipeline: one writer thread with group commit, one checkpoint thread.
//!
//! Callers queue requests and wait on a [`Pending`]. The writer takes everything queued,
//! appends it to the log, applies it to the active overlay (in LSN order, so readers see it),
//! acknowledges buffered writes, syncs once for all durable writes, acknowledges them, and
//! starts a checkpoint when one is asked for or the log has grown past its threshold. The
//! checkpoint thread folds the frozen overlay into redb while the writer goes on.

mod checkpoint;
pub(crate) mod reclaim;
mod shared;
mod snapshot;
mod writer;

pub(crate) use shared::{Request, Shared};
pub(crate) use snapshot::{Snapshot, with_view};
pub(crate) use writer::spawn;
