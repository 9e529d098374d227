//! Online backup: a consistent copy of the whole store, taken while writers run.
//!
//! The copy is made from one snapshot of the layers (no lock held while copying) into a new
//! store next to the destination, `<dest>.partial.session`, which is closed (checkpointed,
//! synced) and only then renamed to the destination. A backup that is interrupted leaves
//! no destination, only the partial directory, which the next backup replaces.

use std::path::{Path, PathBuf};

use crate::commit::{Shared, Snapshot};
use crate::core::Core;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::paths::store_dir;
use crate::state::op::Op;
use crate::whole_session::{save_ops, session_of};

/// What `Store::backup` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup store's directory.
    pub path: PathBuf,
    /// Accounts copied.
    pub accounts: u64,
    /// Peers copied.
    pub peers: u64,
}

/// Copies the key file of an encrypted store into the (new) backup directory, 0600, synced.
fn copy_key_file(shared: &Shared, partial: &Path) -> Result<()> {
    let fs = shared.fs().as_ref();
    let bytes = crate::crypto::keyfile::read(fs, &shared.dir().join(crate::paths::KEY_FILE))?;
    crate::crypto::keyfile::write_bytes(fs, partial, &bytes)
}

/// Whether `dir` exists, in the store's file system or as a real directory.
fn exists(fs: &dyn crate::io::FileSystem, dir: &Path) -> bool {
    dir.exists() || fs.list(dir).is_ok_and(|names| !names.is_empty())
}

/// Removes `dir` from the store's file system and (the lock file lives there) the real one.
pub(crate) fn remove_dir(fs: &dyn crate::io::FileSystem, dir: &Path) -> Result<()> {
    let removed = fs
        .remove_dir_all(dir)
        .and_then(|()| crate::io::FileSystem::remove_dir_all(&crate::io::RealFs, dir));
    removed.map_err(|e| Error::io(format!("removing {}", dir.display()), e))
}

/// The directory an unfinished backup to `dest` lives in.
pub fn partial_dir(dest: &Path) -> PathBuf {
    let dest = store_dir(dest);
    let mut name = dest.file_name().unwrap_or_default().to_owned();
    name.push(".partial.session");
    dest.with_file_name(name)
}

/// The keys a copy is written with: the source's (its key file copied), or, for a rotation,
/// a new data key and store id wrapped by a new passphrase.
pub(crate) enum CopyKeys<'a> {
    Same,
    Rotated(&'a crate::Encryption),
}

pub(crate) fn backup(shared: &Shared, dest: &Path, with: CopyKeys<'_>) -> Result<BackupReport> {
    let dest = store_dir(dest);
    let fs = shared.fs().as_ref();
    if exists(fs, &dest) {
        return Err(crate::paths::already_exists(&dest));
    }
    let partial = partial_dir(&dest);
    remove_dir(fs, &partial)?;
    let snapshot = Snapshot::of(shared);
    let view = snapshot.view();
    // The copy lives in the store's file system too.
    let options = crate::Options::default().through(shared.fs());
    crate::paths::create_dir(&partial)?;
    let keys = match (shared.keys(), with) {
        (None, CopyKeys::Same) => None,
        (Some(keys), CopyKeys::Same) => {
            // The same key file (same data key, same passphrase) encrypts the backup.
            copy_key_file(shared, &partial)?;
            Some(keys.clone())
        }
        (_, CopyKeys::Rotated(new)) => {
            let keys = crate::crypto::keyfile::create(fs, &partial, new)?;
            Some(std::sync::Arc::new(keys))
        }
    };
    let out = std::sync::Arc::new(Core::open_writer(&partial, options, keys)?.core);
    let engine: std::sync::Weak<dyn Engine> = std::sync::Arc::downgrade(&out) as _;
    let mut report = BackupReport {
        path: dest.clone(),
        accounts: 0,
        peers: 0,
    };
    // redb panics on some damaged pages: an error naming the index instead.
    crate::index::guarded(shared.index_path(), || {
        for name in view.accounts()? {
            let Some(session) = session_of(&view, &name)? else {
                continue;
            };
            let account = crate::account::Account::new(engine.clone(), name.clone());
            let mut ops = save_ops(&name, &session)?;
            ops.extend(crate::extras::copy_ops(&view, &name)?);
            account.submit(ops, false).wait()?;
            let self_id = view.self_peer_id(&name)?;
            let mut self_peer = None;
            let mut after = None;
            loop {
                let page = view.peers(&name, after, 1000)?;
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                report.peers += page.len() as u64;
                self_peer =
                    self_peer.or_else(|| page.iter().find(|p| Some(p.id) == self_id).cloned());
                let op = Op::CachePeers {
                    account: name.clone(),
                    peers: page,
                };
                account.submit(vec![op], false).wait()?;
            }
            // The self user is whichever peer was written last with `is_self`: write it last.
            if let Some(p) = self_peer {
                let op = Op::CachePeers {
                    account: name.clone(),
                    peers: vec![p],
                };
                account.submit(vec![op], false).wait()?;
            }
            report.accounts += 1;
        }
        Ok(())
    })?;
    out.stop(true).wait()?;
    drop(out);
    crate::index::compact_file(fs, &partial.join(crate::paths::INDEX_FILE))?;
    fs.rename_dir(&partial, &dest).map_err(|e| {
        Error::io(
            format!("renaming {} to {}", partial.display(), dest.display()),
            e,
        )
    })?;
    let parent = crate::paths::parent_dir(&dest);
    fs.sync_dir(parent)
        .map_err(|e| Error::io(format!("syncing {}", parent.display()), e))?;
    Ok(report)
}
