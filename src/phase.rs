//! Named points inside the write pipeline, for crash tests that stop a process there.

use std::fmt;
use std::sync::Arc;

/// A point inside the write pipeline. A [`PhaseHook`] is called there, on the pipeline's own
/// thread, so a test can report the phase or block inside it until the process is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// A group of records has been written to the log and is about to be synced.
    Writing,
    /// A new log segment exists, its header written but not yet synced (segment rotation).
    Rotating,
    /// A checkpoint has applied the overlay to the index transaction, not yet committed.
    Checkpointing,
    /// A checkpoint has committed; the log segments it covers are not deleted yet.
    CheckpointCommitted,
    /// A reclaim has written and synced the rebuilt index beside the live one, not renamed.
    ReclaimCopied,
    /// A reclaim has renamed the rebuilt index over the live one (directory synced).
    ReclaimSwapped,
    /// A compaction or rotation has written and synced its copy beside the store, not yet
    /// swapped it in.
    RewriteCopied,
    /// A compaction or rotation has swapped its copy in; the old files, beside the store
    /// now, are not removed yet.
    RewriteSwapped,
    /// A rekey has written and synced `KEY.tmp`, not yet renamed over `KEY`.
    RekeyWritten,
    /// A rekey has renamed `KEY.tmp` over `KEY`; the directory is not synced yet.
    RekeyRenamed,
    /// A writer open holds the lock (the directory and `LOCK` exist); nothing else is new.
    OpenLocked,
    /// A writer open has its keys (a new encrypted store's `KEY` is written and synced).
    OpenKeyReady,
    /// A writer open has checked the index and the log; nothing was written to the index.
    OpenChecked,
    /// A writer open has written the index (a new one, or redb's repair) and the log's fixes.
    OpenIndexWritten,
}

/// A callback run at every [`Phase`]; set it in `Options::phase_hook`. For tests.
#[derive(Clone)]
pub struct PhaseHook(pub Arc<dyn Fn(Phase) + Send + Sync>);

impl fmt::Debug for PhaseHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhaseHook")
    }
}

/// Runs the hook, if any.
pub(crate) fn reach(hook: &Option<PhaseHook>, phase: Phase) {
    if let Some(h) = hook {
        (h.0)(phase);
    }
}
