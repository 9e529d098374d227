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
