//! `Base`: the tables of one checkpoint, opened once, and the point and range reads on them.
//!
//! redb only changes at checkpoints, so the store keeps one `Base` per checkpoint instead of
//! opening a transaction per read (a read transaction of a multi-process redb costs
//! file-lock syscalls).

use std::collections::HashMap;

use std::sync::Arc;

use redb::{ReadOnlyTable, ReadableTable};

use super::hints::{UsernameHints, UsernameRange};

use super::*;
use crate::model::{AppFields, DataCenter, Peer, UpdateState};

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
    by_username: ReadOnlyTable<(u32, &'static str), i64>,
    by_phone: ReadOnlyTable<(u32, &'static str), i64>,
    /// Decoded `sessions` rows, read on almost every call (self user, counts) and never
    /// changed within a checkpoint: decoded (and decrypted) once.
    session_rows: std::sync::RwLock<HashMap<u32, SessionRecord>>,
    /// Shared by every snapshot of the store (hints outlive checkpoints).
    hints: Arc<UsernameHints>,
    codec: ValueCodec,
    /// Last: the tables above read through it, and it through the database.
    _snapshot: super::Pinned,
}

impl Base {
    pub fn open(
        snapshot: super::Pinned,
        codec: ValueCodec,
        hints: Arc<UsernameHints>,
    ) -> Result<Base> {
        let txn = &snapshot.txn;
        let mut numbers = HashMap::new();
        for entry in txn.open_table(ACCOUNTS)?.iter()? {
            let (k, v) = entry?;
            let name = k.value();
            let record = super::decode_account(&codec, name, v.value())?;
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
            by_username: txn.open_table(PEERS_BY_USERNAME)?,
            by_phone: txn.open_table(PEERS_BY_PHONE)?,
            session_rows: std::sync::RwLock::default(),
            hints,
            codec,
            _snapshot: snapshot,
        })
    }

    pub fn hints(&self) -> &Arc<UsernameHints> {
        &self.hints
    }

    /// The whole username table (for filling the hints).
    pub fn usernames(&self) -> Option<UsernameRange> {
        self.by_username.range((0u32, "")..).ok()
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
            let cached = base.session_rows.read().unwrap_or_else(|p| p.into_inner());
            if let Some(row) = cached.get(&n) {
                return Ok(row.clone());
            }
            drop(cached);
            let row: SessionRecord = get(base, &base.sessions, n, "sessions")?.unwrap_or_default();
            let mut cache = base.session_rows.write().unwrap_or_else(|p| p.into_inner());
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

    pub fn by_username(base: &Base, account: &str, name: &str) -> Result<Option<i64>> {
        keyed(base, account, |n| {
            let key = base.codec.name_key("usernames", n, name);
            Ok(base.by_username.get((n, key.as_ref()))?.map(|v| v.value()))
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
            let id = base.by_username.get((n, key.as_ref()))?.map(|v| v.value());
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
            Ok(base.by_phone.get((n, key.as_ref()))?.map(|v| v.value()))
        })
    }
}
