//! Encryption at rest (opt-in, chosen when a store is created).
//!
//! A random 32-byte data key encrypts every log record and every index value with
//! AES-256-GCM (a key per open, derived from a random salt stored with each value, and a
//! counter nonce); the associated data names where the ciphertext lives (the record's
//! LSN; the value's table, account number and key), so ciphertexts cannot be moved between
//! places unnoticed. Usernames and phones, which are index keys, become keyed hashes (CMAC).
//! The data key is stored wrapped by a key derived from the passphrase with Argon2id (see
//! `keyfile`), so a rekey rewrites one small file.

pub(crate) mod keyfile;

use crate::locks::Unpoisoned;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use blake2::digest::{Mac, consts::U32};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

/// Bytes a sealed value is longer than its plaintext: salt, counter and tag.
pub(crate) const SEAL_OVERHEAD: usize = SALT_LEN + COUNTER_LEN + 16;
const SALT_LEN: usize = 16;
const COUNTER_LEN: usize = 8;
/// Opening keys kept for other opens' salts.
const MAX_OPENING_KEYS: usize = 4096;
/// Length of the data key.
pub(crate) const KEY_LEN: usize = 32;

/// A passphrase, wiped from memory when dropped and never printed.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// Wraps a passphrase (any bytes; UTF-8 text in practice).
    pub fn new(passphrase: impl Into<Vec<u8>>) -> Self {
        Passphrase(Zeroizing::new(passphrase.into()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl ZeroizeOnDrop for Passphrase {}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Argon2id cost parameters, stored in the key file so a store opens with the ones it was
/// created (or last rekeyed) with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB. Default: 65,536 (64 MiB).
    pub memory_kib: u32,
    /// Passes over the memory. Default: 3.
    pub iterations: u32,
    /// Lanes. Default: 1 (the computation is single-threaded here).
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommendation (64 MiB, 3 passes), with one lane: about a quarter
    /// of a second on a current core, paid once per open.
    fn default() -> Self {
        KdfParams {
            memory_kib: 64 << 10,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// The smallest parameters Argon2 accepts, exempt from the floor: for tests only (the
    /// `testing` feature), never for real stores.
    #[cfg(any(test, feature = "testing"))]
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// The least Argon2id cost a new key file is written with: OWASP's minimum for Argon2id
/// (19 MiB, 2 passes, one lane). Existing key files below it still open.
pub const MIN_KDF_MEMORY_KIB: u32 = 19 * 1024;
/// See [`MIN_KDF_MEMORY_KIB`].
pub const MIN_KDF_ITERATIONS: u32 = 2;

impl KdfParams {
    /// Whether these parameters are below the floor a new key file must meet.
    pub(crate) fn below_floor(self) -> bool {
        let weak = self.memory_kib < MIN_KDF_MEMORY_KIB || self.iterations < MIN_KDF_ITERATIONS;
        #[cfg(any(test, feature = "testing"))]
        let weak = weak && self != KdfParams::insecure_for_tests();
        weak
    }
}

/// Opt-in encryption: the passphrase, and the Argon2id parameters used when the store is
/// created or rekeyed (an existing store keeps the ones in its key file).
#[derive(Clone, Debug)]
pub struct Encryption {
    /// The passphrase.
    pub passphrase: Passphrase,
    /// Argon2id parameters for a new key file. Default: [`KdfParams::default`].
    pub kdf: KdfParams,
}

impl Encryption {
    /// Encryption with `passphrase` and the default (strong) Argon2id parameters.
    pub fn new(passphrase: impl Into<Vec<u8>>) -> Self {
        Encryption {
            passphrase: Passphrase::new(passphrase),
            kdf: KdfParams::default(),
        }
    }
}

/// The unwrapped keys of an encrypted store.
pub(crate) struct Keys {
    /// The data key itself, kept to rewrap it on rekey.
    data_key: Zeroizing<[u8; KEY_LEN]>,
    /// Identifies the store the key belongs to (also kept in the index's `meta`).
    pub store_id: [u8; 16],
    /// Root of the per-open sealing keys.
    values: Zeroizing<[u8; KEY_LEN]>,
    /// AES-256-CMAC keyed with the names key, cloned for each hash.
    names: cmac::Cmac<aes::Aes256>,
    /// This open's random salt, the AES-256-GCM key derived from it, and the counter that
    /// makes its nonces: a nonce never repeats under one key.
    salt: [u8; SALT_LEN],
    sealing: Cipher,
    counter: AtomicU64,
    /// Keys of the salts of other opens met while reading (one per process that wrote).
    opening: RwLock<HashMap<[u8; SALT_LEN], Arc<Cipher>>>,
}

/// Every secret field wipes itself when dropped (`Zeroizing`, `Cipher`, CMAC with the
/// `zeroize` features); the salt, store id and counter are not secret.
impl ZeroizeOnDrop for Keys {}

/// An AES-256-GCM key schedule whose memory is wiped when dropped. The `aes` crate wipes its
/// round keys itself, but `polyval` (0.6) does not wipe the GHASH key `H` on the CPUs it
/// picks its backend for at run time, so the whole value is overwritten here.
pub(crate) struct Cipher(Aes256Gcm);

impl std::ops::Deref for Cipher {
    type Target = Aes256Gcm;
    fn deref(&self) -> &Aes256Gcm {
        &self.0
    }
}

impl Zeroize for Cipher {
    fn zeroize(&mut self) {
        let len = std::mem::size_of::<Aes256Gcm>();
        let at = (&mut self.0 as *mut Aes256Gcm).cast::<u8>();
        // SAFETY: `at` points to `len` bytes we own mutably. Every field of `Aes256Gcm` is
        // a plain array of key material (AES round keys, GHASH's `H` and accumulator), a
        // zero-sized CPU-feature token or a marker, so all zeros is a valid value, and
        // nothing reads it as a key afterwards (it is dropped, or only in tests inspected).
        unsafe { std::slice::from_raw_parts_mut(at, len) }.zeroize();
    }
}

impl Drop for Cipher {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Cipher {}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

/// Where a sealed value lives: what its associated data is made of.
pub(crate) enum Place<'a> {
    /// A log record: its store's lineage, its segment's epoch, its LSN and sync horizon.
    Log {
        lineage: &'a Lineage,
        epoch: &'a [u8; 16],
        lsn: u64,
        horizon: u64,
    },
    /// An index value: the index's lineage, table, account number, key bytes.
    Value {
        lineage: &'a Lineage,
        table: &'a str,
        account: u32,
        key: &'a [u8],
    },
    /// A log record of a format-1 segment (written before lineages): its LSN alone.
    OldLog { lsn: u64 },
    /// An index value of index format 2 or older: table, account number, key bytes.
    OldValue {
        table: &'a str,
        account: u32,
        key: &'a [u8],
    },
}

/// A store lineage: 16 random bytes drawn whenever a store's files are written afresh
/// (creation, backup, compaction, rotation), kept in `meta` and bound into every sealed
/// value and record, so that nothing sealed for one copy of a store opens in another.
pub(crate) type Lineage = [u8; 16];

/// A new store lineage: random (fixed for the fuzz entry points, `testing` feature only, so
/// that their log inputs authenticate in a freshly made index).
pub(crate) fn fresh_lineage() -> Result<Lineage> {
    #[cfg(feature = "testing")]
    if let Some(fixed) = FIXED_LINEAGE.get() {
        return Ok(*fixed);
    }
    fresh_id()
}

/// The lineage every new index of this process draws, once set (fuzzing only).
#[cfg(feature = "testing")]
pub(crate) static FIXED_LINEAGE: std::sync::OnceLock<Lineage> = std::sync::OnceLock::new();

/// 16 fresh random bytes (a lineage or a segment's epoch).
pub(crate) fn fresh_id() -> Result<[u8; 16]> {
    let mut id = [0u8; 16];
    random(&mut id)?;
    Ok(id)
}

impl Keys {
    /// Derives the working keys from a data key.
    pub fn new(data_key: Zeroizing<[u8; KEY_LEN]>, store_id: [u8; 16]) -> Result<Keys> {
        let values = derive(&data_key, b"sessiondb values v1", &[])?;
        let names = derive(&data_key, b"sessiondb names v1", &[])?;
        let mut salt = [0u8; SALT_LEN];
        random(&mut salt)?;
        Ok(Keys {
            sealing: sealing_key(&values, &salt)?,
            data_key,
            store_id,
            values,
            names: cmac_key(&names),
            salt,
            counter: AtomicU64::new(0),
            opening: RwLock::default(),
        })
    }

    /// A fresh random data key and store id.
    pub fn generate() -> Result<Keys> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        random(key.as_mut_slice())?;
        let mut id = [0u8; 16];
        random(&mut id)?;
        Keys::new(key, id)
    }

    pub(crate) fn data_key(&self) -> &[u8; KEY_LEN] {
        &self.data_key
    }

    /// `salt ‖ counter ‖ ciphertext ‖ tag`.
    pub fn seal(&self, place: &Place<'_>, plaintext: &[u8]) -> Vec<u8> {
        let counter = self.counter.fetch_add(1, Ordering::Relaxed).to_le_bytes();
        let ad = associated_data(place);
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&counter);
        out.extend_from_slice(plaintext);
        let body = &mut out[SALT_LEN + COUNTER_LEN..];
        // Encryption fails only for messages over 64 GiB; ours are bounded far below.
        match self
            .sealing
            .encrypt_in_place_detached(&nonce(&counter), &ad, body)
        {
            Ok(tag) => out.extend_from_slice(&tag),
            Err(_) => unreachable!("AES-256-GCM refused a bounded message"),
        }
        out
    }

    /// The plaintext of a sealed value, or `None` if it fails authentication (damaged,
    /// moved from another place, or sealed with another key).
    pub fn open(&self, place: &Place<'_>, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (salt, rest) = sealed.split_at(SALT_LEN);
        let (counter, ct) = rest.split_at(COUNTER_LEN);
        let ad = associated_data(place);
        let nonce = nonce(counter);
        let mut buf = Zeroizing::new(ct.to_vec());
        let opened = if salt == self.salt {
            self.sealing.decrypt_in_place(&nonce, &ad, &mut *buf)
        } else {
            let mut key = [0u8; SALT_LEN];
            key.copy_from_slice(salt);
            self.opening_key(key)?
                .decrypt_in_place(&nonce, &ad, &mut *buf)
        };
        opened.ok().map(|()| buf)
    }

    /// The key values sealed under `salt` open with (derived once, then kept).
    fn opening_key(&self, salt: [u8; SALT_LEN]) -> Option<Arc<Cipher>> {
        if let Some(k) = self.opening.read().unpoisoned().get(&salt) {
            return Some(k.clone());
        }
        let k = Arc::new(sealing_key(&self.values, &salt).ok()?);
        let mut map = self.opening.write().unpoisoned();
        // A bound for a damaged or hostile file full of distinct salts.
        if map.len() >= MAX_OPENING_KEYS {
            map.clear();
        }
        map.insert(salt, k.clone());
        Some(k)
    }

    /// The index key standing for a username or phone: AES-256-CMAC under the names key of
    /// `kind ‖ 0 ‖ account ‖ name`, its first 96 bits in 16 URL-safe base64 characters (the
    /// tables keep string keys; collisions among 10M names: about 1 in 10^15).
    pub fn name_key(&self, table: &str, account: u32, name: &str) -> String {
        let mut mac = self.names.clone();
        mac.update(table.as_bytes());
        mac.update(&[0]);
        mac.update(&account.to_le_bytes());
        mac.update(name.as_bytes());
        let tag = mac.finalize().into_bytes();
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::with_capacity(16);
        for chunk in tag[..12].chunks(3) {
            let v = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
            for shift in [18, 12, 6, 0] {
                out.push(char::from(ALPHABET[(v >> shift) as usize & 63]));
            }
        }
        out
    }
}

/// AES-256-CMAC keyed with `key`.
fn cmac_key(key: &[u8; KEY_LEN]) -> cmac::Cmac<aes::Aes256> {
    match <cmac::Cmac<aes::Aes256> as cmac::Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("a 32-byte AES key is valid"),
    }
}

/// AES-256-GCM keyed with `key`.
pub(crate) fn cipher(key: &[u8; KEY_LEN]) -> Cipher {
    match Aes256Gcm::new_from_slice(key) {
        Ok(c) => Cipher(c),
        Err(_) => unreachable!("a 32-byte key is valid"),
    }
}

/// The AES-256-GCM key of one open: a PRF of the values key and the open's random salt.
fn sealing_key(values: &[u8; KEY_LEN], salt: &[u8; SALT_LEN]) -> Result<Cipher> {
    let key = derive(values, b"sessiondb aes-256-gcm v1", salt)?;
    Ok(cipher(&key))
}

/// A 96-bit GCM nonce: the 8 counter bytes, then zeros.
fn nonce(counter: &[u8]) -> Nonce<U12> {
    let mut n = [0u8; 12];
    n[..COUNTER_LEN].copy_from_slice(&counter[..COUNTER_LEN]);
    Nonce::from(n)
}

fn associated_data(place: &Place<'_>) -> Vec<u8> {
    let mut ad = Vec::with_capacity(80);
    match place {
        Place::Log {
            lineage,
            epoch,
            lsn,
            horizon,
        } => {
            ad.extend_from_slice(b"sessiondb2log\0");
            ad.extend_from_slice(*lineage);
            ad.extend_from_slice(*epoch);
            ad.extend_from_slice(&lsn.to_le_bytes());
            ad.extend_from_slice(&horizon.to_le_bytes());
        }
        Place::Value {
            lineage,
            table,
            account,
            key,
        } => {
            ad.extend_from_slice(b"sessiondb2val\0");
            ad.extend_from_slice(*lineage);
            value_place(&mut ad, table, *account, key);
        }
        Place::OldLog { lsn } => {
            ad.extend_from_slice(b"sessiondb1log\0");
            ad.extend_from_slice(&lsn.to_le_bytes());
        }
        Place::OldValue {
            table,
            account,
            key,
        } => {
            ad.extend_from_slice(b"sessiondb1");
            value_place(&mut ad, table, *account, key);
        }
    }
    ad
}

fn value_place(ad: &mut Vec<u8>, table: &str, account: u32, key: &[u8]) {
    ad.extend_from_slice(table.as_bytes());
    ad.push(0);
    ad.extend_from_slice(&account.to_le_bytes());
    ad.extend_from_slice(key);
}

/// BLAKE2b-256 keyed with `key` over a label and a context: independent subkeys per use.
fn derive(key: &[u8; KEY_LEN], label: &[u8], context: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut mac = <blake2::Blake2bMac<U32> as blake2::digest::KeyInit>::new_from_slice(key)
        .map_err(|_| Error::InvalidArgument("bad data key length".into()))?;
    mac.update(label);
    mac.update(context);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(|e| {
        Error::io(
            "reading the system's random source",
            std::io::Error::other(e.to_string()),
        )
    })
}

/// Whether the store at `path` (`bot` → `bot.session/`) is encrypted, without opening it:
/// tools use it to ask for a passphrase only when one is needed.
pub fn is_encrypted(path: impl AsRef<std::path::Path>) -> bool {
    crate::paths::store_dir(path.as_ref())
        .join(crate::paths::KEY_FILE)
        .is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wipes_itself<T: ZeroizeOnDrop>() {}

    #[test]
    fn every_key_holder_wipes_itself_when_dropped() {
        // What `Keys` is made of, each wiping itself, and `Keys` itself.
        wipes_itself::<Zeroizing<[u8; KEY_LEN]>>();
        // `Cmac` wraps this core with a buffer of message bytes (names, not keys).
        wipes_itself::<cmac::CmacCore<aes::Aes256>>();
        wipes_itself::<aes::Aes256>();
        wipes_itself::<Cipher>();
        wipes_itself::<Keys>();
        wipes_itself::<Passphrase>();
        wipes_itself::<crate::AuthKey>();
    }

    #[test]
    fn a_wiped_cipher_holds_only_zeros() {
        let mut c = cipher(&[0x5a; KEY_LEN]);
        let bytes = |c: &Cipher| {
            let at = (&c.0 as *const Aes256Gcm).cast::<u8>();
            // SAFETY: reads the bytes of a live value we borrow.
            unsafe { std::slice::from_raw_parts(at, std::mem::size_of::<Aes256Gcm>()) }.to_vec()
        };
        assert!(
            bytes(&c).iter().any(|&b| b != 0),
            "a keyed cipher is not all zeros"
        );
        c.zeroize();
        assert!(bytes(&c).iter().all(|&b| b == 0));
    }

    #[test]
    fn the_kdf_floor() {
        assert!(!KdfParams::default().below_floor());
        let floor = KdfParams {
            memory_kib: MIN_KDF_MEMORY_KIB,
            iterations: MIN_KDF_ITERATIONS,
            parallelism: 1,
        };
        assert!(!floor.below_floor());
        for weak in [
            KdfParams {
                memory_kib: MIN_KDF_MEMORY_KIB - 1,
                ..floor
            },
            KdfParams {
                iterations: 1,
                ..floor
            },
            KdfParams {
                memory_kib: 8,
                iterations: 1,
                parallelism: 2,
            },
        ] {
            assert!(weak.below_floor(), "{weak:?}");
        }
    }
}

/// An encrypted store's keys, as the log reads and writes with them: bound to the store's
/// lineage (`None` for a store whose index predates lineages, format 2 or older).
#[derive(Clone, Copy)]
pub(crate) struct LogKeys<'a> {
    pub keys: &'a Keys,
    pub lineage: Option<&'a Lineage>,
}
