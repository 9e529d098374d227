//! The session on the server: plans for its writes (home DC, DCs, user, update state,
//! channel pts, app fields, save, delete) and its reads. An account exists while it has a
//! `sessiondb_sessions` row; the writer adds that row before an account's first write.

use std::collections::BTreeMap;
use std::net::{SocketAddrV4, SocketAddrV6};

use tokio_postgres::Client;

use super::connection::server;
use super::extras;
use super::plan::{Plan, Prepared, params};
use crate::error::{Error, Result};
use crate::maintenance::stats::AccountStats;
use crate::model::{AppFields, AuthKey, DataCenter, Session, UpdateState, UpdateStateChange, User};

pub(super) const REGISTER: &str =
    "INSERT INTO sessiondb_sessions (account) VALUES ($1) ON CONFLICT (account) DO NOTHING";

const SET_HOME_DC: &str = "UPDATE sessiondb_sessions SET home_dc = $2 WHERE account = $1";
const UPSERT_DCS: &str = "INSERT INTO sessiondb_dcs \
     (account, dc_id, ipv4, ipv6, auth_key, server_salt, time_offset, flags) \
     SELECT $1, u.* FROM UNNEST($2::INT[], $3::TEXT[], $4::TEXT[], $5::BYTEA[], $6::BIGINT[], \
     $7::INT[], $8::INT[]) AS u(dc_id, ipv4, ipv6, auth_key, server_salt, time_offset, flags) \
     ON CONFLICT (account, dc_id) DO UPDATE SET ipv4 = excluded.ipv4, ipv6 = excluded.ipv6, \
     auth_key = excluded.auth_key, server_salt = excluded.server_salt, \
     time_offset = excluded.time_offset, flags = excluded.flags";
const REMOVE_DC: &str = "DELETE FROM sessiondb_dcs WHERE account = $1 AND dc_id = $2";
const UPSERT_USER: &str = "INSERT INTO sessiondb_users (account, user_id, dc, bot, username) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account) DO UPDATE SET user_id = excluded.user_id, \
     dc = excluded.dc, bot = excluded.bot, username = excluded.username";
const REMOVE_USER: &str = "DELETE FROM sessiondb_users WHERE account = $1";
const SET_STATE: &str = "INSERT INTO sessiondb_update_state (account, pts, qts, date, seq) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account) DO UPDATE SET pts = excluded.pts, \
     qts = excluded.qts, date = excluded.date, seq = excluded.seq";
const SET_PRIMARY: &str = "INSERT INTO sessiondb_update_state (account, pts, qts, date, seq) \
     VALUES ($1, $2, 0, $3, $4) ON CONFLICT (account) DO UPDATE SET pts = excluded.pts, \
     date = excluded.date, seq = excluded.seq";
const SET_SECONDARY: &str = "INSERT INTO sessiondb_update_state (account, pts, qts, date, seq) \
     VALUES ($1, 0, $2, 0, 0) ON CONFLICT (account) DO UPDATE SET qts = excluded.qts";
const REMOVE_STATE: &str = "DELETE FROM sessiondb_update_state WHERE account = $1";
const UPSERT_CHANNELS: &str = "INSERT INTO sessiondb_channel_pts (account, channel_id, pts) \
     SELECT $1, u.* FROM UNNEST($2::BIGINT[], $3::INT[]) AS u(channel_id, pts) \
     ON CONFLICT (account, channel_id) DO UPDATE SET pts = excluded.pts";
const REMOVE_CHANNEL: &str =
    "DELETE FROM sessiondb_channel_pts WHERE account = $1 AND channel_id = $2";
const SET_APP: &str = "INSERT INTO sessiondb_app_fields \
     (account, api_id, test_mode, takeout_id, created_at, custom) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (account) DO UPDATE SET api_id = excluded.api_id, \
     test_mode = excluded.test_mode, takeout_id = excluded.takeout_id, \
     created_at = excluded.created_at, custom = excluded.custom";

const REMOVE_DCS: &str = "DELETE FROM sessiondb_dcs WHERE account = $1";
const REMOVE_CHANNELS: &str = "DELETE FROM sessiondb_channel_pts WHERE account = $1";

/// Every table holding an account's data, in the order a delete clears them.
const DELETE_ACCOUNT: [&str; 8] = [
    "DELETE FROM sessiondb_peer_usernames WHERE account = $1",
    "DELETE FROM sessiondb_peers WHERE account = $1",
    REMOVE_CHANNELS,
    REMOVE_STATE,
    REMOVE_DCS,
    REMOVE_USER,
    "DELETE FROM sessiondb_app_fields WHERE account = $1",
    "DELETE FROM sessiondb_sessions WHERE account = $1",
];

fn dcs_step(plan: &mut Plan, account: &str, dcs: &[DataCenter]) {
    let ids: Vec<i32> = dcs.iter().map(|d| d.id).collect();
    let v4: Vec<Option<String>> = dcs.iter().map(|d| d.ipv4.map(|a| a.to_string())).collect();
    let v6: Vec<Option<String>> = dcs.iter().map(|d| d.ipv6.map(|a| a.to_string())).collect();
    let keys: Vec<Option<Vec<u8>>> = dcs
        .iter()
        .map(|d| d.auth_key.as_ref().map(|k| k.as_bytes().to_vec()))
        .collect();
    let salts: Vec<i64> = dcs.iter().map(|d| d.server_salt).collect();
    let offsets: Vec<i32> = dcs.iter().map(|d| d.time_offset).collect();
    // Flags are a u32 bit set, stored bit for bit in an INT.
    let flags: Vec<i32> = dcs.iter().map(|d| d.flags as i32).collect();
    let account = account.to_owned();
    plan.push(
        UPSERT_DCS,
        params![account, ids, v4, v6, keys, salts, offsets, flags],
    );
}

fn channels_step(plan: &mut Plan, account: &str, channels: &BTreeMap<i64, i32>) {
    let ids: Vec<i64> = channels.keys().copied().collect();
    let pts: Vec<i32> = channels.values().copied().collect();
    plan.push(UPSERT_CHANNELS, params![account.to_owned(), ids, pts]);
}

fn user_step(plan: &mut Plan, account: &str, user: Option<&User>) -> Result<()> {
    let account = account.to_owned();
    match user {
        Some(u) => {
            let name = match u.username.as_deref() {
                Some(n) => Some(crate::model::normalize_stored_username(n).map(|_| n.to_owned())?),
                None => None,
            };
            plan.push(UPSERT_USER, params![account, u.id, u.dc, u.bot, name]);
        }
        None => plan.push(REMOVE_USER, params![account]),
    }
    Ok(())
}

fn state_step(plan: &mut Plan, account: &str, state: Option<UpdateState>) {
    let account = account.to_owned();
    match state {
        Some(s) => plan.push(SET_STATE, params![account, s.pts, s.qts, s.date, s.seq]),
        None => plan.push(REMOVE_STATE, params![account]),
    }
}

fn app_step(plan: &mut Plan, account: &str, app: &AppFields) -> Result<()> {
    app.validate()?;
    let custom = postcard::to_allocvec(&app.custom)
        .map_err(|e| Error::InvalidArgument(format!("app fields: {e}")))?;
    plan.push(
        SET_APP,
        params![
            account.to_owned(),
            app.api_id,
            app.test_mode,
            app.takeout_id,
            app.created_at,
            custom
        ],
    );
    Ok(())
}

pub(super) fn set_home_dc(account: &str, dc: Option<i32>) -> Plan {
    let mut plan = Plan::default();
    plan.push(SET_HOME_DC, params![account.to_owned(), dc]);
    plan
}

pub(super) fn set_dc(account: &str, dc: &DataCenter) -> Plan {
    let mut plan = Plan::default();
    dcs_step(&mut plan, account, std::slice::from_ref(dc));
    extras::drop_endpoints_of(&mut plan, account, dc.id);
    plan
}

pub(super) fn remove_dc(account: &str, id: i32) -> Plan {
    let mut plan = Plan::default();
    plan.push(REMOVE_DC, params![account.to_owned(), id]);
    extras::drop_endpoints_of(&mut plan, account, id);
    plan
}

pub(super) fn set_user(account: &str, user: Option<&User>) -> Result<Plan> {
    let mut plan = Plan::default();
    user_step(&mut plan, account, user)?;
    Ok(plan)
}

pub(super) fn update_state(account: &str, change: UpdateStateChange) -> Plan {
    let mut plan = Plan::default();
    let acc = account.to_owned();
    match change {
        UpdateStateChange::All(s) => state_step(&mut plan, account, Some(s)),
        UpdateStateChange::Primary { pts, date, seq } => {
            plan.push(SET_PRIMARY, params![acc, pts, date, seq])
        }
        UpdateStateChange::Secondary { qts } => plan.push(SET_SECONDARY, params![acc, qts]),
        UpdateStateChange::Channel { id, pts } => {
            channels_step(&mut plan, account, &BTreeMap::from([(id, pts)]))
        }
    }
    plan
}

pub(super) fn remove_channel(account: &str, id: i64) -> Plan {
    let mut plan = Plan::default();
    plan.push(REMOVE_CHANNEL, params![account.to_owned(), id]);
    plan
}

pub(super) fn set_app_fields(account: &str, app: &AppFields) -> Result<Plan> {
    let mut plan = Plan::default();
    app_step(&mut plan, account, app)?;
    Ok(plan)
}

/// Makes the account's DCs, user, update state, channel pts and app fields exactly
/// `session`'s, in one transaction.
pub(super) fn save(account: &str, session: &Session) -> Result<Plan> {
    crate::whole_session::check(session)?;
    let mut plan = set_home_dc(account, session.home_dc);
    let acc = account.to_owned();
    plan.push(REMOVE_DCS, params![acc.clone()]);
    dcs_step(&mut plan, account, &session.dcs);
    // As in the file store: every saved DC is written anew, so its endpoints go too.
    extras::drop_all_endpoints(&mut plan, account);
    user_step(&mut plan, account, session.user.as_ref())?;
    state_step(&mut plan, account, session.update_state);
    plan.push(REMOVE_CHANNELS, params![acc]);
    channels_step(&mut plan, account, &session.channels);
    app_step(&mut plan, account, &session.app)?;
    Ok(plan)
}

/// Removes the account and everything it holds (its lease stays with its holder).
pub(super) fn delete_account(account: &str) -> Plan {
    let mut plan = Plan::default();
    for sql in extras::DELETE_ACCOUNT.into_iter().chain(DELETE_ACCOUNT) {
        plan.push(sql, params![account.to_owned()]);
    }
    plan
}

// ---- reads ---------------------------------------------------------------------------

/// Reads of one connection with its prepared statements.
pub(super) struct Reader<'a> {
    pub client: &'a Client,
    pub prepared: &'a Prepared,
}

impl Reader<'_> {
    pub async fn rows(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let st = self.prepared.get(self.client, sql).await?;
        self.client.query(&st, params).await.map_err(server)
    }

    pub async fn row(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>> {
        Ok(self.rows(sql, params).await?.into_iter().next())
    }

    pub async fn accounts(&self) -> Result<Vec<String>> {
        let sql = "SELECT account FROM sessiondb_sessions ORDER BY account";
        let rows = self.rows(sql, &[]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn home_dc(&self, account: &str) -> Result<Option<i32>> {
        let sql = "SELECT home_dc FROM sessiondb_sessions WHERE account = $1";
        Ok(self.row(sql, &[&account]).await?.and_then(|r| r.get(0)))
    }

    pub async fn dcs(&self, account: &str, only: Option<i32>) -> Result<Vec<DataCenter>> {
        let sql = "SELECT dc_id, ipv4, ipv6, auth_key, server_salt, time_offset, flags \
                   FROM sessiondb_dcs WHERE account = $1 AND ($2::INT IS NULL OR dc_id = $2) \
                   ORDER BY dc_id";
        let rows = self.rows(sql, &[&account, &only]).await?;
        rows.iter().map(dc_of).collect()
    }

    pub async fn user(&self, account: &str) -> Result<Option<User>> {
        let sql = "SELECT user_id, dc, bot, username FROM sessiondb_users WHERE account = $1";
        Ok(self
            .row(sql, &[&account])
            .await?
            .and_then(|r| user_at(&r, 0)))
    }

    pub async fn update_state(&self, account: &str) -> Result<Option<UpdateState>> {
        let sql = "SELECT pts, qts, date, seq FROM sessiondb_update_state WHERE account = $1";
        Ok(self
            .row(sql, &[&account])
            .await?
            .and_then(|r| state_at(&r, 0)))
    }

    pub async fn channels(&self, account: &str, only: Option<i64>) -> Result<BTreeMap<i64, i32>> {
        let sql = "SELECT channel_id, pts FROM sessiondb_channel_pts \
                   WHERE account = $1 AND ($2::BIGINT IS NULL OR channel_id = $2)";
        let rows = self.rows(sql, &[&account, &only]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub async fn app_fields(&self, account: &str) -> Result<AppFields> {
        let sql = "SELECT api_id, test_mode, takeout_id, created_at, custom \
                   FROM sessiondb_app_fields WHERE account = $1";
        match self.row(sql, &[&account]).await? {
            Some(r) => app_at(&r, 0),
            None => Ok(AppFields::default()),
        }
    }

    /// The whole session in one statement, so one snapshot (`None`: no such account).
    pub async fn load(&self, account: &str) -> Result<Option<Session>> {
        let Some(r) = self.row(LOAD, &[&account]).await? else {
            return Ok(None);
        };
        let ids: Vec<i32> = r.get(14);
        let v4: Vec<Option<String>> = r.get(15);
        let v6: Vec<Option<String>> = r.get(16);
        let keys: Vec<Option<Vec<u8>>> = r.get(17);
        let salts: Vec<i64> = r.get(18);
        let offsets: Vec<i32> = r.get(19);
        let flags: Vec<i32> = r.get(20);
        let n = ids.len();
        let lengths = [
            v4.len(),
            v6.len(),
            keys.len(),
            salts.len(),
            offsets.len(),
            flags.len(),
        ];
        if lengths.iter().any(|&l| l != n) {
            return Err(Error::corrupt_value("sessiondb_dcs", "uneven DC columns"));
        }
        let mut dcs = Vec::with_capacity(n);
        for (i, id) in ids.into_iter().enumerate() {
            let (a4, a6, key) = (v4[i].clone(), v6[i].clone(), keys[i].clone());
            dcs.push(dc_from(id, a4, a6, key, salts[i], offsets[i], flags[i])?);
        }
        let channel_ids: Vec<i64> = r.get(21);
        let channel_pts: Vec<i32> = r.get(22);
        Ok(Some(Session {
            home_dc: r.get(0),
            dcs,
            user: user_at(&r, 1),
            update_state: state_at(&r, 5),
            channels: channel_ids.into_iter().zip(channel_pts).collect(),
            app: app_at(&r, 9)?,
        }))
    }

    pub async fn account_stats(&self) -> Result<Vec<AccountStats>> {
        let sql = "SELECT s.account, \
             (SELECT count(*) FROM sessiondb_peers p WHERE p.account = s.account), \
             (SELECT count(*) FROM sessiondb_channel_pts c WHERE c.account = s.account), \
             (SELECT count(*) FROM sessiondb_dcs d WHERE d.account = s.account) \
             FROM sessiondb_sessions s ORDER BY s.account";
        let rows = self.rows(sql, &[]).await?;
        let count = |r: &tokio_postgres::Row, i| r.get::<_, i64>(i).max(0) as u64;
        Ok(rows
            .iter()
            .map(|r| AccountStats {
                name: r.get(0),
                peers: count(r, 1),
                channels: count(r, 2),
                dcs: count(r, 3),
            })
            .collect())
    }
}

/// Every part of a session of account `$1` in one row: home DC (0), user (1–4), update
/// state (5–8), app fields (9–13), DCs as parallel arrays by id (14–20), channels (21–22).
const LOAD: &str = "SELECT s.home_dc, u.user_id, u.dc, u.bot, u.username, \
     t.pts, t.qts, t.date, t.seq, a.api_id, a.test_mode, a.takeout_id, a.created_at, a.custom, \
     ARRAY(SELECT dc_id FROM sessiondb_dcs d WHERE d.account = s.account ORDER BY dc_id), \
     ARRAY(SELECT ipv4 FROM sessiondb_dcs d WHERE d.account = s.account ORDER BY dc_id), \
     ARRAY(SELECT ipv6 FROM sessiondb_dcs d WHERE d.account = s.account ORDER BY dc_id), \
     ARRAY(SELECT auth_key FROM sessiondb_dcs d WHERE d.account = s.account ORDER BY dc_id), \
     ARRAY(SELECT server_salt FROM sessiondb_dcs d WHERE d.account = s.account ORDER BY dc_id), \
     ARRAY(SELECT time_offset FROM sessiondb_dcs d WHERE d.account = s.account ORDER BY dc_id), \
     ARRAY(SELECT flags FROM sessiondb_dcs d WHERE d.account = s.account ORDER BY dc_id), \
     ARRAY(SELECT channel_id FROM sessiondb_channel_pts c WHERE c.account = s.account \
       ORDER BY channel_id), \
     ARRAY(SELECT pts FROM sessiondb_channel_pts c WHERE c.account = s.account \
       ORDER BY channel_id) \
     FROM sessiondb_sessions s \
     LEFT JOIN sessiondb_users u ON u.account = s.account \
     LEFT JOIN sessiondb_update_state t ON t.account = s.account \
     LEFT JOIN sessiondb_app_fields a ON a.account = s.account \
     WHERE s.account = $1";

/// The user in columns `i..i + 4` (NULLs: none stored).
fn user_at(r: &tokio_postgres::Row, i: usize) -> Option<User> {
    Some(User {
        id: r.get::<_, Option<i64>>(i)?,
        dc: r.get::<_, Option<i32>>(i + 1)?,
        bot: r.get::<_, Option<bool>>(i + 2)?,
        username: r.get(i + 3),
    })
}

/// The update state in columns `i..i + 4` (NULLs: none stored).
fn state_at(r: &tokio_postgres::Row, i: usize) -> Option<UpdateState> {
    Some(UpdateState {
        pts: r.get::<_, Option<i32>>(i)?,
        qts: r.get::<_, Option<i32>>(i + 1)?,
        date: r.get::<_, Option<i32>>(i + 2)?,
        seq: r.get::<_, Option<i32>>(i + 3)?,
    })
}

/// The app fields in columns `i..i + 5` (NULLs: the defaults).
fn app_at(r: &tokio_postgres::Row, i: usize) -> Result<AppFields> {
    let custom: Option<Vec<u8>> = r.get(i + 4);
    let custom = match custom {
        Some(bytes) => postcard::from_bytes(&bytes)
            .map_err(|e| Error::corrupt_value("sessiondb_app_fields", e.to_string()))?,
        None => BTreeMap::new(),
    };
    Ok(AppFields {
        api_id: r.get(i),
        test_mode: r.get::<_, Option<bool>>(i + 1).unwrap_or(false),
        takeout_id: r.get(i + 2),
        created_at: r.get(i + 3),
        custom,
    })
}

fn dc_of(r: &tokio_postgres::Row) -> Result<DataCenter> {
    dc_from(
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
    )
}

fn dc_from(
    id: i32,
    ipv4: Option<String>,
    ipv6: Option<String>,
    key: Option<Vec<u8>>,
    server_salt: i64,
    time_offset: i32,
    flags: i32,
) -> Result<DataCenter> {
    let bad = |what: &str| Error::corrupt_value("sessiondb_dcs", format!("bad {what}"));
    Ok(DataCenter {
        id,
        ipv4: match ipv4 {
            Some(a) => Some(a.parse::<SocketAddrV4>().map_err(|_| bad("ipv4"))?),
            None => None,
        },
        ipv6: match ipv6 {
            Some(a) => Some(a.parse::<SocketAddrV6>().map_err(|_| bad("ipv6"))?),
            None => None,
        },
        auth_key: match key {
            Some(k) => Some(AuthKey::from_slice(&k).map_err(|_| bad("auth key length"))?),
            None => None,
        },
        server_salt,
        time_offset,
        // Flags are a u32 bit set, stored bit for bit in an INT.
        flags: flags as u32,
    })
}
