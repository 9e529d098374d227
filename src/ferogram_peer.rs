//! ferogram's peer and ours, both ways, for the adapter (feature `ferogram`) and the binary
//! format (feature `formats`): ferogram keeps a bare id, its hash and what the peer is (a
//! chat, a community, a channel of some kind, else a user); sessiondb a marked id and a kind.

use crate::model::{Peer, PeerKind};

/// Marked channel ids are `-(CHANNEL_MARK + bare id)`, as the Bot API writes them.
const CHANNEL_MARK: i64 = 1_000_000_000_000;

/// A peer as ferogram keeps it (`CachedPeer`, or one entry of its binary session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FeroPeer {
    pub id: i64,
    pub access_hash: i64,
    pub is_channel: bool,
    pub is_chat: bool,
    /// ferogram's channel-kind byte: 0 broadcast, 1 megagroup, 2 gigagroup; `None` unknown.
    pub channel_kind: Option<u8>,
    pub is_community: bool,
}

impl FeroPeer {
    /// The marked id: a chat wins over a community, a community over a channel (the order
    /// ferogram's binary format writes its type byte in). `None` outside Telegram's ranges.
    pub fn marked_id(&self) -> Option<i64> {
        if self.id <= 0 {
            return None;
        }
        if self.is_chat {
            Some(-self.id)
        } else if self.is_community || self.is_channel {
            self.id.checked_add(CHANNEL_MARK).map(|m| -m)
        } else {
            Some(self.id)
        }
    }

    fn kind(&self) -> PeerKind {
        if self.is_chat {
            PeerKind::BasicGroup
        } else if self.is_community {
            PeerKind::Community
        } else if self.is_channel {
            match self.channel_kind {
                Some(0) => PeerKind::Channel,
                Some(1) => PeerKind::Megagroup,
                Some(2) => PeerKind::Gigagroup,
                _ => PeerKind::ChannelUnknown,
            }
        } else {
            PeerKind::UserUnknown
        }
    }

    /// Our peer at `marked`: `stored` (what the store holds there, so names and phones
    /// other fronts cached stay) with ferogram's hash and kind. A chat's hash 0 means none;
    /// every other hash is kept as given. A known bot-ness stays (ferogram has none).
    pub fn to_peer(self, marked: i64, stored: Option<&Peer>) -> Peer {
        let kind = self.kind();
        let hash =
            (kind != PeerKind::BasicGroup || self.access_hash != 0).then_some(self.access_hash);
        let mut peer = match stored {
            Some(s) => s.clone(),
            None => Peer::new(marked, kind, hash),
        };
        if !(kind == PeerKind::UserUnknown && peer.kind.is_user()) {
            peer.kind = kind;
        }
        peer.access_hash = hash;
        peer.min = false;
        peer
    }

    /// ferogram's peer for one of ours (`None` for an id outside the three ranges); a
    /// community is written as ferogram's client writes it, not as a channel.
    pub fn of(p: &Peer) -> Option<FeroPeer> {
        let mut out = FeroPeer {
            id: 0,
            access_hash: p.access_hash.unwrap_or(0),
            is_channel: false,
            is_chat: false,
            channel_kind: None,
            is_community: false,
        };
        if p.kind.is_user() {
            out.id = p.id;
        } else if p.kind == PeerKind::BasicGroup {
            out.id = p.id.checked_neg()?;
            out.is_chat = true;
        } else {
            out.id = p.id.checked_neg()?.checked_sub(CHANNEL_MARK)?;
            match p.kind {
                PeerKind::Community => out.is_community = true,
                kind => {
                    out.is_channel = true;
                    out.channel_kind = match kind {
                        PeerKind::Channel => Some(0),
                        PeerKind::Megagroup => Some(1),
                        PeerKind::Gigagroup => Some(2),
                        _ => None,
                    };
                }
            }
        }
        (out.id > 0).then_some(out)
    }
}
