//! Telethon `.session` files: v1 (schema 7 and 8, read by column name) and v2 (version 10).

use std::net::SocketAddr;
use std::path::Path;

use rusqlite::params;

use super::portable::{ExportOptions, Format, Portable, bad, dc_at, kind_of_marked};
use super::sqlite::{self, auth_key, for_each_row, int, int32, text};
use crate::error::{Error, Result};
use crate::model::{Peer, User};

const V1: Format = Format::TelethonV1;
const V2: Format = Format::TelethonV2;

pub(crate) fn import_v1(path: &Path) -> Result<Portable> {
    let conn = sqlite::open_read(path, V1)?;
    let mut p = Portable::default();
    for_each_row(&conn, V1, "version", None, |row| {
        match int(row.get("version")) {
            Some(7 | 8) => {}
            Some(v) => p
                .notes
                .push(format!("Telethon schema version {v} (7 and 8 are tested)")),
            None => {}
        }
        Ok(())
    })?;
    for_each_row(&conn, V1, "sessions", None, |row| {
        let id = int32(row.get("dc_id"), V1, "DC id")?.ok_or_else(|| bad(V1, "DC without id"))?;
        let port = int(row.get("port"))
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(443);
        let addr = text(row.get("server_address"))
            .map(|ip| {
                ip.parse()
                    .map(|ip| SocketAddr::new(ip, port))
                    .map_err(|_| bad(V1, format!("DC {id} has an unreadable server_address")))
            })
            .transpose()?;
        p.session
            .dcs
            .push(dc_at(id, addr, auth_key(row.blob("auth_key"), V1)?));
        p.session.home_dc = Some(id);
        p.session.app.takeout_id = int(row.get("takeout_id"));
        Ok(())
    })?;
    let mut self_id = None;
    for_each_row(&conn, V1, "entities", Some("id"), |row| {
        let id = int(row.get("id")).ok_or_else(|| bad(V1, "entity without id"))?;
        let hash = int(row.get("hash"));
        if id == 0 {
            // Telethon's own trick: the row with id 0 holds the logged-in user's id.
            self_id = hash;
            return Ok(());
        }
        let kind = kind_of_marked(id);
        let is_chat = kind == crate::model::PeerKind::BasicGroup;
        let mut peer = Peer::new(id, kind, if is_chat { None } else { hash });
        peer.usernames = text(row.get("username")).into_iter().collect();
        peer.phone = text(row.get("phone"));
        peer.name = text(row.get("name"));
        peer.updated_at = int(row.get("date")).unwrap_or(0);
        p.peers.push(peer);
        Ok(())
    })?;
    for_each_row(&conn, V1, "update_state", None, |row| {
        let id = int(row.get("id")).ok_or_else(|| bad(V1, "update state without id"))?;
        let v = |name| Ok::<_, Error>(int32(row.get(name), V1, name)?.unwrap_or(0));
        if id == 0 {
            p.session.update_state = Some(sqlite::update_state(row, V1)?);
        } else {
            p.session.channels.insert(id, v("pts")?);
        }
        Ok(())
    })?;
    if let Some(me) = self_id {
        let own = p.peers.iter_mut().find(|peer| peer.id == me);
        let username = own
            .as_ref()
            .and_then(|peer| peer.usernames.first().cloned());
        if let Some(peer) = own {
            peer.is_self = Some(true);
        }
        p.session.user = Some(User {
            id: me,
            dc: p.session.home_dc.unwrap_or(0),
            bot: false,
            username,
        });
        p.notes
            .push("Telethon does not store whether the user is a bot: assumed not".into());
    }
    Ok(p)
}

/// Writes a schema-8 file as Telethon 1.45 does, or a schema-7 one as Telethon 1.42 does
/// (no `tmp_auth_key`): one `sessions` row for the exported DC.
pub(crate) fn export_v1(p: &Portable, path: &Path, options: &ExportOptions) -> Result<()> {
    let schema = options.telethon_schema.unwrap_or(8);
    if !matches!(schema, 7 | 8) {
        return Err(Error::InvalidArgument(format!(
            "Telethon schema {schema}: 7 (Telethon 1.42 and older) or 8 (1.43 and later)"
        )));
    }
    let dc = super::portable::export_dc(p, V1, options)?;
    let addr = super::portable::export_address(V1, dc)?;
    let mut conn = sqlite::create(path, V1)?;
    let e = sqlite::err(V1);
    let tx = conn.transaction().map_err(&e)?;
    // Tables in Telethon's own order; schema 7 lacks `tmp_auth_key`.
    let tmp_key_column = if schema == 8 {
        ", tmp_auth_key blob"
    } else {
        ""
    };
    tx.execute_batch(&format!(
        "CREATE TABLE version (version integer primary key);
         CREATE TABLE sessions (dc_id integer primary key, server_address text, port integer,
             auth_key blob, takeout_id integer{tmp_key_column});
         CREATE TABLE entities (id integer primary key, hash integer not null, username text,
             phone integer, name text, date integer);
         CREATE TABLE sent_files (md5_digest blob, file_size integer, type integer, id integer,
             hash integer, primary key(md5_digest, file_size, type));
         CREATE TABLE update_state (id integer primary key, pts integer, qts integer,
             date integer, seq integer);
         INSERT INTO version VALUES ({schema});"
    ))
    .map_err(&e)?;
    let key = dc.auth_key.as_ref().map(|k| k.as_bytes().to_vec());
    let ip = addr.ip().to_string();
    let port = addr.port();
    let tmp_key: &[u8] = &[]; // Telethon 1.45 writes an empty blob, not NULL
    let mut row: Vec<&dyn rusqlite::ToSql> =
        vec![&dc.id, &ip, &port, &key, &p.session.app.takeout_id];
    let mut sql = String::from("INSERT INTO sessions VALUES (?1, ?2, ?3, ?4, ?5");
    if schema == 8 {
        row.push(&tmp_key);
        sql.push_str(", ?6");
    }
    sql.push(')');
    tx.execute(&sql, &row[..]).map_err(&e)?;
    {
        let mut insert = tx
            .prepare("INSERT OR REPLACE INTO entities VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(&e)?;
        // The id-0 row is how Telethon's client knows its own id.
        let me = options.user_id.or(p.session.user.as_ref().map(|u| u.id));
        if let Some(me) = me {
            insert
                .execute(params![
                    0,
                    me,
                    None::<String>,
                    None::<i64>,
                    None::<String>,
                    0
                ])
                .map_err(&e)?;
        }
        for peer in &p.peers {
            // Telethon stores the phone as an INTEGER; one that is not all digits stays text.
            let phone: Option<rusqlite::types::Value> = peer.phone.as_ref().map(|ph| {
                ph.parse::<i64>()
                    .map_or_else(|_| ph.clone().into(), Into::into)
            });
            let row = params![
                peer.id,
                peer.access_hash.unwrap_or(0),
                peer.usernames.first(),
                phone,
                peer.name,
                peer.updated_at
            ];
            insert.execute(row).map_err(&e)?;
        }
    }
    sqlite::write_update_state(
        &tx,
        V1,
        &p.session,
        "INSERT INTO update_state VALUES (0, ?1, ?2, ?3, ?4)",
        "INSERT INTO update_state VALUES (?1, ?2, 0, 0, 0)",
    )?;
    tx.commit().map_err(&e)
}

pub(crate) fn import_v2(path: &Path) -> Result<Portable> {
    let conn = sqlite::open_read(path, V2)?;
    let mut p = Portable::default();
    for_each_row(&conn, V2, "datacenter", Some("id"), |row| {
        let id = int32(row.get("id"), V2, "DC id")?.ok_or_else(|| bad(V2, "DC without id"))?;
        let mut dc = dc_at(id, None, auth_key(row.blob("auth"), V2)?);
        for column in ["ipv4_addr", "ipv6_addr"] {
            match text(row.get(column)).as_deref().map(sqlite::socket) {
                Some(Some(SocketAddr::V4(a))) => dc.ipv4 = Some(a),
                Some(Some(SocketAddr::V6(a))) => dc.ipv6 = Some(a),
                Some(None) => return Err(bad(V2, format!("DC {id} has an unreadable {column}"))),
                None => {}
            }
        }
        p.session.dcs.push(dc);
        Ok(())
    })?;
    for_each_row(&conn, V2, "user", None, |row| {
        let id = int(row.get("id")).ok_or_else(|| bad(V2, "user without id"))?;
        let dc = int32(row.get("dc"), V2, "user DC")?.unwrap_or(0);
        p.session.home_dc = Some(dc);
        p.session.user = Some(User {
            id,
            dc,
            bot: int(row.get("bot")).unwrap_or(0) != 0,
            username: text(row.get("username")),
        });
        Ok(())
    })?;
    if p.session.home_dc.is_none() {
        p.session.home_dc = p
            .session
            .dcs
            .iter()
            .find(|d| d.auth_key.is_some())
            .map(|d| d.id);
    }
    for_each_row(&conn, V2, "state", None, |row| {
        p.session.update_state = Some(sqlite::update_state(row, V2)?);
        Ok(())
    })?;
    for_each_row(&conn, V2, "channelstate", None, |row| {
        let id = int(row.get("id")).ok_or_else(|| bad(V2, "channel without id"))?;
        p.session
            .channels
            .insert(id, int32(row.get("pts"), V2, "pts")?.unwrap_or(0));
        Ok(())
    })?;
    Ok(p)
}

/// Writes a version-10 file; addresses as `ip:port` without brackets, as Telethon 2 does.
/// The `user` row is what tells Telethon 2 its home DC and that it is logged in: refused,
/// naming the flag, when neither the session nor the options give it.
pub(crate) fn export_v2(p: &Portable, path: &Path, options: &ExportOptions) -> Result<()> {
    let user = logged_in_user(p, options)?;
    let mut conn = sqlite::create(path, V2)?;
    let e = sqlite::err(V2);
    let tx = conn.transaction().map_err(&e)?;
    tx.execute_batch(
        "CREATE TABLE version (version integer primary key);
         CREATE TABLE datacenter (id integer primary key, ipv4_addr text, ipv6_addr text,
             auth blob);
         CREATE TABLE user (id integer primary key, dc integer not null, bot integer not null,
             username text);
         CREATE TABLE state (pts integer not null, qts integer not null, date integer not null,
             seq integer not null);
         CREATE TABLE channelstate (id integer primary key, pts integer not null);
         INSERT INTO version VALUES (10);",
    )
    .map_err(&e)?;
    for dc in &p.session.dcs {
        let v4 = dc.ipv4.map(|a| format!("{}:{}", a.ip(), a.port()));
        let v6 = dc.ipv6.map(|a| format!("{}:{}", a.ip(), a.port()));
        let key = dc.auth_key.as_ref().map(|k| k.as_bytes().to_vec());
        tx.execute(
            "INSERT INTO datacenter VALUES (?1, ?2, ?3, ?4)",
            params![dc.id, v4, v6, key],
        )
        .map_err(&e)?;
    }
    tx.execute(
        "INSERT INTO user VALUES (?1, ?2, ?3, ?4)",
        params![user.id, user.dc, user.bot, user.username],
    )
    .map_err(&e)?;
    sqlite::write_update_state(
        &tx,
        V2,
        &p.session,
        "INSERT INTO state VALUES (?1, ?2, ?3, ?4)",
        "INSERT INTO channelstate VALUES (?1, ?2)",
    )?;
    tx.commit().map_err(&e)
}

/// The logged-in user as the session holds it, overridden by `--user-id`, `--bot`, `--dc`.
fn logged_in_user(p: &Portable, options: &ExportOptions) -> Result<User> {
    let (id, bot) = super::portable::user_and_bot(p, V2, options)?;
    let held = p.session.user.as_ref();
    let dc = options
        .dc
        .or(p.session.home_dc)
        .or(held.map(|u| u.dc).filter(|&d| d != 0))
        .ok_or_else(|| super::portable::missing(V2, "home DC", "dc"))?;
    let username = held.filter(|u| u.id == id).and_then(|u| u.username.clone());
    Ok(User {
        id,
        dc,
        bot,
        username,
    })
}
