//! The peer access-hash cache: scale, username moves, the min rule, normalisation, switches.

mod common;

use common::peer;
use sessiondb::{Durability, Options, Peer, PeerKind, Store};

fn batch(ids: std::ops::Range<i64>) -> Vec<Peer> {
    ids.map(peer).collect()
}

#[test]
fn more_than_65535_peers_survive_reopen_whether_checkpointed_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let n = 120_000;
    {
        let store = Store::open(&path).unwrap();
        let acc = store.default_account();
        for start in (0..n).step_by(200) {
            acc.cache_peers(&batch(start..start + 200)).unwrap();
            if start == 60_000 {
                store.checkpoint().unwrap(); // half in the index, half in the log
            }
        }
        assert_eq!(acc.peer_count().unwrap(), n as u64);
        store.flush().unwrap();
        drop(store);
    }
    let store = Store::open(&path).unwrap();
    assert!(store.recovery().records_replayed > 100);
    let acc = store.default_account();
    assert_eq!(acc.peer_count().unwrap(), n as u64);
    for id in [0, 1, 65_535, 65_536, 65_537, 100_000, n - 1] {
        let got = acc
            .peer(id)
            .unwrap()
            .unwrap_or_else(|| panic!("peer {id} lost"));
        assert!(common::same_peer(&peer(id), &got));
    }
    assert_eq!(
        acc.peer_by_username("user99999").unwrap().map(|p| p.id),
        Some(99_999)
    );
    // Iterating pages through index and overlay together yields every id once, in order.
    let mut seen = 0i64;
    let mut after = None;
    loop {
        let page = acc.peers(after, 7_000).unwrap();
        if page.is_empty() {
            break;
        }
        for p in &page {
            assert_eq!(p.id, seen);
            seen += 1;
        }
        after = page.last().map(|p| p.id);
    }
    assert_eq!(seen, n);
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.default_account().peer_count().unwrap(), n as u64);
}

#[test]
fn a_username_moves_to_the_peer_written_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    let mut a = peer(1);
    a.usernames = vec!["Shared".into(), "only_a".into()];
    acc.cache_peers(&[a]).unwrap();
    store.checkpoint().unwrap(); // the old holder is in the index
    let mut b = peer(2);
    b.usernames = vec!["shared".into()];
    acc.cache_peers(&[b]).unwrap();
    let check = |acc: &sessiondb::Account| {
        assert_eq!(
            acc.peer_by_username("SHARED").unwrap().map(|p| p.id),
            Some(2)
        );
        assert_eq!(
            acc.peer(1).unwrap().unwrap().usernames,
            vec!["only_a".to_owned()]
        );
        assert_eq!(
            acc.peer_by_username("only_a").unwrap().map(|p| p.id),
            Some(1)
        );
    };
    check(&acc);
    // A rename drops the old name from the index.
    let mut a2 = peer(1);
    a2.usernames = vec!["renamed".into()];
    acc.cache_peers(&[a2]).unwrap();
    assert_eq!(acc.peer_by_username("only_a").unwrap(), None);
    assert_eq!(
        acc.peer_by_username("renamed").unwrap().map(|p| p.id),
        Some(1)
    );
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    assert_eq!(
        acc.peer_by_username("shared").unwrap().map(|p| p.id),
        Some(2)
    );
    assert_eq!(acc.peer_by_username("only_a").unwrap(), None);
    assert_eq!(
        acc.peer_by_username("renamed").unwrap().map(|p| p.id),
        Some(1)
    );
}

/// Lookups by username go through in-memory hints (name → id) that are never updated at
/// checkpoints: a hint left stale by a move, a rename, a removal or a re-cache must never
/// give a wrong answer, before or after checkpoints and reopens.
#[test]
fn stale_username_hints_never_answer_wrongly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hints");
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    let named = |id: i64, names: &[&str]| {
        let mut p = peer(id);
        p.usernames = names.iter().map(|n| n.to_string()).collect();
        p
    };
    let holder = |name: &str| acc.peer_by_username(name).unwrap().map(|p| p.id);
    acc.cache_peers(&[named(1, &["x"]), named(2, &["y"])])
        .unwrap();
    store.checkpoint().unwrap();
    assert_eq!(holder("x"), Some(1)); // the hint x → 1 is now set
    // The name moves; the hint still says 1.
    acc.cache_peers(&[named(3, &["x"])]).unwrap();
    assert_eq!(holder("x"), Some(3));
    store.checkpoint().unwrap();
    assert_eq!(holder("x"), Some(3));
    // Peer 3 re-cached with a new hash and the same name: the newer version is answered.
    let mut newer = named(3, &["x"]);
    newer.access_hash = Some(777);
    acc.cache_peers(&[newer]).unwrap();
    assert_eq!(
        acc.peer_by_username("x").unwrap().unwrap().access_hash,
        Some(777)
    );
    // Renamed, then removed: nobody holds the names any more.
    acc.cache_peers(&[named(3, &["z"])]).unwrap();
    store.checkpoint().unwrap();
    assert_eq!(holder("x"), None);
    assert_eq!(holder("z"), Some(3));
    acc.remove_peer(3).unwrap();
    store.checkpoint().unwrap();
    assert_eq!(holder("z"), None);
    // A reopen (fresh hints, filled in the background) agrees.
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    for _ in 0..3 {
        assert_eq!(acc.peer_by_username("x").unwrap(), None);
        assert_eq!(acc.peer_by_username("y").unwrap().map(|p| p.id), Some(2));
        assert_eq!(acc.peer_by_username("z").unwrap(), None);
    }
}

#[test]
fn a_phone_moves_too_and_phones_and_usernames_are_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    let mut a = peer(1);
    a.usernames = vec!["@MixedCase".into()];
    a.phone = Some("+1 (555) 010-9999".into());
    acc.cache_peers(&[a]).unwrap();
    let got = acc.peer(1).unwrap().unwrap();
    assert_eq!(got.usernames, vec!["mixedcase".to_owned()]);
    assert_eq!(got.phone.as_deref(), Some("15550109999"));
    assert_eq!(
        acc.peer_by_username("MIXEDCASE").unwrap().map(|p| p.id),
        Some(1)
    );
    assert_eq!(
        acc.peer_by_username("@mixedcase").unwrap().map(|p| p.id),
        Some(1)
    );
    assert_eq!(
        acc.peer_by_phone("1-555-010-9999").unwrap().map(|p| p.id),
        Some(1)
    );
    let mut b = peer(2);
    b.phone = Some("15550109999".into());
    acc.cache_peers(&[b]).unwrap();
    assert_eq!(
        acc.peer_by_phone("+15550109999").unwrap().map(|p| p.id),
        Some(2)
    );
    assert_eq!(acc.peer(1).unwrap().unwrap().phone, None);
    assert!(matches!(
        acc.peer_by_phone("no digits"),
        Err(sessiondb::Error::InvalidArgument(_))
    ));
    let mut bad = peer(3);
    bad.usernames = vec![String::new()];
    assert!(acc.cache_peers(&[bad]).is_err());
}

#[test]
fn a_min_hash_never_overwrites_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    let mut full = Peer::new(5, PeerKind::User, Some(111));
    full.name = Some("Old".into());
    acc.cache_peers(&[full]).unwrap();
    let mut min = Peer::new(5, PeerKind::UserUnknown, Some(222));
    min.min = true;
    min.name = Some("New".into());
    acc.cache_peers(&[min]).unwrap();
    let got = acc.peer(5).unwrap().unwrap();
    assert_eq!(got.access_hash, Some(111));
    assert!(!got.min);
    assert_eq!(
        got.name.as_deref(),
        Some("New"),
        "other fields still update"
    );
    assert_eq!(
        got.kind,
        PeerKind::User,
        "an unknown kind does not erase a known one"
    );
    // A min peer first, then a full one: the full hash wins.
    let mut m = Peer::new(6, PeerKind::Channel, Some(1));
    m.min = true;
    acc.cache_peers(&[m]).unwrap();
    acc.cache_peers(&[Peer::new(6, PeerKind::Channel, Some(2))])
        .unwrap();
    let got = acc.peer(6).unwrap().unwrap();
    assert_eq!((got.access_hash, got.min), (Some(2), false));
    // Same through the index.
    store.checkpoint().unwrap();
    let mut min = Peer::new(6, PeerKind::ChannelUnknown, Some(3));
    min.min = true;
    acc.cache_peers(&[min]).unwrap();
    let got = acc.peer(6).unwrap().unwrap();
    assert_eq!((got.access_hash, got.kind), (Some(2), PeerKind::Channel));
}

#[test]
fn self_user_remove_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    acc.cache_peers(&batch(0..10)).unwrap();
    let mut me = peer(42);
    me.is_self = Some(true);
    acc.cache_peers(&[me]).unwrap();
    assert_eq!(acc.self_user().unwrap().map(|p| p.id), Some(42));
    assert_eq!(acc.peer_count().unwrap(), 11);
    store.checkpoint().unwrap();
    acc.remove_peer(3).unwrap();
    acc.remove_peer(3).unwrap();
    acc.remove_peer(999).unwrap();
    assert_eq!(acc.peer(3).unwrap(), None);
    assert_eq!(acc.peer_by_username("user3").unwrap(), None);
    assert_eq!(acc.peer_count().unwrap(), 10);
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    assert_eq!(acc.peer_count().unwrap(), 10);
    assert_eq!(acc.self_user().unwrap().map(|p| p.id), Some(42));
    acc.remove_peer(42).unwrap();
    assert_eq!(acc.self_user().unwrap(), None);
}

#[test]
fn switching_peer_caching_off_caches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        cache_peers: false,
        ..Options::default()
    };
    let store = Store::open_with(dir.path().join("bot"), options).unwrap();
    let acc = store.default_account();
    acc.cache_peers(&batch(0..50)).unwrap();
    acc.cache_peers_with(&batch(50..60), Durability::Durable)
        .unwrap();
    assert_eq!(acc.peer(1).unwrap(), None);
    assert_eq!(acc.peer_count().unwrap(), 0);
    assert_eq!(acc.peers(None, 100).unwrap(), vec![]);
}

/// Bytes the index writes to checkpoint 1k peer changes into a store of `size` peers:
/// 500 new peers and 500 updates, either `spread` over the whole id range or adjacent.
fn checkpoint_bytes(size: i64, spread: bool) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    for start in (0..size).step_by(200) {
        acc.cache_peers(&batch(start..start + 200)).unwrap();
    }
    store.checkpoint().unwrap();
    let step = if spread { size / 500 } else { 1 };
    let mut changes: Vec<Peer> = (size..size + 500).map(peer).collect();
    changes.extend((0..500).map(|i| {
        let mut p = peer(i * step);
        p.name = Some("renamed".into());
        p
    }));
    for chunk in changes.chunks(200) {
        acc.cache_peers(chunk).unwrap();
    }
    let before = store.index_io().bytes_written;
    store.checkpoint().unwrap();
    store.index_io().bytes_written - before
}

#[test]
fn a_checkpoint_of_1k_peer_changes_writes_bounded_bytes_whatever_the_store_size() {
    let adjacent = [
        checkpoint_bytes(10_000, false),
        checkpoint_bytes(100_000, false),
    ];
    let spread = [
        checkpoint_bytes(10_000, true),
        checkpoint_bytes(100_000, true),
    ];
    eprintln!(
        "checkpoint of 1k changes at 10k / 100k peers: adjacent {adjacent:?} B, spread {spread:?} B"
    );
    // Adjacent changes touch the same few leaf pages however large the store is.
    assert!(adjacent[1] < adjacent[0] * 2 + (256 << 10), "{adjacent:?}");
    // Spread changes touch at most one leaf page per change and table, plus parents: the
    // bound follows the number of changes, never the store size.
    let per_change_bound = 1_000 * 3 * 4096 * 2;
    assert!(spread[1] < per_change_bound, "{spread:?}");
}
