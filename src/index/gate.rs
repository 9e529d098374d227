//! A redb backend that holds every write in memory until it is released.
//!
//! Opening redb may write: it repairs a file a killed writer left behind, and closing a
//! writer saves allocator state and trims the file. An open that is then refused (a damaged
//! log, a wrong passphrase) must change nothing, and a read-only open must never write. So
//! the index is opened behind a gate: redb sees its own writes (reads are served from the
//! held blocks first), the file sees none of them. A writer open that passed every check
//! releases the gate — the held blocks go to the file, the header block last and after a
//! sync, as redb orders its own writes — and from then on everything passes through. A
//! read-only open after a crash never releases it: redb repairs in memory.

use crate::locks::Unpoisoned;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use redb::{BackendError, StorageBackend};

/// Bytes per held block (redb's page size).
const BLOCK: u64 = 4096;

/// The writes held so far.
#[derive(Default)]
struct Held {
    blocks: BTreeMap<u64, Vec<u8>>,
    /// The length redb set, if it changed it.
    len: Option<u64>,
    /// Bytes of the file at and after this offset read as zeros (redb shrank, then grew).
    zero_from: Option<u64>,
}

struct Shared {
    inner: Box<dyn StorageBackend>,
    held: Mutex<Held>,
    released: AtomicBool,
    /// Locks are this process's own (the file is only read: it may be open read-only).
    private_locks: bool,
}

/// The backend handed to redb.
pub(crate) struct Gate(Arc<Shared>);

/// What the opener keeps to release the gate later.
#[derive(Clone)]
pub(crate) struct GateHandle(Arc<Shared>);

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl Gate {
    /// A closed gate over `inner`; `private_locks` for a file opened read-only.
    pub fn new(inner: Box<dyn StorageBackend>, private_locks: bool) -> (Gate, GateHandle) {
        let shared = Arc::new(Shared {
            inner,
            held: Mutex::default(),
            released: AtomicBool::new(false),
            private_locks,
        });
        (Gate(shared.clone()), GateHandle(shared))
    }
}

impl Shared {
    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unpoisoned()
    }

    /// The file's bytes at `offset` as redb last wrote them (zeros past the file's end).
    fn read_file(&self, held: &Held, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let file_len = self.inner.len()?;
        let readable = held.zero_from.map_or(file_len, |z| z.min(file_len));
        out.fill(0);
        if offset < readable {
            let n = (readable - offset).min(out.len() as u64) as usize;
            self.inner.read(offset, &mut out[..n])?;
        }
        Ok(())
    }

    fn block(&self, held: &mut Held, start: u64) -> std::io::Result<()> {
        if !held.blocks.contains_key(&start) {
            let mut bytes = vec![0u8; BLOCK as usize];
            self.read_file(held, start, &mut bytes)?;
            held.blocks.insert(start, bytes);
        }
        Ok(())
    }
}

impl GateHandle {
    /// Writes everything held to the file — the header block last, each part synced — and
    /// lets later writes through.
    pub fn release(&self) -> std::io::Result<()> {
        let shared = &self.0;
        let mut held = shared.held();
        if shared.released.load(Ordering::Acquire) {
            return Ok(());
        }
        let file_len = shared.inner.len()?;
        let len = held.len.unwrap_or(file_len);
        if let Some(z) = held.zero_from.filter(|&z| z < file_len) {
            // Bytes redb cut and grew again read as zeros: make them so.
            shared.inner.set_len(z)?;
        }
        if len > file_len {
            shared.inner.set_len(len)?;
        }
        let header = held.blocks.remove(&0);
        let mut wrote = false;
        for (&start, bytes) in &held.blocks {
            if start < len {
                let n = (len - start).min(BLOCK) as usize;
                shared.inner.write(start, &bytes[..n])?;
                wrote = true;
            }
        }
        if wrote {
            shared.inner.sync_data()?;
        }
        if let Some(bytes) = header {
            let n = len.min(BLOCK) as usize;
            shared.inner.write(0, &bytes[..n])?;
            shared.inner.sync_data()?;
        }
        if len < shared.inner.len()? {
            shared.inner.set_len(len)?;
            shared.inner.sync_data()?;
        }
        held.blocks.clear();
        shared.released.store(true, Ordering::Release);
        Ok(())
    }
}

impl StorageBackend for Gate {
    fn len(&self) -> std::io::Result<u64> {
        if self.0.released.load(Ordering::Acquire) {
            return self.0.inner.len();
        }
        let held = self.0.held();
        match held.len {
            Some(len) => Ok(len),
            None => self.0.inner.len(),
        }
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        if self.0.released.load(Ordering::Acquire) {
            return self.0.inner.read(offset, out);
        }
        let held = self.0.held();
        if held.blocks.is_empty() && held.len.is_none() {
            return self.0.inner.read(offset, out);
        }
        let end = offset + out.len() as u64;
        if end > held.len.map_or(self.0.inner.len()?, |l| l) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the index",
            ));
        }
        let mut at = offset;
        while at < end {
            let start = at - at % BLOCK;
            let n = (start + BLOCK).min(end) - at;
            let dst = &mut out[(at - offset) as usize..(at - offset + n) as usize];
            match held.blocks.get(&start) {
                Some(b) => {
                    dst.copy_from_slice(&b[(at - start) as usize..(at - start + n) as usize])
                }
                None => self.0.read_file(&held, at, dst)?,
            }
            at += n;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        if self.0.released.load(Ordering::Acquire) {
            return self.0.inner.set_len(len);
        }
        let mut held = self.0.held();
        let old = match held.len {
            Some(l) => l,
            None => self.0.inner.len()?,
        };
        if len < old {
            held.blocks.retain(|&start, _| start < len);
            if let Some(b) = held.blocks.get_mut(&(len - len % BLOCK)) {
                b[(len % BLOCK) as usize..].fill(0);
            }
            held.zero_from = Some(held.zero_from.map_or(len, |z| z.min(len)));
        }
        held.len = Some(len);
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        if self.0.released.load(Ordering::Acquire) {
            return self.0.inner.sync_data();
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        if self.0.released.load(Ordering::Acquire) {
            return self.0.inner.write(offset, data);
        }
        let mut held = self.0.held();
        let end = offset + data.len() as u64;
        let len = match held.len {
            Some(l) => l,
            None => self.0.inner.len()?,
        };
        if end > len {
            held.len = Some(end);
        }
        let mut at = offset;
        while at < end {
            let start = at - at % BLOCK;
            let n = (start + BLOCK).min(end) - at;
            self.0.block(&mut held, start)?;
            if let Some(b) = held.blocks.get_mut(&start) {
                b[(at - start) as usize..(at - start + n) as usize]
                    .copy_from_slice(&data[(at - offset) as usize..(at - offset + n) as usize]);
            }
            at += n;
        }
        Ok(())
    }

    fn close(&self) -> std::io::Result<()> {
        self.0.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        if self.0.private_locks {
            return Ok(true);
        }
        self.0.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        if self.0.private_locks {
            return Ok(true);
        }
        self.0.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        if self.0.private_locks {
            return Ok(());
        }
        self.0.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        if self.0.private_locks {
            return Ok(());
        }
        self.0.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        if self.0.private_locks {
            return Ok(());
        }
        self.0.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        if self.0.private_locks {
            return Ok(false);
        }
        self.0.inner.query_lock_range(start, end)
    }
}
