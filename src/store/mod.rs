//! The open store: its handle, its accounts, and closing it (opening is in `open`).

mod open;

use crate::locks::Unpoisoned;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::account::Account;
use crate::core::Core;
use crate::core::open::Opened;
use crate::engine::{Control, Engine};
use crate::error::{Error, Result};
use crate::index::io::IndexIoCounts;
use crate::maintenance::stats::Stats;
use crate::model::DEFAULT_ACCOUNT;
use crate::options::RecoveryReport;

/// An open sessiondb store: one directory, many accounts, one writer process.
///
/// Dropping a store flushes buffered writes but does not checkpoint; [`Store::close`] does.
pub struct Store {
    inner: std::sync::Mutex<Option<Arc<Core>>>,
    /// Declared after `inner`: once the store is gone a running prune fails fast with
    /// `Closed`, so joining its thread does not wait for the whole prune.
    auto_prune: std::sync::Mutex<Option<crate::maintenance::prune::AutoPruner>>,
    dir: PathBuf,
    read_only: bool,
    recovery: RecoveryReport,
    /// One rekey at a time on this store (the lock file keeps other processes out).
    rekeying: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// What the open found in the log.
    pub fn recovery(&self) -> RecoveryReport {
        self.recovery
    }

    /// A handle on the `"default"` account.
    pub fn default_account(&self) -> Account {
        Account::new(self.engine(), DEFAULT_ACCOUNT.to_owned())
    }

    /// A handle on a named account (it exists once something is written to it). A new
    /// account's name must pass [`crate::validate_new_account`].
    pub fn account(&self, name: &str) -> Result<Account> {
        Account::checked(self.engine(), name)
    }

    /// Creates an account durably (idempotent) and returns its handle.
    pub fn create_account(&self, name: &str) -> Result<Account> {
        let account = self.account(name)?;
        crate::engine::create_account(self.inner()?.as_ref(), name).wait()?;
        Ok(account)
    }

    /// The accounts that exist, sorted.
    pub fn accounts(&self) -> Result<Vec<String>> {
        crate::engine::accounts(self.inner()?.as_ref())
    }

    /// Deletes an account and everything stored under it, durably.
    pub fn delete_account(&self, name: &str) -> Result<()> {
        crate::engine::delete_account(self.inner()?.as_ref(), name)
            .wait()
            .map(drop)
    }

    fn wrap(opened: Opened) -> Store {
        let Opened {
            core: inner,
            dir,
            recovery,
        } = opened;
        let auto = inner.options().auto_prune.filter(|_| !inner.is_read_only());
        let store = Store {
            auto_prune: std::sync::Mutex::new(None),
            read_only: inner.is_read_only(),
            inner: std::sync::Mutex::new(Some(Arc::new(inner))),
            dir,
            recovery,
            rekeying: std::sync::Mutex::new(()),
        };
        if let Some(auto) = auto {
            match crate::maintenance::prune::AutoPruner::spawn(store.engine(), auto) {
                Ok(pruner) => *store.auto_prune.lock().unpoisoned() = Some(pruner),
                Err(e) => tracing::warn!(error = %e, "could not start the automatic pruner"),
            }
        }
        store
    }

    fn inner(&self) -> Result<Arc<Core>> {
        self.inner.lock().unpoisoned().clone().ok_or(Error::Closed)
    }

    fn engine(&self) -> std::sync::Weak<dyn Engine> {
        match self.inner() {
            Ok(inner) => {
                let weak: std::sync::Weak<dyn Engine> = Arc::downgrade(&inner) as _;
                weak
            }
            Err(_) => std::sync::Weak::<Core>::new() as _,
        }
    }

    /// Syncs every buffered write.
    pub fn flush(&self) -> Result<()> {
        self.inner()?.control(Control::Flush).wait().map(drop)
    }

    /// Folds everything written so far into the index in one durable transaction and drops
    /// the log it covered. Returns the checkpoint LSN.
    pub fn checkpoint(&self) -> Result<u64> {
        self.inner()?.control(Control::Checkpoint).wait()
    }

    /// The LSN of the last checkpoint.
    pub fn checkpoint_lsn(&self) -> u64 {
        self.inner().map_or(0, |i| i.shared().checkpoint_lsn())
    }

    /// Gives back the disk space the index no longer uses, while writers go on: checkpoints,
    /// then rebuilds the index into a fresh file and renames it over the old one (see
    /// `docs/design.md`). Returns the index file's size before and after, in bytes. Writes
    /// go on meanwhile; the next checkpoint, and a `save` or explicit checkpoint issued
    /// meanwhile, wait until it is done (the writes queued behind them do not).
    pub fn reclaim(&self) -> Result<(u64, u64)> {
        let inner = self.inner()?;
        let before = inner.shared().index_io().counts().file_len;
        inner.control(Control::Reclaim).wait()?;
        Ok((before, inner.shared().index_io().counts().file_len))
    }

    /// What the index has written and synced since the store was opened.
    pub fn index_io(&self) -> IndexIoCounts {
        self.inner()
            .map(|i| i.shared().index_io().counts())
            .unwrap_or_default()
    }

    /// Sizes, counts, log length, last checkpoint, and per-account figures.
    pub fn stats(&self) -> Result<Stats> {
        crate::maintenance::stats::of(self.inner()?.as_ref())
    }

    /// Reads back every log record and every stored value, cross-checks peers with the
    /// username and phone indexes, and reports what it checked and every problem found.
    /// Runs beside writers: it reads one consistent snapshot, and the log as it is.
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        crate::maintenance::verify::store(self.inner()?.shared(), &self.dir, self.read_only)
    }

    /// Writes a consistent copy of the whole store to `dest` (`x` → `x.session/`) while
    /// writers go on. The copy appears under its name only once complete and synced; an
    /// interrupted backup leaves just [`partial_dir`](crate::partial_dir)`(dest)`.
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<crate::BackupReport> {
        let keys = crate::maintenance::backup::CopyKeys::Same;
        crate::maintenance::backup::backup(self.inner()?.shared(), dest.as_ref(), keys)
    }

    /// Whether the store is encrypted (see [`Options::encryption`](crate::Options::encryption)).
    pub fn is_encrypted(&self) -> Result<bool> {
        Ok(self.inner()?.shared().keys().is_some())
    }

    /// Wraps the store's data key under a new passphrase (and Argon2id parameters): one
    /// small file is rewritten, crash-safely; the data is not. Writers go on meanwhile.
    ///
    /// The data key stays the same: a copy of the old key file (in any backup made before)
    /// still opens with the old passphrase, and its data key decrypts everything written
    /// after the rekey too. After a passphrase leaked, use [`rotate`](crate::rotate).
    pub fn rekey(&self, new: &crate::Encryption) -> Result<()> {
        let inner = self.inner()?;
        inner.writable()?;
        let shared = inner.shared();
        let keys = shared.keys().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} is not encrypted: it was created without a passphrase",
                self.dir.display()
            ))
        })?;
        let _one_at_a_time = self.rekeying.lock().unpoisoned();
        let (fs, hook) = (shared.fs().as_ref(), shared.phase_hook());
        crate::crypto::keyfile::rekey(fs, &self.dir, keys, new, hook)
    }

    /// `Ok` while the store accepts writes; `Error::Latched` after an I/O failure (reopen
    /// it), `Error::Closed` after close.
    pub fn health(&self) -> Result<()> {
        match self.inner()?.shared().latched() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Bytes currently in the log.
    pub fn log_bytes(&self) -> u64 {
        self.inner().map_or(0, |i| i.shared().log_bytes())
    }

    /// Checkpoints, syncs and closes the store, releasing the lock. Later calls on it (or
    /// its account handles) return `Error::Closed`.
    pub fn close(&self) -> Result<()> {
        let pruner = self.take_pruner();
        let Some(inner) = self.take_inner() else {
            return Ok(());
        };
        let result = inner.stop(true).wait().map(drop);
        drop(inner);
        drop(pruner);
        result
    }

    /// Takes the automatic pruner, already told to stop (joined when dropped).
    fn take_pruner(&self) -> Option<crate::maintenance::prune::AutoPruner> {
        let pruner = self.auto_prune.lock().unpoisoned().take();
        if let Some(p) = &pruner {
            p.signal();
        }
        pruner
    }

    /// [`Store::close`] for async code: waits for the final checkpoint without blocking and
    /// releases files on a blocking thread.
    ///
    /// # Cancel safety
    /// Once called, the store is closing whether or not the future is polled to the end.
    pub fn close_async(&self) -> crate::pending::BoxFuture<'_, ()> {
        let pruner = self.take_pruner();
        let inner = self.take_inner();
        Box::pin(async move {
            let Some(inner) = inner else { return Ok(()) };
            let result = inner.stop(true).await.map(drop);
            crate::blocking::off_runtime("closing", move || {
                drop(inner);
                drop(pruner);
                Ok(())
            })
            .await?;
            result
        })
    }

    /// Takes the open store out, so that dropping it closes everything.
    fn take_inner(&self) -> Option<Arc<Core>> {
        self.inner.lock().unpoisoned().take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;

    /// The passphrase is gone (wiped) once the store is unlocked, for writing and reading.
    #[test]
    fn an_open_store_keeps_no_passphrase() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("s");
        let options = || Options {
            encryption: Some(crate::Encryption {
                passphrase: crate::Passphrase::new("pass"),
                kdf: crate::KdfParams::insecure_for_tests(),
            }),
            ..Options::default()
        };
        let kept = |store: &Store| {
            let inner = store.inner.lock().unpoisoned();
            inner.as_ref().map(|i| i.options().encryption.is_some())
        };
        let store = Store::open_with(&path, options())?;
        assert_eq!(kept(&store), Some(false));
        store.close()?;
        drop(store);
        let reader = Store::open_read_only_with(&path, options())?;
        assert_eq!(kept(&reader), Some(false));
        Ok(())
    }
}
