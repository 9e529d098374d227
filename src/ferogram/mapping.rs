//! ferogram's session values and ours, both ways: peers (bare ids with a type byte ↔ marked
//! ids with a kind) and DC entries (several per DC ↔ one `DataCenter` per DC plus the exact
//! endpoint list).

use ferogram_session::{CachedMinPeer, CachedPeer, ChannelKind, DcEntry, DcFlags};

use crate::error::{Error, Result};
use crate::extras::{DcEndpoint, MinPeerContext};
use crate::ferogram_peer::FeroPeer;
use crate::model::{AuthKey, Peer};

pub(super) fn fero(p: &CachedPeer) -> FeroPeer {
    FeroPeer {
        id: p.id,
        access_hash: p.access_hash,
        is_channel: p.is_channel,
        is_chat: p.is_chat,
        channel_kind: p.channel_kind.map(ChannelKind::to_byte),
        is_community: p.is_community,
    }
}

/// The marked id of a ferogram peer (see [`FeroPeer::marked_id`]); refused outside
/// Telegram's ranges.
pub(crate) fn marked_id(p: &CachedPeer) -> Result<i64> {
    fero(p).marked_id().ok_or_else(|| {
        Error::InvalidArgument(format!("peer id {} is outside Telegram's id ranges", p.id))
    })
}

/// The stored version of a ferogram peer (see [`FeroPeer::to_peer`]).
pub(crate) fn peer_of(p: &CachedPeer, marked: i64, stored: Option<&Peer>) -> Peer {
    fero(p).to_peer(marked, stored)
}

/// The ferogram peer for a stored one (`None` for an id outside the three ranges).
pub(crate) fn cached_of(p: &Peer) -> Option<CachedPeer> {
    let f = FeroPeer::of(p)?;
    Some(CachedPeer {
        id: f.id,
        access_hash: f.access_hash,
        is_channel: f.is_channel,
        is_chat: f.is_chat,
        channel_kind: f.channel_kind.and_then(ChannelKind::from_byte),
        is_community: f.is_community,
    })
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
