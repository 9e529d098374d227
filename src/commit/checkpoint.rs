//! The checkpoint thread: folds each frozen overlay into redb, installs the new base,
//! deletes the log segments it covered, and runs a reclaim when one was asked for.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};

use super::shared::{Shared, clone_err, lock};
use crate::error::{Error, Result};
use crate::pending::Completer;
use crate::phase::Phase;
use crate::state::overlay::Overlay;

pub(super) struct CheckpointJob {
    /// `None` for a reclaim with nothing new to fold.
    pub frozen: Option<Arc<Overlay>>,
    pub sealed: Vec<PathBuf>,
    pub waiters: Vec<Completer<u64>>,
    pub reclaim: bool,
}

pub(super) fn checkpoint_thread(shared: &Shared, jobs: mpsc::Receiver<CheckpointJob>) {
    while let Ok(job) = jobs.recv() {
        let lsn = match &job.frozen {
            Some(frozen) => frozen.last_lsn,
            None => shared.checkpoint_lsn.load(Ordering::Relaxed),
        };
        let index = shared.index_path();
        let writing = shared.pause_checkpoints();
        let mut result = crate::index::guarded(index, || checkpoint(shared, &job));
        if let Ok(deleted) = &result {
            shared.checkpoint_lsn.store(lsn, Ordering::Relaxed);
            let records = job.frozen.as_ref().map_or(0, |f| f.records);
            tracing::info!(lsn, records, segments_deleted = deleted, "checkpoint");
        }
        if job.reclaim && result.is_ok() {
            result = crate::index::guarded(index, || crate::commit::reclaim::reclaim(shared))
                .map(|()| 0);
        }
        drop(writing);
        let result = result.map_err(|e| shared.set_latch(e));
        for w in job.waiters {
            w.complete(match &result {
                Ok(_) => Ok(lsn),
                Err(e) => Err(clone_err(e)),
            });
        }
        *lock(&shared.checkpoint_busy) = false;
        shared.checkpoint_done.notify_all();
        // The writer may hold checkpoint requests that came while this job ran (a save
        // during a reclaim): wake it. Taking the queue lock first means the wake-up cannot
        // fall between its check of `checkpoint_busy` and its wait.
        drop(lock(&shared.queue));
        shared.queue_ready.notify_all();
    }
}

/// Folds the frozen layer into redb, then drops it and the segments it covered (returns
/// how many).
fn checkpoint(shared: &Shared, job: &CheckpointJob) -> Result<usize> {
    let Some(frozen) = &job.frozen else {
        return Ok(0);
    };
    let built = || shared.reach(Phase::Checkpointing);
    crate::state::fold::fold(&shared.index, frozen, &shared.codec, &shared.hints, &built)?;
    shared.reach(Phase::CheckpointCommitted);
    let base = Arc::new(shared.index.base(&shared.codec, &shared.hints)?);
    let old = {
        let mut layers = shared.write_layers();
        layers.frozen = None;
        std::mem::replace(&mut layers.base, base)
    };
    drop(old); // outside the lock: releasing a snapshot may do redb work
    for path in &job.sealed {
        shared
            .fs
            .remove(path)
            .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
    }
    // Only removals change the directory.
    if !job.sealed.is_empty() {
        shared
            .fs
            .sync_dir(&shared.dir)
            .map_err(|e| Error::io(format!("syncing {}", shared.dir.display()), e))?;
    }
    Ok(job.sealed.len())
}
