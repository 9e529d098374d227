//! Giving disk space back while the store runs: the index is rebuilt into a fresh file and
//! renamed over the live one.
//!
//! Runs on the checkpoint thread right after a checkpoint, so no checkpoint can fold into
//! the old file meanwhile: the fresh file, a table-by-table copy of the last checkpoint, has
//! exactly the old one's contents and checkpoint LSN. Writers go on appending to the log and
//! the overlay (it sits above either file unchanged); only the next checkpoint waits. A crash
//! before the rename leaves the old index and a leftover `index.redb.reclaim` that the next
//! open deletes; after it, the new index, whose checkpoint LSN the log still continues.

use std::path::Path;
use std::sync::Arc;

use super::shared::Shared;
use crate::error::{Error, Result};
use crate::index::Index;
use crate::index::io::{Gated, open_counted};
use crate::paths::INDEX_FILE;
use crate::phase::Phase;

/// The rebuilt index before it is renamed over the live one.
pub(crate) const RECLAIM_FILE: &str = "index.redb.reclaim";

/// Removes a leftover rebuilt index (an interrupted reclaim), if any.
pub(crate) fn remove_leftover(fs: &dyn crate::io::FileSystem, dir: &Path) -> Result<()> {
    let path = dir.join(RECLAIM_FILE);
    match fs.remove(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

/// Opens (creating if missing) an index file for writing.
fn open(shared: &Shared, path: &Path) -> Result<Index> {
    let (counted, _, _) =
        open_counted(shared.fs.as_ref(), path, true, &shared.index_io, Gated::No)?;
    Index::open_writer(counted, shared.cache_size, path, shared.codec.keys())
}

pub(crate) fn reclaim(shared: &Shared) -> Result<()> {
    let fs = shared.fs.as_ref();
    let live = shared.dir.join(INDEX_FILE);
    let fresh = shared.dir.join(RECLAIM_FILE);
    remove_leftover(fs, &shared.dir)?;
    shared.index_io.next_file();
    {
        let rebuilt = open(shared, &fresh)?;
        shared.index.copy_into(&rebuilt)?;
    }
    shared.reach(Phase::ReclaimCopied);
    let ctx = |what: &str| format!("{what} {}", fresh.display());
    fs.rename(&fresh, &live)
        .map_err(|e| Error::io(ctx("renaming"), e))?;
    fs.sync_dir(&shared.dir)
        .map_err(|e| Error::io(ctx("syncing the directory of"), e))?;
    shared.reach(Phase::ReclaimSwapped);
    shared.index.replace_with(open(shared, &live)?)?;
    let base = Arc::new(shared.index.base(&shared.codec, &shared.hints)?);
    let old = std::mem::replace(&mut shared.write_layers().base, base);
    // The old file closes when its last snapshot goes, which can take seconds (redb syncs
    // it): never under the layers' lock, where it would hold up every writer.
    drop(old);
    Ok(())
}
