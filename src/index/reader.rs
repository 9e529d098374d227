//! Read-only opens of the index, after a crash too.
//!
//! redb lets a read-only process follow a live writer, but refuses a file that a killed
//! writer left unclean ("repair aborted"): only a writer may repair it. That is the first
//! thing an operator opens after a crash, so then the index is opened as a writer behind a
//! gate that is never released (see `gate`): redb repairs in memory and the file is not
//! touched. While such a store is open it holds the store's lock shared, so no writer can
//! start, repair and reuse pages under it; a writer that is running already has repaired
//! the file, and the normal read-only open is retried.

use std::path::Path;
use std::sync::Arc;

use super::file::Index;
use super::gate::Gate;
use crate::error::{Error, Result};
use crate::index::io::{Gated, IndexIo, open_counted};
use crate::io::FileSystem;
use crate::paths::LOCK_FILE;

/// The index of the store in `dir`, read-only, and the shared lock held if a writer's crash
/// had to be repaired in memory. `never_finished`: the store's creation was cut short
/// (`creation::never_finished`), so it reads as empty.
pub(crate) fn open(
    fs: &dyn FileSystem,
    dir: &Path,
    (cache, never_finished): (usize, bool),
    keys: Option<&Arc<crate::crypto::Keys>>,
    io: &Arc<IndexIo>,
) -> Result<(Index, Option<std::fs::File>)> {
    let path = dir.join(crate::paths::INDEX_FILE);
    if never_finished {
        // Nothing was ever stored: an empty index in memory.
        let (empty, _) = Gate::new(Box::new(redb::backends::InMemoryBackend::new()), true);
        return Ok((Index::open_writer(empty, cache, &path, keys)?, None));
    }
    for _ in 0..400 {
        let (counted, _, _) = open_counted(fs, &path, false, io, Gated::No)?;
        if let Some(index) = Index::open_reader(counted, cache, &path)? {
            return Ok((index, None));
        }
        if let Some(lock) = lock_shared(dir)? {
            let (counted, _never_released, _) =
                open_counted(fs, &path, false, io, Gated::ReadOnly)?;
            let index = Index::open_writer(counted, cache, &path, keys)?;
            return Ok((index, lock));
        }
        // A writer holds the lock and is opening: it repairs the file.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err(Error::Locked {
        path: dir.to_owned(),
    })
}

/// redb's own integrity check of the index file (page checksums, tree structure, allocator
/// state), run on a private copy-on-write open: the file is not written. The caller makes
/// sure no writer changes the file meanwhile. `Some(problem)` if it failed.
pub(crate) fn integrity(fs: &dyn FileSystem, path: &Path) -> Result<Option<String>> {
    super::db::guarded(path, || {
        let (backend, _) = crate::index::io::index_backend(fs, path, false)?;
        let (gated, _never_released) = Gate::new(backend, true);
        let mut b = redb::Builder::new();
        b.set_cache_size(16 << 20)
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter);
        let mut db = match b.create_with_backend(gated) {
            Ok(db) => db,
            Err(e) => {
                return Ok(Some(format!(
                    "{}: redb cannot open it: {e}",
                    path.display()
                )));
            }
        };
        Ok(match db.check_integrity() {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "{}: redb's integrity check needed a repair",
                path.display()
            )),
            Err(e) => Some(format!(
                "{}: redb's integrity check failed: {e}",
                path.display()
            )),
        })
    })
}

/// The store's lock, shared: `Some(None)` when the store has no lock file (no writer ever
/// ran there), `None` while a writer holds it.
pub(crate) fn lock_shared(dir: &Path) -> Result<Option<Option<std::fs::File>>> {
    let path = dir.join(LOCK_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(None)),
        Err(e) => return Err(Error::io(format!("opening {}", path.display()), e)),
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(Some(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("locking {}", dir.display()), e))
        }
    }
}
