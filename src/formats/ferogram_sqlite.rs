//! ferogram-session 0.6's `SqliteBackend` files: `meta` (key, value: `home_dc_id`, and
//! `future_auth_token` as a blob), `dcs` (one row per DC entry: dc_id, flags, addr text,
//! auth_key blob, first_salt, time_offset; keyed by DC and flags), `update_state` (the row
//! with id 1), `channel_pts` (bare channel id, pts), `peers` (bare id, access_hash,
//! is_channel, is_chat, channel_kind or NULL, is_community) and `min_peers` (user_id,
//! peer_id, msg_id). The values are those of ferogram's binary session (`ferogram`).
//!
//! Where the tables' keys cannot hold two entries (two DC entries with the same DC and
//! flags; a user and a channel with the same bare id) the export keeps the later one, as a
//! map would: ferogram's own backend fails the whole save there instead.

use std::path::Path;

use super::ferogram::{add_peers, export_entries};
use super::portable::{ExportOptions, Format, Portable, bad};
use super::sqlite::{self, auth_key, for_each_row, int, int32};
use crate::dc_endpoints::data_centers;
use crate::error::Result;
use crate::extras::{DcEndpoint, LoginToken, MinPeerContext};
use crate::ferogram_peer::FeroPeer;

const F: Format = Format::FerogramSqlite;

/// The tables that identify the format.
pub(super) const TABLES: [&str; 5] = ["meta", "dcs", "update_state", "channel_pts", "peers"];

pub(crate) fn import(path: &Path) -> Result<Portable> {
    let conn = sqlite::open_read(path, F)?;
    let mut p = Portable::default();
    for_each_row(&conn, F, "meta", Some("key"), |row| {
        match sqlite::text(row.get("key")).as_deref() {
            Some("home_dc_id") => p.session.home_dc = int32(row.get("value"), F, "home DC")?,
            Some("future_auth_token") => {
                let token = row.blob("value").map(|b| LoginToken::new(b.to_vec()));
                p.login_token = token.transpose()?;
            }
            _ => {}
        }
        Ok(())
    })?;
    p.session.home_dc = p.session.home_dc.filter(|&dc| dc != 0);
    for_each_row(&conn, F, "dcs", None, |row| {
        let dc = int32(row.get("dc_id"), F, "DC id")?.ok_or_else(|| bad(F, "DC without id"))?;
        let flags = int(row.get("flags")).unwrap_or(0);
        p.dc_endpoints.push(DcEndpoint {
            dc,
            address: sqlite::text(row.get("addr")).unwrap_or_default(),
            flags: u32::try_from(flags).map_err(|_| bad(F, format!("DC {dc} flags {flags}")))?,
            auth_key: auth_key(row.blob("auth_key"), F)?,
            server_salt: int(row.get("first_salt")).unwrap_or(0),
            time_offset: int32(row.get("time_offset"), F, "time offset")?.unwrap_or(0),
        });
        Ok(())
    })?;
    p.session.dcs = data_centers(&p.dc_endpoints).into_values().collect();
    for_each_row(&conn, F, "update_state", None, |row| {
        if int(row.get("id")) == Some(1) {
            let state = sqlite::update_state(row, F)?;
            p.session.update_state = (state != Default::default()).then_some(state);
        }
        Ok(())
    })?;
    for_each_row(&conn, F, "channel_pts", Some("channel_id"), |row| {
        let id = int(row.get("channel_id")).ok_or_else(|| bad(F, "channel without id"))?;
        let pts = int32(row.get("pts"), F, "channel pts")?.unwrap_or(0);
        p.session.channels.insert(id, pts);
        Ok(())
    })?;
    let mut entries = Vec::new();
    for_each_row(&conn, F, "peers", Some("id"), |row| {
        let flag = |name| int(row.get(name)).is_some_and(|v| v != 0);
        let kind = int(row.get("channel_kind"));
        entries.push(FeroPeer {
            id: int(row.get("id")).ok_or_else(|| bad(F, "peer without id"))?,
            access_hash: int(row.get("access_hash")).unwrap_or(0),
            is_channel: flag("is_channel"),
            is_chat: flag("is_chat"),
            channel_kind: kind.and_then(|k| u8::try_from(k).ok()),
            is_community: flag("is_community"),
        });
        Ok(())
    })?;
    add_peers(&mut p, entries);
    // Older files have no min_peers table; ferogram creates it when it opens them.
    if sqlite::has_table(&conn, F, "min_peers")? {
        for_each_row(&conn, F, "min_peers", Some("user_id"), |row| {
            let v =
                |name| int(row.get(name)).ok_or_else(|| bad(F, format!("min peer without {name}")));
            p.min_peers.push(MinPeerContext {
                user_id: v("user_id")?,
                peer_id: v("peer_id")?,
                msg_id: int32(row.get("msg_id"), F, "message id")?.unwrap_or(0),
            });
            Ok(())
        })?;
    }
    Ok(p)
}

/// Writes a file ferogram's `SqliteBackend` opens as its own.
pub(crate) fn export(p: &Portable, path: &Path, _options: &ExportOptions) -> Result<()> {
    let (endpoints, peers) = export_entries(p);
    let mut conn = sqlite::create(path, F)?;
    let tx = conn.transaction().map_err(sqlite::err(F))?;
    let e = sqlite::err(F);
    tx.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE dcs (dc_id INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0,
             addr TEXT NOT NULL, auth_key BLOB, first_salt INTEGER NOT NULL DEFAULT 0,
             time_offset INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (dc_id, flags));
         CREATE TABLE update_state (id INTEGER PRIMARY KEY CHECK (id = 1),
             pts INTEGER NOT NULL DEFAULT 0, qts INTEGER NOT NULL DEFAULT 0,
             date INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE channel_pts (channel_id INTEGER PRIMARY KEY, pts INTEGER NOT NULL);
         CREATE TABLE peers (id INTEGER PRIMARY KEY, access_hash INTEGER NOT NULL,
             is_channel INTEGER NOT NULL DEFAULT 0, is_chat INTEGER NOT NULL DEFAULT 0,
             channel_kind INTEGER, is_community INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE min_peers (user_id INTEGER PRIMARY KEY, peer_id INTEGER NOT NULL,
             msg_id INTEGER NOT NULL);",
    )
    .map_err(&e)?;
    tx.execute(
        "INSERT INTO meta VALUES ('home_dc_id', ?1)",
        [p.session.home_dc.unwrap_or(0)],
    )
    .map_err(&e)?;
    if let Some(token) = &p.login_token {
        tx.execute(
            "INSERT INTO meta VALUES ('future_auth_token', ?1)",
            [token.as_bytes()],
        )
        .map_err(&e)?;
    }
    for d in &endpoints {
        tx.execute(
            "INSERT OR REPLACE INTO dcs VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                d.dc,
                d.flags,
                d.address,
                d.auth_key.as_ref().map(|k| &k.as_bytes()[..]),
                d.server_salt,
                d.time_offset
            ],
        )
        .map_err(&e)?;
    }
    sqlite::write_update_state(
        &tx,
        F,
        &p.session,
        "INSERT INTO update_state VALUES (1, ?1, ?2, ?3, ?4)",
        "INSERT INTO channel_pts VALUES (?1, ?2)",
    )?;
    {
        let mut insert = tx
            .prepare("INSERT OR REPLACE INTO peers VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(&e)?;
        for f in &peers {
            insert
                .execute(rusqlite::params![
                    f.id,
                    f.access_hash,
                    f.is_channel,
                    f.is_chat,
                    f.channel_kind,
                    f.is_community
                ])
                .map_err(&e)?;
        }
        let mut insert = tx
            .prepare("INSERT INTO min_peers VALUES (?1, ?2, ?3)")
            .map_err(&e)?;
        for m in &p.min_peers {
            insert
                .execute(rusqlite::params![m.user_id, m.peer_id, m.msg_id])
                .map_err(&e)?;
        }
    }
    tx.commit().map_err(&e)
}
