//! `Base`: the tables of one checkpoint, opened once, and the point and range reads on them.
//!
//! redb only changes at checkpoints, so the store keeps one `Base` per checkpoint instead of
//! opening a transaction per read (a read transaction of a multi-process redb costs
//! file-lock syscalls).

use crate::locks::Unpoisoned;
use std::collections::HashMap;

use std::sync::Arc;

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable};

use super::hints::{UsernameHints, UsernameRange};

use super::db::Pinned;
use super::tables::*;
use crate::codec::{NO_KEY, RowKey, ValueCodec};
use crate::error::Result;
use crate::extras::{ExtrasRecord, MinPeerContext};
use crate::model::{AppFields, DataCenter, Peer, UpdateState};
use std::collections::BTreeMap;

type Bytes = &'static [u8];
type PeerRange = redb::Range<'static, (u32, i64), Bytes>;

/// Every table of one redb snapshot, opened once.
pub(crate) struct Base {
    numbers: HashMap<String, u32>,
    sessions: ReadOnlyTable<u32, Bytes>,
    dcs: ReadOnlyTable<(u32, i32), Bytes>,
    update_state: ReadOnlyTable<u32, Bytes>,
    channel_state: ReadOnlyTable<(u32, i64), Bytes>,
    app_fields: ReadOnlyTable<u32, Bytes>,
    peers: ReadOnlyTable<(u32, i64), Bytes>,
    /// `None` in a store written before these tables existed.
    min_peers: Option<ReadOnlyTable<(u32, i64), Bytes>>,
    extras: Option<ReadOnlyTable<u32, Bytes>>,
    by_username: Names,
    by_phone: Names,
    /// Decoded `sessions` rows, read on almost every call (self user, counts) and never
    /// changed within a checkpoint: decoded (and decrypted) once.
    session_rows: std::sync::RwLock<HashMap<u32, SessionRecord>>,
    /// Shared by every snapshot of the store (hints outlive checkpoints).
    hints: Arc<UsernameHints>,
    codec: ValueCodec,
    /// Last: the tables above read through it, and it through the database.
    _snapshot: Pinned,
}

impl Base {
    pub fn open(snapshot: Pinned, codec: ValueCodec, hints: Arc<UsernameHints>) -> Result<Base> {
        let txn: &ReadTransaction = &snapshot.txn;
        let mut numbers = HashMap::new();
        for entry in txn.open_table(ACCOUNTS)?.iter()? {
            let (k, v) = entry?;
            let name = k.value();
            let record = decode_account(&codec, name, v.value())?;
            numbers.insert(name.to_owned(), record.number);
        }
        Ok(Base {
            numbers,
            sessions: txn.open_table(SESSIONS)?,
            dcs: txn.open_table(DCS)?,
            update_state: txn.open_table(UPDATE_STATE)?,
            channel_state: txn.open_table(CHANNEL_STATE)?,
            app_fields: txn.open_table(APP_FIELDS)?,
            peers: txn.open_table(PEERS)?,
            min_peers: optional(txn.open_table(MIN_PEERS))?,
            extras: optional(txn.open_table(EXTRAS))?,
            by_username: Names::open(txn, (USERNAMES, OLD_USERNAMES), "usernames")?,
            by_phone: Names::open(txn, (PHONES, OLD_PHONES), "phones")?,
            session_rows: std::sync::RwLock::default(),
            hints,
            codec,
            _snapshot: snapshot,
        })
    }

    pub fn hints(&self) -> &Arc<UsernameHints> {
        &self.hints
    }

    /// The whole username table (for filling the hints; format 2 only).
    pub fn usernames(&self) -> Option<UsernameRange> {
        match &self.by_username {
            Names::Checked(table, _) => table.range((0u32, "")..).ok(),
            Names::Bare(_) => None,
        }
    }

    fn number(&self, account: &str) -> Option<u32> {
        self.numbers.get(account).copied()
    }

    /// Decodes a `peers` value of `account` read from a range.
    pub fn decode_peer(&self, n: u32, id: i64, bytes: &[u8]) -> Result<Peer> {
        self.codec.decode(bytes, "peers", n, &id.bytes())
    }

    /// Peers of `account` with ids in `from..`, in id order.
    pub fn peers_from(&self, account: &str, from: i64) -> Result<Option<(u32, PeerRange)>> {
        match self.number(account) {
            Some(n) => Ok(Some((n, self.peers.range((n, from)..=(n, i64::MAX))?))),
            None => Ok(None),
        }
    }
}

/// A table that older stores do not have yet (a writer creates it at its next checkpoint).
pub(super) fn optional<T>(opened: std::result::Result<T, redb::TableError>) -> Result<Option<T>> {
    match opened {
        Ok(table) => Ok(Some(table)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What a scan of every stored value found.
#[derive(Default)]
pub(crate) struct Scan {
    pub checked: u64,
    pub unchecked: u64,
    pub problems: Vec<String>,
}

impl Scan {
    fn note(&mut self, account: u32, known: &std::collections::HashSet<u32>, r: Result<bool>) {
        match r {
            Ok(true) => self.checked += 1,
            Ok(false) => self.unchecked += 1,
            Err(e) => self.problems.push(format!("index: {e}")),
        }
        if account != 0 && !known.contains(&account) {
            self.problems.push(format!(
                "index: a row of account number {account}, which no account has"
            ));
        }
    }
}

impl Base {
    /// Checks every value of every table against its checksum (or tag), and that every row
    /// belongs to an account (`verify`).
    pub fn scan(&self) -> Result<Scan> {
        let mut out = Scan::default();
        let known: std::collections::HashSet<u32> = self.numbers.values().copied().collect();
        let c = &self.codec;
        for (table, name) in [
            (Some(&self.sessions), "sessions"),
            (Some(&self.update_state), "update_state"),
            (Some(&self.app_fields), "app_fields"),
            (self.extras.as_ref(), "extras"),
        ] {
            let Some(table) = table else { continue };
            for entry in table.iter()? {
                let (k, v) = entry?;
                let n = k.value();
                out.note(n, &known, c.check(v.value(), name, n, NO_KEY));
            }
        }
        for entry in self.dcs.iter()? {
            let (k, v) = entry?;
            let (n, id) = k.value();
            out.note(n, &known, c.check(v.value(), "dcs", n, &id.bytes()));
        }
        for (table, name) in [
            (Some(&self.channel_state), "channel_state"),
            (Some(&self.peers), "peers"),
            (self.min_peers.as_ref(), "min_peers"),
        ] {
            let Some(table) = table else { continue };
            for entry in table.iter()? {
                let (k, v) = entry?;
                let (n, id) = k.value();
                out.note(n, &known, c.check(v.value(), name, n, &id.bytes()));
            }
        }
        for names in [&self.by_username, &self.by_phone] {
            match names {
                Names::Checked(table, kind) => {
                    for entry in table.iter()? {
                        let (k, v) = entry?;
                        let (n, key) = k.value();
                        let r = crate::codec::decode_id(kind, n, key, v.value()).map(|_| true);
                        out.note(n, &known, r);
                    }
                }
                Names::Bare(table) => {
                    for entry in table.iter()? {
                        let (k, _) = entry?;
                        out.note(k.value().0, &known, Ok(false));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A username or phone table: format 2's, whose values carry a checksum, or format 1's
/// bare ids (a read-only open of a store no writer has upgraded yet).
enum Names {
    Checked(ReadOnlyTable<(u32, &'static str), Bytes>, &'static str),
    Bare(ReadOnlyTable<(u32, &'static str), i64>),
}

type NameTables = (
    redb::TableDefinition<'static, (u32, &'static str), Bytes>,
    redb::TableDefinition<'static, (u32, &'static str), i64>,
);

impl Names {
    fn open(txn: &ReadTransaction, (new, old): NameTables, kind: &'static str) -> Result<Names> {
        match optional(txn.open_table(new))? {
            Some(table) => Ok(Names::Checked(table, kind)),
            None => Ok(Names::Bare(txn.open_table(old)?)),
        }
    }

    /// The peer id stored under `(n, key)`, its checksum checked.
    fn get(&self, n: u32, key: &str) -> Result<Option<i64>> {
        match self {
            Names::Checked(table, kind) => match table.get((n, key))? {
                Some(v) => crate::codec::decode_id(kind, n, key, v.value()).map(Some),
                None => Ok(None),
            },
            Names::Bare(table) => Ok(table.get((n, key))?.map(|v| v.value())),
        }
    }
}

/// Point and range reads of the checkpointed state.
pub(crate) mod read {
    use super::*;

    /// The value of account `n`'s row of a table keyed by the account number alone.
    fn get<T: serde::de::DeserializeOwned>(
        base: &Base,
        table: &ReadOnlyTable<u32, Bytes>,
        n: u32,
        location: &str,
    ) -> Result<Option<T>> {
        match table.get(n)? {
            Some(v) => base.codec.decode(v.value(), location, n, NO_KEY).map(Some),
            None => Ok(None),
        }
    }

    /// The value at `(n, key)`.
    fn get_row<K, T>(
        base: &Base,
        table: &ReadOnlyTable<(u32, K), Bytes>,
        (n, key): (u32, K),
        location: &str,
    ) -> Result<Option<T>>
    where
        K: redb::Key + RowKey + Copy + 'static + for<'a> redb::Value<SelfType<'a> = K>,
        T: serde::de::DeserializeOwned,
    {
        match table.get((n, key))? {
            Some(v) => base
                .codec
                .decode(v.value(), location, n, &key.bytes())
                .map(Some),
            None => Ok(None),
        }
    }

    fn range<K, T>(
        base: &Base,
        table: &ReadOnlyTable<(u32, K), Bytes>,
        n: u32,
        (lo, hi): (K, K),
        location: &str,
    ) -> Result<BTreeMap<K, T>>
    where
        K: redb::Key + RowKey + Ord + Copy + 'static + for<'a> redb::Value<SelfType<'a> = K>,
        T: serde::de::DeserializeOwned,
    {
        let mut out = BTreeMap::new();
        for entry in table.range((n, lo)..=(n, hi))? {
            let (k, v) = entry?;
            let key = k.value().1;
            let value = base.codec.decode(v.value(), location, n, &key.bytes())?;
            out.insert(key, value);
        }
        Ok(out)
    }

    pub fn account_exists(base: &Base, account: &str) -> Result<bool> {
        Ok(base.number(account).is_some())
    }

    pub fn accounts(base: &Base) -> Result<Vec<String>> {
        let mut out: Vec<String> = base.numbers.keys().cloned().collect();
        out.sort();
        Ok(out)
    }

    pub fn session(base: &Base, account: &str) -> Result<SessionRecord> {
        keyed(base, account, |n| {
            let cached = base.session_rows.read().unpoisoned();
            if let Some(row) = cached.get(&n) {
                return Ok(row.clone());
            }
            drop(cached);
            let row: SessionRecord = get(base, &base.sessions, n, "sessions")?.unwrap_or_default();
            let mut cache = base.session_rows.write().unpoisoned();
            cache.insert(n, row.clone());
            Ok(row)
        })
    }

    /// Runs `f` with the account's number; an account the index does not know has nothing.
    fn keyed<T: Default>(
        base: &Base,
        account: &str,
        f: impl FnOnce(u32) -> Result<T>,
    ) -> Result<T> {
        base.number(account).map_or(Ok(T::default()), f)
    }

    pub fn dc(base: &Base, account: &str, id: i32) -> Result<Option<DataCenter>> {
        keyed(base, account, |n| get_row(base, &base.dcs, (n, id), "dcs"))
    }

    pub fn dcs(base: &Base, account: &str) -> Result<BTreeMap<i32, DataCenter>> {
        keyed(base, account, |n| {
            range(base, &base.dcs, n, (i32::MIN, i32::MAX), "dcs")
        })
    }

    pub fn update_state(base: &Base, account: &str) -> Result<Option<UpdateState>> {
        keyed(base, account, |n| {
            get(base, &base.update_state, n, "update_state")
        })
    }

    pub fn channel(base: &Base, account: &str, id: i64) -> Result<Option<i32>> {
        keyed(base, account, |n| {
            get_row(base, &base.channel_state, (n, id), "channel_state")
        })
    }

    pub fn channels(base: &Base, account: &str) -> Result<BTreeMap<i64, i32>> {
        keyed(base, account, |n| {
            range(
                base,
                &base.channel_state,
                n,
                (i64::MIN, i64::MAX),
                "channel_state",
            )
        })
    }

    pub fn app(base: &Base, account: &str) -> Result<Option<AppFields>> {
        keyed(base, account, |n| {
            get(base, &base.app_fields, n, "app_fields")
        })
    }

    pub fn peer(base: &Base, account: &str, id: i64) -> Result<Option<Peer>> {
        keyed(base, account, |n| {
            get_row(base, &base.peers, (n, id), "peers")
        })
    }

    pub fn min_peer(base: &Base, account: &str, user_id: i64) -> Result<Option<MinPeerContext>> {
        match &base.min_peers {
            Some(table) => keyed(base, account, |n| {
                get_row(base, table, (n, user_id), "min_peers")
            }),
            None => Ok(None),
        }
    }

    pub fn min_peers(base: &Base, account: &str) -> Result<BTreeMap<i64, MinPeerContext>> {
        match &base.min_peers {
            Some(table) => keyed(base, account, |n| {
                range(base, table, n, (i64::MIN, i64::MAX), "min_peers")
            }),
            None => Ok(BTreeMap::new()),
        }
    }

    pub fn extras(base: &Base, account: &str) -> Result<Option<ExtrasRecord>> {
        match &base.extras {
            Some(table) => keyed(base, account, |n| get(base, table, n, "extras")),
            None => Ok(None),
        }
    }

    pub fn by_username(base: &Base, account: &str, name: &str) -> Result<Option<i64>> {
        keyed(base, account, |n| {
            let key = base.codec.name_key("usernames", n, name);
            base.by_username.get(n, key.as_ref())
        })
    }

    /// A peer by username: the hinted peer if it holds the name, else through the username
    /// table (and the hint corrected).
    pub fn peer_by_username(base: &Base, account: &str, name: &str) -> Result<Option<Peer>> {
        keyed(base, account, |n| {
            let key = base.codec.name_key("usernames", n, name);
            if let Some(id) = base.hints.get(n, key.as_ref())
                && let Some(p) = get_row::<_, Peer>(base, &base.peers, (n, id), "peers")?
                && p.usernames.iter().any(|u| u == name)
            {
                return Ok(Some(p));
            }
            let id = base.by_username.get(n, key.as_ref())?;
            base.hints.set(n, key.as_ref(), id);
            match id {
                Some(id) => get_row(base, &base.peers, (n, id), "peers"),
                None => Ok(None),
            }
        })
    }

    pub fn by_phone(base: &Base, account: &str, phone: &str) -> Result<Option<i64>> {
        keyed(base, account, |n| {
            let key = base.codec.name_key("phones", n, phone);
            base.by_phone.get(n, key.as_ref())
        })
    }
}
