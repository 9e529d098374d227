//! Older index formats brought to this build's, in one transaction, when a writer opens one
//! (after its open passed every check). Holds one table's rows in memory at a time (a
//! one-off cost of about a second per million peers).
//!
//! - 1 → 2: plain values gain their checksum, the username and phone tables move to tables
//!   whose values carry one, and `meta` values gain theirs.
//! - 2 → 3: an encrypted index draws its lineage; every value is sealed again bound to it,
//!   `meta`'s checkpoint LSN and next account number are sealed, and the log replayed over
//!   the index is folded in (its records, sealed without a lineage, are then all at or below
//!   the checkpoint: no record without a lineage is ever opened again). A plain index only
//!   changes its format number.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::meta::{self, META};
use super::tables::*;
use crate::codec::{RowKey, VALUE_VERSION, ValueCodec, checked, encode_id};
use crate::error::Result;

/// What an upgrade that re-seals every value folds in after: the caller's recovered state,
/// written with the new codec into the upgrade's transaction.
pub(crate) type FoldRecovered<'a> = &'a dyn Fn(&WriteTransaction, &ValueCodec) -> Result<()>;

pub(super) fn run(
    db: &Database,
    old: &ValueCodec,
    path: &Path,
    fold_recovered: FoldRecovered<'_>,
) -> Result<bool> {
    let format = meta::format(&db.begin_read()?.open_table(META)?, path)?;
    let Some(format) = format.filter(|&f| f < meta::INDEX_FORMAT) else {
        return Ok(false);
    };
    let mut txn = db.begin_write()?;
    txn.set_quick_repair(true);
    if format == 1 {
        to_format_2(&txn, old)?;
    }
    if let Some(keys) = old.keys() {
        let lineage = crate::crypto::fresh_lineage()?;
        let new = ValueCodec::new(Some(keys.clone()), Some(lineage));
        reseal_all(&txn, old, &new)?;
        {
            let mut table = txn.open_table(META)?;
            meta::put_checked(&mut table, meta::LINEAGE, &lineage)?;
            if let Some(raw) = meta::get::<8>(&table, meta::CHECKPOINT, old)? {
                meta::put(&mut table, meta::CHECKPOINT, &raw, &new)?;
            }
            if let Some(raw) = meta::get::<4>(&table, meta::NEXT_ACCOUNT, old)? {
                meta::put(&mut table, meta::NEXT_ACCOUNT, &raw, &new)?;
            }
        }
        fold_recovered(&txn, &new)?;
    }
    let format = meta::INDEX_FORMAT.to_le_bytes();
    txn.open_table(META)?
        .insert(meta::FORMAT, format.as_slice())?;
    txn.commit()?;
    tracing::info!(file = %path.display(), "index upgraded to format {}", meta::INDEX_FORMAT);
    Ok(true)
}

/// How one stored value at (table, account number, row key) is rewritten: `None` keeps it.
type Rewrite<'a> = &'a dyn Fn(&str, u32, &[u8], &[u8]) -> Option<Result<Vec<u8>>>;

/// Every sealed value sealed again, bound to `new`'s lineage.
fn reseal_all(txn: &WriteTransaction, old: &ValueCodec, new: &ValueCodec) -> Result<()> {
    rewrite_all(txn, &|table, n, row, value| {
        old.reseal(new, (table, n, row), value)
    })
}

/// Rewrites the values of every table holding encoded values.
fn rewrite_all(txn: &WriteTransaction, f: Rewrite<'_>) -> Result<()> {
    rewrite(
        txn,
        ACCOUNTS,
        "accounts",
        |name| (0, name.as_bytes().to_vec()),
        f,
    )?;
    for (def, name) in [
        (SESSIONS, "sessions"),
        (UPDATE_STATE, "update_state"),
        (APP_FIELDS, "app_fields"),
        (EXTRAS, "extras"),
    ] {
        rewrite(txn, def, name, |n| (*n, Vec::new()), f)?;
    }
    rewrite(txn, DCS, "dcs", |(n, id)| (*n, id.bytes().to_vec()), f)?;
    for (def, name) in [
        (CHANNEL_STATE, "channel_state"),
        (PEERS, "peers"),
        (MIN_PEERS, "min_peers"),
    ] {
        rewrite(txn, def, name, |(n, id)| (*n, id.bytes().to_vec()), f)?;
    }
    Ok(())
}

/// Rewrites the values of one table as `f` says; `place` gives a row's account number and
/// row key. The rows are read first, then written.
fn rewrite<K: redb::Key + 'static>(
    txn: &WriteTransaction,
    def: TableDefinition<K, &'static [u8]>,
    name: &str,
    place: impl for<'a> Fn(&K::SelfType<'a>) -> (u32, Vec<u8>),
    f: Rewrite<'_>,
) -> Result<()> {
    let mut redo = Vec::new();
    for entry in txn.open_table(def)?.iter()? {
        let (k, v) = entry?;
        let key = k.value();
        let (n, row) = place(&key);
        if let Some(value) = f(name, n, &row, v.value()) {
            redo.push((K::as_bytes(&key).as_ref().to_vec(), value?));
        }
    }
    let mut table = txn.open_table(def)?;
    for (key, value) in &redo {
        table.insert(K::from_bytes(key), value.as_slice())?;
    }
    Ok(())
}

/// Format 1 → 2 (see the module's comment).
fn to_format_2(txn: &WriteTransaction, codec: &ValueCodec) -> Result<()> {
    if !codec.sealed() {
        // Unchecked values gain their checksum (sealed ones are checked by their tag).
        rewrite_all(txn, &|table, n, row, value| {
            let body = value.strip_prefix(&[VALUE_VERSION])?;
            Some(Ok(checked(table, n, row, body)))
        })?;
    }
    move_names(txn, OLD_USERNAMES, USERNAMES, "usernames")?;
    move_names(txn, OLD_PHONES, PHONES, "phones")?;
    let mut table = txn.open_table(META)?;
    for key in [meta::CHECKPOINT, meta::NEXT_ACCOUNT, meta::STORE_ID] {
        // Bare in format 1; kept with their checksum from format 2 on.
        let raw = match key {
            meta::CHECKPOINT => meta::get_checked::<8>(&table, key)?.map(|r| r.to_vec()),
            meta::NEXT_ACCOUNT => meta::get_checked::<4>(&table, key)?.map(|r| r.to_vec()),
            _ => meta::get_checked::<16>(&table, key)?.map(|r| r.to_vec()),
        };
        if let Some(raw) = raw {
            meta::put_checked(&mut table, key, &raw)?;
        }
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
