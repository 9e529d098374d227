//! grammers-session 0.11 SQLite files (`PRAGMA user_version = 1`): `dc_home`, `dc_option`
//! ("ip:port" / "[ip]:port" text), `peer_info` (marked id, hash, subtype bits),
//! `update_state` (one row) and `channel_state` (bare channel ids).

use std::path::Path;

use super::portable::{ExportOptions, Format, Portable, bad, dc_at};
use super::sqlite::{self, auth_key, for_each_row, int, int32};
use crate::error::Result;
use crate::model::{Peer, PeerKind};

const F: Format = Format::Grammers;

// `peer_info.subtype` bits, as grammers writes them.
const SELF: i64 = 1;
const BOT: i64 = 2;
const MEGAGROUP: i64 = 4;
const BROADCAST: i64 = 8;
const GIGAGROUP: i64 = 12;
const COMMUNITY: i64 = 16;

pub(crate) fn import(path: &Path) -> Result<Portable> {
    let conn = sqlite::open_read(path, F)?;
    let mut p = Portable::default();
    for_each_row(&conn, F, "dc_home", None, |row| {
        p.session.home_dc = int32(row.get("dc_id"), F, "home DC")?;
        Ok(())
    })?;
    for_each_row(&conn, F, "dc_option", None, |row| {
        let id = int32(row.get("dc_id"), F, "DC id")?.ok_or_else(|| bad(F, "DC without id"))?;
        let key = auth_key(row.blob("auth_key"), F)?;
        let mut dc = dc_at(id, None, key);
        for column in ["ipv4", "ipv6"] {
            match sqlite::text(row.get(column)).as_deref().map(sqlite::socket) {
                Some(Some(std::net::SocketAddr::V4(a))) => dc.ipv4 = Some(a),
                Some(Some(std::net::SocketAddr::V6(a))) => dc.ipv6 = Some(a),
                Some(None) => return Err(bad(F, format!("DC {id} has an unreadable {column}"))),
                None => {}
            }
        }
        p.session.dcs.push(dc);
        Ok(())
    })?;
    for_each_row(&conn, F, "peer_info", Some("peer_id"), |row| {
        let id = int(row.get("peer_id")).ok_or_else(|| bad(F, "peer without id"))?;
        p.peers
            .push(peer(id, int(row.get("hash")), int(row.get("subtype"))));
        Ok(())
    })?;
    if let Some(me) = p.peers.iter().find(|peer| peer.is_self == Some(true)) {
        p.session.user = Some(crate::model::User {
            id: me.id,
            dc: p.session.home_dc.unwrap_or(0),
            bot: me.kind == PeerKind::Bot,
            username: None,
        });
    }
    for_each_row(&conn, F, "update_state", None, |row| {
        p.session.update_state = Some(sqlite::update_state(row, F)?);
        Ok(())
    })?;
    for_each_row(&conn, F, "channel_state", None, |row| {
        let id = int(row.get("peer_id")).ok_or_else(|| bad(F, "channel without id"))?;
        let pts = int32(row.get("pts"), F, "channel pts")?.unwrap_or(0);
        p.session.channels.insert(id, pts);
        Ok(())
    })?;
    p.notes
        .push("grammers stores no usernames, phones or names".into());
    Ok(p)
}

/// A peer from its row; a NULL subtype leaves a user's bot-ness unknown, as grammers reads it.
fn peer(id: i64, hash: Option<i64>, subtype: Option<i64>) -> Peer {
    let base = super::portable::kind_of_marked(id);
    let kind = match (base, subtype) {
        (PeerKind::UserUnknown, Some(s)) if s & BOT != 0 => PeerKind::Bot,
        (PeerKind::UserUnknown, Some(_)) => PeerKind::User,
        (PeerKind::ChannelUnknown, Some(s)) if s & COMMUNITY != 0 => PeerKind::Community,
        (PeerKind::ChannelUnknown, Some(s)) if s & GIGAGROUP == GIGAGROUP => PeerKind::Gigagroup,
        (PeerKind::ChannelUnknown, Some(s)) if s & BROADCAST != 0 => PeerKind::Channel,
        (PeerKind::ChannelUnknown, Some(s)) if s & MEGAGROUP != 0 => PeerKind::Megagroup,
        (kind, _) => kind,
    };
    let mut peer = Peer::new(
        id,
        kind,
        if kind == PeerKind::BasicGroup {
            None
        } else {
            hash
        },
    );
    if kind.is_user() {
        peer.is_self = subtype.map(|s| s & SELF != 0);
    }
    peer
}

/// The subtype bits; `own` says whether the peer is the logged-in user.
fn subtype(peer: &Peer, own: bool) -> Option<i64> {
    let own = if own { SELF } else { 0 };
    match peer.kind {
        PeerKind::Bot => Some(BOT | own),
        PeerKind::User | PeerKind::UserUnknown => (own != 0).then_some(own),
        PeerKind::Megagroup => Some(MEGAGROUP),
        PeerKind::Channel => Some(BROADCAST),
        PeerKind::Gigagroup => Some(GIGAGROUP),
        PeerKind::Community => Some(COMMUNITY),
        PeerKind::BasicGroup | PeerKind::ChannelUnknown => None,
    }
}

/// Writes a grammers-session file. grammers finds the logged-in user by the `peer_info` row
/// with the self bit: exactly one such row is written, for the session's user (or
/// `--user-id`), even when that user is not among the cached peers.
pub(crate) fn export(p: &Portable, path: &Path, options: &ExportOptions) -> Result<()> {
    let held = p.session.user.as_ref();
    let me = options.user_id.or(held.map(|u| u.id));
    let me_bot = options.is_bot.or(held.map(|u| u.bot)).unwrap_or(false);
    let mut conn = sqlite::create(path, F)?;
    let tx = conn.transaction().map_err(sqlite::err(F))?;
    tx.execute_batch(
        "CREATE TABLE dc_home (dc_id INTEGER NOT NULL, PRIMARY KEY(dc_id));
         CREATE TABLE dc_option (dc_id INTEGER NOT NULL, ipv4 TEXT NOT NULL, ipv6 TEXT NOT NULL,
             auth_key BLOB, PRIMARY KEY (dc_id));
         CREATE TABLE peer_info (peer_id INTEGER NOT NULL, hash INTEGER, subtype INTEGER,
             PRIMARY KEY (peer_id));
         CREATE TABLE update_state (pts INTEGER NOT NULL, qts INTEGER NOT NULL,
             date INTEGER NOT NULL, seq INTEGER NOT NULL);
         CREATE TABLE channel_state (peer_id INTEGER NOT NULL, pts INTEGER NOT NULL,
             PRIMARY KEY (peer_id));
         PRAGMA user_version = 1;",
    )
    .map_err(sqlite::err(F))?;
    let e = sqlite::err(F);
    if let Some(home) = p.session.home_dc {
        tx.execute("INSERT INTO dc_home VALUES (?1)", [home])
            .map_err(&e)?;
    }
    for dc in &p.session.dcs {
        // grammers needs both addresses; a missing one comes from Telegram's table.
        let (Some(v4), Some(v6)) = super::dc_table::both(dc, p.session.app.test_mode) else {
            let field = format!("IPv4 and IPv6 addresses of DC {}", dc.id);
            return Err(super::portable::missing(F, &field, "dc_address"));
        };
        let key = dc.auth_key.as_ref().map(|k| k.as_bytes().to_vec());
        tx.execute(
            "INSERT INTO dc_option VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![dc.id, v4.to_string(), v6.to_string(), key],
        )
        .map_err(&e)?;
    }
    {
        let mut insert = tx
            .prepare("INSERT OR REPLACE INTO peer_info VALUES (?1, ?2, ?3)")
            .map_err(&e)?;
        for peer in &p.peers {
            let hash = if peer.kind == PeerKind::BasicGroup {
                Some(0)
            } else {
                peer.access_hash
            };
            // Without a known user, the source's own self mark stands.
            let own = me.map_or(peer.is_self == Some(true), |id| id == peer.id);
            insert
                .execute(rusqlite::params![peer.id, hash, subtype(peer, own)])
                .map_err(&e)?;
        }
        if let Some(id) = me.filter(|id| !p.peers.iter().any(|peer| peer.id == *id)) {
            let bits = SELF | if me_bot { BOT } else { 0 };
            insert
                .execute(rusqlite::params![id, None::<i64>, bits])
                .map_err(&e)?;
        }
    }
    sqlite::write_update_state(
        &tx,
        F,
        &p.session,
        "INSERT INTO update_state VALUES (?1, ?2, ?3, ?4)",
        "INSERT INTO channel_state VALUES (?1, ?2)",
    )?;
    tx.commit().map_err(&e)
}
