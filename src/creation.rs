//! A store whose creation was cut short (a kill, a full disk) must open again, not brick.
//!
//! redb writes a new file's magic number last, after the rest is synced: a non-empty index
//! without it never finished its first commit. If, besides, the log never held a record (no
//! segment, or only the first one, at LSN 1, with no valid record in it), nothing was ever
//! acknowledged in this store, and the index is rebuilt from nothing. Anything else that
//! redb cannot open stays an error naming the file: it may hold data.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::FileSystem;
use crate::log::frame::{OLD_SEGMENT_HEADER_LEN, valid_records_after};
use crate::paths::INDEX_FILE;

/// redb's magic number is the file's first 9 bytes.
const MAGIC_LEN: usize = 9;

/// Removes the index of a creation that never finished; returns whether it did.
pub(crate) fn remove_unfinished_index(fs: &dyn FileSystem, dir: &Path) -> Result<bool> {
    let path = dir.join(INDEX_FILE);
    if !index_unfinished(fs, &path)? || !log_never_written(fs, dir)? {
        return Ok(false);
    }
    tracing::warn!(file = %path.display(), "rebuilding an index whose creation never finished");
    fs.remove(&path)
        .and_then(|()| fs.sync_dir(dir))
        .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
    Ok(true)
}

/// Whether the store in `dir` was never created in full: no index, or one that never
/// finished its first commit, under a log that never held a record. A read-only open sees
/// such a store as empty.
pub(crate) fn never_finished(fs: &dyn FileSystem, dir: &Path) -> Result<bool> {
    let path = dir.join(INDEX_FILE);
    let missing = index_file(fs, &path)?.is_none();
    Ok((missing || index_unfinished(fs, &path)?) && log_never_written(fs, dir)?)
}

/// An index file whose magic number was never written (empty, or cut short).
fn index_unfinished(fs: &dyn FileSystem, path: &Path) -> Result<bool> {
    let ctx = || format!("reading {}", path.display());
    let Some(backend) = index_file(fs, path)? else {
        return Ok(false);
    };
    let len = backend.len().map_err(|e| Error::io(ctx(), e))?;
    if len == 0 {
        return Ok(true); // created, never written
    }
    let mut head = [0u8; MAGIC_LEN];
    let n = (len as usize).min(MAGIC_LEN);
    backend
        .read(0, &mut head[..n])
        .map_err(|e| Error::io(ctx(), e))?;
    Ok(head.iter().all(|&b| b == 0))
}

/// The index file's backend (through `fs`), if the file exists; never creates it.
fn index_file(fs: &dyn FileSystem, path: &Path) -> Result<Option<Box<dyn redb::StorageBackend>>> {
    let names = fs
        .list(path.parent().unwrap_or(path))
        .map_err(|e| Error::io(format!("listing {}", path.display()), e))?;
    if !names.iter().any(|n| n == INDEX_FILE) {
        return Ok(None);
    }
    Ok(Some(crate::index::io::index_backend(fs, path, false)?.0))
}

/// No segment, or only a first one (LSN 1) holding no valid record.
fn log_never_written(fs: &dyn FileSystem, dir: &Path) -> Result<bool> {
    let names = fs
        .list(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let segments: Vec<u64> = names
        .iter()
        .filter_map(|n| crate::log::parse_segment_name(n))
        .collect();
    match segments.as_slice() {
        [] => Ok(true),
        [1] => {
            let path = crate::log::segment_path(dir, 1);
            let bytes = crate::log::recovery::read_all(fs, &path)?;
            let start = OLD_SEGMENT_HEADER_LEN.min(bytes.len());
            let max_lsn = (bytes.len() / crate::log::frame::RECORD_HEADER_LEN) as u64 + 1;
            Ok(valid_records_after(&bytes, start, 0, max_lsn).is_empty())
        }
        _ => Ok(false),
    }
}
