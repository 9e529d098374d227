//! Import and export of other libraries' session formats (feature `formats`): Telethon v1
//! and v2 `.session` files, Telethon, GramJS and Pyrogram strings, Pyrogram `.session`
//! files, grammers-session SQLite files, layer-client binary files and strings, and ferogram
//! binary, SQLite and string sessions.
//!
//! Every format goes through [`Portable`]: the session and peers it holds, plus notes on what
//! the import had to guess or recover. Decoders bound every length before allocating and
//! return [`Error::Format`] on bad input, never panic.

mod binary_strings;
mod dc_table;
mod ferogram;
mod ferogram_sqlite;
mod grammers_sqlite;
mod layer;
mod le_reader;
mod portable;
mod pyrogram;
mod sqlite;
mod strings;
mod telethon;

use std::borrow::Cow;
use std::path::Path;

use crate::error::{Error, Result};

pub use portable::{ExportOptions, Format, Portable};
pub use strings::detect_string;

impl Portable {
    /// The session as an export writes it: the exported DC at `options.dc_address` if given,
    /// every DC without an address at Telegram's (test DCs for a test-mode session), and no
    /// test-mode key at a production address. Exports call it themselves; call it first to
    /// show what it changed: `Owned`, its notes say each change; `Borrowed`, nothing needed
    /// changing (a prepared portable comes back borrowed, so no peer is copied twice).
    pub fn for_export(&self, options: &ExportOptions) -> Result<Cow<'_, Portable>> {
        let mut session = self.session.clone();
        let notes = dc_table::complete_export(&mut session, options)?;
        if session == self.session {
            return Ok(Cow::Borrowed(self));
        }
        Ok(Cow::Owned(Portable {
            session,
            peers: self.peers.clone(),
            notes,
            min_peers: self.min_peers.clone(),
            login_token: self.login_token.clone(),
            dc_endpoints: self.dc_endpoints.clone(),
        }))
    }
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
    if ferogram::looks_like(&head) {
        return Ok(Format::Ferogram);
    }
    Err(Error::Format {
        format: "unknown".into(),
        reason: format!(
            "{} is neither a SQLite session nor a layer-client or ferogram session",
            path.display()
        ),
    })
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
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
        peer.usernames.retain(|n| {
            let keep = valid(n);
            if !keep {
                dropped.push(n.clone());
            }
            keep
        });
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
        Format::Layer => layer::decode(&read_all(path)?),
        Format::Ferogram => ferogram::decode(&read_all(path)?),
        Format::FerogramSqlite => ferogram_sqlite::import(path),
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
        Format::Ferogram => {
            let bytes = ferogram::encode(portable)?;
            crate::paths::write_private_file(path, &bytes)
        }
        Format::FerogramSqlite => ferogram_sqlite::export(portable, path, options),
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
    strings::encode(portable.for_export(options)?.as_ref(), format, options)
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
