//! Key rotation: a new data key and store id, every value and record sealed again.
//!
//! A rekey only rewraps the data key, so an old copy of the key file (every backup made
//! before it) and the old passphrase still unwrap it, and it decrypts everything written
//! after. A rotation is a compaction whose copy is written under a new key file (a new
//! random data key and store id, wrapped by the new passphrase; a new lineage too): after
//! it, no old key file opens anything the store holds or will be written to it, nor any
//! backup taken afterwards. Crash-safe as compaction is: the copy is made beside the store
//! (`<name>.rotating.session`) and swapped in with one `renameat2(RENAME_EXCHANGE)`, so the
//! store holds either the old key file and data or the new ones, whole.

use std::path::Path;

use crate::error::{Error, Result};
use crate::maintenance::backup::CopyKeys;
use crate::maintenance::compact::{CompactReport, rewrite};

/// Rotates the keys of the encrypted store at `path`: `options` open it (its current
/// passphrase), `new` is the passphrase and Argon2id parameters of the new key file (the
/// same passphrase is allowed: the data key changes all the same). Needs exclusive access:
/// fails with `Error::Locked` beside a writer.
///
/// The old files are deleted, not overwritten: on a journaling file system or an SSD their
/// blocks may survive until reused.
pub fn rotate(
    path: impl AsRef<Path>,
    options: crate::Options,
    new: &crate::Encryption,
) -> Result<CompactReport> {
    let dir = crate::paths::store_dir(path.as_ref());
    let fs = options.file_system();
    if !crate::crypto::keyfile::exists(fs.as_ref(), &dir).unwrap_or(false) {
        return Err(Error::InvalidArgument(format!(
            "{} is not encrypted: there is no key to rotate",
            dir.display()
        )));
    }
    crate::crypto::keyfile::check_new(new.kdf)?;
    rewrite(&dir, options, CopyKeys::Rotated(new), ".rotating.session")
}
