//! The `meta` table: the index format, the checkpoint LSN, the next account number and an
//! encrypted store's id and lineage.
//!
//! `format` is a bare u32, so that any build can read it and refuse a newer store by name.
//! Since format 2 every other value carries a CRC32 after its bytes, bound to its key
//! (`raw ‖ CRC32("meta" ‖ key ‖ raw)`): a flipped checkpoint LSN would make the writer skip
//! and delete log segments. Format-1 values (bare) are still read. Since format 3 an
//! encrypted index seals the checkpoint LSN and the next account number like any value,
//! bound to the index's lineage: a `meta` from a backup or another copy fails. The store id
//! and the lineage keep their CRC (they are read before the keys are bound to a lineage; a
//! changed lineage makes every sealed value fail).

use std::path::Path;

use redb::{ReadTransaction, ReadableTable, Table, TableDefinition};

use crate::codec::{ValueCodec, checksum};
use crate::error::{Error, Result};

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Index format written by this build (kept in `meta` under `format`).
pub(crate) const INDEX_FORMAT: u32 = 3;
/// The oldest format this build opens (a writer upgrades it).
pub(crate) const OLDEST_FORMAT: u32 = 1;
pub(crate) const FORMAT: &str = "format";
pub(crate) const CHECKPOINT: &str = "checkpoint_lsn";
pub(crate) const NEXT_ACCOUNT: &str = "next_account";
/// The store id of an encrypted store's key file (absent in a plain store).
pub(crate) const STORE_ID: &str = "store_id";
/// An encrypted store's lineage (since format 3; absent in a plain store).
pub(crate) const LINEAGE: &str = "lineage";

/// `raw` with its checksum, as stored.
pub(crate) fn with_checksum(key: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = raw.to_vec();
    out.extend_from_slice(&checksum("meta", 0, key.as_bytes(), raw).to_le_bytes());
    out
}

/// The `N` bytes of a stored value: checked (format 2) or bare (format 1).
fn open_value<const N: usize>(key: &str, stored: &[u8]) -> Result<[u8; N]> {
    let bad = |why: &str| Error::CorruptValue {
        location: "meta".into(),
        key: key.into(),
        reason: why.into(),
    };
    if let Ok(bare) = <[u8; N]>::try_from(stored) {
        return Ok(bare);
    }
    if stored.len() != N + 4 {
        return Err(bad("wrong length"));
    }
    let (raw, crc) = stored.split_at(N);
    if crc != checksum("meta", 0, key.as_bytes(), raw).to_le_bytes() {
        return Err(bad("checksum mismatch"));
    }
    <[u8; N]>::try_from(raw).map_err(|_| bad("wrong length"))
}

/// Reads `key` from a meta table (read-only or written): sealed if `codec` seals meta.
pub(crate) fn get<const N: usize>(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
    codec: &ValueCodec,
) -> Result<Option<[u8; N]>> {
    let Some(v) = meta.get(key)? else {
        return Ok(None);
    };
    match codec.open_meta(key, v.value()) {
        Some(plain) => <[u8; N]>::try_from(&plain?[..])
            .map(Some)
            .map_err(|_| Error::corrupt_value("meta", format!("{key} has the wrong length"))),
        None => Ok(Some(open_value(key, v.value())?)),
    }
}

/// Writes `key`: sealed if `codec` seals meta, else with its checksum.
pub(crate) fn put(
    meta: &mut Table<'_, &str, &[u8]>,
    key: &str,
    raw: &[u8],
    codec: &ValueCodec,
) -> Result<()> {
    let stored = codec
        .seal_meta(key, raw)
        .unwrap_or_else(|| with_checksum(key, raw));
    meta.insert(key, stored.as_slice())?;
    Ok(())
}

/// Reads a value kept with its checksum alone (the store id, the lineage).
pub(crate) fn get_checked<const N: usize>(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<[u8; N]>> {
    get(meta, key, &ValueCodec::default())
}

/// Writes a value kept with its checksum alone.
pub(crate) fn put_checked(meta: &mut Table<'_, &str, &[u8]>, key: &str, raw: &[u8]) -> Result<()> {
    put(meta, key, raw, &ValueCodec::default())
}

/// The lineage recorded in `meta` (`None`: a plain store, or an encrypted one of format 2
/// or older).
pub(crate) fn lineage(txn: &ReadTransaction) -> Result<Option<crate::crypto::Lineage>> {
    get_checked::<16>(&txn.open_table(META)?, LINEAGE)
}

/// The format of the index in `txn` (`None`: a new file), refusing one this build cannot
/// read with an error naming `path`.
pub(crate) fn format(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    path: &Path,
) -> Result<Option<u32>> {
    let Some(v) = meta.get(FORMAT)? else {
        return Ok(None);
    };
    let found = <[u8; 4]>::try_from(v.value())
        .map(u32::from_le_bytes)
        .map_err(|_| Error::corrupt_value("meta", "bad format"))?;
    if !(OLDEST_FORMAT..=INDEX_FORMAT).contains(&found) {
        return Err(Error::UnsupportedVersion {
            what: format!("index {}", path.display()),
            found,
            supported: INDEX_FORMAT,
        });
    }
    Ok(Some(found))
}

/// The checkpoint LSN recorded in `meta`.
pub(crate) fn checkpoint_lsn(txn: &ReadTransaction, codec: &ValueCodec) -> Result<u64> {
    let meta = txn.open_table(META)?;
    let lsn = get::<8>(&meta, CHECKPOINT, codec)?
        .map(u64::from_le_bytes)
        .ok_or_else(|| Error::corrupt_value("meta", "no checkpoint LSN"))?;
    match lsn {
        // LSNs are counted up from 1; this one could not be followed by another.
        u64::MAX => Err(Error::corrupt_value("meta", "checkpoint LSN out of range")),
        lsn => Ok(lsn),
    }
}

/// Refuses an index and a key file that do not belong together (a store encrypted or not
/// is decided at creation; a key file copied from another store would unlock nothing).
pub(crate) fn check_store_id(
    txn: &ReadTransaction,
    path: &Path,
    expected: Option<&[u8; 16]>,
) -> Result<()> {
    let meta = txn.open_table(META)?;
    let found = get_checked::<16>(&meta, STORE_ID)?;
    let dir = path.parent().unwrap_or(path).to_owned();
    match (found, expected) {
        (None, None) => Ok(()),
        (Some(found), Some(expected)) if &found == expected => Ok(()),
        (Some(_), None) => Err(Error::Corrupt {
            file: dir.join(crate::paths::KEY_FILE),
            offset: 0,
            reason: "the store is encrypted but its key file is missing".into(),
        }),
        (None, Some(_)) => Err(Error::InvalidArgument(format!(
            "{} was created without encryption; a passphrase cannot open it",
            dir.display()
        ))),
        (Some(_), Some(_)) => Err(Error::Corrupt {
            file: dir.join(crate::paths::KEY_FILE),
            offset: 0,
            reason: "the key file belongs to another store".into(),
        }),
    }
}
