//! Locks that outlive a panic. A thread that panicked while holding a lock leaves it
//! poisoned; the data behind every lock here stays consistent at each await point of a
//! guard (the pipeline's own panic guard latches the store instead), so the lock is taken
//! as it is.

use std::sync::{LockResult, PoisonError};

/// `.unpoisoned()` on what `lock`, `read`, `write` and `Condvar::wait` return.
pub(crate) trait Unpoisoned<G> {
    /// The guard, poisoned or not.
    fn unpoisoned(self) -> G;
}

impl<G> Unpoisoned<G> for LockResult<G> {
    fn unpoisoned(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}
