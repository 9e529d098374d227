//! Opening a store's core: for writing (recovery, creation, the index behind its gate until
//! every check passed) and read-only (one snapshot, after a crash too). Callers run an open
//! inside `index::guarded`: redb panics on some damaged pages, anywhere in an open, and the
//! caller gets an error naming the index instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Core;
use crate::codec::ValueCodec;
use crate::commit::{self, Shared};
use crate::error::{Error, Result};
use crate::index::io::{Gated, IndexIo, open_counted};
use crate::index::{self, Base, Index};
use crate::io::{FileSystem, RealFs};
use crate::log::recovery::{ReadLog, recover};
use crate::log::{segment_path, writer::LogWriter};
use crate::options::{Options, RecoveryReport};
use crate::paths::{self, INDEX_FILE, LOCK_FILE};
use crate::phase::Phase;
use crate::state::apply::apply_batch;
use crate::state::overlay::Overlay;

/// A core just opened: where, and what recovery found.
pub(crate) struct Opened {
    pub core: Core,
    pub dir: PathBuf,
    pub recovery: RecoveryReport,
}

impl Core {
    /// Opens for writing; `preloaded` are the keys of an encrypted store (for a backup).
    pub(crate) fn open_writer(
        path: &Path,
        mut options: Options,
        preloaded: Option<Arc<crate::crypto::Keys>>,
    ) -> Result<Opened> {
        let dir = paths::store_dir(path);
        paths::check_store_path(&dir)?;
        // Weak parameters for a new key file are refused before anything is created.
        if let Some(e) = &options.encryption
            && preloaded.is_none()
            && !dir.join(crate::paths::KEY_FILE).exists()
        {
            crate::crypto::keyfile::check_new(e.kdf)?;
        }
        let created = paths::create_dir(&dir)?;
        paths::secure(&dir, true)?;
        let lock = paths::open_private(&dir.join(LOCK_FILE), true)?;
        paths::take_lock(&lock, &dir)?;
        let hook = &options.hook();
        crate::phase::reach(hook, Phase::OpenLocked);
        let fs = options.file_system();
        fs.create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let index_path = dir.join(INDEX_FILE);
        paths::refuse_lost_index(fs.as_ref(), &dir)?;
        // The passphrase is dropped (wiped) once the keys are unwrapped.
        let encryption = options.encryption.take();
        let keys = crate::crypto::keyfile::unlock(
            fs.as_ref(),
            &dir,
            encryption.as_ref(),
            preloaded,
            true,
        )?;
        drop(encryption);
        crate::phase::reach(hook, Phase::OpenKeyReady);
        crate::creation::remove_unfinished_index(fs.as_ref(), &dir)?;
        let index_io = Arc::new(IndexIo::default());
        // Nothing reaches the index file until the open has passed every check.
        let (counted, gate, new_index) =
            open_counted(fs.as_ref(), &index_path, true, &index_io, Gated::Writer)?;
        let gate = gate.ok_or_else(|| Error::Internal("a writer open without its gate".into()))?;
        let index = Index::open_writer(counted, options.cache_size, &index_path, keys.as_ref())?;
        let mut codec = index.codec(keys.clone())?;

        let (mut checkpoint_lsn, mut base) = snapshot(&index, &codec, options.cache_size)?;
        let mut active = Overlay::default();
        let how = ReadLog {
            mode: options.recovery,
            read_only: false,
            keys: codec.log_keys(),
        };
        let mut rec = replay(&fs, &dir, checkpoint_lsn, &how, (&mut active, &base))?;
        crate::phase::reach(hook, Phase::OpenChecked);
        gate.release()
            .map_err(|e| Error::io(format!("writing {}", index_path.display()), e))?;
        rec.apply_fixes(&fs, &dir)?;
        crate::commit::reclaim::remove_leftover(fs.as_ref(), &dir)?;
        // An index of an older format is brought to this one's (an encrypted one gains its
        // lineage, with the replayed log folded in): the codec and base are taken again.
        let hints = base.hints().clone();
        let fold_recovered = |txn: &redb::WriteTransaction, new: &ValueCodec| match active.records {
            0 => Ok(()),
            _ => crate::state::fold::fold_into(txn, &active, new, &hints),
        };
        if index.upgrade(&codec, &index_path, &fold_recovered)? {
            codec = index.codec(keys.clone())?;
            let folded = codec.keys().is_some();
            (checkpoint_lsn, base) = snapshot(&index, &codec, options.cache_size)?;
            if folded {
                active = Overlay::default();
            }
        }
        if created || new_index {
            // The lock file is always real; the index lives wherever `fs` keeps it.
            let real = RealFs.sync_dir(&dir);
            let other = match options.has_test_fs() {
                true => fs.sync_dir(&dir),
                false => Ok(()),
            };
            real.and(other)
                .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))?;
        }
        crate::phase::reach(hook, Phase::OpenIndexWritten);
        let report = RecoveryReport {
            records_replayed: rec.replayed,
            bytes_cut: rec.bytes_cut,
            checkpoint_lsn,
        };
        tracing::info!(
            dir = %dir.display(),
            checkpoint_lsn,
            records_replayed = rec.replayed,
            bytes_cut = rec.bytes_cut,
            "opened store"
        );

        // A segment holding only a header has the name the new segment needs.
        let next = segment_path(&dir, rec.next_lsn);
        if rec.segments.last() == Some(&next) {
            rec.segments.pop();
            fs.remove(&next)
                .and_then(|()| fs.sync_dir(&dir))
                .map_err(|e| Error::io(format!("removing {}", next.display()), e))?;
        }
        let log = LogWriter::create(
            fs.clone(),
            &dir,
            rec.next_lsn,
            (rec.segments, rec.segment_bytes),
            options.segment_bytes.min(1 << 20),
            options.hook(),
            codec.keys().cloned().zip(codec.lineage().copied()),
        )
        .map_err(|e| Error::io(format!("starting a log segment in {}", dir.display()), e))?;
        let shared = Arc::new(Shared::new(
            dir.clone(),
            fs,
            (index, index_io),
            (active, base),
            checkpoint_lsn,
            Some(&options),
            codec,
        ));
        let writer = commit::spawn(shared.clone(), log)?;
        let core = Core {
            shared,
            read_only: false,
            options,
            writer: std::sync::Mutex::new(Some(writer)),
            _lock: Some(lock),
        };
        Ok(Opened {
            core,
            dir,
            recovery: report,
        })
    }

    /// Opens read-only, beside a writer that may be running: the last checkpoint plus the
    /// log written so far, as one snapshot taken now.
    pub(crate) fn open_read_only(path: &Path, mut options: Options) -> Result<Opened> {
        let dir = paths::store_dir(path);
        paths::check_store_path(&dir)?;
        let fs = options.file_system();
        let listed = fs.list(&dir).unwrap_or_default();
        let ours = |n: &String| n == INDEX_FILE || crate::log::parse_segment_name(n).is_some();
        // An empty directory is a creation killed before its first file: an empty store.
        let empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
        if !listed.iter().any(ours) && !dir.join(LOCK_FILE).exists() && !empty {
            return Err(Error::InvalidArgument(format!(
                "{} is not a sessiondb store",
                dir.display()
            )));
        }
        paths::secure(&dir, false)?;
        let index_path = dir.join(INDEX_FILE);
        // A creation killed before its key file was written stored nothing to decrypt.
        let never_finished = crate::creation::never_finished(fs.as_ref(), &dir)?;
        let keyless = never_finished && !crate::crypto::keyfile::exists(fs.as_ref(), &dir)?;
        let encryption = options.encryption.take().filter(|_| !keyless);
        let keys =
            crate::crypto::keyfile::unlock(fs.as_ref(), &dir, encryption.as_ref(), None, false)?;
        drop(encryption);
        let index_io = Arc::new(IndexIo::default());
        let (index, lock) = index::reader::open(
            fs.as_ref(),
            &dir,
            (options.cache_size, never_finished),
            keys.as_ref(),
            &index_io,
        )?;
        let store_id = keys.as_ref().map(|k| &k.store_id);
        index::check_reader_store_id(&index, &index_path, store_id)?;
        let codec = index.codec(keys.clone())?;
        // A checkpoint of the writer may delete segments while we read them: try again.
        let mut attempt = 0;
        let (base, active, rec, checkpoint_lsn) = loop {
            let (checkpoint_lsn, base) = snapshot(&index, &codec, options.cache_size)?;
            let mut active = Overlay::default();
            let how = ReadLog {
                mode: options.recovery,
                read_only: true,
                keys: codec.log_keys(),
            };
            let result = replay(&fs, &dir, checkpoint_lsn, &how, (&mut active, &base));
            match result {
                Ok(rec) => break (base, active, rec, checkpoint_lsn),
                Err(e) if attempt < 5 && matches!(e, Error::Io { .. } | Error::Corrupt { .. }) => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let shared = Arc::new(Shared::new(
            dir.clone(),
            fs,
            (index, index_io),
            (active, base),
            checkpoint_lsn,
            None,
            codec,
        ));
        let core = Core {
            shared,
            read_only: true,
            options,
            writer: std::sync::Mutex::new(None),
            _lock: lock,
        };
        let recovery = RecoveryReport {
            records_replayed: rec.replayed,
            bytes_cut: 0,
            checkpoint_lsn,
        };
        Ok(Opened {
            core,
            dir,
            recovery,
        })
    }
}

/// The checkpoint LSN and the tables of the index's last checkpoint, with room for username
/// hints (a quarter of the cache size), filled in the background once the open succeeded
/// (`Shared::new`).
fn snapshot(index: &Index, codec: &ValueCodec, cache_size: usize) -> Result<(u64, Arc<Base>)> {
    let txn = index.read()?;
    let checkpoint_lsn = index::checkpoint_lsn(&txn.txn, codec)?;
    let hints = Arc::new(index::UsernameHints::new(cache_size / 4));
    let base = Arc::new(Base::open(txn, codec.clone(), hints)?);
    Ok((checkpoint_lsn, base))
}

/// Replays the log in `dir` over `base` into `active`.
fn replay(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    checkpoint_lsn: u64,
    how: &ReadLog<'_>,
    (active, base): (&mut Overlay, &Base),
) -> Result<crate::log::recovery::Recovered> {
    recover(fs, dir, checkpoint_lsn, how, &mut |lsn, ops| {
        apply_batch(active, None, Some(base), lsn, ops)
    })
}
