//! Versioned postcard values: `[version u8][postcard bytes]`.
//!
//! postcard has no field tags, so a stored value is only readable with the exact type it was
//! written with. Every stored record type therefore carries a version byte, and a decoder
//! that meets a version it does not know says so instead of misreading the bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Version of a value with no checksum: written in a sealed value (the AEAD tag is its
/// check) and by index format 1, which this build still reads.
pub(crate) const VALUE_VERSION: u8 = 1;
/// Version of a plain index value: `[2][CRC32 LE][postcard]`, the CRC bound to the value's
/// table, account number and row key (see [`checksum`]).
pub(crate) const CHECKED_VERSION: u8 = 2;

/// Encodes `value` behind the unchecked version byte (format 1's plain values; the fuzz
/// seeds).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    encode_after(value, vec![VALUE_VERSION])
}

/// `value`'s postcard bytes after `out`'s.
fn encode_after<T: Serialize + ?Sized>(value: &T, out: Vec<u8>) -> Vec<u8> {
    // Serialising into a Vec only fails on types serde cannot express; ours are all plain.
    match postcard::to_extend(value, out) {
        Ok(v) => v,
        Err(e) => unreachable!("postcard cannot encode a model type: {e}"),
    }
}

/// `value`'s postcard bytes after `prefix`, in a buffer wiped when dropped: when it grows,
/// the smaller one it leaves is wiped too (it may hold an auth key).
pub(crate) fn encode_wiped<T: Serialize + ?Sized>(
    value: &T,
    prefix: &[u8],
) -> std::result::Result<zeroize::Zeroizing<Vec<u8>>, postcard::Error> {
    let mut out = Wiping(zeroize::Zeroizing::new(Vec::with_capacity(256)));
    out.0.extend_from_slice(prefix);
    postcard::serialize_with_flavor(value, out)
}

/// A postcard output that never lets a reallocation leave its old bytes behind.
struct Wiping(zeroize::Zeroizing<Vec<u8>>);

impl Wiping {
    fn reserve(&mut self, more: usize) {
        let need = self.0.len() + more;
        if need > self.0.capacity() {
            let mut bigger = Vec::with_capacity(need.max(2 * self.0.capacity()));
            bigger.extend_from_slice(&self.0);
            // The old buffer is wiped as it is dropped.
            self.0 = zeroize::Zeroizing::new(bigger);
        }
    }
}

impl postcard::ser_flavors::Flavor for Wiping {
    type Output = zeroize::Zeroizing<Vec<u8>>;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.reserve(data.len());
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.reserve(1);
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Self::Output> {
        Ok(self.0)
    }
}

/// Decodes a value written by [`encode`]; `location` names the table for the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], location: &str) -> Result<T> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| Error::corrupt_value(location, "empty value"))?;
    if version != VALUE_VERSION {
        return Err(Error::UnsupportedVersion {
            what: format!("value in {location}"),
            found: u32::from(version),
            supported: u32::from(VALUE_VERSION),
        });
    }
    decode_body(body, location)
}

fn decode_body<T: DeserializeOwned>(body: &[u8], location: &str) -> Result<T> {
    let (value, rest) = postcard::take_from_bytes(body)
        .map_err(|e| Error::corrupt_value(location, e.to_string()))?;
    if !rest.is_empty() {
        return Err(Error::corrupt_value(location, "trailing bytes"));
    }
    Ok(value)
}

/// The CRC32 of a plain index value's bytes bound to where it is stored: a value damaged,
/// or copied to another row, account or table, fails it.
pub(crate) fn checksum(table: &str, account: u32, key: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(table.as_bytes());
    h.update(&[0]);
    h.update(&account.to_le_bytes());
    h.update(&(key.len() as u32).to_le_bytes());
    h.update(key);
    h.update(body);
    h.finalize()
}

/// `[2][CRC32][body]`: `body` (postcard bytes) with its checksum.
pub(crate) fn checked(table: &str, account: u32, key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.extend_from_slice(&CHECKED_HEADER);
    out.extend_from_slice(body);
    fill_checksum(&mut out, table, account, key);
    out
}

/// A checked value's first five bytes, before its CRC is filled in.
const CHECKED_HEADER: [u8; 5] = [CHECKED_VERSION, 0, 0, 0, 0];

/// Writes the CRC of a `[2][CRC32][body]` value's body into its bytes 1..5.
fn fill_checksum(value: &mut [u8], table: &str, account: u32, key: &[u8]) {
    let crc = checksum(table, account, key, &value[5..]);
    value[1..5].copy_from_slice(&crc.to_le_bytes());
}

/// The body of a `[2][CRC32][body]` value stored at (`table`, `account`, `key`), checked.
pub(crate) fn checked_body<'a>(
    bytes: &'a [u8],
    table: &str,
    account: u32,
    key: &[u8],
) -> Result<&'a [u8]> {
    let mismatch = || damaged(table, account, key, CHECKSUM_MISMATCH);
    let (crc, body) = bytes
        .get(1..)
        .filter(|b| b.len() >= 4)
        .map(|b| b.split_at(4))
        .ok_or_else(mismatch)?;
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc != checksum(table, account, key, body) {
        return Err(mismatch());
    }
    Ok(body)
}

const CHECKSUM_MISMATCH: &str = "checksum mismatch (damaged, or moved from another row)";
const UNAUTHENTIC: &str = "value failed authentication (damaged, moved from another row, or from another copy of the store)";

/// The error for the value at (`table`, `account`, `key`) failing its check.
fn damaged(table: &str, account: u32, key: &[u8], reason: &str) -> Error {
    Error::CorruptValue {
        location: table.to_owned(),
        key: describe_key(account, key),
        reason: reason.into(),
    }
}

/// Where a value is, for an error: the account number and the row key's size (a row key
/// may be a username or phone: never printed).
fn describe_key(account: u32, key: &[u8]) -> String {
    match key.len() {
        0 => format!("account {account}"),
        n => format!("account {account}, a {n}-byte key"),
    }
}

/// A peer id stored in the username or phone table: `[CRC32][id i64 LE]`.
pub(crate) fn encode_id(table: &str, account: u32, key: &str, id: i64) -> [u8; 12] {
    let body = id.to_le_bytes();
    let mut out = [0u8; 12];
    out[..4].copy_from_slice(&checksum(table, account, key.as_bytes(), &body).to_le_bytes());
    out[4..].copy_from_slice(&body);
    out
}

/// The peer id of a username or phone table value, checked.
pub(crate) fn decode_id(table: &str, account: u32, key: &str, bytes: &[u8]) -> Result<i64> {
    let ok = <[u8; 12]>::try_from(bytes).ok().filter(|b| {
        let crc = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        crc == checksum(table, account, key.as_bytes(), &b[4..])
    });
    match ok {
        Some(b) => Ok(i64::from_le_bytes([
            b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
        ])),
        None => Err(damaged(table, account, key.as_bytes(), CHECKSUM_MISMATCH)),
    }
}

/// How the index stores values and name keys: plain, or sealed with the store's keys (the
/// associated data names the index's lineage, the table, the account number and the row
/// key; an index without a lineage, format 2 or older, is read as it was sealed).
#[derive(Clone, Default)]
pub(crate) struct ValueCodec(Option<Sealer>);

#[derive(Clone)]
struct Sealer {
    keys: std::sync::Arc<crate::crypto::Keys>,
    lineage: Option<crate::crypto::Lineage>,
}

/// A row key's bytes for the associated data of its value.
pub(crate) trait RowKey {
    fn bytes(&self) -> [u8; 8];
}

impl RowKey for i32 {
    fn bytes(&self) -> [u8; 8] {
        i64::from(*self).to_le_bytes()
    }
}

impl RowKey for i64 {
    fn bytes(&self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

/// The row key of a table keyed by the account number alone.
pub(crate) const NO_KEY: &[u8] = &[];

impl ValueCodec {
    pub fn new(
        keys: Option<std::sync::Arc<crate::crypto::Keys>>,
        lineage: Option<crate::crypto::Lineage>,
    ) -> Self {
        ValueCodec(keys.map(|keys| Sealer { keys, lineage }))
    }

    /// An encrypted store's keys.
    pub fn keys(&self) -> Option<&std::sync::Arc<crate::crypto::Keys>> {
        self.0.as_ref().map(|s| &s.keys)
    }

    /// The lineage values are bound to (an encrypted index of format 3 or newer).
    pub fn lineage(&self) -> Option<&crate::crypto::Lineage> {
        self.0.as_ref().and_then(|s| s.lineage.as_ref())
    }

    /// The keys the log is read and written with.
    pub fn log_keys(&self) -> Option<crate::crypto::LogKeys<'_>> {
        self.0.as_ref().map(|s| crate::crypto::LogKeys {
            keys: &s.keys,
            lineage: s.lineage.as_ref(),
        })
    }

    /// Encodes the value stored at (`table`, `account`, `key`).
    pub fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        table: &str,
        account: u32,
        key: &[u8],
    ) -> Vec<u8> {
        match &self.0 {
            None => {
                // One buffer: the header, then the body, then the CRC filled in.
                let mut out = encode_after(value, CHECKED_HEADER.to_vec());
                fill_checksum(&mut out, table, account, key);
                out
            }
            Some(sealer) => {
                let plain = match encode_wiped(value, &[VALUE_VERSION]) {
                    Ok(v) => v,
                    Err(e) => unreachable!("postcard cannot encode a model type: {e}"),
                };
                sealer.seal(table, account, key, &plain)
            }
        }
    }

    /// Decodes the value stored at (`table`, `account`, `key`); a sealed value that fails
    /// authentication (damaged, or moved from another row) is `CorruptValue`.
    pub fn decode<T: DeserializeOwned>(
        &self,
        bytes: &[u8],
        table: &str,
        account: u32,
        key: &[u8],
    ) -> Result<T> {
        match &self.0 {
            None => match bytes.first() {
                Some(&CHECKED_VERSION) => {
                    decode_body(checked_body(bytes, table, account, key)?, table)
                }
                // Written by index format 1: no checksum (`verify` counts these).
                _ => decode(bytes, table),
            },
            Some(sealer) => decode(&sealer.open(table, account, key, bytes)?, table),
        }
    }

    /// Checks a stored value without decoding it: `Ok(true)` checked (checksum or tag),
    /// `Ok(false)` a format-1 value with nothing to check it by.
    pub fn check(&self, bytes: &[u8], table: &str, account: u32, key: &[u8]) -> Result<bool> {
        match &self.0 {
            None if bytes.first() == Some(&CHECKED_VERSION) => {
                checked_body(bytes, table, account, key).map(|_| true)
            }
            None => Ok(false),
            Some(sealer) => sealer.open(table, account, key, bytes).map(|_| true),
        }
    }

    /// Whether values are sealed (their tag is their check) rather than checksummed.
    pub fn sealed(&self) -> bool {
        self.0.is_some()
    }

    /// The index key for a username or phone: the name itself, or its keyed hash.
    pub fn name_key<'a>(
        &self,
        table: &str,
        account: u32,
        name: &'a str,
    ) -> std::borrow::Cow<'a, str> {
        match &self.0 {
            None => std::borrow::Cow::Borrowed(name),
            Some(sealer) => std::borrow::Cow::Owned(sealer.keys.name_key(table, account, name)),
        }
    }
}

impl Sealer {
    fn place<'a>(
        &'a self,
        table: &'a str,
        account: u32,
        key: &'a [u8],
    ) -> crate::crypto::Place<'a> {
        match &self.lineage {
            Some(lineage) => crate::crypto::Place::Value {
                lineage,
                table,
                account,
                key,
            },
            None => crate::crypto::Place::OldValue {
                table,
                account,
                key,
            },
        }
    }

    fn seal(&self, table: &str, account: u32, key: &[u8], plain: &[u8]) -> Vec<u8> {
        self.keys.seal(&self.place(table, account, key), plain)
    }

    /// The plaintext of the value sealed at (`table`, `account`, `key`); failing
    /// authentication (damaged, moved from another row, or from another lineage: a backup,
    /// a compacted copy) is `CorruptValue`.
    fn open(
        &self,
        table: &str,
        account: u32,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        self.keys
            .open(&self.place(table, account, key), bytes)
            .ok_or_else(|| damaged(table, account, key, UNAUTHENTIC))
    }
}

impl ValueCodec {
    /// The value sealed at (`table`, `account`, `key`) by this codec, sealed again by `new`
    /// (an upgrade binding an encrypted index's values to its new lineage). `None` for a
    /// plain codec.
    pub fn reseal(
        &self,
        new: &ValueCodec,
        (table, account, key): (&str, u32, &[u8]),
        bytes: &[u8],
    ) -> Option<Result<Vec<u8>>> {
        let (old, new) = (self.0.as_ref()?, new.0.as_ref()?);
        Some(
            old.open(table, account, key, bytes)
                .map(|plain| new.seal(table, account, key, &plain)),
        )
    }

    /// A `meta` value sealed, bound to its key and the lineage: in an encrypted index with
    /// a lineage (format 3 on); `None` otherwise.
    pub fn seal_meta(&self, key: &str, raw: &[u8]) -> Option<Vec<u8>> {
        let sealer = self.0.as_ref().filter(|s| s.lineage.is_some())?;
        Some(sealer.seal("meta", 0, key.as_bytes(), raw))
    }

    /// The plaintext of a sealed `meta` value (`None` if the codec does not seal them).
    pub fn open_meta(
        &self,
        key: &str,
        stored: &[u8],
    ) -> Option<Result<zeroize::Zeroizing<Vec<u8>>>> {
        let sealer = self.0.as_ref().filter(|s| s.lineage.is_some())?;
        Some(sealer.open("meta", 0, key.as_bytes(), stored))
    }
}
