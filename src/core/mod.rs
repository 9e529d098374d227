//! The core: one open store's state, its writer and checkpoint threads and its lock, behind
//! the `Engine` calls that accounts make. `open` builds it (for writing, with recovery, or
//! read-only); the public `Store` is a face over it, and maintenance (backup, compaction)
//! opens its copies through it.

pub(crate) mod open;

use std::sync::Arc;
use std::thread::JoinHandle;

use crate::commit::{self, Request, Shared};
use crate::engine::{Control, Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::locks::Unpoisoned;
use crate::options::Options;
use crate::pending::{Pending, completion};
use crate::state::op::Op;
use crate::state::view::View;

/// The open store. Account handles hold it weakly; dropping it stops the writer (flushing
/// buffered writes, no checkpoint), closes redb and releases the lock.
pub(crate) struct Core {
    shared: Arc<Shared>,
    /// Read-only opens keep the snapshot they opened.
    read_only: bool,
    options: Options,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
    _lock: Option<std::fs::File>,
}

impl Drop for Core {
    fn drop(&mut self) {
        let _ = self.stop(false).wait();
        self.join_writer();
        self.shared.hints().stop();
    }
}

impl Core {
    /// Asks the writer to stop (after a checkpoint if `checkpoint`).
    pub(crate) fn stop(&self, checkpoint: bool) -> Pending<u64> {
        if self.read_only {
            return Pending::ready(Ok(0));
        }
        let (done, pending) = completion();
        self.shared.submit(Request::Stop { checkpoint, done });
        pending
    }

    /// The state the threads share (maintenance reads the layers and the index through it).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The options it was opened with (the passphrase already taken out).
    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    /// Whether it was opened read-only.
    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn join_writer(&self) {
        let writer = self.writer.lock().unpoisoned().take();
        if let Some(w) = writer {
            let _ = w.join();
        }
    }

    pub(crate) fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }
}

impl Engine for Core {
    fn view_dyn(&self, f: &mut dyn FnMut(&View<'_>) -> Result<()>) -> Result<()> {
        commit::with_view(&self.shared, f)
    }

    fn submit(&self, ops: Vec<Op>, durable: bool) -> Pending<u64> {
        match self.writable() {
            Ok(()) => self.shared.write(ops, durable),
            Err(e) => Pending::ready(Err(e)),
        }
    }

    fn control(&self, what: Control) -> Pending<u64> {
        if let Err(e) = self.writable() {
            return Pending::ready(Err(e));
        }
        let (done, pending) = completion();
        self.shared.submit(match what {
            Control::Flush => Request::Flush(done),
            Control::Checkpoint => Request::Checkpoint(done),
            Control::Reclaim => Request::Reclaim(done),
        });
        pending
    }

    fn config(&self) -> EngineConfig {
        EngineConfig {
            cache_peers: self.options.cache_peers,
            peer_durability: self.options.peer_durability,
        }
    }

    fn peer_writes(&self, account: &str) -> u64 {
        self.shared.read_layers().peer_writes.get(account)
    }
}
