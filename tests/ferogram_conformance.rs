//! `FerogramSession` answers exactly as ferogram-session's own `InMemoryBackend` for the same
//! calls: a scripted client session, and random sequences of 60 calls on the file store
//! (with reopens) and on the memory store, comparing every `load`.
//!
//! Peers are compared as a set (ferogram keeps a list in insertion order; the store keeps
//! its cache by id), and so are channel pts and min-peer contexts; DC entries in order.
//! One documented difference is kept out of the sequences: a user, a chat and a channel
//! with the same bare id are three peers here, while `InMemoryBackend::cache_peer` matches
//! by bare id alone. The peer pools are disjoint.
#![cfg(feature = "ferogram")]

#[path = "common/rng.rs"]
mod rng;

use std::sync::Arc;

use ferogram_session::{
    CachedMinPeer, CachedPeer, ChannelKind, DcEntry, DcFlags, InMemoryBackend, PersistedSession,
    SessionBackend, UpdateStateChange, UpdatesStateSnap,
};
use rng::Rng;
use sessiondb::{FerogramSession, MemoryStore, Store};

type PeerRow = (i64, i64, bool, bool, Option<u8>, bool);
type DcRow = (i32, String, Option<Vec<u8>>, i64, i32, u8);

/// A session in a form that compares (ferogram's types do not derive `PartialEq`).
#[derive(PartialEq)]
struct Comparable {
    home: i32,
    dcs: Vec<DcRow>,
    state: (i32, i32, i32, i32),
    channels: Vec<(i64, i32)>,
    peers: Vec<PeerRow>,
    min_peers: Vec<(i64, i64, i32)>,
    token: Option<Vec<u8>>,
}

fn comparable(s: &PersistedSession) -> Comparable {
    let mut peers: Vec<PeerRow> = s
        .peers
        .iter()
        .map(|p| {
            let kind = p.channel_kind.map(ChannelKind::to_byte);
            (
                p.id,
                p.access_hash,
                p.is_channel,
                p.is_chat,
                kind,
                p.is_community,
            )
        })
        .collect();
    peers.sort();
    let mut channels = s.updates_state.channels.clone();
    channels.sort();
    let mut min_peers: Vec<_> = s
        .min_peers
        .iter()
        .map(|m| (m.user_id, m.peer_id, m.msg_id))
        .collect();
    min_peers.sort();
    let u = &s.updates_state;
    Comparable {
        home: s.home_dc_id,
        dcs: s
            .dcs
            .iter()
            .map(|d| {
                let key = d.auth_key.map(|k| k.to_vec());
                (
                    d.dc_id,
                    d.addr.clone(),
                    key,
                    d.first_salt,
                    d.time_offset,
                    d.flags.0,
                )
            })
            .collect(),
        state: (u.pts, u.qts, u.date, u.seq),
        channels,
        peers,
        min_peers,
        token: s.future_auth_token.clone(),
    }
}

/// Which part differs (never the values: they hold keys).
fn difference(a: &Option<PersistedSession>, b: &Option<PersistedSession>) -> Option<&'static str> {
    match (a, b) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => Some("existence"),
        (Some(a), Some(b)) => {
            let (a, b) = (comparable(a), comparable(b));
            [
                (a.home != b.home, "home DC"),
                (a.dcs != b.dcs, "DC entries"),
                (a.state != b.state, "update state"),
                (a.channels != b.channels, "channel pts"),
                (a.peers != b.peers, "peers"),
                (a.min_peers != b.min_peers, "min peers"),
                (a.token != b.token, "login token"),
            ]
            .into_iter()
            .find_map(|(differs, what)| differs.then_some(what))
        }
    }
}

/// Disjoint bare-id pools per kind (see the module comment).
fn random_peer(rng: &mut Rng) -> CachedPeer {
    let hash = if rng.chance(10) { 0 } else { rng.next() as i64 };
    let mut p = CachedPeer {
        id: 0,
        access_hash: hash,
        is_channel: false,
        is_chat: false,
        channel_kind: None,
        is_community: false,
    };
    match rng.below(4) {
        0 => p.id = 1 + rng.below(60) as i64,
        1 => {
            p.id = 1_000 + rng.below(20) as i64;
            p.is_chat = true;
            p.access_hash = 0;
        }
        2 => {
            p.id = 2_000 + rng.below(40) as i64;
            p.is_channel = true;
            p.channel_kind = match rng.below(4) {
                0 => None,
                k => ChannelKind::from_byte(k as u8 - 1),
            };
        }
        _ => {
            p.id = 3_000 + rng.below(10) as i64;
            p.is_community = true;
        }
    }
    p
}

fn random_entry(rng: &mut Rng) -> DcEntry {
    let id = 1 + rng.below(5) as i32;
    let ipv6 = rng.chance(30);
    let mut flags = if ipv6 { DcFlags::IPV6 } else { DcFlags::NONE };
    if rng.chance(25) {
        flags.set(DcFlags::MEDIA_ONLY);
    }
    let mut e = if ipv6 {
        DcEntry::from_parts(id, &format!("2001:b28:f23d:f00{id}::a"), 443, flags)
    } else {
        DcEntry::from_parts(id, &format!("149.154.175.{}", 50 + id), 443, flags)
    };
    if rng.chance(80) {
        let mut key = [0u8; 256];
        key.iter_mut().for_each(|b| *b = rng.next() as u8);
        e.auth_key = Some(key);
    }
    e.first_salt = rng.next() as i64;
    e.time_offset = rng.below(20) as i32 - 10;
    e
}

fn random_change(rng: &mut Rng) -> UpdateStateChange {
    match rng.below(4) {
        0 => {
            // ferogram builds the list from a map: one entry per channel.
            let mut channels: Vec<(i64, i32)> = (0..rng.below(4))
                .map(|_| (2_000 + rng.below(40) as i64, rng.below(500) as i32))
                .collect();
            channels.sort_by_key(|c| c.0);
            channels.dedup_by_key(|c| c.0);
            UpdateStateChange::All(UpdatesStateSnap {
                pts: rng.below(10_000) as i32,
                qts: rng.below(100) as i32,
                date: rng.below(1 << 30) as i32,
                seq: rng.below(1000) as i32,
                channels,
            })
        }
        1 => UpdateStateChange::Primary {
            pts: rng.below(10_000) as i32,
            date: rng.below(1 << 30) as i32,
            seq: rng.below(1000) as i32,
        },
        2 => UpdateStateChange::Secondary {
            qts: rng.below(100) as i32,
        },
        _ => UpdateStateChange::Channel {
            id: 2_000 + rng.below(40) as i64,
            pts: rng.below(500) as i32,
        },
    }
}

/// The next snapshot a client would save: the current session with a few changes (new and
/// changed peers, a dropped one, DCs, state, min peers, token), as ferogram builds it from
/// its maps (no duplicate ids).
fn next_snapshot(rng: &mut Rng, current: Option<PersistedSession>) -> PersistedSession {
    let mut s = current.unwrap_or_default();
    if rng.chance(20) {
        s.home_dc_id = 1 + rng.below(5) as i32;
    }
    for _ in 0..rng.below(6) {
        let p = random_peer(rng);
        let same = |q: &CachedPeer| q.id == p.id;
        match s.peers.iter_mut().find(|q| same(q)) {
            Some(q) => *q = p,
            None => s.peers.push(p),
        }
    }
    if rng.chance(30) && !s.peers.is_empty() {
        let i = rng.below(s.peers.len() as u64) as usize;
        s.peers.remove(i);
    }
    if rng.chance(30) {
        let e = random_entry(rng);
        match s
            .dcs
            .iter_mut()
            .find(|d| d.dc_id == e.dc_id && d.flags == e.flags)
        {
            Some(d) => *d = e,
            None => s.dcs.push(e),
        }
    }
    if rng.chance(10) && !s.dcs.is_empty() {
        s.dcs.remove(0);
    }
    if rng.chance(40) {
        random_change(rng).apply_to(&mut s.updates_state);
    }
    if rng.chance(30) {
        let user_id = 1 + rng.below(60) as i64;
        s.min_peers.retain(|m| m.user_id != user_id);
        if rng.chance(70) {
            s.min_peers.push(CachedMinPeer {
                user_id,
                peer_id: 2_000 + rng.below(40) as i64,
                msg_id: rng.below(100_000) as i32,
            });
        }
    }
    if rng.chance(15) {
        s.future_auth_token = match rng.below(3) {
            0 => None,
            n => Some((0..n * 16).map(|_| rng.next() as u8).collect()),
        };
    }
    s
}

/// How the tested backend is made (and remade, for a reopen).
enum Under {
    File(tempfile::TempDir),
    Memory(MemoryStore),
}

impl Under {
    fn open(&self) -> Arc<dyn SessionBackend> {
        match self {
            Under::File(dir) => {
                let store = Arc::new(Store::open(dir.path().join("s")).expect("open"));
                Arc::new(FerogramSession::from_store(store, "default").expect("account"))
            }
            Under::Memory(m) => {
                Arc::new(FerogramSession::from_memory(m.clone(), "default").expect("account"))
            }
        }
    }
}

/// One call of a random sequence, applied to both backends.
fn step(rng: &mut Rng, reference: &InMemoryBackend, tested: &dyn SessionBackend) -> String {
    let both = |f: &dyn Fn(&dyn SessionBackend) -> std::io::Result<()>| {
        f(reference).expect("reference");
        f(tested).expect("sessiondb");
    };
    match rng.below(100) {
        0..=24 => {
            let snap = next_snapshot(rng, reference.load().expect("load"));
            both(&|b| b.save(&snap));
            "save".into()
        }
        25..=39 => {
            let e = random_entry(rng);
            both(&|b| b.update_dc(&e));
            "update_dc".into()
        }
        40..=44 => {
            let dc = 1 + rng.below(5) as i32;
            both(&|b| b.set_home_dc(dc));
            "set_home_dc".into()
        }
        45..=69 => {
            let c = random_change(rng);
            both(&|b| b.apply_update_state(c.clone()));
            "apply_update_state".into()
        }
        70..=96 => {
            let p = random_peer(rng);
            both(&|b| b.cache_peer(&p));
            "cache_peer".into()
        }
        _ => {
            both(&|b| b.delete());
            "delete".into()
        }
    }
}

/// Runs one random sequence; `Err` names the first call after which the answers differ.
fn run_sequence(seed: u64, under: &Under, calls: usize) -> Result<(), String> {
    let mut rng = Rng(seed);
    let reference = InMemoryBackend::new();
    let mut tested = under.open();
    for i in 0..calls {
        let what = step(&mut rng, &reference, tested.as_ref());
        if matches!(under, Under::File(_)) && rng.chance(10) {
            drop(tested);
            tested = under.open();
        }
        let expected = reference.load().expect("reference load");
        let got = tested.load().expect("sessiondb load");
        if let Some(part) = difference(&expected, &got) {
            return Err(format!("seed {seed}, call {i} ({what}): {part} differ"));
        }
    }
    Ok(())
}

#[test]
fn random_sequences_on_the_file_store_answer_as_ferograms_in_memory_backend() {
    for seed in 0..20 {
        let under = Under::File(tempfile::tempdir().expect("tempdir"));
        run_sequence(0xfe20 + seed, &under, 60).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn random_sequences_on_the_memory_store_answer_as_ferograms_in_memory_backend() {
    for seed in 0..20 {
        let under = Under::Memory(MemoryStore::new());
        run_sequence(0xa11 + seed, &under, 60).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A client's life: log in on DC 2 after a migrate from DC 4, learn peers and media DCs,
/// save, move pts, log out with a token, reopen and read it all back.
#[test]
fn a_scripted_client_session_round_trips_through_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let under = Under::File(dir);
    let reference = InMemoryBackend::new();
    let tested = under.open();
    let both = |f: &dyn Fn(&dyn SessionBackend) -> std::io::Result<()>| {
        f(&reference).expect("reference");
        f(tested.as_ref()).expect("sessiondb");
    };
    let mut rng = Rng(7);
    let mut main = DcEntry::from_parts(4, "149.154.167.91", 443, DcFlags::NONE);
    both(&|b| b.update_dc(&main));
    both(&|b| b.set_home_dc(4));
    main = DcEntry::from_parts(2, "149.154.167.51", 443, DcFlags::NONE);
    main.auth_key = Some([9; 256]);
    main.first_salt = 77;
    both(&|b| b.update_dc(&main));
    both(&|b| b.set_home_dc(2));
    let media = DcEntry::from_parts(2, "149.154.167.222", 443, DcFlags::MEDIA_ONLY);
    let v6 = DcEntry::from_parts(2, "2001:67c:4e8:f002::a", 443, DcFlags::IPV6);
    both(&|b| b.update_dc(&media));
    both(&|b| b.update_dc(&v6));
    let mut snap = reference.load().expect("load").expect("some");
    for _ in 0..50 {
        snap.peers.push(random_peer(&mut rng));
    }
    snap.peers
        .sort_by_key(|p| (p.is_chat, p.is_channel, p.is_community, p.id));
    snap.peers
        .dedup_by_key(|p| (p.is_chat, p.is_channel, p.is_community, p.id));
    both(&|b| b.save(&snap));
    for pts in 1..=20 {
        let change = UpdateStateChange::Primary {
            pts,
            date: 1_700_000_000 + pts,
            seq: pts,
        };
        both(&|b| b.apply_update_state(change.clone()));
    }
    both(&|b| b.apply_update_state(UpdateStateChange::Channel { id: 2_001, pts: 5 }));
    let mut snap = reference.load().expect("load").expect("some");
    snap.future_auth_token = Some(vec![1, 2, 3]);
    snap.min_peers.push(CachedMinPeer {
        user_id: 42,
        peer_id: 2_001,
        msg_id: 9,
    });
    both(&|b| b.save(&snap));
    drop(tested);
    let reopened = under.open();
    let expected = reference.load().expect("load");
    let got = reopened.load().expect("load");
    assert_eq!(difference(&expected, &got), None);
    let got = got.expect("some");
    assert_eq!(
        got.dcs.len(),
        3,
        "main, media and IPv6 entries of DC 2 and DC 4's"
    );
}

/// A backend that breaks one mapping, to show the comparison catches it.
struct Broken {
    inner: Box<dyn SessionBackend>,
    how: u8,
}

impl SessionBackend for Broken {
    fn save(&self, s: &PersistedSession) -> std::io::Result<()> {
        let mut s = s.clone();
        if self.how == 0 {
            s.min_peers.clear();
        }
        self.inner.save(&s)
    }
    fn load(&self) -> std::io::Result<Option<PersistedSession>> {
        self.inner.load()
    }
    fn delete(&self) -> std::io::Result<()> {
        self.inner.delete()
    }
    fn name(&self) -> &str {
        "broken"
    }
    fn update_dc(&self, e: &DcEntry) -> std::io::Result<()> {
        let mut e = e.clone();
        if self.how == 1 {
            e.flags = DcFlags::NONE;
        }
        self.inner.update_dc(&e)
    }
    fn set_home_dc(&self, dc: i32) -> std::io::Result<()> {
        self.inner.set_home_dc(dc)
    }
    fn apply_update_state(&self, c: UpdateStateChange) -> std::io::Result<()> {
        match c {
            UpdateStateChange::Secondary { qts } if self.how == 2 => self
                .inner
                .apply_update_state(UpdateStateChange::Secondary { qts: qts + 1 }),
            c => self.inner.apply_update_state(c),
        }
    }
    fn cache_peer(&self, p: &CachedPeer) -> std::io::Result<()> {
        let mut p = p.clone();
        if self.how == 3 {
            p.channel_kind = None;
        }
        self.inner.cache_peer(&p)
    }
}

#[test]
fn the_comparison_catches_a_broken_mapping() {
    for how in 0..4u8 {
        let caught = (0..20).any(|seed| {
            let mut rng = Rng(0xb0 + seed);
            let reference = InMemoryBackend::new();
            let store = MemoryStore::new();
            let tested = Broken {
                inner: Box::new(FerogramSession::from_memory(store, "default").expect("account")),
                how,
            };
            (0..60).any(|_| {
                step(&mut rng, &reference, &tested);
                let expected = reference.load().expect("load");
                difference(&expected, &tested.load().expect("load")).is_some()
            })
        });
        assert!(caught, "broken mapping {how} went unnoticed");
    }
}
