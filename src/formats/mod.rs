//! Import and export of other libraries' session formats (feature `formats`): Telethon v1
//! and v2 `.session` files, Telethon, GramJS and Pyrogram strings, Pyrogram `.session`
//! files, grammers-session SQLite files and layer-client binary files.
//!
//! Every format goes through [`Portable`]: the session and peers it holds, plus notes on what
//! the import had to guess or recover. Decoders bound every length before allocating and
//! return [`Error::Format`] on bad input, never panic.

mod dc_table;
mod grammers_sqlite;
mod layer;
mod pyrogram;
mod sqlite;
mod strings;
mod telethon;

use std::path::Path;

use crate::account::Account;
use crate::error::{Error, Result};
use crate::model::{Peer, Session};

pub use strings::detect_string;

/// A session format sessiondb can import or export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Telethon 1.x `.session` SQLite (schema 7 or 8).
    TelethonV1,
    /// Telethon 2.x `.session` SQLite (version 10).
    TelethonV2,
    /// Telethon `StringSession` (IPv4 or IPv6).
    TelethonString,
    /// GramJS `StringSession`.
    GramjsString,
    /// Pyrogram `.session` SQLite (storage version 2 or 3).
    Pyrogram,
    /// Pyrogram session string (2.x, or either 1.x layout).
    PyrogramString,
    /// grammers-session 0.11 SQLite.
    Grammers,
    /// layer-client binary session (format version 3).
    Layer,
}

impl Format {
    /// Every format, for listings and detection.
    pub const ALL: [Format; 8] = [
        Format::TelethonV1,
        Format::TelethonV2,
        Format::TelethonString,
        Format::GramjsString,
        Format::Pyrogram,
        Format::PyrogramString,
        Format::Grammers,
        Format::Layer,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::TelethonV1 => "telethon",
            Format::TelethonV2 => "telethon-v2",
            Format::TelethonString => "telethon-string",
            Format::GramjsString => "gramjs-string",
            Format::Pyrogram => "pyrogram",
            Format::PyrogramString => "pyrogram-string",
            Format::Grammers => "grammers",
            Format::Layer => "layer",
        }
    }

    /// Whether the format is a string rather than a file.
    pub fn is_string(self) -> bool {
        matches!(
            self,
            Format::TelethonString | Format::GramjsString | Format::PyrogramString
        )
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                Error::InvalidArgument(format!(
                    "unknown format {s:?}; one of: {}",
                    names.join(", ")
                ))
            })
    }
}

/// A session in transit between formats.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Portable {
    /// DCs, keys, user, update state, channels and app fields.
    pub session: Session,
    /// Cached peers (marked ids).
    pub peers: Vec<Peer>,
    /// What the import had to guess, skip or recover, one line each (no secrets).
    pub notes: Vec<String>,
}

impl Portable {
    /// Reads an account's whole session and peer cache.
    pub fn from_account(account: &Account) -> Result<Portable> {
        let session = account.session()?.unwrap_or_default();
        let mut peers = Vec::new();
        let mut after = None;
        loop {
            let page = account.peers(after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            peers.extend(page);
        }
        Ok(Portable {
            session,
            peers,
            notes: Vec::new(),
        })
    }

    /// Writes the session (replacing the account's) and caches the peers, durably, each
    /// keeping its date from the source; `progress` hears how many peers are written so far.
    pub fn write_to(&self, account: &Account, mut progress: impl FnMut(usize)) -> Result<()> {
        account.save(&self.session)?;
        let mut done = 0;
        for chunk in self.peers.chunks(5_000) {
            account.restore_peers(chunk, crate::options::Durability::Durable)?;
            done += chunk.len();
            progress(done);
        }
        Ok(())
    }
}

impl Portable {
    /// The session as an export writes it: the exported DC at `options.dc_address` if given,
    /// every DC without an address at Telegram's (test DCs for a test-mode session), and no
    /// test-mode key at a production address; each change noted. Exports call it
    /// themselves; call it first to show its notes.
    pub fn for_export(&self, options: &ExportOptions) -> Result<Portable> {
        let mut p = self.clone();
        p.notes.clear();
        dc_table::complete_export(&mut p, options)?;
        Ok(p)
    }
}

/// Options an export may need that the source does not hold.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// api_id for formats that need one (Pyrogram), overriding the session's.
    pub api_id: Option<i32>,
    /// Whether the user is a bot, overriding the session's.
    pub is_bot: Option<bool>,
    /// The logged-in user's id, when the session does not hold it.
    pub user_id: Option<i64>,
    /// DC to export for single-DC formats (default: the home DC).
    pub dc: Option<i32>,
    /// The exported DC's address, overriding the session's and Telegram's table.
    pub dc_address: Option<std::net::SocketAddr>,
    /// The Telethon 1.x schema to write: 8 (Telethon 1.43 and later, the default) or 7
    /// (Telethon 1.42 and older cannot open 8; Telethon 1.45 upgrades 7 on open).
    pub telethon_schema: Option<u8>,
}

/// Identifies a session file by its content (SQLite tables or layer's header).
pub fn detect_file(path: &Path) -> Result<Format> {
    let head = read_head(path)?;
    if head.starts_with(b"SQLite format 3\0") {
        return sqlite::detect(path);
    }
    if layer::looks_like(&head) {
        return Ok(Format::Layer);
    }
    Err(Error::Format {
        format: "unknown".into(),
        reason: format!(
            "{} is neither a SQLite session nor a layer-client session",
            path.display()
        ),
    })
}

fn read_head(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    Ok(head)
}

/// Imports a session file; `format` overrides detection. A DC without an address gets
/// Telegram's (production or test, as the session is), with a note.
pub fn import_file(path: &Path, format: Option<Format>) -> Result<Portable> {
    let mut p = import_file_as_is(path, format).map_err(|e| naming(e, path))?;
    complete_import(&mut p);
    Ok(p)
}

/// What every import does after decoding: addresses from the table, and usernames outside
/// Telegram's alphabet dropped (the peer kept), each noted.
fn complete_import(p: &mut Portable) {
    dc_table::complete_import(p);
    let valid = |n: &String| crate::model::normalize_username(n).is_ok();
    let mut dropped = Vec::new();
    for peer in &mut p.peers {
        dropped.extend(peer.usernames.iter().filter(|n| !valid(n)).cloned());
        peer.usernames.retain(valid);
    }
    if let Some(user) = &mut p.session.user
        && let Some(name) = user.username.take_if(|n| !valid(n))
    {
        dropped.push(name);
    }
    if !dropped.is_empty() {
        p.notes.push(format!(
            "{} username(s) outside Telegram's alphabet dropped (their peers kept): {}",
            dropped.len(),
            dropped
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// A format error that does not say which file, made to say it.
fn naming(e: Error, path: &Path) -> Error {
    match e {
        Error::Format { format, reason } if !reason.contains(&*path.to_string_lossy()) => {
            Error::Format {
                format,
                reason: format!("{}: {reason}", path.display()),
            }
        }
        e => e,
    }
}

fn import_file_as_is(path: &Path, format: Option<Format>) -> Result<Portable> {
    let format = match format {
        Some(f) => f,
        None => detect_file(path)?,
    };
    match format {
        Format::TelethonV1 => telethon::import_v1(path),
        Format::TelethonV2 => telethon::import_v2(path),
        Format::Pyrogram => pyrogram::import(path),
        Format::Grammers => grammers_sqlite::import(path),
        Format::Layer => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            layer::decode(&bytes)
        }
        f => Err(string_not_file(f)),
    }
}

/// Imports a session string; `format` overrides detection. Addresses as [`import_file`].
pub fn import_string(text: &str, format: Option<Format>) -> Result<Portable> {
    let format = match format {
        Some(f) => f,
        None => detect_string(text)?,
    };
    let mut p = strings::decode(text.trim(), format)?;
    complete_import(&mut p);
    Ok(p)
}

/// Exports to a new session file at `path` (refuses to overwrite one), from
/// [`Portable::for_export`].
pub fn export_file(
    portable: &Portable,
    format: Format,
    path: &Path,
    options: &ExportOptions,
) -> Result<()> {
    if path.exists() {
        return Err(crate::paths::already_exists(path));
    }
    let portable = &portable.for_export(options)?;
    match format {
        Format::TelethonV1 => telethon::export_v1(portable, path, options),
        Format::TelethonV2 => telethon::export_v2(portable, path, options),
        Format::Pyrogram => pyrogram::export(portable, path, options),
        Format::Grammers => grammers_sqlite::export(portable, path, options),
        Format::Layer => {
            let bytes = layer::encode(portable)?;
            crate::paths::write_private_file(path, &bytes)
        }
        f => Err(Error::InvalidArgument(format!(
            "{f} is a string format: export it as a string"
        ))),
    }
}

/// Exports to a session string.
pub fn export_string(
    portable: &Portable,
    format: Format,
    options: &ExportOptions,
) -> Result<String> {
    strings::encode(&portable.for_export(options)?, format, options)
}

/// Writes a new file readable only by its owner (0600), synced: for session strings, which
/// are passwords. Never overwrites.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::paths::write_private_file(path, bytes)
}

fn string_not_file(f: Format) -> Error {
    Error::InvalidArgument(format!(
        "{f} is a string format: pass the string, not a file"
    ))
}

/// The DC an export to a single-DC format uses, with its key.
pub(crate) fn export_dc<'a>(
    portable: &'a Portable,
    format: Format,
    options: &ExportOptions,
) -> Result<&'a crate::model::DataCenter> {
    let s = &portable.session;
    let id = options
        .dc
        .or(s.home_dc)
        .ok_or_else(|| missing(format, "home DC", "--dc"))?;
    let dc = s
        .dcs
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(|| missing(format, &format!("DC {id}"), "--dc"))?;
    if dc.auth_key.is_none() {
        return Err(missing(format, &format!("auth key of DC {id}"), "--dc"));
    }
    Ok(dc)
}

/// An export refused for a value the target needs, naming the flag that supplies it.
pub(crate) fn missing(format: Format, field: &str, flag: &str) -> Error {
    Error::MissingField {
        format: format.name().into(),
        field: field.into(),
        flag: flag.into(),
    }
}

/// The logged-in user's id and bot flag, `--user-id` and `--bot` over the session's;
/// refused, naming the flag, when neither has one.
pub(crate) fn user_and_bot(
    p: &Portable,
    format: Format,
    options: &ExportOptions,
) -> Result<(i64, bool)> {
    let held = p.session.user.as_ref();
    let id = options
        .user_id
        .or(held.map(|u| u.id))
        .ok_or_else(|| missing(format, "logged-in user id", "--user-id"))?;
    let bot = options
        .is_bot
        .or(held.map(|u| u.bot))
        .ok_or_else(|| missing(format, "is_bot", "--bot"))?;
    Ok((id, bot))
}

/// A decoding error naming the format.
pub(crate) fn bad(format: Format, reason: impl Into<String>) -> Error {
    Error::Format {
        format: format.name().into(),
        reason: reason.into(),
    }
}

/// A DC with one address (either family) and an optional key.
pub(crate) fn dc_at(
    id: i32,
    addr: Option<std::net::SocketAddr>,
    key: Option<crate::AuthKey>,
) -> crate::model::DataCenter {
    let mut dc = crate::model::DataCenter::new(id);
    match addr {
        Some(std::net::SocketAddr::V4(a)) => dc.ipv4 = Some(a),
        Some(std::net::SocketAddr::V6(a)) => dc.ipv6 = Some(a),
        None => {}
    }
    dc.auth_key = key;
    dc
}

/// What a marked id says about a peer when the format stores nothing more.
pub(crate) fn kind_of_marked(id: i64) -> crate::model::PeerKind {
    use crate::model::PeerKind;
    if id > 0 {
        PeerKind::UserUnknown
    } else if id <= -1_000_000_000_000 {
        PeerKind::ChannelUnknown
    } else {
        PeerKind::BasicGroup
    }
}

/// The DC's address, IPv4 preferred.
pub(crate) fn dc_addr(dc: &crate::model::DataCenter) -> Option<std::net::SocketAddr> {
    dc.ipv4
        .map(std::net::SocketAddr::V4)
        .or(dc.ipv6.map(std::net::SocketAddr::V6))
}
