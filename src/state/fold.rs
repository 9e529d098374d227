//! Folding an overlay into the index: one write transaction per checkpoint (or upgrade),
//! accounts and keys in order, new accounts given their numbers.

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use crate::codec::{NO_KEY, RowKey, ValueCodec};
use crate::error::{Error, Result};
use crate::extras::ExtrasRecord;
use crate::index::meta::{self, META};
use crate::index::tables::*;
use crate::index::{Index, UsernameHints};
use crate::state::overlay::{AccountDelta, Overlay};
use serde::Serialize;
use std::collections::BTreeMap;

/// The account's number, if it has one.
fn number(txn: &WriteTransaction, codec: &ValueCodec, account: &str) -> Result<Option<u32>> {
    match txn.open_table(ACCOUNTS)?.get(account)? {
        Some(v) => Ok(Some(decode_account(codec, account, v.value())?.number)),
        None => Ok(None),
    }
}

/// Folds `overlay` into `txn` and records its last LSN as the checkpoint LSN.
pub(crate) fn fold_into(
    txn: &WriteTransaction,
    overlay: &Overlay,
    codec: &ValueCodec,
    hints: &UsernameHints,
) -> Result<()> {
    for (account, delta) in &overlay.accounts {
        fold_account(txn, codec, hints, account, delta)?;
    }
    let lsn = overlay.last_lsn.to_le_bytes();
    meta::put(&mut txn.open_table(META)?, meta::CHECKPOINT, &lsn, codec)
}

/// Gives `account` the next free number. A number that already has rows is refused: only a
/// rolled-back or damaged `next_account` hands one out, and the new account would inherit
/// another's auth keys.
fn allocate(txn: &WriteTransaction, codec: &ValueCodec, account: &str) -> Result<u32> {
    let mut table = txn.open_table(META)?;
    let number = meta::get::<4>(&table, meta::NEXT_ACCOUNT, codec)?.map_or(1, u32::from_le_bytes);
    let next = number
        .checked_add(1)
        .ok_or_else(|| Error::InvalidArgument("too many accounts created".into()))?;
    if has_rows(txn, number)? {
        return Err(Error::CorruptValue {
            location: "meta".into(),
            key: meta::NEXT_ACCOUNT.into(),
            reason: format!(
                "account number {number} already has rows: the next account number was \
                 rolled back or damaged"
            ),
        });
    }
    meta::put(&mut table, meta::NEXT_ACCOUNT, &next.to_le_bytes(), codec)?;
    let row = codec.encode(&AccountRecord { number }, "accounts", 0, account.as_bytes());
    txn.open_table(ACCOUNTS)?.insert(account, row.as_slice())?;
    Ok(number)
}

/// Whether any table holds a row of account number `n`.
fn has_rows(txn: &WriteTransaction, n: u32) -> Result<bool> {
    for def in [SESSIONS, UPDATE_STATE, APP_FIELDS, EXTRAS] {
        if txn.open_table(def)?.get(n)?.is_some() {
            return Ok(true);
        }
    }
    let dcs = txn.open_table(DCS)?;
    if dcs.range((n, i32::MIN)..=(n, i32::MAX))?.next().is_some() {
        return Ok(true);
    }
    for def in [CHANNEL_STATE, PEERS, MIN_PEERS] {
        let table = txn.open_table(def)?;
        if table.range((n, i64::MIN)..=(n, i64::MAX))?.next().is_some() {
            return Ok(true);
        }
    }
    for def in [USERNAMES, PHONES] {
        let table = txn.open_table(def)?;
        let first = table.range((n, "")..)?.next().transpose()?;
        if first.is_some_and(|(k, _)| k.value().0 == n) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn fold_account(
    txn: &WriteTransaction,
    codec: &ValueCodec,
    hints: &UsernameHints,
    account: &str,
    d: &AccountDelta,
) -> Result<()> {
    let existing = number(txn, codec, account)?;
    if d.wiped
        && let Some(n) = existing
    {
        wipe_account(txn, n)?;
    }
    if d.exists == Some(false) {
        // A deleted account's delta holds nothing else (any later write sets `exists`).
        txn.open_table(ACCOUNTS)?.remove(account)?;
        return Ok(());
    }
    let n = match existing {
        Some(n) => n,
        None => allocate(txn, codec, account)?,
    };
    if d.home_dc.is_some() || d.user.is_some() || d.self_peer.is_some() || d.peer_count_delta != 0 {
        let mut table = txn.open_table(SESSIONS)?;
        let mut row: SessionRecord = match table.get(n)? {
            Some(v) => codec.decode(v.value(), "sessions", n, NO_KEY)?,
            None => SessionRecord::default(),
        };
        if let Some(h) = d.home_dc {
            row.home_dc = h;
        }
        if let Some(u) = &d.user {
            row.user.clone_from(u);
        }
        if let Some(s) = d.self_peer {
            row.self_peer = s;
        }
        row.peer_count = row.peer_count.saturating_add_signed(d.peer_count_delta);
        table.insert(n, codec.encode(&row, "sessions", n, NO_KEY).as_slice())?;
    }
    fold_rows(txn, codec, (DCS, "dcs"), n, &d.dcs)?;
    match &d.update_state {
        Some(Some(state)) => {
            txn.open_table(UPDATE_STATE)?
                .insert(n, codec.encode(state, "update_state", n, NO_KEY).as_slice())?;
        }
        Some(None) => {
            txn.open_table(UPDATE_STATE)?.remove(n)?;
        }
        None => {}
    }
    fold_rows(txn, codec, (CHANNEL_STATE, "channel_state"), n, &d.channels)?;
    if let Some(app) = &d.app {
        txn.open_table(APP_FIELDS)?
            .insert(n, codec.encode(app, "app_fields", n, NO_KEY).as_slice())?;
    }
    fold_rows(txn, codec, (PEERS, "peers"), n, &d.peers)?;
    fold_rows(txn, codec, (MIN_PEERS, "min_peers"), n, &d.min_peers)?;
    match &d.extras {
        Some(e) if *e == ExtrasRecord::default() => {
            txn.open_table(EXTRAS)?.remove(n)?;
        }
        Some(e) => {
            txn.open_table(EXTRAS)?
                .insert(n, codec.encode(e, "extras", n, NO_KEY).as_slice())?;
        }
        None => {}
    }
    // Hints learn every username folded in, so names cached since open take one descent too.
    fold_names(
        txn,
        codec,
        (USERNAMES, "usernames"),
        n,
        (&d.usernames, Some(hints)),
    )?;
    fold_names(txn, codec, (PHONES, "phones"), n, (&d.phones, None))?;
    Ok(())
}

/// Writes (or deletes) one account's rows of a `(number, key) → versioned value` table.
fn fold_rows<K, V>(
    txn: &WriteTransaction,
    codec: &ValueCodec,
    (def, name): (TableDefinition<(u32, K), &[u8]>, &str),
    n: u32,
    rows: &BTreeMap<K, Option<V>>,
) -> Result<()>
where
    K: redb::Key + RowKey + Copy + 'static + for<'a> redb::Value<SelfType<'a> = K>,
    V: Serialize,
{
    let mut table = txn.open_table(def)?;
    for (k, v) in rows {
        match v {
            Some(v) => {
                let value = codec.encode(v, name, n, &k.bytes());
                table.insert((n, *k), value.as_slice())?
            }
            None => table.remove((n, *k))?,
        };
    }
    Ok(())
}

fn fold_names(
    txn: &WriteTransaction,
    codec: &ValueCodec,
    (def, kind): (TableDefinition<(u32, &str), &[u8]>, &str),
    n: u32,
    (names, hints): (&BTreeMap<String, Option<i64>>, Option<&UsernameHints>),
) -> Result<()> {
    let mut table = txn.open_table(def)?;
    for (name, id) in names {
        let key = codec.name_key(kind, n, name);
        if let Some(hints) = hints {
            hints.set(n, key.as_ref(), *id);
        }
        match id {
            Some(id) => {
                let value = crate::codec::encode_id(kind, n, key.as_ref(), *id);
                table.insert((n, key.as_ref()), value.as_slice())?
            }
            None => table.remove((n, key.as_ref()))?,
        };
    }
    Ok(())
}

fn wipe_account(txn: &WriteTransaction, n: u32) -> Result<()> {
    for def in [SESSIONS, UPDATE_STATE, APP_FIELDS, EXTRAS] {
        txn.open_table(def)?.remove(n)?;
    }
    txn.open_table(DCS)?
        .retain_in((n, i32::MIN)..=(n, i32::MAX), |_, _| false)?;
    for def in [CHANNEL_STATE, PEERS, MIN_PEERS] {
        txn.open_table(def)?
            .retain_in((n, i64::MIN)..=(n, i64::MAX), |_, _| false)?;
    }
    for def in [USERNAMES, PHONES] {
        let mut table = txn.open_table(def)?;
        match n.checked_add(1) {
            Some(next) => table.retain_in((n, "")..(next, ""), |_, _| false)?,
            None => table.retain_in((n, "").., |_, _| false)?,
        }
    }
    Ok(())
}

/// Folds a frozen overlay into the index in one durable transaction that also records
/// `overlay.last_lsn` as the checkpoint LSN (accounts and keys in key order);
/// `before_commit` runs once the transaction is built.
pub(crate) fn fold(
    index: &Index,
    overlay: &Overlay,
    codec: &ValueCodec,
    hints: &UsernameHints,
    before_commit: &dyn Fn(),
) -> Result<()> {
    let mut txn = index.begin_write()?;
    txn.set_quick_repair(true);
    fold_into(&txn, overlay, codec, hints)?;
    before_commit();
    txn.commit()?;
    Ok(())
}
