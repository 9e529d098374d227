//! Offline compaction: rewrite a store into fresh files and swap them in atomically.
//!
//! The store is opened for writing (so a running bot makes it fail with `Error::Locked`), an
//! online backup writes a fresh copy beside it (`<name>.compacting.session`), and
//! `renameat2(RENAME_EXCHANGE)` swaps the two directories in one step while the lock is still
//! held. A crash before the swap leaves the original in place; after it, the compacted copy.
//! Either way the leftover `.compacting.session` directory is garbage, removed by the next run.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::paths::store_dir;
use crate::store::Store;

/// What [`compact`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactReport {
    /// Bytes the store's directory held before.
    pub bytes_before: u64,
    /// Bytes it holds after.
    pub bytes_after: u64,
    /// Accounts copied.
    pub accounts: u64,
    /// Peers copied.
    pub peers: u64,
}

fn sibling(dir: &Path) -> PathBuf {
    let mut name = dir.file_stem().unwrap_or_default().to_owned();
    name.push(".compacting.session");
    dir.with_file_name(name)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("removing {}", dir.display()), e))
        }
        _ => Ok(()),
    }
}

/// Swaps two directories atomically (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
    let (Ok(ca), Ok(cb)) = (c(a), c(b)) else {
        return Err(Error::InvalidArgument("path contains a NUL byte".into()));
    };
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::io(
            format!("swapping {} and {}", a.display(), b.display()),
            e,
        ));
    }
    let parent = a
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing {}", parent.display()), e))
}

/// Rewrites the store at `path` into fresh files, giving back the space freed pages and
/// deleted accounts held. Needs exclusive access: fails with `Error::Locked` beside a writer.
pub fn compact(path: impl AsRef<Path>) -> Result<CompactReport> {
    compact_with(path, crate::Options::default())
}

/// [`compact`] with options: an encrypted store needs its passphrase
/// ([`Options::encryption`](crate::Options::encryption)); the copy keeps the same key file.
pub fn compact_with(path: impl AsRef<Path>, options: crate::Options) -> Result<CompactReport> {
    let dir = store_dir(path.as_ref());
    let copy = sibling(&dir);
    remove(&copy)?;
    remove(&crate::backup::partial_dir(&copy))?;
    let store = Store::open_with(&dir, options)?;
    store.checkpoint()?;
    let bytes_before = dir_bytes(&dir);
    let report = store.backup(&copy)?;
    exchange(&dir, &copy)?;
    // The open store now lives at `copy`; closing it writes nothing the swap did not copy.
    drop(store);
    remove(&copy)?;
    Ok(CompactReport {
        bytes_before,
        bytes_after: dir_bytes(&dir),
        accounts: report.accounts,
        peers: report.peers,
    })
}
