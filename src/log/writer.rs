//! The segment writer: appends framed records, syncs, rotates segments.
//!
//! Only the commit thread owns a `LogWriter`, so nothing here locks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::frame::{encode_record, segment_header};
use super::segment_path;
use crate::crypto::{Keys, Lineage, Place};
use crate::io::{FileSystem, LogFile};
use crate::phase::{Phase, PhaseHook, reach};

/// Appends records to the current segment.
pub(crate) struct LogWriter {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    file: Box<dyn LogFile>,
    path: PathBuf,
    first_lsn: u64,
    offset: u64,
    next_lsn: u64,
    written_lsn: u64,
    synced_lsn: u64,
    buf: Vec<u8>,
    sealed: Vec<PathBuf>,
    total_bytes: u64,
    hook: Option<PhaseHook>,
    /// The segment's length including the zeros written ahead of the records.
    allocated: u64,
    /// How far ahead zeros are written.
    prealloc: u64,
    /// An encrypted store's keys and lineage: payloads are sealed, bound to the lineage,
    /// the segment's epoch, their LSN and their sync horizon.
    keys: Option<(Arc<Keys>, Lineage)>,
    /// The current segment's epoch.
    epoch: [u8; 16],
}

/// Zeros to write ahead of the records with.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

impl LogWriter {
    /// Starts a fresh segment whose first record will be `next_lsn`. `sealed` are the
    /// segments recovery kept, oldest first; everything up to `next_lsn - 1` is durable.
    /// Zeros are written up to `prealloc` bytes ahead of the records.
    pub fn create(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        next_lsn: u64,
        (sealed, sealed_bytes): (Vec<PathBuf>, u64),
        prealloc: u64,
        hook: Option<PhaseHook>,
        keys: Option<(Arc<Keys>, Lineage)>,
    ) -> std::io::Result<Self> {
        let (file, path, epoch) = new_segment(fs.as_ref(), dir, next_lsn, &hook)?;
        Ok(LogWriter {
            fs,
            dir: dir.to_owned(),
            file,
            path,
            first_lsn: next_lsn,
            offset: super::frame::SEGMENT_HEADER_LEN as u64,
            next_lsn,
            written_lsn: next_lsn - 1,
            synced_lsn: next_lsn - 1,
            buf: Vec::new(),
            sealed,
            total_bytes: sealed_bytes + super::frame::SEGMENT_HEADER_LEN as u64,
            hook,
            allocated: super::frame::SEGMENT_HEADER_LEN as u64,
            prealloc: prealloc.max(4096),
            keys,
            epoch,
        })
    }

    /// Frames `payload` as the next record (buffered until [`Self::write_out`]).
    pub fn append(&mut self, payload: &[u8]) -> u64 {
        let lsn = self.next_lsn;
        match &self.keys {
            None => encode_record(&mut self.buf, lsn, self.synced_lsn, payload),
            Some((keys, lineage)) => {
                let place = Place::Log {
                    lineage,
                    epoch: &self.epoch,
                    lsn,
                    horizon: self.synced_lsn,
                };
                let sealed = keys.seal(&place, payload);
                encode_record(&mut self.buf, lsn, self.synced_lsn, &sealed);
            }
        }
        self.next_lsn += 1;
        lsn
    }

    /// Writes buffered records to the segment file (no sync).
    pub fn write_out(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_at(self.offset, &self.buf)?;
        let end = self.offset + self.buf.len() as u64;
        if end > self.allocated {
            // Zeros ahead of the records: most syncs then find the file's size unchanged
            // and flush data only (fdatasync skips the inode); recovery reads an all-zero
            // rest of a segment as its clean end.
            let target = (end / self.prealloc + 2) * self.prealloc;
            let mut at = end;
            while at < target {
                let n = (target - at).min(ZEROS.len() as u64);
                self.file.write_at(at, &ZEROS[..n as usize])?;
                at += n;
            }
            self.allocated = target;
        }
        self.offset += self.buf.len() as u64;
        self.total_bytes += self.buf.len() as u64;
        self.buf.clear();
        self.written_lsn = self.next_lsn - 1;
        Ok(())
    }

    /// Writes and syncs; afterwards every appended record is durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.write_out()?;
        if self.synced_lsn < self.written_lsn {
            self.file.sync_data()?;
            self.synced_lsn = self.written_lsn;
        }
        Ok(())
    }

    /// Seals the current segment (synced) and starts a new one. A segment without records
    /// already starts where the next would: it stays.
    pub fn rotate(&mut self) -> std::io::Result<()> {
        self.sync()?;
        if self.first_lsn == self.next_lsn {
            return Ok(());
        }
        let (file, path, epoch) =
            new_segment(self.fs.as_ref(), &self.dir, self.next_lsn, &self.hook)?;
        self.epoch = epoch;
        let old = std::mem::replace(&mut self.path, path);
        self.sealed.push(old);
        self.first_lsn = self.next_lsn;
        self.file = file;
        self.offset = super::frame::SEGMENT_HEADER_LEN as u64;
        self.allocated = self.offset;
        self.total_bytes += super::frame::SEGMENT_HEADER_LEN as u64;
        Ok(())
    }

    /// Takes the sealed segments (all wholly below the current one's first LSN) for the
    /// checkpoint to delete; from now on only the current segment counts as log.
    pub fn take_sealed(&mut self) -> Vec<PathBuf> {
        self.total_bytes = self.offset;
        std::mem::take(&mut self.sealed)
    }

    /// The current segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// LSN of the last appended record (0 if none ever).
    pub fn last_lsn(&self) -> u64 {
        self.next_lsn - 1
    }

    /// Bytes in the current segment, written or buffered.
    pub fn segment_len(&self) -> u64 {
        self.offset + self.buf.len() as u64
    }

    /// Bytes in all live segments.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes + self.buf.len() as u64
    }
}

/// Creates a segment with its header, syncs it and its directory entry before any record
/// goes in, so a header is never torn under records that were acknowledged. Returns the
/// file, its path and its fresh epoch.
fn new_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    first_lsn: u64,
    hook: &Option<PhaseHook>,
) -> std::io::Result<(Box<dyn LogFile>, PathBuf, [u8; 16])> {
    let epoch = crate::crypto::fresh_id().map_err(|e| std::io::Error::other(e.to_string()))?;
    let path = segment_path(dir, first_lsn);
    let file = fs.create_new(&path)?;
    file.write_at(0, &segment_header(first_lsn, &epoch))?;
    reach(hook, Phase::Rotating);
    file.sync_data()?;
    fs.sync_dir(dir)?;
    Ok((file, path, epoch))
}
