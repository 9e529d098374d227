//! Offline compaction: rewrite a store into fresh files and swap them in atomically.
//!
//! The store is opened for writing (so a running bot makes it fail with `Error::Locked`), an
//! online backup writes a fresh copy beside it (`<name>.compacting.session`), and
//! `renameat2(RENAME_EXCHANGE)` swaps the two directories in one step while the lock is still
//! held. A crash before the swap leaves the original in place; after it, the compacted copy.
//! Either way the leftover `.compacting.session` directory is garbage, removed by the next run.

use std::path::{Path, PathBuf};

use crate::core::Core;
use crate::engine::{Control, Engine};
use crate::error::{Error, Result};
use crate::io::FileSystem;
use crate::maintenance::backup::{CopyKeys, remove_dir};
use crate::paths::store_dir;
use crate::phase::Phase;

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

/// The directory a rewrite of `dir` is made in (`suffix`: what kind of rewrite).
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_stem().unwrap_or_default().to_owned();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Bytes the files of `dir` hold.
fn dir_bytes(fs: &dyn FileSystem, dir: &Path) -> u64 {
    let names = fs.list(dir).unwrap_or_default();
    let len = |n: &String| fs.open(&dir.join(n), false).and_then(|f| f.len()).ok();
    names.iter().filter_map(len).sum()
}

/// Swaps two directories in one step and makes it durable (the real file system: Linux
/// `renameat2(RENAME_EXCHANGE)`).
fn exchange(fs: &dyn FileSystem, a: &Path, b: &Path) -> Result<()> {
    let swapped = fs.exchange_dirs(a, b);
    swapped.map_err(|e| Error::io(format!("swapping {} and {}", a.display(), b.display()), e))?;
    let parent = crate::paths::parent_dir(a);
    fs.sync_dir(parent)
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
    rewrite(
        path.as_ref(),
        options,
        CopyKeys::Same,
        ".compacting.session",
    )
}

/// Rewrites the store at `path` into fresh files beside it (`<name><suffix>`), with its own
/// keys or new ones, and swaps them in: compaction and key rotation.
pub(crate) fn rewrite(
    path: &Path,
    options: crate::Options,
    keys: CopyKeys<'_>,
    suffix: &str,
) -> Result<CompactReport> {
    let dir = store_dir(path);
    let copy = sibling(&dir, suffix);
    let fs = options.file_system();
    remove_dir(fs.as_ref(), &copy)?;
    remove_dir(fs.as_ref(), &crate::maintenance::backup::partial_dir(&copy))?;
    let hook = options.hook();
    let index = dir.join(crate::paths::INDEX_FILE);
    let core = crate::index::guarded(&index, || Core::open_writer(&dir, options, None))?.core;
    core.control(Control::Checkpoint).wait()?;
    let bytes_before = dir_bytes(fs.as_ref(), &dir);
    let report = crate::maintenance::backup::backup(core.shared(), &copy, keys)?;
    crate::phase::reach(&hook, Phase::RewriteCopied);
    exchange(fs.as_ref(), &dir, &copy)?;
    crate::phase::reach(&hook, Phase::RewriteSwapped);
    // The open store now lives at `copy`; closing it writes nothing the swap did not copy.
    drop(core);
    // Gone for good (after a rotation it holds the old key file).
    remove_dir(fs.as_ref(), &copy)?;
    let parent = crate::paths::parent_dir(&dir);
    fs.sync_dir(parent)
        .map_err(|e| Error::io(format!("syncing {}", parent.display()), e))?;
    Ok(CompactReport {
        bytes_before,
        bytes_after: dir_bytes(fs.as_ref(), &dir),
        accounts: report.accounts,
        peers: report.peers,
    })
}
