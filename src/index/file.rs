//! The index file: opened for the one writer or read-only, its format checked and upgraded,
//! overlays folded into it at checkpoints, copied whole into a fresh file for a reclaim.

use std::path::Path;
use std::sync::Arc;

use redb::{
    Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    WriteTransaction,
};

use super::base::Base;
use super::db::{Db, Pinned, REPAIR_ABORTED, guarded, open_error, opened};
use super::hints::UsernameHints;
use super::meta::{self, META};
use super::tables::*;
use super::upgrade;
use crate::codec::ValueCodec;
use crate::error::{Error, Result};
use crate::locks::Unpoisoned;

/// The redb database, opened for writing or read-only.
pub(crate) enum Index {
    /// Behind a lock only so that a reclaim can swap in a rebuilt file. Shared with every
    /// snapshot taken of it: dropping a redb `Database` invalidates its read transactions,
    /// so a swapped-out file stays open until its last snapshot is gone.
    Writer(std::sync::RwLock<Arc<Db>>),
    Reader(ReadOnlyDatabase),
}

impl Index {
    /// Opens (creating if empty) the index for the one writer.
    pub fn open_writer(
        backend: impl redb::StorageBackend,
        cache: usize,
        path: &Path,
        keys: Option<&Arc<crate::crypto::Keys>>,
    ) -> Result<Index> {
        let db = Db(Some(opened(path, cache, |b| {
            b.create_with_backend(backend)
        })?));
        guarded(path, || Index::init(&db, path, keys))?;
        Ok(Index::Writer(std::sync::RwLock::new(Arc::new(db))))
    }

    /// How this index's values are read and written: plain, or sealed with `keys` for the
    /// lineage its `meta` records.
    pub fn codec(&self, keys: Option<Arc<crate::crypto::Keys>>) -> Result<ValueCodec> {
        let lineage = match &keys {
            Some(_) => meta::lineage(&self.read()?.txn)?,
            None => None,
        };
        Ok(ValueCodec::new(keys, lineage))
    }

    /// Opens the index read-only, beside a writer that may be running.
    /// `None` when redb wants a repair first (its writer died): see `reader::open`.
    pub fn open_reader(
        backend: impl redb::StorageBackend,
        cache: usize,
        path: &Path,
    ) -> Result<Option<Index>> {
        match opened(path, cache, |b| b.open_read_only_with_backend(backend)) {
            Ok(db) => Ok(Some(Index::Reader(db))),
            Err(Error::Index { reason, .. }) if reason.ends_with(REPAIR_ABORTED) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tables of the last checkpoint.
    pub fn base(&self, codec: &ValueCodec, hints: &Arc<UsernameHints>) -> Result<Base> {
        Base::open(self.read()?, codec.clone(), hints.clone())
    }

    /// A read snapshot of the last checkpoint.
    pub fn read(&self) -> Result<Pinned> {
        Ok(match self {
            Index::Writer(db) => {
                let db = db.read().unpoisoned().clone();
                Pinned {
                    txn: db.begin_read()?,
                    _db: Some(db),
                }
            }
            Index::Reader(db) => Pinned {
                txn: db.begin_read()?,
                _db: None,
            },
        })
    }

    /// Checks the format version; on a new file, writes it and creates the tables. An
    /// existing index is only read here, so a refused open changes nothing.
    /// A new encrypted index draws its lineage here.
    pub fn init(db: &Database, path: &Path, keys: Option<&Arc<crate::crypto::Keys>>) -> Result<()> {
        let store_id = keys.map(|k| &k.store_id);
        if let Ok(txn) = db.begin_read()
            && let Ok(meta) = txn.open_table(META)
            && meta::format(&meta, path)?.is_some()
        {
            return meta::check_store_id(&txn, path, store_id);
        }
        let txn = db.begin_write()?;
        {
            let mut table = txn.open_table(META)?;
            if meta::format(&table, path)?.is_none() {
                let format = meta::INDEX_FORMAT.to_le_bytes();
                table.insert(meta::FORMAT, format.as_slice())?;
                let lineage = match keys {
                    Some(_) => Some(crate::crypto::fresh_lineage()?),
                    None => None,
                };
                if let (Some(id), Some(lineage)) = (store_id, &lineage) {
                    meta::put_checked(&mut table, meta::STORE_ID, id)?;
                    meta::put_checked(&mut table, meta::LINEAGE, lineage)?;
                }
                let codec = ValueCodec::new(keys.cloned(), lineage);
                meta::put(&mut table, meta::CHECKPOINT, &0u64.to_le_bytes(), &codec)?;
                meta::put(&mut table, meta::NEXT_ACCOUNT, &1u32.to_le_bytes(), &codec)?;
                create_tables(&txn)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Brings an index of an older format to this build's, in one transaction (for a
    /// writer, once its open passed every check); when the values are re-sealed,
    /// `fold_recovered` folds the log replayed over it into the same transaction, with the
    /// new codec. Returns whether it upgraded.
    pub fn upgrade(
        &self,
        old: &ValueCodec,
        path: &Path,
        fold_recovered: upgrade::FoldRecovered<'_>,
    ) -> Result<bool> {
        let Index::Writer(db) = self else {
            return Err(Error::ReadOnly);
        };
        let db = db.read().unpoisoned().clone();
        upgrade::run(&db, old, path, fold_recovered)
    }

    /// A write transaction on the index (the one writer's).
    pub fn begin_write(&self) -> Result<WriteTransaction> {
        let Index::Writer(db) = self else {
            return Err(Error::ReadOnly);
        };
        Ok(db.read().unpoisoned().begin_write()?)
    }
}

impl Index {
    /// Copies every table of the last checkpoint into `dst` (a fresh index) in one
    /// transaction: the same contents, without the pages copy-on-write left free (smaller
    /// transactions would leave new free pages behind in the fresh file).
    pub fn copy_into(&self, dst: &Index) -> Result<()> {
        let Index::Writer(dst) = dst else {
            return Err(Error::ReadOnly);
        };
        let src = self.read()?;
        let src = &src.txn;
        let dst = dst.read().unpoisoned();
        let txn = dst.begin_write()?;
        copy(src, &txn, META)?;
        copy(src, &txn, ACCOUNTS)?;
        copy(src, &txn, SESSIONS)?;
        copy(src, &txn, DCS)?;
        copy(src, &txn, UPDATE_STATE)?;
        copy(src, &txn, CHANNEL_STATE)?;
        copy(src, &txn, APP_FIELDS)?;
        copy(src, &txn, PEERS)?;
        copy(src, &txn, USERNAMES)?;
        copy(src, &txn, PHONES)?;
        copy(src, &txn, MIN_PEERS)?;
        copy(src, &txn, EXTRAS)?;
        txn.commit()?;
        Ok(())
    }

    /// Takes `other`'s database in place of this one's (after a reclaim renamed its file).
    pub fn replace_with(&self, other: Index) -> Result<()> {
        match (self, other) {
            (Index::Writer(mine), Index::Writer(theirs)) => {
                let theirs = theirs.into_inner().unpoisoned();
                let old = std::mem::replace(&mut *mine.write().unpoisoned(), theirs);
                // Closing may sync the old file: not under the lock snapshots are taken with.
                drop(old);
                Ok(())
            }
            _ => Err(Error::ReadOnly),
        }
    }
}

fn copy<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &ReadTransaction,
    dst: &redb::WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<()> {
    let mut to = dst.open_table(def)?;
    // A table newer than the source store: the copy has it, empty.
    let Some(from) = super::base::optional(src.open_table(def))? else {
        return Ok(());
    };
    for entry in from.iter()? {
        let (k, v) = entry?;
        to.insert(k.value(), v.value())?;
    }
    Ok(())
}

/// Compacts a closed index file in place: redb moves pages out of the free space that
/// checkpoints' page splits and its allocator's tail left, and truncates the file (a third
/// smaller for a fresh copy of 200k peers). For backups and `compact`, before the copy is
/// renamed into place.
pub(crate) fn compact_file(fs: &dyn crate::io::FileSystem, path: &Path) -> Result<()> {
    guarded(path, || {
        // Opened for writing (`create`: the file is there, nothing is created).
        let io = Arc::new(crate::index::io::IndexIo::default());
        let (counted, _, _) = super::io::open_counted(fs, path, true, &io, super::io::Gated::No)?;
        let mut db = redb::Builder::new()
            .create_with_backend(counted)
            .map_err(|e| open_error(e, path))?;
        while db.compact().map_err(|e| Error::Index {
            reason: format!("compacting {}: {e}", path.display()),
            source: Some(e.into()),
        })? {}
        Ok(())
    })
}

/// Checks a read-only open's key file against the index.
pub(crate) fn check_reader_store_id(
    index: &Index,
    path: &Path,
    expected: Option<&[u8; 16]>,
) -> Result<()> {
    meta::check_store_id(&index.read()?.txn, path, expected)
}
