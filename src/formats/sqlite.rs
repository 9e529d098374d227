//! SQLite plumbing shared by the SQLite-based formats: read-only opens, detection by table
//! names, lenient value reading, and new private files for exports.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::portable::{Format, bad};
use crate::error::{Error, Result};

/// Opens an existing session file without writing to it (a running bot may hold it).
pub(crate) fn open_read(path: &Path, format: Format) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, flags)
        .map_err(|e| bad(format, format!("cannot open {}: {e}", path.display())))
}

/// Creates a new session file readable only by its owner, for an export.
pub(crate) fn create(path: &Path, format: Format) -> Result<Connection> {
    crate::paths::write_private_file(path, &[])?;
    Connection::open(path)
        .map_err(|e| bad(format, format!("cannot create {}: {e}", path.display())))
}

/// Maps a SQLite error to a format error.
pub(crate) fn err(format: Format) -> impl Fn(rusqlite::Error) -> Error {
    move |e| bad(format, e.to_string())
}

/// Table names of a database.
fn table_names(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names = stmt.query_map([], |row| row.get::<_, String>(0))?;
    names.collect()
}

/// Whether the file has a table of that name.
pub(crate) fn has_table(conn: &Connection, format: Format, name: &str) -> Result<bool> {
    Ok(table_names(conn).map_err(err(format))?.contains(name))
}

/// Identifies a SQLite session file by its tables.
pub(crate) fn detect(path: &Path) -> Result<Format> {
    // Which library wrote it is not known yet: errors name SQLite and the path.
    let damaged = |e: rusqlite::Error| Error::Format {
        format: "sqlite".into(),
        reason: format!(
            "{} is a damaged or truncated SQLite file: {e}",
            path.display()
        ),
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(damaged)?;
    let t = table_names(&conn).map_err(damaged)?;
    let has = |names: &[&str]| names.iter().all(|n| t.contains(*n));
    let found = if has(&["sessions", "entities", "version"]) {
        Format::TelethonV1
    } else if has(&["datacenter", "state", "channelstate", "version"]) {
        Format::TelethonV2
    } else if has(&["sessions", "peers", "version"]) {
        Format::Pyrogram
    } else if has(&["dc_home", "dc_option", "peer_info"]) {
        Format::Grammers
    } else if has(&super::ferogram_sqlite::TABLES) {
        Format::FerogramSqlite
    } else {
        return Err(Error::Format {
            format: "sqlite".into(),
            reason: format!(
                "{} is a SQLite file but not a Telethon, Pyrogram, grammers or ferogram session",
                path.display()
            ),
        });
    };
    Ok(found)
}

/// An integer from a column that may hold INTEGER, REAL (Telethon's fractional dates), a
/// numeric TEXT, or NULL.
pub(crate) fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.is_finite() && f.abs() < 9.2e18 => Some(f.floor() as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A text column (NULL, and empty text, as `None`); numbers are rendered as text.
pub(crate) fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Text(t) if !t.is_empty() => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A 32-bit value (pts, dates, DC ids), refusing out-of-range ones.
pub(crate) fn int32(v: ValueRef<'_>, format: Format, what: &str) -> Result<Option<i32>> {
    match int(v) {
        None => Ok(None),
        Some(i) => i32::try_from(i)
            .map(Some)
            .map_err(|_| bad(format, format!("{what} {i} does not fit 32 bits"))),
    }
}

/// Hands each row of `table` (sorted by `order`, a column name) to `each`, columns read by
/// name. Only columns with plain UTF-8 names are selected: rusqlite panics on a non-UTF-8
/// column name, and a hostile file can declare one.
pub(crate) fn for_each_row(
    conn: &Connection,
    format: Format,
    table: &str,
    order: Option<&str>,
    mut each: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    let names = columns(conn, format, table)?;
    if names.is_empty() {
        return Err(bad(
            format,
            format!("table {table} has no readable columns"),
        ));
    }
    let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let mut query = format!("SELECT {} FROM \"{table}\"", list.join(", "));
    if let Some(column) = order.filter(|c| names.iter().any(|n| n == c)) {
        query.push_str(&format!(" ORDER BY \"{column}\""));
    }
    let mut stmt = conn.prepare(&query).map_err(err(format))?;
    let mut rows = stmt.query([]).map_err(err(format))?;
    while let Some(row) = rows.next().map_err(err(format))? {
        each(&Row { row, names: &names })?;
    }
    Ok(())
}

/// The table's column names that are plain identifiers (others cannot be ours to read).
fn columns(conn: &Connection, format: Format, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .map_err(err(format))?;
    let mut rows = stmt.query([table]).map_err(err(format))?;
    let mut names = Vec::new();
    while let Some(row) = rows.next().map_err(err(format))? {
        if let Ok(ValueRef::Text(bytes)) = row.get_ref(0)
            && let Ok(name) = std::str::from_utf8(bytes)
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// One row, read by column name; a column the file does not have reads as NULL.
pub(crate) struct Row<'a> {
    row: &'a rusqlite::Row<'a>,
    names: &'a [String],
}

impl Row<'_> {
    pub(crate) fn get(&self, name: &str) -> ValueRef<'_> {
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .and_then(|i| self.row.get_ref(i).ok())
            .unwrap_or(ValueRef::Null)
    }

    /// A blob column (NULL or empty as `None`).
    pub(crate) fn blob(&self, name: &str) -> Option<&[u8]> {
        match self.get(name) {
            ValueRef::Blob(b) if !b.is_empty() => Some(b),
            _ => None,
        }
    }
}

/// The auth key in a blob, or an error naming its length.
pub(crate) fn auth_key(blob: Option<&[u8]>, format: Format) -> Result<Option<crate::AuthKey>> {
    blob.map(|b| {
        crate::AuthKey::from_slice(b).map_err(|_| {
            bad(
                format,
                format!("auth key is {} bytes, expected 256", b.len()),
            )
        })
    })
    .transpose()
}

/// Parses `ip:port`, `[ipv6]:port` or a bare IPv6 with the port after the last colon.
pub(crate) fn socket(text: &str) -> Option<std::net::SocketAddr> {
    if let Ok(addr) = text.parse() {
        return Some(addr);
    }
    let (ip, port) = text.rsplit_once(':')?;
    let ip: std::net::IpAddr = ip.trim_matches(['[', ']']).parse().ok()?;
    Some(std::net::SocketAddr::new(ip, port.parse().ok()?))
}

/// Writes the common update state (`state_sql` binds pts, qts, date, seq as ?1..?4) and each
/// channel's pts (`channel_sql` binds id, pts as ?1, ?2): the same rows every format keeps.
pub(crate) fn write_update_state(
    conn: &Connection,
    format: Format,
    session: &crate::model::Session,
    state_sql: &str,
    channel_sql: &str,
) -> Result<()> {
    if let Some(s) = session.update_state {
        conn.execute(state_sql, [s.pts, s.qts, s.date, s.seq])
            .map_err(err(format))?;
    }
    for (id, pts) in &session.channels {
        conn.execute(channel_sql, rusqlite::params![id, pts])
            .map_err(err(format))?;
    }
    Ok(())
}

/// A row's `pts`, `qts`, `date` and `seq` columns as an update state (NULL reads as 0), as
/// Telethon 1 and 2 and grammers store it.
pub(crate) fn update_state(row: &Row<'_>, format: Format) -> Result<crate::model::UpdateState> {
    let v = |name| Ok::<_, Error>(int32(row.get(name), format, name)?.unwrap_or(0));
    Ok(crate::model::UpdateState {
        pts: v("pts")?,
        qts: v("qts")?,
        date: v("date")?,
        seq: v("seq")?,
    })
}
