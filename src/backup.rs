//! Online backup: a consistent copy of the whole store, taken while writers run.
//!
//! The copy is made from one snapshot of the layers (no lock held while copying) into a new
//! store next to the destination, `<dest>.partial.session`, which is closed (checkpointed,
//! synced) and only then renamed to the destination. A backup that is interrupted leaves
//! no destination, only the partial directory, which the next backup replaces.

use std::path::{Path, PathBuf};

use crate::commit::{Shared, Snapshot};
use crate::error::{Error, Result};
use crate::op::Op;
use crate::paths::store_dir;
use crate::save::{save_ops, session_of};
use crate::store::Store;

/// What [`Store::backup`](crate::Store::backup) wrote.
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
    let name = crate::crypto::keyfile::KEY_FILE;
    let bytes = crate::crypto::keyfile::read(shared.fs.as_ref(), &shared.dir.join(name))?;
    crate::paths::create_dir(partial)?;
    crate::paths::write_private_file(&partial.join(name), &bytes)
}

/// The directory an unfinished backup to `dest` lives in.
pub fn partial_dir(dest: &Path) -> PathBuf {
    let dest = store_dir(dest);
    let mut name = dest.file_name().unwrap_or_default().to_owned();
    name.push(".partial.session");
    dest.with_file_name(name)
}

pub(crate) fn backup(shared: &Shared, dest: &Path) -> Result<BackupReport> {
    let dest = store_dir(dest);
    if dest.exists() {
        return Err(Error::InvalidArgument(format!(
            "backup destination {} already exists",
            dest.display()
        )));
    }
    let partial = partial_dir(&dest);
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .map_err(|e| Error::io(format!("removing {}", partial.display()), e))?;
    }
    let snapshot = Snapshot::of(shared);
    let view = snapshot.view();
    let out = match &shared.keys {
        None => Store::open(&partial)?,
        Some(keys) => {
            // The same key file (same data key, same passphrase) encrypts the backup.
            copy_key_file(shared, &partial)?;
            Store::open_inner(&partial, crate::Options::default(), Some(keys.clone()))?
        }
    };
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
            let account = out.account(&name)?;
            account.submit(save_ops(&name, &session)?, false).wait()?;
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
    out.close()?;
    drop(out);
    crate::index::compact_file(&partial.join(crate::paths::INDEX_FILE))?;
    std::fs::rename(&partial, &dest).map_err(|e| {
        Error::io(
            format!("renaming {} to {}", partial.display(), dest.display()),
            e,
        )
    })?;
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        let dir = std::fs::File::open(parent)
            .map_err(|e| Error::io(format!("opening {}", parent.display()), e))?;
        crate::io::sync_file(&dir)
            .map_err(|e| Error::io(format!("syncing {}", parent.display()), e))?;
    }
    Ok(report)
}
