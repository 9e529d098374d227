//! The state the store handles and the pipeline's two threads share: the layers, the
//! request queue, the latch, the counters and what an open fixed (file system, index,
//! codec, thresholds, hooks).

use crate::locks::Unpoisoned;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::Error;
use crate::index::{Base, Index};
use crate::io::FileSystem;
use crate::pending::{Completer, Pending, completion};
use crate::phase::{Phase, PhaseHook, reach};
use crate::state::op::Op;
use crate::state::overlay::Overlay;
use crate::state::peer_writes::PeerWrites;

/// The overlay layers (the one being written and the one being checkpointed) over the
/// tables of the last checkpoint. All three change together under one lock, so a reader
/// sees a checkpoint either wholly in `frozen` or wholly in `base`.
pub(crate) struct Layers {
    pub active: Overlay,
    pub frozen: Option<Arc<Overlay>>,
    pub base: Arc<Base>,
    /// Batches applied since the open that changed each account's peers.
    pub peer_writes: PeerWrites,
}

/// Thresholds of the automatic checkpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Thresholds {
    pub log_bytes: u64,
    pub records: u64,
    pub segment_bytes: u64,
}

impl Shared {
    pub(crate) fn reach(&self, phase: Phase) {
        reach(&self.phase_hook, phase);
    }
}

/// State shared by the store handles and the two threads.
pub(crate) struct Shared {
    pub(super) dir: PathBuf,
    pub(super) fs: Arc<dyn FileSystem>,
    pub(super) index: Index,
    pub(super) layers: RwLock<Layers>,
    pub(super) queue: Mutex<Queue>,
    pub(super) queue_ready: Condvar,
    pub(super) latch: Mutex<Option<Arc<Error>>>,
    pub(super) checkpoint_busy: Mutex<bool>,
    pub(super) checkpoint_done: Condvar,
    pub(super) checkpoint_lsn: AtomicU64,
    pub(super) log_bytes: AtomicU64,
    pub(super) syncs: AtomicU64,
    pub(super) thresholds: Thresholds,
    pub(super) phase_hook: Option<PhaseHook>,
    /// The redb cache size, for an index rebuilt by a reclaim.
    pub(super) cache_size: usize,
    /// What the index wrote and synced (kept across a reclaim's swap).
    pub(super) index_io: Arc<crate::index::io::IndexIo>,
    /// Username hints, shared by every snapshot of the index.
    pub(super) hints: Arc<crate::index::UsernameHints>,
    /// How the index stores values: sealed with an encrypted store's keys, or plain.
    pub(super) codec: crate::codec::ValueCodec,
    /// Held by the checkpoint thread while it writes the index, and by `verify` while redb
    /// checks the file.
    pub(super) index_writes: Mutex<()>,
    /// `dir/index.redb`, for errors: joined once, not on every read.
    pub(super) index_path: PathBuf,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) requests: Vec<Request>,
    pub(super) stopped: bool,
}

pub(crate) enum Request {
    Write {
        /// The encoded ops, plaintext (wiped when dropped: they may hold auth keys).
        payload: zeroize::Zeroizing<Vec<u8>>,
        ops: Vec<Op>,
        durable: bool,
        done: Completer<u64>,
    },
    Flush(Completer<u64>),
    Checkpoint(Completer<u64>),
    /// Checkpoint, then rebuild the index into a fresh file (see `reclaim`).
    Reclaim(Completer<u64>),
    /// Checkpoint (if `checkpoint`), then stop the threads.
    Stop {
        checkpoint: bool,
        done: Completer<u64>,
    },
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unpoisoned()
}

impl Shared {
    /// The shared state of an open store; `options` is `None` for a read-only open (no
    /// checkpoints, no hooks).
    pub fn new(
        dir: PathBuf,
        fs: Arc<dyn FileSystem>,
        (index, index_io): (Index, Arc<crate::index::io::IndexIo>),
        (active, base): (Overlay, Arc<Base>),
        checkpoint_lsn: u64,
        options: Option<&crate::Options>,
        codec: crate::codec::ValueCodec,
    ) -> Self {
        let thresholds = match options {
            Some(o) => Thresholds {
                log_bytes: o.checkpoint_log_bytes,
                records: o.checkpoint_records,
                segment_bytes: o.segment_bytes,
            },
            None => Thresholds {
                log_bytes: u64::MAX,
                records: u64::MAX,
                segment_bytes: u64::MAX,
            },
        };
        let hints = base.hints().clone();
        // Filled only now that the open has succeeded: the filling thread keeps the index
        // file open, and a refused open must leave it free for the next attempt.
        let source = base.clone();
        crate::index::UsernameHints::fill_in_background(hints.clone(), move || source.usernames());
        let layers = Layers {
            active,
            frozen: None,
            base,
            peer_writes: PeerWrites::default(),
        };
        Shared {
            index_path: dir.join(crate::paths::INDEX_FILE),
            dir,
            fs,
            index,
            layers: RwLock::new(layers),
            queue: Mutex::default(),
            queue_ready: Condvar::new(),
            latch: Mutex::new(None),
            checkpoint_busy: Mutex::new(false),
            checkpoint_done: Condvar::new(),
            checkpoint_lsn: AtomicU64::new(checkpoint_lsn),
            log_bytes: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            thresholds,
            phase_hook: options.and_then(crate::Options::hook),
            cache_size: options.map_or(0, |o| o.cache_size),
            index_io,
            codec,
            hints,
            index_writes: Mutex::new(()),
        }
    }

    /// The store directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The file system the store goes through.
    pub fn fs(&self) -> &Arc<dyn FileSystem> {
        &self.fs
    }

    /// How the index stores values.
    pub fn codec(&self) -> &crate::codec::ValueCodec {
        &self.codec
    }

    /// The username hints every snapshot of the index shares.
    pub fn hints(&self) -> &Arc<crate::index::UsernameHints> {
        &self.hints
    }

    /// What the index wrote and synced.
    pub fn index_io(&self) -> &crate::index::io::IndexIo {
        &self.index_io
    }

    /// The LSN the index holds everything up to.
    pub fn checkpoint_lsn(&self) -> u64 {
        self.checkpoint_lsn.load(Ordering::Relaxed)
    }

    /// The log's length in bytes, as of the last group written.
    pub fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::Relaxed)
    }

    /// How many times the log was synced.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// An encrypted store's keys.
    pub fn keys(&self) -> Option<&Arc<crate::crypto::Keys>> {
        self.codec.keys()
    }

    /// Keeps the checkpoint thread from writing the index until the guard is dropped.
    pub fn pause_checkpoints(&self) -> MutexGuard<'_, ()> {
        lock(&self.index_writes)
    }

    /// The index file.
    pub fn index_path(&self) -> &std::path::Path {
        &self.index_path
    }

    /// The phase hook (crash tests).
    pub fn phase_hook(&self) -> &Option<PhaseHook> {
        &self.phase_hook
    }

    pub fn read_layers(&self) -> RwLockReadGuard<'_, Layers> {
        self.layers.read().unpoisoned()
    }

    pub(crate) fn write_layers(&self) -> RwLockWriteGuard<'_, Layers> {
        self.layers.write().unpoisoned()
    }

    /// The failure that latched the store, if any, as an error for a caller.
    pub fn latched(&self) -> Option<Error> {
        self.latch_cause().map(|cause| Error::Latched { cause })
    }

    /// The failure that latched the store, if any.
    pub(super) fn latch_cause(&self) -> Option<Arc<Error>> {
        lock(&self.latch).clone()
    }

    /// Latches the store on `e` (if it is not latched yet) and returns `e`, shared, for the
    /// callers it fails.
    pub(super) fn set_latch(&self, e: Error) -> Arc<Error> {
        let cause = Arc::new(e);
        let mut latch = lock(&self.latch);
        if latch.is_none() {
            tracing::error!(error = %cause, "store latched");
            *latch = Some(cause.clone());
        }
        cause
    }

    /// Queues a request for the writer thread.
    pub fn submit(&self, request: Request) {
        let mut q = lock(&self.queue);
        if q.stopped {
            drop(q);
            fail(request, Error::Closed);
            return;
        }
        q.requests.push(request);
        drop(q);
        self.queue_ready.notify_one();
    }

    /// Queues a write of `ops` and returns its acknowledgement.
    pub fn write(&self, ops: Vec<Op>, durable: bool) -> Pending<u64> {
        if let Some(e) = self.latched() {
            return Pending::ready(Err(e));
        }
        let payload = match crate::log::frame::encode_payload(&ops) {
            Ok(p) => p,
            Err(e) => return Pending::ready(Err(e)),
        };
        let (done, pending) = completion();
        self.submit(Request::Write {
            payload,
            ops,
            durable,
            done,
        });
        pending
    }
}

pub(super) fn fail(request: Request, e: Error) {
    let done = match request {
        Request::Write { done, .. } => done,
        Request::Flush(done)
        | Request::Checkpoint(done)
        | Request::Reclaim(done)
        | Request::Stop { done, .. } => done,
    };
    done.complete(Err(e));
}

/// The error each caller failed by a latching failure gets.
pub(super) fn clone_err(cause: &Arc<Error>) -> Error {
    Error::Latched {
        cause: cause.clone(),
    }
}
