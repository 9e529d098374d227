//! `FerogramSession::save` after a save: it compares the new snapshot with the last one it
//! saved (a mirror, kept while only it writes the account's peers) and reads the store only
//! where they differ. Every shape of change, and writes by other fronts between two saves,
//! must still leave the stored peers equal to the snapshot.
#![cfg(feature = "ferogram")]

use std::collections::HashMap;
use std::sync::Arc;

use ferogram_session::{
    CachedPeer, ChannelKind, InMemoryBackend, PersistedSession, SessionBackend,
};
use sessiondb::{FerogramSession, MemoryStore, Peer, PeerKind, Store};

fn user(id: i64, access_hash: i64) -> CachedPeer {
    CachedPeer {
        id,
        access_hash,
        is_channel: false,
        is_chat: false,
        channel_kind: None,
        is_community: false,
    }
}

fn session(peers: Vec<CachedPeer>) -> PersistedSession {
    PersistedSession {
        home_dc_id: 2,
        peers,
        ..PersistedSession::default()
    }
}

/// The peers of a session as a map (later duplicates win, as in ferogram's backends).
fn peers_of(s: &PersistedSession) -> HashMap<i64, (i64, bool, bool, Option<u8>, bool)> {
    s.peers
        .iter()
        .map(|p| {
            let kind = p.channel_kind.map(ChannelKind::to_byte);
            (
                p.id,
                (p.access_hash, p.is_channel, p.is_chat, kind, p.is_community),
            )
        })
        .collect()
}

fn assert_holds(backend: &dyn SessionBackend, want: &PersistedSession, what: &str) {
    let got = backend.load().expect("load").expect("a session");
    assert_eq!(got.peers.len(), peers_of(want).len(), "{what}: peer count");
    assert_eq!(peers_of(&got), peers_of(want), "{what}: peers");
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// One random change to a snapshot kept in a stable order, as ferogram's maps keep it.
fn change(rng: &mut Rng, peers: &mut Vec<CachedPeer>, next_id: &mut i64, twins: bool) {
    let len = peers.len() as u64;
    match rng.below(9) {
        0 | 1 if len > 0 => peers[rng.below(len) as usize].access_hash = rng.below(1 << 40) as i64,
        2 | 3 => {
            *next_id += 1;
            let at = rng.below(len + 1) as usize;
            peers.insert(at, user(*next_id, 7));
        }
        4 if len > 0 => {
            peers.remove(rng.below(len) as usize);
        }
        // A user that turns out to be a channel (another marked id, the same bare id).
        5 if len > 0 => {
            let p = &mut peers[rng.below(len) as usize];
            p.is_channel = true;
            p.channel_kind = Some(ChannelKind::Megagroup);
        }
        // A run of neighbours swapped: the walk has to find its way back.
        6 if len > 8 => {
            let at = rng.below(len - 8) as usize;
            peers[at..at + 8].reverse();
        }
        // The same id twice: the later entry wins.
        7 if twins && len > 0 => {
            let mut twin = peers[rng.below(len) as usize].clone();
            twin.access_hash ^= 1;
            peers.push(twin);
        }
        _ => {}
    }
}

/// Keeps the last entry of every id where it is, as a client's map would hold them.
fn dedup_keep_last(peers: &mut Vec<CachedPeer>) {
    let mut seen = std::collections::HashSet::new();
    peers.reverse();
    peers.retain(|p| seen.insert((p.id, p.is_channel)));
    peers.reverse();
}

fn saves_track_the_snapshot(backend: &FerogramSession) {
    let reference = InMemoryBackend::new();
    let mut rng = Rng(7);
    let mut next_id = 3_000;
    let mut peers: Vec<CachedPeer> = (1..=3_000).map(|i| user(i, i * 11)).collect();
    for round in 0..60 {
        for _ in 0..rng.below(12) {
            change(&mut rng, &mut peers, &mut next_id, round % 10 == 5);
        }
        if round % 20 == 19 {
            peers.reverse();
        }
        let snap = session(peers.clone());
        reference.save(&snap).expect("reference save");
        backend.save(&snap).expect("save");
        let want = reference.load().expect("load").expect("saved");
        assert_holds(backend, &want, &format!("round {round}"));
        dedup_keep_last(&mut peers);
    }
    // Most saves took the short way (all but the first, those after a duplicate and the
    // reversed ones), so the checks above checked it.
    assert!(
        backend.mirrored_saves() >= 30,
        "{} saves used the mirror",
        backend.mirrored_saves()
    );
}

#[test]
fn repeated_saves_on_the_file_store_equal_their_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    saves_track_the_snapshot(&FerogramSession::open(dir.path().join("s")).expect("open"));
}

#[test]
fn repeated_saves_on_the_memory_store_equal_their_snapshots() {
    let store = MemoryStore::new();
    let backend = FerogramSession::from_memory(store, "default").expect("account");
    saves_track_the_snapshot(&backend);
}

#[test]
fn writes_by_another_front_between_two_saves_are_undone_by_the_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path().join("s")).expect("open"));
    let backend = FerogramSession::from_store(store.clone(), "default").expect("account");
    let snap = session((1..=500).map(|i| user(i, i * 3)).collect());
    backend.save(&snap).expect("first save");
    backend
        .save(&snap)
        .expect("second save (the mirror is now in use)");

    // Another front: a new hash and a username for peer 10, peer 20 gone, peer 9999 added.
    let other = store.account("default").expect("account");
    let mut ten = Peer::new(10, PeerKind::User, Some(-1));
    ten.usernames = vec!["tenth".into()];
    other
        .cache_peers(&[ten, Peer::new(9_999, PeerKind::User, Some(5))])
        .expect("cache");
    other.remove_peer(20).expect("remove");

    backend.save(&snap).expect("third save");
    assert_holds(&backend, &snap, "after another front's writes");
    // What only the other front knows of a peer in the snapshot stays with it.
    let ten = other
        .peer_by_username("tenth")
        .expect("lookup")
        .expect("kept");
    assert_eq!((ten.id, ten.access_hash), (10, Some(30)));
}

#[test]
fn a_deleted_session_is_saved_whole_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = FerogramSession::open(dir.path().join("s")).expect("open");
    let snap = session((1..=200).map(|i| user(i, i)).collect());
    backend.save(&snap).expect("save");
    backend.save(&snap).expect("save again");
    backend.delete().expect("delete");
    backend.save(&snap).expect("save after delete");
    assert_holds(&backend, &snap, "after delete");
}
