//! Min-peer contexts, the login token and DC endpoints on the server (schema version 3):
//! plans for their writes and their reads. As in the file store, writing or removing a DC
//! drops its endpoints (the session plans call [`drop_endpoints_of`] and
//! [`drop_all_endpoints`]).

use super::plan::{Plan, params};
use super::session::Reader;
use crate::error::{Error, Result};
use crate::extras::{DcEndpoint, LoginToken, MinPeerContext};
use crate::model::AuthKey;

const UPSERT_MIN_PEERS: &str = "INSERT INTO sessiondb_min_peers (account, user_id, peer_id, msg_id) \
     SELECT $1, u.* FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::INT[]) \
     AS u(user_id, peer_id, msg_id) \
     ON CONFLICT (account, user_id) DO UPDATE SET peer_id = excluded.peer_id, \
     msg_id = excluded.msg_id";
const REMOVE_MIN_PEERS: &str =
    "DELETE FROM sessiondb_min_peers WHERE account = $1 AND user_id = ANY($2::BIGINT[])";
const SET_TOKEN: &str = "INSERT INTO sessiondb_login_tokens (account, token) VALUES ($1, $2) \
     ON CONFLICT (account) DO UPDATE SET token = excluded.token";
const REMOVE_TOKEN: &str = "DELETE FROM sessiondb_login_tokens WHERE account = $1";
const REMOVE_ENDPOINTS: &str = "DELETE FROM sessiondb_dc_endpoints WHERE account = $1";
const INSERT_ENDPOINTS: &str = "INSERT INTO sessiondb_dc_endpoints \
     (account, pos, dc_id, address, flags, auth_key, server_salt, time_offset) \
     SELECT $1, u.* FROM UNNEST($2::INT[], $3::INT[], $4::TEXT[], $5::INT[], $6::BYTEA[], \
     $7::BIGINT[], $8::INT[]) \
     AS u(pos, dc_id, address, flags, auth_key, server_salt, time_offset)";
const DROP_ENDPOINTS_OF: &str =
    "DELETE FROM sessiondb_dc_endpoints WHERE account = $1 AND dc_id = $2";

/// The statements that delete an account's extras (part of deleting the account).
pub(super) const DELETE_ACCOUNT: [&str; 3] = [
    "DELETE FROM sessiondb_min_peers WHERE account = $1",
    REMOVE_TOKEN,
    REMOVE_ENDPOINTS,
];

pub(super) fn set_min_peers(account: &str, contexts: &[MinPeerContext]) -> Plan {
    let users: Vec<i64> = contexts.iter().map(|c| c.user_id).collect();
    let peers: Vec<i64> = contexts.iter().map(|c| c.peer_id).collect();
    let messages: Vec<i32> = contexts.iter().map(|c| c.msg_id).collect();
    let mut plan = Plan::default();
    plan.push(
        UPSERT_MIN_PEERS,
        params![account.to_owned(), users, peers, messages],
    );
    plan
}

pub(super) fn remove_min_peers(account: &str, user_ids: &[i64]) -> Plan {
    let mut plan = Plan::default();
    plan.push(
        REMOVE_MIN_PEERS,
        params![account.to_owned(), user_ids.to_vec()],
    );
    plan
}

pub(super) fn set_login_token(account: &str, token: Option<&LoginToken>) -> Plan {
    let mut plan = Plan::default();
    match token {
        Some(t) => plan.push(
            SET_TOKEN,
            params![account.to_owned(), t.as_bytes().to_vec()],
        ),
        None => plan.push(REMOVE_TOKEN, params![account.to_owned()]),
    }
    plan
}

pub(super) fn set_dc_endpoints(account: &str, endpoints: &[DcEndpoint]) -> Result<Plan> {
    crate::extras::check_endpoints(endpoints)?;
    let positions: Vec<i32> = (0..endpoints.len() as i32).collect();
    let dcs: Vec<i32> = endpoints.iter().map(|e| e.dc).collect();
    let addresses: Vec<String> = endpoints.iter().map(|e| e.address.clone()).collect();
    // Flags are a u32 bit set, stored bit for bit in an INT.
    let flags: Vec<i32> = endpoints.iter().map(|e| e.flags as i32).collect();
    let keys: Vec<Option<Vec<u8>>> = endpoints
        .iter()
        .map(|e| e.auth_key.as_ref().map(|k| k.as_bytes().to_vec()))
        .collect();
    let salts: Vec<i64> = endpoints.iter().map(|e| e.server_salt).collect();
    let offsets: Vec<i32> = endpoints.iter().map(|e| e.time_offset).collect();
    let account = account.to_owned();
    let mut plan = Plan::default();
    plan.push(REMOVE_ENDPOINTS, params![account.clone()]);
    plan.push(
        INSERT_ENDPOINTS,
        params![
            account, positions, dcs, addresses, flags, keys, salts, offsets
        ],
    );
    Ok(plan)
}

/// Drops the endpoints of DC `id` (it was written or removed).
pub(super) fn drop_endpoints_of(plan: &mut Plan, account: &str, id: i32) {
    plan.push(DROP_ENDPOINTS_OF, params![account.to_owned(), id]);
}

/// Drops every endpoint (a whole-session save writes every DC anew).
pub(super) fn drop_all_endpoints(plan: &mut Plan, account: &str) {
    plan.push(REMOVE_ENDPOINTS, params![account.to_owned()]);
}

impl Reader<'_> {
    pub async fn min_peers(&self, account: &str) -> Result<Vec<MinPeerContext>> {
        let sql = "SELECT user_id, peer_id, msg_id FROM sessiondb_min_peers \
                   WHERE account = $1 ORDER BY user_id";
        let rows = self.rows(sql, &[&account]).await?;
        Ok(rows
            .iter()
            .map(|r| MinPeerContext {
                user_id: r.get(0),
                peer_id: r.get(1),
                msg_id: r.get(2),
            })
            .collect())
    }

    pub async fn login_token(&self, account: &str) -> Result<Option<LoginToken>> {
        let sql = "SELECT token FROM sessiondb_login_tokens WHERE account = $1";
        match self.row(sql, &[&account]).await? {
            Some(r) => LoginToken::new(r.get(0)).map(Some).map_err(|_| {
                Error::corrupt_value("sessiondb_login_tokens", "a token longer than allowed")
            }),
            None => Ok(None),
        }
    }

    pub async fn dc_endpoints(&self, account: &str) -> Result<Vec<DcEndpoint>> {
        let sql = "SELECT dc_id, address, flags, auth_key, server_salt, time_offset \
                   FROM sessiondb_dc_endpoints WHERE account = $1 ORDER BY pos";
        let rows = self.rows(sql, &[&account]).await?;
        rows.iter()
            .map(|r| {
                let key: Option<Vec<u8>> = r.get(3);
                Ok(DcEndpoint {
                    dc: r.get(0),
                    address: r.get(1),
                    flags: r.get::<_, i32>(2) as u32,
                    auth_key: match key {
                        Some(k) => Some(AuthKey::from_slice(&k).map_err(|_| {
                            Error::corrupt_value("sessiondb_dc_endpoints", "bad auth key")
                        })?),
                        None => None,
                    },
                    server_salt: r.get(4),
                    time_offset: r.get(5),
                })
            })
            .collect()
    }
}
