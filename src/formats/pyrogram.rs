//! Pyrogram `.session` files: storage version 3 (with `api_id`) and 2 (without), read by
//! column name because migrated files have `api_id` last.

use std::path::Path;

use rusqlite::params;

use super::portable::{ExportOptions, Format, Portable, bad, dc_at};
use super::sqlite::{self, auth_key, for_each_row, int, int32, text};
use crate::error::Result;
use crate::model::{Peer, PeerKind, User};

const F: Format = Format::Pyrogram;

fn kind_of(kind: &str) -> Option<PeerKind> {
    Some(match kind {
        "user" => PeerKind::User,
        "bot" => PeerKind::Bot,
        "group" => PeerKind::BasicGroup,
        "channel" => PeerKind::Channel,
        "supergroup" => PeerKind::Megagroup,
        _ => return None,
    })
}

fn name_of(kind: PeerKind) -> &'static str {
    match kind {
        PeerKind::User | PeerKind::UserUnknown => "user",
        PeerKind::Bot => "bot",
        PeerKind::BasicGroup => "group",
        PeerKind::Channel | PeerKind::ChannelUnknown => "channel",
        PeerKind::Megagroup | PeerKind::Gigagroup | PeerKind::Community => "supergroup",
    }
}

pub(crate) fn import(path: &Path) -> Result<Portable> {
    let conn = sqlite::open_read(path, F)?;
    let mut p = Portable::default();
    let mut user_id = None;
    for_each_row(&conn, F, "sessions", None, |row| {
        let id = int32(row.get("dc_id"), F, "DC id")?.ok_or_else(|| bad(F, "DC without id"))?;
        p.session.home_dc = Some(id);
        p.session
            .dcs
            .push(dc_at(id, None, auth_key(row.blob("auth_key"), F)?));
        p.session.app.api_id = int32(row.get("api_id"), F, "api_id")?;
        p.session.app.test_mode = int(row.get("test_mode")).unwrap_or(0) != 0;
        p.session.app.created_at = int(row.get("date"));
        user_id = int(row.get("user_id"));
        if let Some(id) = user_id {
            p.session.user = Some(User {
                id,
                dc: p.session.home_dc.unwrap_or(0),
                bot: int(row.get("is_bot")).unwrap_or(0) != 0,
                username: None,
            });
        }
        Ok(())
    })?;
    if p.session.app.api_id.is_none() {
        p.notes.push(
            "no api_id in this file (Pyrogram 1.x): pass --api-id when exporting to Pyrogram 2"
                .into(),
        );
    }
    let mut unknown_types = 0;
    for_each_row(&conn, F, "peers", Some("id"), |row| {
        let id = int(row.get("id")).ok_or_else(|| bad(F, "peer without id"))?;
        let kind = match text(row.get("type")).as_deref().and_then(kind_of) {
            Some(k) => k,
            None => {
                unknown_types += 1;
                super::portable::kind_of_marked(id)
            }
        };
        let hash = int(row.get("access_hash")).filter(|_| kind != PeerKind::BasicGroup);
        let mut peer = Peer::new(id, kind, hash);
        peer.usernames = text(row.get("username")).into_iter().collect();
        peer.phone = text(row.get("phone_number"));
        peer.updated_at = int(row.get("last_update_on")).unwrap_or(0);
        if Some(id) == user_id {
            peer.is_self = Some(true);
        }
        p.peers.push(peer);
        Ok(())
    })?;
    if unknown_types > 0 {
        p.notes.push(format!(
            "{unknown_types} peer(s) of unknown type, kind taken from the id"
        ));
    }
    // Pyrogram keeps no address: import_file fills in Telegram's from the one table.
    if let (Some(user), Some(me)) = (
        p.session.user.as_mut(),
        p.peers.iter().find(|peer| peer.is_self == Some(true)),
    ) {
        user.username = me.usernames.first().cloned();
    }
    Ok(p)
}

/// Writes a storage-version-3 file as Pyrogram 2.0.106 does. Refuses, naming the field and
/// flag, when a value Pyrogram needs to use the session without logging in again is missing.
pub(crate) fn export(p: &Portable, path: &Path, options: &ExportOptions) -> Result<()> {
    let fields = required(p, options)?;
    let mut conn = sqlite::create(path, F)?;
    let e = sqlite::err(F);
    let tx = conn.transaction().map_err(&e)?;
    tx.execute_batch(
        "CREATE TABLE sessions (dc_id INTEGER PRIMARY KEY, api_id INTEGER, test_mode INTEGER,
             auth_key BLOB, date INTEGER NOT NULL, user_id INTEGER, is_bot INTEGER);
         CREATE TABLE peers (id INTEGER PRIMARY KEY, access_hash INTEGER,
             type INTEGER NOT NULL, username TEXT, phone_number TEXT,
             last_update_on INTEGER NOT NULL DEFAULT (CAST(STRFTIME('%s', 'now') AS INTEGER)));
         CREATE TABLE version (number INTEGER PRIMARY KEY);
         CREATE INDEX idx_peers_id ON peers (id);
         CREATE INDEX idx_peers_username ON peers (username);
         CREATE INDEX idx_peers_phone_number ON peers (phone_number);
         CREATE TRIGGER trg_peers_last_update_on AFTER UPDATE ON peers
         BEGIN
             UPDATE peers SET last_update_on = CAST(STRFTIME('%s', 'now') AS INTEGER)
             WHERE id = NEW.id;
         END;
         INSERT INTO version VALUES (3);",
    )
    .map_err(&e)?;
    tx.execute(
        "INSERT INTO sessions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            fields.dc,
            fields.api_id,
            p.session.app.test_mode,
            fields.key,
            p.session.app.created_at.unwrap_or(0),
            fields.user_id,
            fields.is_bot
        ],
    )
    .map_err(&e)?;
    {
        let mut insert = tx
            .prepare("INSERT OR REPLACE INTO peers VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(&e)?;
        for peer in &p.peers {
            insert
                .execute(params![
                    peer.id,
                    peer.access_hash.unwrap_or(0),
                    name_of(peer.kind),
                    peer.usernames.first(),
                    peer.phone,
                    peer.updated_at
                ])
                .map_err(&e)?;
        }
    }
    tx.commit().map_err(&e)
}

/// The values a Pyrogram session (file or 2.x string) cannot work without.
pub(crate) struct Required {
    pub dc: i32,
    pub api_id: i32,
    pub key: Vec<u8>,
    pub user_id: i64,
    pub is_bot: bool,
}

pub(crate) fn required(p: &Portable, options: &ExportOptions) -> Result<Required> {
    let missing = |field: &str, option: &str| super::portable::missing(F, field, option);
    let dc = super::portable::export_dc(p, F, options)?;
    let api_id = options
        .api_id
        .or(p.session.app.api_id)
        .ok_or_else(|| missing("api_id", "api_id"))?;
    let (user_id, is_bot) = super::portable::user_and_bot(p, F, options)?;
    let key = dc
        .auth_key
        .as_ref()
        .map(|k| k.as_bytes().to_vec())
        .ok_or_else(|| missing("auth key", "dc"))?;
    Ok(Required {
        dc: dc.id,
        api_id,
        key,
        user_id,
        is_bot,
    })
}
