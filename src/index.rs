//! The redb index: one table per kind of data, keyed by account, holding the state as of the
//! last checkpoint. Values are versioned postcard bytes decoded by us (see `codec`).

use std::collections::BTreeMap;
use std::path::Path;

use redb::{
    Database, ReadOnlyDatabase, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};
use crate::error::{Error, Result};
use crate::model::{AppFields, DataCenter, Peer, UpdateState, User};
use crate::overlay::{AccountDelta, Overlay};

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
pub(crate) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
pub(crate) const DCS: TableDefinition<(&str, i32), &[u8]> = TableDefinition::new("dcs");
pub(crate) const UPDATE_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("update_state");
pub(crate) const CHANNEL_STATE: TableDefinition<(&str, i64), &[u8]> =
    TableDefinition::new("channel_state");
pub(crate) const APP_FIELDS: TableDefinition<&str, &[u8]> = TableDefinition::new("app_fields");
pub(crate) const PEERS: TableDefinition<(&str, i64), &[u8]> = TableDefinition::new("peers");
pub(crate) const PEERS_BY_USERNAME: TableDefinition<(&str, &str), i64> =
    TableDefinition::new("peers_by_username");
pub(crate) const PEERS_BY_PHONE: TableDefinition<(&str, &str), i64> =
    TableDefinition::new("peers_by_phone");

/// Index format written by this build (kept in `meta` under `format`).
pub(crate) const INDEX_FORMAT: u32 = 1;
const META_FORMAT: &str = "format";
const META_CHECKPOINT: &str = "checkpoint_lsn";

/// The `sessions` row of an account.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub home_dc: Option<i32>,
    pub user: Option<User>,
    pub self_peer: Option<i64>,
    /// Cached peers of the account, so `count` is O(1).
    pub peer_count: u64,
}

type Bytes = &'static [u8];

/// Every table of one redb snapshot, opened once. redb only changes at checkpoints, so the
/// store keeps one `Base` per checkpoint instead of opening a transaction per read (a read
/// transaction of a multi-process redb costs file-lock syscalls).
pub(crate) struct Base {
    accounts: ReadOnlyTable<&'static str, Bytes>,
    sessions: ReadOnlyTable<&'static str, Bytes>,
    dcs: ReadOnlyTable<(&'static str, i32), Bytes>,
    update_state: ReadOnlyTable<&'static str, Bytes>,
    channel_state: ReadOnlyTable<(&'static str, i64), Bytes>,
    app_fields: ReadOnlyTable<&'static str, Bytes>,
    pub(crate) peers: ReadOnlyTable<(&'static str, i64), Bytes>,
    by_username: ReadOnlyTable<(&'static str, &'static str), i64>,
    by_phone: ReadOnlyTable<(&'static str, &'static str), i64>,
    _txn: ReadTransaction,
}

impl Base {
    pub fn open(txn: ReadTransaction) -> Result<Base> {
        Ok(Base {
            accounts: txn.open_table(ACCOUNTS)?,
            sessions: txn.open_table(SESSIONS)?,
            dcs: txn.open_table(DCS)?,
            update_state: txn.open_table(UPDATE_STATE)?,
            channel_state: txn.open_table(CHANNEL_STATE)?,
            app_fields: txn.open_table(APP_FIELDS)?,
            peers: txn.open_table(PEERS)?,
            by_username: txn.open_table(PEERS_BY_USERNAME)?,
            by_phone: txn.open_table(PEERS_BY_PHONE)?,
            _txn: txn,
        })
    }
}

/// The redb database, opened for writing or read-only.
pub(crate) enum Index {
    Writer(Database),
    Reader(ReadOnlyDatabase),
}

impl Index {
    /// The tables of the last checkpoint.
    pub fn base(&self) -> Result<Base> {
        Base::open(self.read()?)
    }

    /// A read snapshot of the last checkpoint.
    pub fn read(&self) -> Result<ReadTransaction> {
        Ok(match self {
            Index::Writer(db) => db.begin_read()?,
            Index::Reader(db) => db.begin_read()?,
        })
    }

    /// Creates missing tables and checks (or writes) the format version.
    pub fn init(db: &Database, path: &Path) -> Result<()> {
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = match meta.get(META_FORMAT)? {
                Some(v) => Some(read_u32(v.value(), path)?),
                None => None,
            };
            match found {
                Some(INDEX_FORMAT) => {}
                Some(other) => {
                    return Err(Error::UnsupportedVersion {
                        what: format!("index {}", path.display()),
                        found: other,
                        supported: INDEX_FORMAT,
                    });
                }
                None => {
                    meta.insert(META_FORMAT, INDEX_FORMAT.to_le_bytes().as_slice())?;
                    meta.insert(META_CHECKPOINT, 0u64.to_le_bytes().as_slice())?;
                }
            }
        }
        open_all(&txn)?;
        txn.commit()?;
        Ok(())
    }

    /// Folds a frozen overlay into the index in one durable transaction that also records
    /// `overlay.last_lsn` as the checkpoint LSN.
    pub fn fold(&self, overlay: &Overlay) -> Result<()> {
        let Index::Writer(db) = self else {
            return Err(Error::ReadOnly);
        };
        let mut txn = db.begin_write()?;
        txn.set_quick_repair(true);
        for (account, delta) in &overlay.accounts {
            fold_account(&txn, account, delta)?;
        }
        txn.open_table(META)?
            .insert(META_CHECKPOINT, overlay.last_lsn.to_le_bytes().as_slice())?;
        txn.commit()?;
        Ok(())
    }
}

fn open_all(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(ACCOUNTS)?;
    txn.open_table(SESSIONS)?;
    txn.open_table(DCS)?;
    txn.open_table(UPDATE_STATE)?;
    txn.open_table(CHANNEL_STATE)?;
    txn.open_table(APP_FIELDS)?;
    txn.open_table(PEERS)?;
    txn.open_table(PEERS_BY_USERNAME)?;
    txn.open_table(PEERS_BY_PHONE)?;
    Ok(())
}

fn read_u32(bytes: &[u8], path: &Path) -> Result<u32> {
    let arr: [u8; 4] = bytes
        .try_into()
        .map_err(|_| Error::corrupt_value(format!("meta of {}", path.display()), "bad format"))?;
    Ok(u32::from_le_bytes(arr))
}

/// The checkpoint LSN recorded in `meta`.
pub(crate) fn checkpoint_lsn(txn: &ReadTransaction) -> Result<u64> {
    let meta = txn.open_table(META)?;
    let v = meta
        .get(META_CHECKPOINT)?
        .ok_or_else(|| Error::corrupt_value("meta", "no checkpoint LSN"))?;
    let arr: [u8; 8] = v
        .value()
        .try_into()
        .map_err(|_| Error::corrupt_value("meta", "bad checkpoint LSN"))?;
    Ok(u64::from_le_bytes(arr))
}

/// The upper bound (exclusive) of string keys that start with `account` as first element:
/// `account + "\0"` is the next string after `account`, and names hold no control chars.
fn next_account(account: &str) -> String {
    format!("{account}\0")
}

fn fold_account(txn: &WriteTransaction, account: &str, d: &AccountDelta) -> Result<()> {
    if d.wiped {
        wipe_account(txn, account)?;
    }
    match d.exists {
        Some(true) => {
            txn.open_table(ACCOUNTS)?
                .insert(account, encode(&()).as_slice())?;
        }
        Some(false) => {
            txn.open_table(ACCOUNTS)?.remove(account)?;
        }
        None => {}
    }
    if d.home_dc.is_some() || d.user.is_some() || d.self_peer.is_some() || d.peer_count_delta != 0 {
        let mut table = txn.open_table(SESSIONS)?;
        let mut row: SessionRecord = match table.get(account)? {
            Some(v) => decode(v.value(), "sessions")?,
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
        table.insert(account, encode(&row).as_slice())?;
    }
    {
        let mut table = txn.open_table(DCS)?;
        for (id, dc) in &d.dcs {
            match dc {
                Some(dc) => table.insert((account, *id), encode(dc).as_slice())?,
                None => table.remove((account, *id))?,
            };
        }
    }
    match &d.update_state {
        Some(Some(state)) => {
            txn.open_table(UPDATE_STATE)?
                .insert(account, encode(state).as_slice())?;
        }
        Some(None) => {
            txn.open_table(UPDATE_STATE)?.remove(account)?;
        }
        None => {}
    }
    {
        let mut table = txn.open_table(CHANNEL_STATE)?;
        for (id, pts) in &d.channels {
            match pts {
                Some(pts) => table.insert((account, *id), encode(pts).as_slice())?,
                None => table.remove((account, *id))?,
            };
        }
    }
    if let Some(app) = &d.app {
        txn.open_table(APP_FIELDS)?
            .insert(account, encode(app).as_slice())?;
    }
    {
        let mut table = txn.open_table(PEERS)?;
        for (id, peer) in &d.peers {
            match peer {
                Some(p) => table.insert((account, *id), encode(p).as_slice())?,
                None => table.remove((account, *id))?,
            };
        }
    }
    fold_names(txn, PEERS_BY_USERNAME, account, &d.usernames)?;
    fold_names(txn, PEERS_BY_PHONE, account, &d.phones)?;
    Ok(())
}

fn fold_names(
    txn: &WriteTransaction,
    def: TableDefinition<(&str, &str), i64>,
    account: &str,
    names: &BTreeMap<String, Option<i64>>,
) -> Result<()> {
    let mut table = txn.open_table(def)?;
    for (name, id) in names {
        match id {
            Some(id) => table.insert((account, name.as_str()), *id)?,
            None => table.remove((account, name.as_str()))?,
        };
    }
    Ok(())
}

fn wipe_account(txn: &WriteTransaction, account: &str) -> Result<()> {
    for def in [ACCOUNTS, SESSIONS, UPDATE_STATE, APP_FIELDS] {
        txn.open_table(def)?.remove(account)?;
    }
    txn.open_table(DCS)?
        .retain_in((account, i32::MIN)..=(account, i32::MAX), |_, _| false)?;
    for def in [CHANNEL_STATE, PEERS] {
        txn.open_table(def)?
            .retain_in((account, i64::MIN)..=(account, i64::MAX), |_, _| false)?;
    }
    let next = next_account(account);
    for def in [PEERS_BY_USERNAME, PEERS_BY_PHONE] {
        txn.open_table(def)?
            .retain_in((account, "")..(next.as_str(), ""), |_, _| false)?;
    }
    Ok(())
}

/// Point and range reads of the checkpointed state.
pub(crate) mod read {
    use super::*;

    fn get<K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
        table: &ReadOnlyTable<K, Bytes>,
        key: K::SelfType<'_>,
        location: &str,
    ) -> Result<Option<T>> {
        match table.get(key)? {
            Some(v) => decode(v.value(), location).map(Some),
            None => Ok(None),
        }
    }

    pub fn account_exists(base: &Base, account: &str) -> Result<bool> {
        Ok(base.accounts.get(account)?.is_some())
    }

    pub fn accounts(base: &Base) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in base.accounts.iter()? {
            out.push(entry?.0.value().to_owned());
        }
        Ok(out)
    }

    pub fn session(base: &Base, account: &str) -> Result<SessionRecord> {
        Ok(get(&base.sessions, account, "sessions")?.unwrap_or_default())
    }

    pub fn dc(base: &Base, account: &str, id: i32) -> Result<Option<DataCenter>> {
        get(&base.dcs, (account, id), "dcs")
    }

    pub fn dcs(base: &Base, account: &str) -> Result<BTreeMap<i32, DataCenter>> {
        let mut out = BTreeMap::new();
        for entry in base.dcs.range((account, i32::MIN)..=(account, i32::MAX))? {
            let (k, v) = entry?;
            out.insert(k.value().1, decode(v.value(), "dcs")?);
        }
        Ok(out)
    }

    pub fn update_state(base: &Base, account: &str) -> Result<Option<UpdateState>> {
        get(&base.update_state, account, "update_state")
    }

    pub fn channel(base: &Base, account: &str, id: i64) -> Result<Option<i32>> {
        get(&base.channel_state, (account, id), "channel_state")
    }

    pub fn channels(base: &Base, account: &str) -> Result<BTreeMap<i64, i32>> {
        let mut out = BTreeMap::new();
        for entry in base
            .channel_state
            .range((account, i64::MIN)..=(account, i64::MAX))?
        {
            let (k, v) = entry?;
            out.insert(k.value().1, decode(v.value(), "channel_state")?);
        }
        Ok(out)
    }

    pub fn app(base: &Base, account: &str) -> Result<Option<AppFields>> {
        get(&base.app_fields, account, "app_fields")
    }

    pub fn peer(base: &Base, account: &str, id: i64) -> Result<Option<Peer>> {
        get(&base.peers, (account, id), "peers")
    }

    pub fn by_username(base: &Base, account: &str, name: &str) -> Result<Option<i64>> {
        Ok(base.by_username.get((account, name))?.map(|v| v.value()))
    }

    pub fn by_phone(base: &Base, account: &str, phone: &str) -> Result<Option<i64>> {
        Ok(base.by_phone.get((account, phone))?.map(|v| v.value()))
    }
}
