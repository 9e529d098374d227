//! The index file's redb backend: the file system's own or the real file, wrapped in a
//! backend that counts what the index writes and syncs, so tests can assert that a
//! checkpoint's cost follows the number of changes, not the size of the store, and
//! `stats()` can report write amplification.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::path::Path;

use redb::{BackendError, StorageBackend};

use crate::error::{Error, Result};
use crate::io::FileSystem;

/// The index's redb backend: the file system's own, or the real file (created 0600).
pub(crate) fn index_backend(
    fs: &dyn FileSystem,
    path: &Path,
    create: bool,
) -> Result<(Box<dyn redb::StorageBackend>, bool)> {
    let ctx = || format!("opening {}", path.display());
    if let Some(found) = fs
        .index_backend(path, create)
        .map_err(|e| Error::io(ctx(), e))?
    {
        return Ok(found);
    }
    let created = !path.exists();
    let file = crate::paths::open_private(path, create)?;
    Ok((Box::new(redb::backends::FileBackend::new(file)?), created))
}

/// How an open wants the index file's writes held.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gated {
    /// Straight through to the file.
    No,
    /// Behind a closed gate until the opener releases it (a writer open's checks).
    Writer,
    /// Behind a gate never released, with private locks: redb may repair in memory only.
    ReadOnly,
}

/// The index file opened as every caller opens it: its backend (the file system's, or the
/// real file), behind a gate as `gated` says, counted into `io`. Returns the backend, the
/// gate's handle (`Gated::Writer`) and whether the file was created.
pub(crate) fn open_counted(
    fs: &dyn FileSystem,
    path: &Path,
    create: bool,
    io: &Arc<IndexIo>,
    gated: Gated,
) -> Result<(CountingBackend, Option<super::gate::GateHandle>, bool)> {
    let (backend, created) = index_backend(fs, path, create)?;
    let (backend, handle): (Box<dyn StorageBackend>, _) = match gated {
        Gated::No => (backend, None),
        Gated::Writer | Gated::ReadOnly => {
            let (gate, handle) = super::gate::Gate::new(backend, gated == Gated::ReadOnly);
            (Box::new(gate), Some(handle))
        }
    };
    Ok((CountingBackend::new(backend, io.clone()), handle, created))
}

/// Counters of index I/O since the store was opened.
#[derive(Debug, Default)]
pub struct IndexIo {
    bytes_written: AtomicU64,
    writes: AtomicU64,
    syncs: AtomicU64,
    file_len: AtomicU64,
    /// Which index file reports its length: a reclaim moves on to the rebuilt one, and the
    /// old file, trimmed when redb closes it later, must not overwrite the new length.
    generation: AtomicU64,
}

/// A snapshot of the index I/O counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexIoCounts {
    /// Bytes written to the index file.
    pub bytes_written: u64,
    /// Write calls (redb writes whole pages or runs of pages).
    pub writes: u64,
    /// Syncs of the index file.
    pub syncs: u64,
    /// Current length of the index file.
    pub file_len: u64,
}

impl IndexIo {
    /// From now on only backends created after this call report the file length.
    pub(crate) fn next_file(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    fn set_len(&self, generation: u64, len: u64) {
        if self.generation.load(Ordering::Relaxed) == generation {
            self.file_len.store(len, Ordering::Relaxed);
        }
    }

    fn grow(&self, generation: u64, end: u64) {
        if self.generation.load(Ordering::Relaxed) == generation {
            self.file_len.fetch_max(end, Ordering::Relaxed);
        }
    }

    /// The current counts.
    pub fn counts(&self) -> IndexIoCounts {
        IndexIoCounts {
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            file_len: self.file_len.load(Ordering::Relaxed),
        }
    }
}

/// A redb backend, counted.
#[derive(Debug)]
pub(crate) struct CountingBackend {
    inner: Box<dyn StorageBackend>,
    io: Arc<IndexIo>,
    generation: u64,
}

impl CountingBackend {
    pub fn new(inner: Box<dyn StorageBackend>, io: Arc<IndexIo>) -> Self {
        let generation = io.generation.load(Ordering::Relaxed);
        if let Ok(len) = inner.len() {
            io.set_len(generation, len);
        }
        CountingBackend {
            inner,
            io,
            generation,
        }
    }
}

impl StorageBackend for CountingBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.io.set_len(self.generation, len);
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.io.syncs.fetch_add(1, Ordering::Relaxed);
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.io.writes.fetch_add(1, Ordering::Relaxed);
        self.io
            .bytes_written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.io.grow(self.generation, offset + data.len() as u64);
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}
