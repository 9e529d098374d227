//! A redb storage backend that counts what the index writes and syncs, so tests can assert
//! that a checkpoint's cost follows the number of changes, not the size of the store, and
//! `stats()` can report write amplification.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{BackendError, StorageBackend};

/// Counters of index I/O since the store was opened.
#[derive(Debug, Default)]
pub struct IndexIo {
    bytes_written: AtomicU64,
    writes: AtomicU64,
    syncs: AtomicU64,
    file_len: AtomicU64,
}

/// A snapshot of [`IndexIo`].
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
}

impl CountingBackend {
    pub fn new(inner: Box<dyn StorageBackend>, io: Arc<IndexIo>) -> Self {
        if let Ok(len) = inner.len() {
            io.file_len.store(len, Ordering::Relaxed);
        }
        CountingBackend { inner, io }
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
        self.io.file_len.store(len, Ordering::Relaxed);
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
        self.io
            .file_len
            .fetch_max(offset + data.len() as u64, Ordering::Relaxed);
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
