//! A redb database as sessiondb holds it: opened with our cache and concurrency mode, closed
//! without a panic escaping, and every call that may meet a damaged file `guarded`.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadTransaction};

use crate::error::{Error, Result};

/// A redb `Database` whose closing cannot panic out: closing a writer commits allocator
/// state, and on a damaged file redb may panic there (in a drop, anywhere).
pub(crate) struct Db(pub(super) Option<Database>);

impl std::ops::Deref for Db {
    type Target = Database;
    fn deref(&self) -> &Database {
        match &self.0 {
            Some(db) => db,
            None => unreachable!("a Db is only emptied by its drop"),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(db) = self.0.take() {
            let close = std::panic::AssertUnwindSafe(|| drop(db));
            if std::panic::catch_unwind(close).is_err() {
                tracing::error!("closing a damaged index failed");
            }
        }
    }
}

/// A read transaction and the database it reads, kept open as long as the transaction.
pub(crate) struct Pinned {
    pub txn: ReadTransaction,
    /// Declared after `txn`, so it is dropped after it.
    pub _db: Option<Arc<Db>>,
}

/// Runs a redb call that may meet a damaged file. redb's own checks panic in debug builds on
/// some corruption; a damaged index must be an error naming the file, never a panic.
pub(crate) fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::Corrupt {
            file: path.to_owned(),
            offset: 0,
            reason: "the index file is damaged (redb could not read it)".into(),
        })
    })
}

pub(crate) fn open_error(e: redb::DatabaseError, path: &Path) -> Error {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked {
            path: path.parent().unwrap_or(path).to_owned(),
        },
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => Error::Corrupt {
            file: path.to_owned(),
            offset: 0,
            reason,
        },
        redb::DatabaseError::UpgradeRequired(v) => Error::UnsupportedVersion {
            what: format!("redb file {}", path.display()),
            found: u32::from(v),
            supported: 3,
        },
        redb::DatabaseError::RepairAborted => {
            Error::index(format!("{}: {REPAIR_ABORTED}", path.display()))
        }
        other => Error::Index {
            reason: format!("{}: {other}", path.display()),
            source: Some(other.into()),
        },
    }
}

/// How a read-only open that met a file only a writer may repair is told apart.
pub(crate) const REPAIR_ABORTED: &str = "the index needs a repair only a writer may make";

/// Opens redb with our cache size, in the mode that lets read-only processes follow one
/// writer, turning its refusals (and panics) into our errors naming `path`.
pub(crate) fn opened<D>(
    path: &Path,
    cache: usize,
    open: impl FnOnce(&redb::Builder) -> std::result::Result<D, redb::DatabaseError>,
) -> Result<D> {
    guarded(path, || {
        let mut b = redb::Builder::new();
        b.set_cache_size(cache)
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter);
        open(&b).map_err(|e| open_error(e, path))
    })
}
