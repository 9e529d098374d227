//! The peer cache on the server: a batch is one fenced transaction of three statements
//! (multi-row upserts through `UNNEST`), whatever its size. The merge rules are the
//! embedded store's (`apply::merge_peer`): a `min` or missing hash never replaces a full
//! one, an unknown kind or self-ness never erases a known one; usernames and phones move to
//! the peer written last.

use std::collections::BTreeMap;

use super::plan::{Plan, params};
use super::session::Reader;
use crate::error::{Error, Result};
use crate::model::{Peer, PeerKind};

/// Stable codes of the kinds in the `kind` column.
const KINDS: [PeerKind; 9] = [
    PeerKind::User,
    PeerKind::Bot,
    PeerKind::UserUnknown,
    PeerKind::BasicGroup,
    PeerKind::Channel,
    PeerKind::Megagroup,
    PeerKind::Gigagroup,
    PeerKind::Community,
    PeerKind::ChannelUnknown,
];

fn kind_code(kind: PeerKind) -> i16 {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .map_or(2, |i| i as i16)
}

fn kind_of(code: i16) -> Result<PeerKind> {
    usize::try_from(code)
        .ok()
        .and_then(|i| KINDS.get(i).copied())
        .ok_or_else(|| Error::corrupt_value("sessiondb_peers", format!("unknown kind {code}")))
}

/// Normalises a batch (as the embedded store does) and keeps the last version of each id,
/// and each username and phone on the last peer that has it, in batch order.
fn prepare(peers: &[Peer], copied: bool) -> Result<Vec<Peer>> {
    let batch = crate::account::normalize_batch(peers, copied)?;
    let last: BTreeMap<i64, usize> = batch.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut batch: Vec<Peer> = batch
        .into_iter()
        .enumerate()
        .filter(|(i, p)| last.get(&p.id) == Some(i))
        .map(|(_, p)| p)
        .collect();
    let (mut names, mut phones) = (BTreeMap::new(), BTreeMap::new());
    for (i, p) in batch.iter().enumerate() {
        for n in &p.usernames {
            names.insert(n.clone(), i);
        }
        if let Some(phone) = &p.phone {
            phones.insert(phone.clone(), i);
        }
    }
    for (i, p) in batch.iter_mut().enumerate() {
        p.usernames.retain(|n| names.get(n) == Some(&i));
        if p.phone
            .as_ref()
            .is_some_and(|ph| phones.get(ph) != Some(&i))
        {
            p.phone = None;
        }
    }
    Ok(batch)
}

const CLEAR_PHONES: &str = "UPDATE sessiondb_peers SET phone = NULL \
     WHERE account = $1 AND phone = ANY($2) AND NOT (id = ANY($3))";
const UPSERT_PEERS: &str = "INSERT INTO sessiondb_peers \
     (account, id, kind, access_hash, min, phone, name, is_self, updated_at) \
     SELECT $1, u.* FROM UNNEST($2::BIGINT[], $3::SMALLINT[], $4::BIGINT[], $5::BOOL[], \
     $6::TEXT[], $7::TEXT[], $8::BOOL[], $9::BIGINT[]) \
     AS u(id, kind, access_hash, min, phone, name, is_self, updated_at) \
     ON CONFLICT (account, id) DO UPDATE SET \
     kind = CASE \
       WHEN excluded.kind = 2 AND sessiondb_peers.kind IN (0, 1, 2) THEN sessiondb_peers.kind \
       WHEN excluded.kind = 8 AND sessiondb_peers.kind IN (4, 5, 6, 7, 8) \
         THEN sessiondb_peers.kind \
       ELSE excluded.kind END, \
     access_hash = CASE WHEN excluded.access_hash IS NULL OR (excluded.min AND \
       sessiondb_peers.access_hash IS NOT NULL AND NOT sessiondb_peers.min) \
       THEN sessiondb_peers.access_hash ELSE excluded.access_hash END, \
     min = CASE WHEN excluded.access_hash IS NULL OR (excluded.min AND \
       sessiondb_peers.access_hash IS NOT NULL AND NOT sessiondb_peers.min) \
       THEN sessiondb_peers.min ELSE excluded.min END, \
     phone = excluded.phone, name = excluded.name, \
     is_self = COALESCE(excluded.is_self, sessiondb_peers.is_self), \
     updated_at = excluded.updated_at";
const CLEAR_USERNAMES: &str =
    "DELETE FROM sessiondb_peer_usernames WHERE account = $1 AND id = ANY($2)";
const UPSERT_USERNAMES: &str = "INSERT INTO sessiondb_peer_usernames (account, username, id, pos) \
     SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::SMALLINT[]) \
     AS u(username, id, pos) \
     ON CONFLICT (account, username) DO UPDATE SET id = excluded.id, pos = excluded.pos";
/// A peer written as not self stops being the self user (runs before `SET_SELF`).
const CLEAR_SELF: &str = "UPDATE sessiondb_sessions SET self_peer = NULL \
     WHERE account = $1 AND self_peer = ANY($2)";
/// The last peer of the batch whose merged record says self becomes the self user.
const SET_SELF: &str = "UPDATE sessiondb_sessions SET self_peer = ( \
     SELECT u.id FROM UNNEST($2::BIGINT[]) WITH ORDINALITY AS u(id, n) \
     JOIN sessiondb_peers p ON p.account = $1 AND p.id = u.id \
     WHERE p.is_self ORDER BY u.n DESC LIMIT 1) \
     WHERE account = $1 AND EXISTS (SELECT 1 FROM sessiondb_peers p \
     WHERE p.account = $1 AND p.id = ANY($2) AND p.is_self)";
const REMOVE_PEER: [&str; 3] = [
    "DELETE FROM sessiondb_peer_usernames WHERE account = $1 AND id = $2",
    "DELETE FROM sessiondb_peers WHERE account = $1 AND id = $2",
    "UPDATE sessiondb_sessions SET self_peer = NULL WHERE account = $1 AND self_peer = $2",
];

/// The plan that caches a batch: a fixed number of statements whatever its size.
/// `copied`: a copy's peers keep their `updated_at` (see `Account::restore_peers`).
pub(super) fn cache(account: &str, peers: &[Peer], copied: bool) -> Result<Plan> {
    let batch = prepare(peers, copied)?;
    let mut plan = Plan::default();
    if batch.is_empty() {
        return Ok(plan);
    }
    let acc = || account.to_owned();
    let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
    let kinds: Vec<i16> = batch.iter().map(|p| kind_code(p.kind)).collect();
    let hashes: Vec<Option<i64>> = batch.iter().map(|p| p.access_hash).collect();
    let mins: Vec<bool> = batch.iter().map(|p| p.min).collect();
    let phones: Vec<Option<String>> = batch.iter().map(|p| p.phone.clone()).collect();
    let names: Vec<Option<String>> = batch.iter().map(|p| p.name.clone()).collect();
    let selves: Vec<Option<bool>> = batch.iter().map(|p| p.is_self).collect();
    let stamps: Vec<i64> = batch.iter().map(|p| p.updated_at).collect();
    let not_self: Vec<i64> = batch
        .iter()
        .filter(|p| p.is_self == Some(false))
        .map(|p| p.id)
        .collect();
    // A phone moves to its newest holder.
    plan.push(CLEAR_PHONES, params![acc(), phones.clone(), ids.clone()]);
    plan.push(
        UPSERT_PEERS,
        params![
            acc(),
            ids.clone(),
            kinds,
            hashes,
            mins,
            phones,
            names,
            selves,
            stamps
        ],
    );
    // Usernames: each peer's list replaced; a name taken by another peer moves here.
    let mut name_list = Vec::new();
    let mut name_ids = Vec::new();
    let mut positions = Vec::new();
    for p in &batch {
        for (pos, n) in p.usernames.iter().enumerate() {
            name_list.push(n.clone());
            name_ids.push(p.id);
            positions.push(i16::try_from(pos).unwrap_or(i16::MAX));
        }
    }
    plan.push(CLEAR_USERNAMES, params![acc(), ids.clone()]);
    plan.push(
        UPSERT_USERNAMES,
        params![acc(), name_list, name_ids, positions],
    );
    if !not_self.is_empty() {
        plan.push(CLEAR_SELF, params![acc(), not_self]);
    }
    plan.push(SET_SELF, params![acc(), ids]);
    Ok(plan)
}

/// The plan that removes one peer, its usernames and, if it was, the self user.
pub(super) fn remove(account: &str, id: i64) -> Plan {
    let mut plan = Plan::default();
    for sql in REMOVE_PEER {
        plan.push(sql, params![account.to_owned(), id]);
    }
    plan
}

/// The columns of a peer with its usernames in order, then `rest` (a literal).
macro_rules! select_peer {
    ($rest:literal) => {
        concat!(
            "SELECT p.id, p.kind, p.access_hash, p.min, p.phone, p.name, p.is_self, \
             p.updated_at, ARRAY(SELECT u.username FROM sessiondb_peer_usernames u \
             WHERE u.account = p.account AND u.id = p.id ORDER BY u.pos) \
             FROM sessiondb_peers p ",
            $rest
        )
    };
}

fn peer_of(row: &tokio_postgres::Row) -> Result<Peer> {
    let mut p = Peer::new(row.get(0), kind_of(row.get(1))?, row.get(2));
    p.min = row.get(3);
    p.phone = row.get(4);
    p.name = row.get(5);
    p.is_self = row.get(6);
    p.updated_at = row.get(7);
    p.usernames = row.get(8);
    Ok(p)
}

/// A peer by marked id, by username, by phone, or the self user.
pub(super) enum By<'a> {
    Id(i64),
    Username(&'a str),
    Phone(&'a str),
    SelfUser,
}

pub(super) async fn get(r: &Reader<'_>, account: &str, by: By<'_>) -> Result<Option<Peer>> {
    let row = match by {
        By::Id(id) => {
            let sql = select_peer!("WHERE p.account = $1 AND p.id = $2");
            r.row(sql, &[&account, &id]).await?
        }
        By::Username(name) => {
            let name = crate::model::normalize_username(name)?;
            // Key probes only (no join for the planner to reorder).
            let sql = select_peer!(
                "WHERE p.account = $1 AND p.id = (SELECT n.id FROM sessiondb_peer_usernames n \
                 WHERE n.account = $1 AND n.username = $2)"
            );
            r.row(sql, &[&account, &name]).await?
        }
        By::Phone(phone) => {
            let phone = crate::model::normalize_phone(phone)?;
            let sql = select_peer!("WHERE p.account = $1 AND p.phone = $2 LIMIT 1");
            r.row(sql, &[&account, &phone]).await?
        }
        By::SelfUser => {
            let sql = select_peer!(
                "WHERE p.account = $1 AND p.id = (SELECT s.self_peer FROM sessiondb_sessions s \
                 WHERE s.account = $1)"
            );
            r.row(sql, &[&account]).await?
        }
    };
    row.as_ref().map(peer_of).transpose()
}

/// Up to `limit` peers with ids above `after`, in id order.
pub(super) async fn page(
    r: &Reader<'_>,
    account: &str,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<Peer>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = select_peer!(
        "WHERE p.account = $1 AND ($2::BIGINT IS NULL OR p.id > $2) ORDER BY p.id LIMIT $3"
    );
    let rows = r.rows(sql, &[&account, &after, &limit]).await?;
    rows.iter().map(peer_of).collect()
}

pub(super) async fn count(r: &Reader<'_>, account: &str) -> Result<u64> {
    let sql = "SELECT count(*) FROM sessiondb_peers WHERE account = $1";
    let n: i64 = r.row(sql, &[&account]).await?.map_or(0, |row| row.get(0));
    Ok(n.max(0) as u64)
}
