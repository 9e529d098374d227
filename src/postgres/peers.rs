//! The peer cache on the server: a batch is one fenced transaction of three statements
//! (multi-row upserts through `UNNEST`), whatever its size. The merge rules are the
//! embedded store's (`apply::merge_peer`): a `min` or missing hash never replaces a full
//! one, an unknown kind or self-ness never erases a known one; usernames and phones move to
//! the peer written last.

use std::collections::BTreeMap;

use super::server;
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
fn prepare(peers: &[Peer]) -> Result<Vec<Peer>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut last: BTreeMap<i64, usize> = BTreeMap::new();
    let mut batch = Vec::with_capacity(peers.len());
    for p in peers {
        let p = crate::account::normalize_peer(p, now)?;
        last.insert(p.id, batch.len());
        batch.push(p);
    }
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

/// Writes a batch inside `txn` (already fenced by the caller).
pub(super) async fn cache(
    txn: &tokio_postgres::Transaction<'_>,
    account: &str,
    peers: &[Peer],
) -> Result<()> {
    let batch = prepare(peers)?;
    if batch.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
    let kinds: Vec<i16> = batch.iter().map(|p| kind_code(p.kind)).collect();
    let hashes: Vec<Option<i64>> = batch.iter().map(|p| p.access_hash).collect();
    let mins: Vec<bool> = batch.iter().map(|p| p.min).collect();
    let phones: Vec<Option<&str>> = batch.iter().map(|p| p.phone.as_deref()).collect();
    let names: Vec<Option<&str>> = batch.iter().map(|p| p.name.as_deref()).collect();
    let selves: Vec<Option<bool>> = batch.iter().map(|p| p.is_self).collect();
    let stamps: Vec<i64> = batch.iter().map(|p| p.updated_at).collect();
    // A phone moves to its newest holder.
    txn.execute(
        "UPDATE sessiondb_peers SET phone = NULL \
         WHERE account = $1 AND phone = ANY($2) AND NOT (id = ANY($3))",
        &[&account, &phones, &ids],
    )
    .await
    .map_err(server)?;
    txn.execute(
        "INSERT INTO sessiondb_peers \
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
         updated_at = excluded.updated_at",
        &[
            &account, &ids, &kinds, &hashes, &mins, &phones, &names, &selves, &stamps,
        ],
    )
    .await
    .map_err(server)?;
    // Usernames: each peer's list replaced; a name taken by another peer moves here.
    let mut name_list = Vec::new();
    let mut name_ids = Vec::new();
    let mut positions = Vec::new();
    for p in &batch {
        for (pos, n) in p.usernames.iter().enumerate() {
            name_list.push(n.as_str());
            name_ids.push(p.id);
            positions.push(i16::try_from(pos).unwrap_or(i16::MAX));
        }
    }
    txn.execute(
        "DELETE FROM sessiondb_peer_usernames WHERE account = $1 AND id = ANY($2)",
        &[&account, &ids],
    )
    .await
    .map_err(server)?;
    txn.execute(
        "INSERT INTO sessiondb_peer_usernames (account, username, id, pos) \
         SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::SMALLINT[]) \
         AS u(username, id, pos) \
         ON CONFLICT (account, username) DO UPDATE SET id = excluded.id, pos = excluded.pos",
        &[&account, &name_list, &name_ids, &positions],
    )
    .await
    .map_err(server)?;
    Ok(())
}

const SELECT: &str = "SELECT p.id, p.kind, p.access_hash, p.min, p.phone, p.name, p.is_self, \
     p.updated_at, ARRAY(SELECT u.username FROM sessiondb_peer_usernames u \
     WHERE u.account = p.account AND u.id = p.id ORDER BY u.pos) FROM sessiondb_peers p";

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

/// A peer by marked id, by username or by phone.
pub(super) enum By<'a> {
    Id(i64),
    Username(&'a str),
    Phone(&'a str),
}

pub(super) async fn get(
    client: &tokio_postgres::Client,
    account: &str,
    by: By<'_>,
) -> Result<Option<Peer>> {
    let row = match by {
        By::Id(id) => {
            let sql = format!("{SELECT} WHERE p.account = $1 AND p.id = $2");
            client.query_opt(&sql, &[&account, &id]).await
        }
        By::Username(name) => {
            let name = crate::model::normalize_username(name)?;
            let sql = format!(
                "{SELECT} JOIN sessiondb_peer_usernames n ON n.account = p.account \
                 AND n.id = p.id WHERE n.account = $1 AND n.username = $2"
            );
            client.query_opt(&sql, &[&account, &name]).await
        }
        By::Phone(phone) => {
            let phone = crate::model::normalize_phone(phone)?;
            let sql = format!("{SELECT} WHERE p.account = $1 AND p.phone = $2 LIMIT 1");
            client.query_opt(&sql, &[&account, &phone]).await
        }
    }
    .map_err(server)?;
    row.as_ref().map(peer_of).transpose()
}
