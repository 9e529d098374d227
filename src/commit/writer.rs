//! The writer thread: takes everything queued, appends it to the log, applies it to the
//! active overlay (in LSN order, so readers see it), acknowledges buffered writes, syncs once
//! for all durable writes, acknowledges them, and hands checkpoints to the checkpoint thread.

use crate::locks::Unpoisoned;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::log::writer::LogWriter;
use crate::pending::Completer;
use crate::phase::Phase;
use crate::state::apply::apply_batch;
use crate::state::op::Op;

use super::checkpoint::{CheckpointJob, checkpoint_thread};
use super::shared::{Request, Shared, clone_err, fail, lock};

/// Starts the writer and checkpoint threads.
pub(crate) fn spawn(shared: Arc<Shared>, log: LogWriter) -> Result<std::thread::JoinHandle<()>> {
    let (tx, rx) = mpsc::channel::<CheckpointJob>();
    let ck_shared = shared.clone();
    let checkpointer = std::thread::Builder::new()
        .name("sessiondb-checkpoint".into())
        .spawn(move || {
            let _guard = ThreadGuard(&ck_shared, "checkpoint");
            checkpoint_thread(&ck_shared, rx)
        })
        .map_err(|e| Error::io("starting the checkpoint thread", e))?;
    std::thread::Builder::new()
        .name("sessiondb-writer".into())
        .spawn(move || {
            let guarded = shared.clone();
            let _guard = ThreadGuard(&guarded, "writer");
            let mut writer = Writer {
                shared,
                log,
                jobs: tx,
                deferred: Vec::new(),
            };
            writer.run();
            drop(writer); // closes the job channel: the checkpoint thread ends
            let _ = checkpointer.join();
        })
        .map_err(|e| Error::io("starting the writer thread", e))
}

/// If a pipeline thread dies of a panic (a bug), the store must not hang: latch it, stop
/// the queue, fail everything waiting, and release anyone waiting for the checkpoint.
struct ThreadGuard<'a>(&'a Shared, &'static str);

impl Drop for ThreadGuard<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let shared = self.0;
        shared.set_latch(Error::Internal(format!("the {} thread panicked", self.1)));
        let pending = {
            let mut q = lock(&shared.queue);
            q.stopped = true;
            std::mem::take(&mut q.requests)
        };
        for r in pending {
            fail(r, Error::Closed);
        }
        shared.queue_ready.notify_all();
        *lock(&shared.checkpoint_busy) = false;
        shared.checkpoint_done.notify_all();
    }
}

struct Writer {
    shared: Arc<Shared>,
    log: LogWriter,
    jobs: mpsc::Sender<CheckpointJob>,
    /// Explicit checkpoint requests that came while the checkpoint thread was busy (a
    /// reclaim can take seconds): served when it is idle, so writes never wait behind them.
    deferred: Vec<Completer<u64>>,
}

impl Writer {
    fn run(&mut self) {
        loop {
            let requests = {
                let mut q = lock(&self.shared.queue);
                while q.requests.is_empty() && !q.stopped && !self.deferred_ready() {
                    q = self.shared.queue_ready.wait(q).unpoisoned();
                }
                if q.requests.is_empty() && q.stopped {
                    // Stopped by a panicking sibling thread: nothing will come.
                    for w in self.deferred.drain(..) {
                        w.complete(Err(Error::Closed));
                    }
                    return;
                }
                std::mem::take(&mut q.requests)
            };
            if let Some(stop) = self.group(requests) {
                let mut q = lock(&self.shared.queue);
                q.stopped = true;
                for r in q.requests.drain(..) {
                    fail(r, Error::Closed);
                }
                drop(q);
                self.wait_checkpoint_idle();
                stop.complete(match self.shared.latched() {
                    Some(e) => Err(e),
                    None => Ok(self.log.last_lsn()),
                });
                return;
            }
        }
    }

    /// Whether deferred checkpoint requests can start now.
    fn deferred_ready(&self) -> bool {
        !self.deferred.is_empty() && !*lock(&self.shared.checkpoint_busy)
    }

    /// Handles one group of requests; returns the stop completer if asked to stop.
    fn group(&mut self, requests: Vec<Request>) -> Option<Completer<u64>> {
        if let Some(e) = self.shared.latch_cause() {
            for w in self.deferred.drain(..) {
                w.complete(Err(clone_err(&e)));
            }
            let mut stop = None;
            for r in requests {
                match r {
                    Request::Stop { done, .. } => stop = Some(done),
                    r => fail(r, clone_err(&e)),
                }
            }
            return stop;
        }
        let mut batches = Vec::new();
        let mut buffered = Vec::new();
        let mut durable = Vec::new();
        let mut checkpoint = Vec::new();
        let mut reclaim = Vec::new();
        let mut stop = None;
        let mut stop_checkpoint = false;
        for r in requests {
            match r {
                Request::Write {
                    payload,
                    ops,
                    durable: d,
                    done,
                } => {
                    let lsn = self.log.append(&payload);
                    batches.push((lsn, ops));
                    if d {
                        durable.push((done, lsn));
                    } else {
                        buffered.push((done, lsn));
                    }
                }
                Request::Flush(done) => durable.push((done, self.log.last_lsn())),
                Request::Checkpoint(done) => checkpoint.push(done),
                Request::Reclaim(done) => reclaim.push(done),
                Request::Stop {
                    checkpoint: c,
                    done,
                } => {
                    stop = Some(done);
                    stop_checkpoint = c;
                }
            }
        }
        // A checkpoint asked for while one runs waits for it without holding up the writes
        // queued behind (unless the store is stopping, which waits anyway).
        let busy = *lock(&self.shared.checkpoint_busy);
        if busy && stop.is_none() {
            self.deferred.append(&mut checkpoint);
        } else {
            checkpoint.append(&mut self.deferred);
        }
        let written = self
            .log
            .write_out()
            .map_err(|e| Error::io(format!("appending to {}", self.log.path().display()), e))
            .and_then(|()| self.apply(batches));
        if let Err(e) = written {
            let e = self.shared.set_latch(e);
            let waiting = buffered.into_iter().chain(durable).map(|(done, _)| done);
            for done in waiting.chain(checkpoint) {
                done.complete(Err(clone_err(&e)));
            }
            return stop;
        }
        for (done, lsn) in buffered {
            done.complete(Ok(lsn));
        }
        let must_sync = !durable.is_empty() || !checkpoint.is_empty() || stop.is_some();
        if must_sync {
            self.shared.reach(Phase::Writing);
            let path = self.log.path().to_owned();
            let synced = self
                .log
                .sync()
                .map_err(|e| Error::io(format!("syncing {}", path.display()), e));
            self.shared.syncs.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = synced {
                let e = self.shared.set_latch(e);
                for done in durable.into_iter().map(|(done, _)| done).chain(checkpoint) {
                    done.complete(Err(clone_err(&e)));
                }
                return stop;
            }
        }
        for (done, lsn) in durable {
            done.complete(Ok(lsn));
        }
        let t = self.shared.thresholds;
        let records = self.shared.read_layers().active.records;
        let over = |factor: u64| {
            self.log.total_bytes() >= t.log_bytes.saturating_mul(factor)
                || records >= t.records.saturating_mul(factor)
        };
        // An automatic checkpoint never makes writers wait for the one in flight, unless the
        // overlay has grown to twice its bound (backpressure keeps memory bounded).
        let auto = over(1) && (!busy || over(2));
        let started = auto || !checkpoint.is_empty() || stop_checkpoint || !reclaim.is_empty();
        if (auto || !checkpoint.is_empty() || stop_checkpoint)
            && let Err(e) = self.start_checkpoint(checkpoint, false)
        {
            self.shared.set_latch(e);
        }
        if !reclaim.is_empty()
            && let Err(e) = self.start_checkpoint(reclaim, true)
        {
            self.shared.set_latch(e);
        }
        if !started
            && self.log.segment_len() >= t.segment_bytes
            && let Err(e) = self.log.rotate()
        {
            let dir = self.shared.dir.display();
            self.shared
                .set_latch(Error::io(format!("rotating the log in {dir}"), e));
        }
        self.shared
            .log_bytes
            .store(self.log.total_bytes(), Ordering::Relaxed);
        stop
    }

    fn apply(&mut self, batches: Vec<(u64, Vec<Op>)>) -> Result<()> {
        if batches.is_empty() {
            return Ok(());
        }
        let index = self.shared.index_path();
        let mut layers = self.shared.write_layers();
        let layers = &mut *layers;
        for (lsn, ops) in batches {
            layers.peer_writes.note(&ops);
            // Applying reads older state from the index: damage there is an error, never a
            // panic that would take the writer thread down.
            crate::index::guarded(index, || {
                apply_batch(
                    &mut layers.active,
                    layers.frozen.as_deref(),
                    Some(&layers.base),
                    lsn,
                    ops,
                )
            })?;
        }
        Ok(())
    }

    fn wait_checkpoint_idle(&self) {
        let mut busy = lock(&self.shared.checkpoint_busy);
        while *busy {
            busy = self.shared.checkpoint_done.wait(busy).unpoisoned();
        }
    }

    /// Seals the log, freezes the active overlay and hands both to the checkpoint thread
    /// (which then rebuilds the index if `reclaim`).
    fn start_checkpoint(&mut self, waiters: Vec<Completer<u64>>, reclaim: bool) -> Result<()> {
        self.wait_checkpoint_idle();
        if let Some(e) = self.shared.latch_cause() {
            for w in waiters {
                w.complete(Err(clone_err(&e)));
            }
            return Ok(());
        }
        let empty = self.shared.read_layers().active.is_empty();
        if empty && !reclaim {
            let lsn = self.shared.checkpoint_lsn.load(Ordering::Relaxed);
            for w in waiters {
                w.complete(Ok(lsn));
            }
            return Ok(());
        }
        if let Err(e) = self.log.rotate() {
            let e = Error::io(format!("sealing {}", self.log.path().display()), e);
            let e = self.shared.set_latch(e);
            for w in waiters {
                w.complete(Err(clone_err(&e)));
            }
            return Ok(());
        }
        let sealed = self.log.take_sealed();
        let frozen = (!empty).then(|| {
            let mut layers = self.shared.write_layers();
            let frozen = Arc::new(std::mem::take(&mut layers.active));
            layers.frozen = Some(frozen.clone());
            frozen
        });
        *lock(&self.shared.checkpoint_busy) = true;
        let job = CheckpointJob {
            frozen,
            sealed,
            waiters,
            reclaim,
        };
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            *lock(&self.shared.checkpoint_busy) = false;
            drop(job);
            return Err(Error::Closed);
        }
        Ok(())
    }
}
