//! Plain Python values for sessiondb's model: peers as tuples, kinds as short strings, DCs
//! with their addresses as `ip:port` text.

use std::net::{SocketAddrV4, SocketAddrV6};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sessiondb::{AuthKey, DataCenter, Peer, PeerKind};

use crate::errors::{OrRaise, invalid};

const KINDS: [(&str, PeerKind); 9] = [
    ("user", PeerKind::User),
    ("bot", PeerKind::Bot),
    ("user_unknown", PeerKind::UserUnknown),
    ("group", PeerKind::BasicGroup),
    ("channel", PeerKind::Channel),
    ("megagroup", PeerKind::Megagroup),
    ("gigagroup", PeerKind::Gigagroup),
    ("community", PeerKind::Community),
    ("channel_unknown", PeerKind::ChannelUnknown),
];

pub fn kind_name(kind: PeerKind) -> &'static str {
    KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("user_unknown", |(name, _)| name)
}

pub fn kind_of(name: &str) -> PyResult<PeerKind> {
    KINDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
        .ok_or_else(|| invalid(format!("unknown peer kind {name:?}")))
}

/// (id, kind, access_hash, min, usernames, phone, name, is_self, updated_at)
pub type PeerRow = (
    i64,
    &'static str,
    Option<i64>,
    bool,
    Vec<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    i64,
);

pub fn peer_row(p: Peer) -> PeerRow {
    (
        p.id,
        kind_name(p.kind),
        p.access_hash,
        p.min,
        p.usernames,
        p.phone,
        p.name,
        p.is_self,
        p.updated_at,
    )
}

/// A peer's usernames as given: one, or a list (the first is the main one).
#[derive(FromPyObject)]
pub enum Usernames {
    One(String),
    Many(Vec<String>),
}

/// What `cache_peers` takes: (id, kind, access_hash, username(s), phone, name, is_self).
pub type PeerIn = (
    i64,
    String,
    Option<i64>,
    Option<Usernames>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

/// Longest display name the store keeps, in bytes.
const MAX_NAME_LEN: usize = 1024;

/// A peer to cache. A username, phone or name the store cannot index (Telegram never sends
/// one, but a client's cache must not fail a whole batch on it) is left out, not the peer.
pub fn peer_in(row: PeerIn) -> PyResult<Peer> {
    let (id, kind, access_hash, username, phone, name, is_self) = row;
    let mut p = Peer::new(id, kind_of(&kind)?, access_hash);
    let given = match username {
        None => Vec::new(),
        Some(Usernames::One(u)) => vec![u],
        Some(Usernames::Many(list)) => list,
    };
    p.usernames = given
        .iter()
        .filter_map(|u| sessiondb::normalize_username(u).ok())
        .collect();
    p.phone = phone.and_then(|n| sessiondb::normalize_phone(&n).ok());
    p.name = name.filter(|n| n.len() <= MAX_NAME_LEN);
    p.is_self = is_self;
    Ok(p)
}

/// (id, ipv4, ipv6, auth_key, server_salt, time_offset, flags)
pub type DcRow = (
    i32,
    Option<String>,
    Option<String>,
    Option<Py<PyBytes>>,
    i64,
    i32,
    u32,
);

pub fn dc_row(py: Python<'_>, dc: &DataCenter) -> DcRow {
    (
        dc.id,
        dc.ipv4.map(|a| a.to_string()),
        dc.ipv6.map(|a| a.to_string()),
        dc.auth_key
            .as_ref()
            .map(|k| PyBytes::new(py, k.as_bytes()).unbind()),
        dc.server_salt,
        dc.time_offset,
        dc.flags,
    )
}

pub fn dc_in(
    id: i32,
    ipv4: Option<&str>,
    ipv6: Option<&str>,
    auth_key: Option<&[u8]>,
) -> PyResult<DataCenter> {
    let mut dc = DataCenter::new(id);
    dc.ipv4 = ipv4
        .map(|a| a.parse::<SocketAddrV4>())
        .transpose()
        .map_err(|_| invalid("ipv4 must be an IPv4 address with a port, ip:port"))?;
    dc.ipv6 = ipv6
        .map(|a| a.parse::<SocketAddrV6>())
        .transpose()
        .map_err(|_| invalid("ipv6 must be an IPv6 address with a port, [ip]:port"))?;
    dc.auth_key = auth_key.map(AuthKey::from_slice).transpose().or_raise()?;
    Ok(dc)
}
