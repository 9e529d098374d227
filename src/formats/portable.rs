//! What every format converts through: [`Portable`] (a session, its peers, and notes on
//! what an import guessed), the [`Format`] names, [`ExportOptions`], and the small rules the
//! formats share.

use crate::account::Account;
use crate::error::{Error, Result};
use crate::extras::{DcEndpoint, LoginToken, MinPeerContext};
use crate::model::{Peer, Session};

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
    /// ferogram binary session (format versions 4 to 8; written at 8).
    Ferogram,
    /// layer-client session string (base64 of its binary session).
    LayerString,
    /// ferogram native session string (base64 of its binary session).
    FerogramString,
    /// ferogram compact `string_session` (V2 written; V1 and V2 read).
    FerogramCompactString,
    /// ferogram `SqliteBackend` file.
    FerogramSqlite,
}

impl Format {
    /// Every format, for listings and detection.
    pub const ALL: [Format; 13] = [
        Format::TelethonV1,
        Format::TelethonV2,
        Format::TelethonString,
        Format::GramjsString,
        Format::Pyrogram,
        Format::PyrogramString,
        Format::Grammers,
        Format::Layer,
        Format::Ferogram,
        Format::LayerString,
        Format::FerogramString,
        Format::FerogramCompactString,
        Format::FerogramSqlite,
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
            Format::Ferogram => "ferogram",
            Format::LayerString => "layer-string",
            Format::FerogramString => "ferogram-string",
            Format::FerogramCompactString => "ferogram-compact-string",
            Format::FerogramSqlite => "ferogram-sqlite",
        }
    }

    /// Whether the format is a string rather than a file.
    pub fn is_string(self) -> bool {
        matches!(
            self,
            Format::TelethonString
                | Format::GramjsString
                | Format::PyrogramString
                | Format::LayerString
                | Format::FerogramString
                | Format::FerogramCompactString
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
    /// Min-peer contexts (ferogram sessions hold them).
    pub min_peers: Vec<MinPeerContext>,
    /// The login token (ferogram's `future_auth_token`).
    pub login_token: Option<LoginToken>,
    /// The exact DC entry list of a client with several per DC (ferogram).
    pub dc_endpoints: Vec<DcEndpoint>,
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
            min_peers: account.min_peers()?,
            login_token: account.login_token()?,
            dc_endpoints: account.dc_endpoints()?,
        })
    }

    /// Writes the session (replacing the account's) and caches the peers, durably, each
    /// keeping its date from the source; `progress` hears how many peers are written so far.
    pub fn write_to(&self, account: &Account, mut progress: impl FnMut(usize)) -> Result<()> {
        account.save(&self.session)?;
        let extras = self.extras_ops(account)?;
        if !extras.is_empty() {
            account.submit(extras, true).wait()?;
        }
        let mut done = 0;
        for chunk in self.peers.chunks(5_000) {
            account.restore_peers(chunk, crate::options::Durability::Durable)?;
            done += chunk.len();
            progress(done);
        }
        Ok(())
    }

    /// Replaces the whole account with this session, its peers, min-peer contexts, token
    /// and DC endpoints in one durable record ([`Account::replace`]).
    pub fn replace_into(&self, account: &Account) -> Result<()> {
        account.replace_with(&self.session, &self.peers, self.extras_ops(account)?)
    }

    /// The ops that write the min-peer contexts, token and DC endpoints this holds.
    fn extras_ops(&self, account: &Account) -> Result<Vec<crate::state::op::Op>> {
        crate::extras::write_ops(
            account.name(),
            self.min_peers.clone(),
            self.login_token.clone(),
            self.dc_endpoints.clone(),
        )
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
        .ok_or_else(|| missing(format, "home DC", "dc"))?;
    let dc = s
        .dcs
        .iter()
        .find(|d| d.id == id)
        .ok_or_else(|| missing(format, &format!("DC {id}"), "dc"))?;
    if dc.auth_key.is_none() {
        return Err(missing(format, &format!("auth key of DC {id}"), "dc"));
    }
    Ok(dc)
}

/// An export refused for a value the target needs, naming the flag that supplies it.
pub(crate) fn missing(format: Format, field: &str, option: &str) -> Error {
    Error::MissingField {
        format: format.name().into(),
        field: field.into(),
        option: option.into(),
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
        .ok_or_else(|| missing(format, "logged-in user id", "user_id"))?;
    let bot = options
        .is_bot
        .or(held.map(|u| u.bot))
        .ok_or_else(|| missing(format, "is_bot", "is_bot"))?;
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

/// The address a client connects to: IPv4 unless only IPv6 is known (the libraries default
/// to IPv4). Refused, naming the option, for a DC that neither the session nor Telegram's
/// table had an address for.
pub(crate) fn export_address(
    format: Format,
    dc: &crate::model::DataCenter,
) -> Result<std::net::SocketAddr> {
    dc.ipv4
        .map(std::net::SocketAddr::V4)
        .or(dc.ipv6.map(std::net::SocketAddr::V6))
        .ok_or_else(|| missing(format, &format!("address of DC {}", dc.id), "dc_address"))
}
