//! The key file `KEY` of an encrypted store: the data key wrapped by a passphrase key.
//!
//! Layout (120 bytes, little-endian):
//! `magic "SESSDBKY" | format u32 | argon2 memory_kib u32 | iterations u32 | parallelism u32 |
//! salt [16] | store_id [16] | nonce [12] | wrapped data key [32 + 16 tag] | crc32 u32`.
//! The wrapping is AES-256-GCM under Argon2id(passphrase, salt) (a new salt, so a new key,
//! at every wrap; the nonce is random too) with the first 56
//! bytes as associated data, so the parameters and the store id cannot be altered either.
//! The CRC tells a damaged file (`Corrupt`) from a wrong passphrase (`WrongPassphrase`).
//!
//! A rekey writes `KEY.tmp`, syncs it, renames it over `KEY` and syncs the directory: a
//! crash leaves either file whole, and `KEY.tmp` is removed at the next open.

use std::path::Path;

use aes_gcm::Nonce;
use aes_gcm::aead::{Aead, Payload};
use zeroize::Zeroizing;

use super::{Encryption, KEY_LEN, KdfParams, Keys, Passphrase, random};
use crate::error::{Error, Result};
use crate::io::FileSystem;
use crate::phase::{Phase, PhaseHook, reach};

use crate::paths::KEY_FILE;
/// Name of a rekey's new key file before it is renamed over `KEY`.
const KEY_TMP: &str = "KEY.tmp";
const MAGIC: &[u8; 8] = b"SESSDBKY";
const FORMAT: u32 = 1;
const LEN: usize = 120;
const AD_LEN: usize = 56;
/// Largest Argon2 parameters accepted from a file (a hostile file must not make an open
/// allocate without bound or spin for hours).
/// The same limits refuse such parameters when a key file is written, so a rekey can never
/// write a file that no open would accept.
const MAX_MEMORY_KIB: u32 = 1 << 20;
const MAX_ITERATIONS: u32 = 16;
const MAX_PARALLELISM: u32 = 16;

fn within_limits(kdf: KdfParams) -> bool {
    kdf.memory_kib <= MAX_MEMORY_KIB
        && kdf.iterations <= MAX_ITERATIONS
        && kdf.parallelism <= MAX_PARALLELISM
}

/// Whether the store in `dir` has a key file (is encrypted).
pub(crate) fn exists(fs: &dyn FileSystem, dir: &Path) -> Result<bool> {
    let names = fs
        .list(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    Ok(names.iter().any(|n| n == KEY_FILE))
}

/// Creates the key file of a new encrypted store and returns its keys.
pub(crate) fn create(fs: &dyn FileSystem, dir: &Path, enc: &Encryption) -> Result<Keys> {
    let keys = Keys::generate()?;
    write(fs, dir, &keys, enc)?;
    Ok(keys)
}

/// Writes a key file holding `keys` wrapped by `enc`'s passphrase.
pub(crate) fn write(fs: &dyn FileSystem, dir: &Path, keys: &Keys, enc: &Encryption) -> Result<()> {
    let bytes = wrap(keys, &enc.passphrase, enc.kdf)?;
    write_atomic(fs, dir, &bytes, &None)
}

/// Writes a key file's bytes as they are (a backup's copy), crash-safely.
pub(crate) fn write_bytes(fs: &dyn FileSystem, dir: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(fs, dir, bytes, &None)
}

/// Reads the key file and unwraps the data key with `passphrase`.
pub(crate) fn load(fs: &dyn FileSystem, dir: &Path, passphrase: &Passphrase) -> Result<Keys> {
    let path = dir.join(KEY_FILE);
    unwrap(&read(fs, &path)?, passphrase, &path)
}

/// The key file's bytes; a file of any other length is refused before it is read whole
/// (a hostile file must not make us allocate its size).
pub(crate) fn read(fs: &dyn FileSystem, path: &Path) -> Result<[u8; LEN]> {
    let ctx = || format!("reading {}", path.display());
    let file = fs.open(path, false).map_err(|e| Error::io(ctx(), e))?;
    let len = file.len().map_err(|e| Error::io(ctx(), e))?;
    if len != LEN as u64 {
        return Err(Error::Corrupt {
            file: path.to_owned(),
            offset: 0,
            reason: format!("a key file is {LEN} bytes, this one {len}"),
        });
    }
    let mut bytes = [0u8; LEN];
    file.read_at(0, &mut bytes)
        .map_err(|e| Error::io(ctx(), e))?;
    Ok(bytes)
}

/// Rewraps the data key under a new passphrase (and parameters), crash-safely.
pub(crate) fn rekey(
    fs: &dyn FileSystem,
    dir: &Path,
    keys: &Keys,
    enc: &Encryption,
    hook: &Option<PhaseHook>,
) -> Result<()> {
    let bytes = wrap(keys, &enc.passphrase, enc.kdf)?;
    write_atomic(fs, dir, &bytes, hook)
}

/// Removes a rekey's leftover `KEY.tmp` (the rename never happened: `KEY` is current).
pub(crate) fn remove_leftover(fs: &dyn FileSystem, dir: &Path) -> Result<()> {
    let names = fs
        .list(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    if names.iter().any(|n| n == KEY_TMP) {
        let tmp = dir.join(KEY_TMP);
        fs.remove(&tmp)
            .and_then(|()| fs.sync_dir(dir))
            .map_err(|e| Error::io(format!("removing {}", tmp.display()), e))?;
    }
    Ok(())
}

fn write_atomic(
    fs: &dyn FileSystem,
    dir: &Path,
    bytes: &[u8],
    hook: &Option<PhaseHook>,
) -> Result<()> {
    let tmp = dir.join(KEY_TMP);
    let ctx = || format!("writing {}", tmp.display());
    if fs.list(dir).is_ok_and(|n| n.iter().any(|n| n == KEY_TMP)) {
        fs.remove(&tmp).map_err(|e| Error::io(ctx(), e))?;
    }
    let file = fs.create_new(&tmp).map_err(|e| Error::io(ctx(), e))?;
    file.write_at(0, bytes)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io(ctx(), e))?;
    reach(hook, Phase::RekeyWritten);
    let path = dir.join(KEY_FILE);
    fs.rename(&tmp, &path).map_err(|e| {
        Error::io(
            format!("renaming {} over {}", tmp.display(), path.display()),
            e,
        )
    })?;
    reach(hook, Phase::RekeyRenamed);
    fs.sync_dir(dir)
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

/// Argon2id(passphrase, salt) → the key that wraps the data key.
fn passphrase_key(
    passphrase: &Passphrase,
    salt: &[u8],
    kdf: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    if passphrase.bytes().is_empty() {
        return Err(Error::InvalidArgument("the passphrase is empty".into()));
    }
    if !within_limits(kdf) {
        return Err(Error::InvalidArgument(format!(
            "Argon2 parameters above the limits ({MAX_MEMORY_KIB} KiB, {MAX_ITERATIONS} \
             passes, {MAX_PARALLELISM} lanes)"
        )));
    }
    let params = argon2::Params::new(
        kdf.memory_kib,
        kdf.iterations,
        kdf.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|e| Error::InvalidArgument(format!("Argon2 parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase.bytes(), salt, out.as_mut_slice())
        .map_err(|e| Error::InvalidArgument(format!("Argon2: {e}")))?;
    Ok(out)
}

/// Refuses Argon2 parameters a new key file must not be written with.
pub(crate) fn check_new(kdf: KdfParams) -> Result<()> {
    if kdf.below_floor() {
        return Err(Error::InvalidArgument(format!(
            "Argon2 parameters below the floor for a new key file: {} KiB and {} passes \
             given, at least {} KiB and {} passes needed",
            kdf.memory_kib,
            kdf.iterations,
            super::MIN_KDF_MEMORY_KIB,
            super::MIN_KDF_ITERATIONS
        )));
    }
    Ok(())
}

fn wrap(keys: &Keys, passphrase: &Passphrase, kdf: KdfParams) -> Result<Vec<u8>> {
    check_new(kdf)?;
    let mut out = Vec::with_capacity(LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&kdf.memory_kib.to_le_bytes());
    out.extend_from_slice(&kdf.iterations.to_le_bytes());
    out.extend_from_slice(&kdf.parallelism.to_le_bytes());
    let mut salt = [0u8; 16];
    random(&mut salt)?;
    out.extend_from_slice(&salt);
    out.extend_from_slice(&keys.store_id);
    let mut nonce = [0u8; 12];
    random(&mut nonce)?;
    out.extend_from_slice(&nonce);
    let kek = passphrase_key(passphrase, &salt, kdf)?;
    let aead = super::cipher(&kek);
    let payload = Payload {
        msg: keys.data_key().as_slice(),
        aad: &out[..AD_LEN],
    };
    let wrapped = aead
        .encrypt(&Nonce::from(nonce), payload)
        .map_err(|_| Error::InvalidArgument("cannot wrap the data key".into()))?;
    out.extend_from_slice(&wrapped);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len(), LEN);
    Ok(out)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn unwrap(bytes: &[u8], passphrase: &Passphrase, path: &Path) -> Result<Keys> {
    let corrupt = |reason: &str| Error::Corrupt {
        file: path.to_owned(),
        offset: 0,
        reason: reason.into(),
    };
    if bytes.len() != LEN || &bytes[..8] != MAGIC {
        return Err(corrupt("not a sessiondb key file"));
    }
    if crc32fast::hash(&bytes[..LEN - 4]) != u32_at(bytes, LEN - 4) {
        return Err(corrupt("key file checksum mismatch"));
    }
    let format = u32_at(bytes, 8);
    if format != FORMAT {
        return Err(Error::UnsupportedVersion {
            what: format!("key file {}", path.display()),
            found: format,
            supported: FORMAT,
        });
    }
    let kdf = KdfParams {
        memory_kib: u32_at(bytes, 12),
        iterations: u32_at(bytes, 16),
        parallelism: u32_at(bytes, 20),
    };
    if !within_limits(kdf) {
        return Err(corrupt("Argon2 parameters out of range"));
    }
    let kek = passphrase_key(passphrase, &bytes[24..40], kdf).map_err(|e| match e {
        Error::InvalidArgument(why) if !passphrase.bytes().is_empty() => corrupt(&why),
        other => other,
    })?;
    let aead = super::cipher(&kek);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&bytes[56..68]);
    let nonce = Nonce::from(nonce);
    let payload = Payload {
        msg: &bytes[68..LEN - 4],
        aad: &bytes[..AD_LEN],
    };
    let plain = aead
        .decrypt(&nonce, payload)
        .map(Zeroizing::new)
        .map_err(|_| Error::WrongPassphrase {
            path: path.parent().unwrap_or(path).to_owned(),
        })?;
    let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
    if plain.len() != KEY_LEN {
        return Err(corrupt("wrapped key has the wrong length"));
    }
    data_key.copy_from_slice(&plain);
    let mut store_id = [0u8; 16];
    store_id.copy_from_slice(&bytes[40..56]);
    Keys::new(data_key, store_id)
}

/// The keys a store opens with: none for a plain store; for an encrypted one, `preloaded`
/// (a backup of an open store) or the key file unwrapped with the passphrase. A new store
/// (`new_store`, no index or log yet) given a passphrase becomes encrypted here.
pub(crate) fn unlock(
    fs: &dyn crate::io::FileSystem,
    dir: &std::path::Path,
    encryption: Option<&Encryption>,
    preloaded: Option<std::sync::Arc<Keys>>,
    new_store: bool,
) -> Result<Option<std::sync::Arc<Keys>>> {
    if new_store {
        remove_leftover(fs, dir)?;
    }
    let has_key = exists(fs, dir)?;
    match (has_key, preloaded, encryption) {
        (true, Some(keys), _) => Ok(Some(keys)),
        (true, None, Some(e)) => Ok(Some(std::sync::Arc::new(load(fs, dir, &e.passphrase)?))),
        (true, None, None) => Err(Error::PassphraseRequired {
            path: dir.to_owned(),
        }),
        (false, Some(_), _) => Err(Error::InvalidArgument(format!(
            "{} has no key file to open with the given keys",
            dir.display()
        ))),
        (false, None, None) => Ok(None),
        (false, None, Some(e)) => {
            let names = fs
                .list(dir)
                .map_err(|err| Error::io(format!("listing {}", dir.display()), err))?;
            let is_new = !names.iter().any(|n| {
                n == crate::paths::INDEX_FILE || crate::paths::parse_segment_name(n).is_some()
            });
            if new_store && is_new {
                Ok(Some(std::sync::Arc::new(create(fs, dir, e)?)))
            } else {
                Err(Error::InvalidArgument(format!(
                    "{} was created without encryption; a passphrase cannot open it",
                    dir.display()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_and_wrong_passphrase() -> Result<()> {
        let keys = Keys::generate()?;
        let pass = Passphrase::new("correct horse");
        let bytes = wrap(&keys, &pass, KdfParams::insecure_for_tests())?;
        assert_eq!(bytes.len(), LEN);
        let back = unwrap(&bytes, &pass, Path::new("KEY"))?;
        assert_eq!(back.data_key(), keys.data_key());
        assert_eq!(back.store_id, keys.store_id);
        let wrong = unwrap(&bytes, &Passphrase::new("battery staple"), Path::new("KEY"));
        assert!(matches!(wrong, Err(Error::WrongPassphrase { .. })));
        let weak = KdfParams {
            memory_kib: 16 << 10,
            ..KdfParams::default()
        };
        assert!(matches!(
            wrap(&keys, &pass, weak),
            Err(Error::InvalidArgument(why)) if why.contains("below the floor")
        ));
        let heavy = KdfParams {
            iterations: MAX_ITERATIONS + 1,
            ..KdfParams::insecure_for_tests()
        };
        assert!(matches!(
            wrap(&keys, &pass, heavy),
            Err(Error::InvalidArgument(_))
        ));
        // A flipped bit anywhere is damage, not a wrong passphrase.
        for at in [0, 13, 30, 60, 100, LEN - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            let r = unwrap(&bad, &pass, Path::new("KEY"));
            assert!(matches!(r, Err(Error::Corrupt { .. })), "byte {at}");
        }
        Ok(())
    }
}
