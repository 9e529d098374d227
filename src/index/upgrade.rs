//! Format 1 → 2, in one transaction, when a writer opens a format-1 index (after its open
//! passed every check): plain values gain their checksum, the username and phone tables
//! move to tables whose values carry one, and `meta` values gain theirs. Holds one table's
//! rows in memory at a time (a one-off cost of about a second per million peers).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::meta::{self, META};
use super::*;
use crate::codec::{RowKey, VALUE_VERSION, checked, encode_id};

pub(super) fn run(db: &Database, codec: &ValueCodec, path: &Path) -> Result<bool> {
    let format = meta::format(&db.begin_read()?.open_table(META)?, path)?;
    if format != Some(1) {
        return Ok(false);
    }
    let mut txn = db.begin_write()?;
    txn.set_quick_repair(true);
    if !codec.sealed() {
        // Sealed values are checked by their tag already.
        rechecksum(&txn, ACCOUNTS, "accounts", |name| {
            (0, name.as_bytes().to_vec())
        })?;
        for (def, name) in [
            (SESSIONS, "sessions"),
            (UPDATE_STATE, "update_state"),
            (APP_FIELDS, "app_fields"),
        ] {
            rechecksum(&txn, def, name, |n| (*n, Vec::new()))?;
        }
        rechecksum(&txn, DCS, "dcs", |(n, id)| (*n, id.bytes().to_vec()))?;
        for (def, name) in [(CHANNEL_STATE, "channel_state"), (PEERS, "peers")] {
            rechecksum(&txn, def, name, |(n, id)| (*n, id.bytes().to_vec()))?;
        }
    }
    move_names(&txn, OLD_USERNAMES, USERNAMES, "usernames")?;
    move_names(&txn, OLD_PHONES, PHONES, "phones")?;
    {
        let mut table = txn.open_table(META)?;
        if let Some(raw) = meta::get::<8>(&table, meta::CHECKPOINT)? {
            meta::put(&mut table, meta::CHECKPOINT, &raw)?;
        }
        if let Some(raw) = meta::get::<4>(&table, meta::NEXT_ACCOUNT)? {
            meta::put(&mut table, meta::NEXT_ACCOUNT, &raw)?;
        }
        if let Some(raw) = meta::get::<16>(&table, meta::STORE_ID)? {
            meta::put(&mut table, meta::STORE_ID, &raw)?;
        }
        let format = meta::INDEX_FORMAT.to_le_bytes();
        table.insert(meta::FORMAT, format.as_slice())?;
    }
    txn.commit()?;
    tracing::info!(file = %path.display(), "index upgraded to format 2");
    Ok(true)
}

/// Rewrites every unchecked value of a table with its checksum; `place` gives a row's
/// account number and row key.
fn rechecksum<K: redb::Key + 'static>(
    txn: &WriteTransaction,
    def: TableDefinition<K, &'static [u8]>,
    name: &str,
    place: impl for<'a> Fn(&K::SelfType<'a>) -> (u32, Vec<u8>),
) -> Result<()> {
    let mut redo = Vec::new();
    for entry in txn.open_table(def)?.iter()? {
        let (k, v) = entry?;
        let (key, value) = (k.value(), v.value());
        if value.first() == Some(&VALUE_VERSION) {
            let (n, row) = place(&key);
            let bytes = K::as_bytes(&key).as_ref().to_vec();
            redo.push((bytes, checked(name, n, &row, &value[1..])));
        }
    }
    let mut table = txn.open_table(def)?;
    for (key, value) in &redo {
        table.insert(K::from_bytes(key), value.as_slice())?;
    }
    Ok(())
}

/// Moves a format-1 name table into its format-2 table and deletes it.
fn move_names(
    txn: &WriteTransaction,
    old: TableDefinition<(u32, &str), i64>,
    new: TableDefinition<(u32, &str), &[u8]>,
    kind: &str,
) -> Result<()> {
    let mut rows = Vec::new();
    for entry in txn.open_table(old)?.iter()? {
        let (k, v) = entry?;
        let (n, name) = k.value();
        rows.push((n, name.to_owned(), v.value()));
    }
    let mut table = txn.open_table(new)?;
    for (n, name, id) in &rows {
        let value = encode_id(kind, *n, name, *id);
        table.insert((*n, name.as_str()), value.as_slice())?;
    }
    drop(table);
    txn.delete_table(old)?;
    Ok(())
}
