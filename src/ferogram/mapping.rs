//! ferogram's session values and ours, both ways: peers (bare ids with a type byte ↔ marked
//! ids with a kind) and DC entries (several per DC ↔ one `DataCenter` per DC plus the exact
//! endpoint list).

use ferogram_session::{CachedMinPeer, CachedPeer, ChannelKind, DcEntry, DcFlags};

use crate::error::{Error, Result};
use crate::extras::{DcEndpoint, MinPeerContext};
use crate::model::{AuthKey, Peer, PeerKind};

/// Marked channel ids are `-(CHANNEL_OFFSET + bare id)`, as the Bot API writes them.
const CHANNEL_OFFSET: i64 = 1_000_000_000_000;

/// The marked id of a ferogram peer: a chat wins over a community, a community over a
/// channel (the same order ferogram's binary format writes its type byte in).
pub(crate) fn marked_id(p: &CachedPeer) -> Result<i64> {
    let bad =
        || Error::InvalidArgument(format!("peer id {} is outside Telegram's id ranges", p.id));
    if p.id <= 0 {
        return Err(bad());
    }
    if p.is_chat {
        Ok(-p.id)
    } else if p.is_community || p.is_channel {
        p.id.checked_add(CHANNEL_OFFSET).map(|m| -m).ok_or_else(bad)
    } else {
        Ok(p.id)
    }
}

/// Our kind for a ferogram peer.
fn kind_of(p: &CachedPeer) -> PeerKind {
    if p.is_chat {
        PeerKind::BasicGroup
    } else if p.is_community {
        PeerKind::Community
    } else if p.is_channel {
        match p.channel_kind {
            Some(ChannelKind::Broadcast) => PeerKind::Channel,
            Some(ChannelKind::Megagroup) => PeerKind::Megagroup,
            Some(ChannelKind::Gigagroup) => PeerKind::Gigagroup,
            None => PeerKind::ChannelUnknown,
        }
    } else {
        PeerKind::UserUnknown
    }
}

/// The stored version of a ferogram peer: `stored` (what the store holds under its marked
/// id) with the hash and kind ferogram knows, so names and phones other fronts cached stay.
/// A chat's hash 0 means none; every other hash is kept as given.
pub(crate) fn peer_of(p: &CachedPeer, marked: i64, stored: Option<&Peer>) -> Peer {
    let kind = kind_of(p);
    let hash = if kind == PeerKind::BasicGroup && p.access_hash == 0 {
        None
    } else {
        Some(p.access_hash)
    };
    let mut peer = match stored {
        Some(s) => s.clone(),
        None => Peer::new(marked, kind, hash),
    };
    // ferogram does not know whether a user is a bot: a known answer stays.
    if !(kind == PeerKind::UserUnknown && peer.kind.is_user()) {
        peer.kind = kind;
    }
    peer.access_hash = hash;
    peer.min = false;
    peer
}

/// The ferogram peer for a stored one (`None` for an id outside the three ranges).
pub(crate) fn cached_of(p: &Peer) -> Option<CachedPeer> {
    let hash = p.access_hash.unwrap_or(0);
    let mut out = CachedPeer {
        id: 0,
        access_hash: hash,
        is_channel: false,
        is_chat: false,
        channel_kind: None,
        is_community: false,
    };
    if p.kind.is_user() {
        out.id = p.id;
        return (p.id > 0).then_some(out);
    }
    if p.kind == PeerKind::BasicGroup {
        out.id = p.id.checked_neg()?;
        out.is_chat = true;
        return (out.id > 0).then_some(out);
    }
    out.id = p.id.checked_neg()?.checked_sub(CHANNEL_OFFSET)?;
    match p.kind {
        PeerKind::Community => out.is_community = true,
        kind => {
            out.is_channel = true;
            out.channel_kind = match kind {
                PeerKind::Channel => Some(ChannelKind::Broadcast),
                PeerKind::Megagroup => Some(ChannelKind::Megagroup),
                PeerKind::Gigagroup => Some(ChannelKind::Gigagroup),
                _ => None,
            };
        }
    }
    (out.id > 0).then_some(out)
}

pub(crate) fn min_context_of(m: &CachedMinPeer) -> MinPeerContext {
    MinPeerContext {
        user_id: m.user_id,
        peer_id: m.peer_id,
        msg_id: m.msg_id,
    }
}

pub(crate) fn min_peer_of(m: &MinPeerContext) -> CachedMinPeer {
    CachedMinPeer {
        user_id: m.user_id,
        peer_id: m.peer_id,
        msg_id: m.msg_id,
    }
}

pub(crate) fn endpoint_of(e: &DcEntry) -> DcEndpoint {
    DcEndpoint {
        dc: e.dc_id,
        address: e.addr.clone(),
        flags: u32::from(e.flags.0),
        auth_key: e.auth_key.map(AuthKey::new),
        server_salt: e.first_salt,
        time_offset: e.time_offset,
    }
}

pub(crate) fn entry_of(e: &DcEndpoint) -> DcEntry {
    DcEntry {
        dc_id: e.dc,
        addr: e.address.clone(),
        auth_key: e.auth_key.as_ref().map(|k| *k.as_bytes()),
        first_salt: e.server_salt,
        time_offset: e.time_offset,
        flags: DcFlags((e.flags & 0xff) as u8),
    }
}
