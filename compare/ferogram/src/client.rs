//! A client's peer cache as ferogram keeps it (hash maps, iterated in their own order when
//! ferogram builds a snapshot), with deterministic churn.

use std::collections::HashMap;

use ferogram_session::{
    CachedMinPeer, CachedPeer, ChannelKind, DcEntry, DcFlags, PersistedSession, UpdatesStateSnap,
};

pub struct Client {
    users: HashMap<i64, i64>,
    channels: HashMap<i64, i64>,
    next: u64,
    turn: u64,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl Client {
    pub fn with_peers(n: usize) -> Client {
        let mut c = Client {
            users: HashMap::new(),
            channels: HashMap::new(),
            next: 0,
            turn: 0,
        };
        for _ in 0..n {
            c.add();
        }
        c
    }

    /// One peer in ten a channel, the rest users.
    fn add(&mut self) {
        let i = self.next;
        self.next += 1;
        let hash = mix(i) as i64;
        if i % 10 == 9 {
            self.channels.insert(1_000_000_000 + i as i64, hash);
        } else {
            self.users.insert(1 + i as i64, hash);
        }
    }

    /// `changes` peers changed: half get a new hash, half are new.
    pub fn churn(&mut self, changes: usize) {
        self.turn += 1;
        for k in 0..changes / 2 {
            let i = mix(self.turn << 32 | k as u64) % self.next;
            let hash = mix(i ^ self.turn << 40) as i64;
            if i % 10 == 9 {
                self.channels.insert(1_000_000_000 + i as i64, hash);
            } else {
                self.users.insert(1 + i as i64, hash);
            }
        }
        for _ in 0..changes - changes / 2 {
            self.add();
        }
    }

    pub fn snapshot(&self) -> PersistedSession {
        let mut peers = Vec::with_capacity(self.users.len() + self.channels.len());
        peers.extend(self.users.iter().map(|(&id, &access_hash)| CachedPeer {
            id,
            access_hash,
            is_channel: false,
            is_chat: false,
            channel_kind: None,
            is_community: false,
        }));
        peers.extend(self.channels.iter().map(|(&id, &access_hash)| CachedPeer {
            id,
            access_hash,
            is_channel: true,
            is_chat: false,
            channel_kind: Some(if id % 2 == 0 {
                ChannelKind::Megagroup
            } else {
                ChannelKind::Broadcast
            }),
            is_community: false,
        }));
        let dc = |dc_id: i32, addr: &str, key: bool| DcEntry {
            dc_id,
            addr: addr.into(),
            auth_key: key.then(|| std::array::from_fn(|i| (i * 7 + 3) as u8)),
            first_salt: if key { 42 } else { 0 },
            time_offset: 0,
            flags: DcFlags::NONE,
        };
        PersistedSession {
            home_dc_id: 2,
            dcs: vec![
                dc(1, "149.154.175.53:443", false),
                dc(2, "149.154.167.51:443", true),
                dc(4, "149.154.167.91:443", false),
            ],
            updates_state: UpdatesStateSnap {
                pts: 1000 + self.turn as i32,
                qts: 5,
                date: 1_700_000_000,
                seq: 7,
                channels: vec![(1_000_000_009, 77)],
            },
            peers,
            min_peers: vec![CachedMinPeer {
                user_id: 5,
                peer_id: 1_000_000_009,
                msg_id: 9,
            }],
            future_auth_token: None,
        }
    }
}

/// Whether `got` holds the peers of `want` (as sets) and its pts; if not, what differs.
pub fn differs(want: &PersistedSession, got: Option<&PersistedSession>) -> Option<String> {
    let Some(got) = got else {
        return Some("loaded no session".into());
    };
    let key = |p: &CachedPeer| {
        (
            p.id,
            p.is_channel,
            p.access_hash,
            p.channel_kind.map(|k| k.to_byte()),
        )
    };
    let mut a: Vec<_> = want.peers.iter().map(key).collect();
    let mut b: Vec<_> = got.peers.iter().map(key).collect();
    a.sort_unstable();
    b.sort_unstable();
    if a != b {
        return Some(format!("loaded {} of {} peers saved", b.len(), a.len()));
    }
    (want.updates_state.pts != got.updates_state.pts).then(|| "loaded another pts".into())
}
