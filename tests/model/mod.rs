//! A reference model of one store, written independently of the engine: plain maps and the
//! rules of docs/design.md (update-state groups, the holder written last keeps a username or
//! phone, a `min` hash never replaces a full one), and a random operation generator.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use sessiondb::{Account, DataCenter, Peer, PeerKind, Store, UpdateState, UpdateStateChange};

#[path = "../common/rng.rs"]
mod rng;
pub use rng::Rng;

pub const ACCOUNTS: [&str; 2] = ["a", "b"];
pub const NAMES: [&str; 6] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];

/// One operation as the driver issues it.
#[derive(Clone, Debug)]
pub enum Op {
    State(usize, UpdateStateChange),
    SetDc(usize, DataCenter),
    RemoveDc(usize, i32),
    Peers(usize, Vec<Peer>, bool),
    RemovePeer(usize, i64),
    Delete(usize),
    Checkpoint,
    Flush,
}

impl Op {
    /// Whether its acknowledgement makes everything before it durable.
    pub fn syncs(&self) -> bool {
        !matches!(self, Op::Peers(_, _, false) | Op::RemovePeer(..))
    }
}

fn random_peer(rng: &mut Rng) -> Peer {
    let id = rng.below(40) as i64 + 1;
    let kind = if rng.chance(10) {
        PeerKind::UserUnknown
    } else {
        PeerKind::User
    };
    let hash = if rng.chance(10) {
        None
    } else {
        Some(rng.next() as i64)
    };
    let mut p = Peer::new(id, kind, hash);
    p.min = rng.chance(20);
    if rng.chance(50) {
        p.usernames = vec![NAMES[rng.below(NAMES.len() as u64) as usize].to_uppercase()];
    }
    if rng.chance(30) {
        p.phone = Some(format!("+1 {}", rng.below(4)));
    }
    p.name = Some(format!("n{}", rng.below(1000)));
    if rng.chance(5) {
        p.is_self = Some(true);
    }
    p
}

pub fn random_op(rng: &mut Rng) -> Op {
    let acc = if rng.chance(80) { 0 } else { 1 };
    match rng.below(100) {
        0..=29 => {
            let v = rng.below(1_000_000) as i32;
            let change = match rng.below(4) {
                0 => UpdateStateChange::All(UpdateState {
                    pts: v,
                    qts: v + 1,
                    date: v + 2,
                    seq: v + 3,
                }),
                1 => UpdateStateChange::Primary {
                    pts: v,
                    date: v + 2,
                    seq: v + 3,
                },
                2 => UpdateStateChange::Secondary { qts: v },
                _ => UpdateStateChange::Channel {
                    id: rng.below(5) as i64,
                    pts: v,
                },
            };
            Op::State(acc, change)
        }
        30..=39 => {
            let mut dc = DataCenter::new(rng.below(5) as i32 + 1);
            dc.server_salt = rng.next() as i64;
            let mut key = [0u8; 256];
            key.iter_mut().for_each(|b| *b = rng.next() as u8);
            dc.auth_key = Some(sessiondb::AuthKey::new(key));
            Op::SetDc(acc, dc)
        }
        40..=43 => Op::RemoveDc(acc, rng.below(5) as i32 + 1),
        44..=79 => {
            let n = rng.below(12) + 1;
            let peers = (0..n).map(|_| random_peer(rng)).collect();
            Op::Peers(acc, peers, rng.chance(25))
        }
        80..=87 => Op::RemovePeer(acc, rng.below(40) as i64 + 1),
        88..=89 => Op::Delete(1),
        90..=94 => Op::Checkpoint,
        _ => Op::Flush,
    }
}

/// Applies `op` through the store's API.
pub fn issue(store: &Store, op: &Op) -> sessiondb::Result<()> {
    let acc = |i: usize| -> sessiondb::Result<Account> { store.account(ACCOUNTS[i]) };
    match op {
        Op::State(a, c) => acc(*a)?.set_update_state(*c),
        Op::SetDc(a, dc) => acc(*a)?.set_dc(dc.clone()),
        Op::RemoveDc(a, id) => acc(*a)?.remove_dc(*id),
        Op::Peers(a, peers, durable) => {
            let d = if *durable {
                sessiondb::Durability::Durable
            } else {
                sessiondb::Durability::Buffered
            };
            acc(*a)?.cache_peers_with(peers, d)
        }
        Op::RemovePeer(a, id) => acc(*a)?.remove_peer(*id),
        Op::Delete(a) => store.delete_account(ACCOUNTS[*a]),
        Op::Checkpoint => store.checkpoint().map(drop),
        Op::Flush => store.flush(),
    }
}

/// What one account holds, as compared between store and model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountState {
    pub dcs: BTreeMap<i32, DataCenter>,
    pub state: Option<UpdateState>,
    pub channels: BTreeMap<i64, i32>,
    /// Peers with `updated_at` zeroed.
    pub peers: BTreeMap<i64, Peer>,
    pub self_id: Option<i64>,
}

/// The whole model: accounts that exist and their state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub accounts: BTreeMap<String, AccountState>,
}

fn normalize(p: &Peer) -> Peer {
    let mut p = p.clone();
    p.usernames = p
        .usernames
        .iter()
        .map(|u| u.trim_start_matches('@').to_ascii_lowercase())
        .collect();
    let mut seen = BTreeSet::new();
    p.usernames.retain(|u| seen.insert(u.clone()));
    p.phone = p
        .phone
        .map(|ph| ph.chars().filter(char::is_ascii_digit).collect());
    p.updated_at = 0;
    p
}

fn is_channel(k: PeerKind) -> bool {
    matches!(
        k,
        PeerKind::Channel
            | PeerKind::Megagroup
            | PeerKind::Gigagroup
            | PeerKind::Community
            | PeerKind::ChannelUnknown
    )
}

impl Model {
    fn acc(&mut self, i: usize) -> &mut AccountState {
        self.accounts.entry(ACCOUNTS[i].to_owned()).or_default()
    }

    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::State(a, c) => {
                let acc = self.acc(*a);
                if let UpdateStateChange::Channel { id, pts } = c {
                    acc.channels.insert(*id, *pts);
                } else {
                    let mut s = acc.state.unwrap_or_default();
                    match *c {
                        UpdateStateChange::All(all) => s = all,
                        UpdateStateChange::Primary { pts, date, seq } => {
                            s.pts = pts;
                            s.date = date;
                            s.seq = seq;
                        }
                        UpdateStateChange::Secondary { qts } => s.qts = qts,
                        UpdateStateChange::Channel { .. } => {}
                    }
                    acc.state = Some(s);
                }
            }
            Op::SetDc(a, dc) => {
                self.acc(*a).dcs.insert(dc.id, dc.clone());
            }
            Op::RemoveDc(a, id) => {
                self.acc(*a).dcs.remove(id);
            }
            Op::Peers(a, peers, _) => {
                let acc = self.acc(*a);
                for p in peers {
                    cache(acc, normalize(p));
                }
            }
            Op::RemovePeer(a, id) => {
                let acc = self.acc(*a);
                acc.peers.remove(id);
                if acc.self_id == Some(*id) {
                    acc.self_id = None;
                }
            }
            Op::Delete(a) => {
                self.accounts.remove(ACCOUNTS[*a]);
            }
            Op::Checkpoint | Op::Flush => {}
        }
    }
}

fn cache(acc: &mut AccountState, mut p: Peer) {
    if let Some(old) = acc.peers.get(&p.id) {
        let old_full = old.access_hash.is_some() && !old.min;
        if p.access_hash.is_none() || (p.min && old_full) {
            p.access_hash = old.access_hash;
            p.min = old.min;
        }
        if p.is_self.is_none() {
            p.is_self = old.is_self;
        }
        if (p.kind == PeerKind::UserUnknown && old.kind.is_user())
            || (p.kind == PeerKind::ChannelUnknown && is_channel(old.kind))
        {
            p.kind = old.kind;
        }
    }
    for other in acc.peers.values_mut().filter(|o| o.id != p.id) {
        other.usernames.retain(|u| !p.usernames.contains(u));
        if p.phone.is_some() && other.phone == p.phone {
            other.phone = None;
        }
    }
    match p.is_self {
        Some(true) => acc.self_id = Some(p.id),
        Some(false) if acc.self_id == Some(p.id) => acc.self_id = None,
        _ => {}
    }
    acc.peers.insert(p.id, p);
}

/// Reads everything the model knows about from the store.
pub fn read_store(store: &Store) -> sessiondb::Result<Model> {
    let mut model = Model::default();
    for name in store.accounts()? {
        let acc = store.account(&name)?;
        let mut peers = BTreeMap::new();
        for mut p in acc.peers(None, usize::MAX)? {
            p.updated_at = 0;
            peers.insert(p.id, p);
        }
        // The indexes must agree with the peers' own lists.
        for n in NAMES {
            let holder = peers
                .values()
                .find(|p| p.usernames.iter().any(|u| u == n))
                .map(|p| p.id);
            assert_eq!(
                acc.peer_by_username(n)?.map(|p| p.id),
                holder,
                "username index of {n}"
            );
        }
        for ph in 0..4 {
            let phone = format!("1{ph}");
            let holder = peers
                .values()
                .find(|p| p.phone.as_deref() == Some(&phone))
                .map(|p| p.id);
            assert_eq!(
                acc.peer_by_phone(&phone)?.map(|p| p.id),
                holder,
                "phone index of {phone}"
            );
        }
        assert_eq!(
            acc.peer_count()?,
            peers.len() as u64,
            "peer count of {name}"
        );
        let state = AccountState {
            dcs: acc.dcs()?.into_iter().map(|d| (d.id, d)).collect(),
            state: acc.update_state()?,
            channels: acc.channels()?,
            self_id: acc.self_user()?.map(|p| p.id),
            peers,
        };
        model.accounts.insert(name, state);
    }
    Ok(model)
}
