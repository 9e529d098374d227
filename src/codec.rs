//! Versioned postcard values: `[version u8][postcard bytes]`.
//!
//! postcard has no field tags, so a stored value is only readable with the exact type it was
//! written with. Every stored record type therefore carries a version byte, and a decoder
//! that meets a version it does not know says so instead of misreading the bytes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Version of every value type this build writes.
pub(crate) const VALUE_VERSION: u8 = 1;

/// Encodes `value` behind the current version byte.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let out = vec![VALUE_VERSION];
    // Serialising into a Vec only fails on types serde cannot express; ours are all plain.
    match postcard::to_extend(value, out) {
        Ok(v) => v,
        Err(e) => unreachable!("postcard cannot encode a model type: {e}"),
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
    let (value, rest) = postcard::take_from_bytes(body)
        .map_err(|e| Error::corrupt_value(location, e.to_string()))?;
    if !rest.is_empty() {
        return Err(Error::corrupt_value(location, "trailing bytes"));
    }
    Ok(value)
}

/// How the index stores values and name keys: plain, or sealed with the store's keys (the
/// associated data names the table, the account number and the row key).
#[derive(Clone, Default)]
pub(crate) struct ValueCodec(Option<std::sync::Arc<crate::crypto::Keys>>);

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
    pub fn new(keys: Option<std::sync::Arc<crate::crypto::Keys>>) -> Self {
        ValueCodec(keys)
    }

    /// Encodes the value stored at (`table`, `account`, `key`).
    pub fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        table: &str,
        account: u32,
        key: &[u8],
    ) -> Vec<u8> {
        let plain = encode(value);
        match &self.0 {
            None => plain,
            Some(keys) => {
                let plain = zeroize::Zeroizing::new(plain);
                keys.seal(&place(table, account, key), &plain)
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
            None => decode(bytes, table),
            Some(keys) => match keys.open(&place(table, account, key), bytes) {
                Some(plain) => decode(&plain, table),
                None => Err(Error::corrupt_value(
                    table,
                    "value failed authentication (damaged, or moved from another row)",
                )),
            },
        }
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
            Some(keys) => std::borrow::Cow::Owned(keys.name_key(table, account, name)),
        }
    }
}

fn place<'a>(table: &'a str, account: u32, key: &'a [u8]) -> crate::crypto::Place<'a> {
    crate::crypto::Place::Value {
        table,
        account,
        key,
    }
}
