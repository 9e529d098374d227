//! Bounding the peer cache: by size (newest stay), by age, never the self user or a channel
//! with stored pts; names of removed peers stop resolving; the result survives a reopen.

mod common;

use sessiondb::{Error, Peer, PeerKind, PrunePolicy, Store, UpdateStateChange};

fn user(id: i64) -> Peer {
    let mut p = Peer::new(id, PeerKind::User, Some(id * 3));
    p.usernames = vec![format!("user_{id}")];
    p.phone = Some(format!("{}", 15_550_000_000 + id));
    p
}

fn channel(bare: i64) -> Peer {
    Peer::new(-(1_000_000_000_000 + bare), PeerKind::Megagroup, Some(bare))
}

#[test]
fn size_limit_keeps_the_newest_and_the_protected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    // Oldest first: the self user and two channels with pts are among the oldest.
    let mut me = user(1);
    me.is_self = Some(true);
    acc.cache_peers(&[me, channel(7), channel(8), channel(9)])
        .unwrap();
    acc.set_update_state(UpdateStateChange::Channel { id: 7, pts: 70 })
        .unwrap();
    acc.set_update_state(UpdateStateChange::Channel { id: 8, pts: 80 })
        .unwrap();
    let users: Vec<Peer> = (2..=3000).map(user).collect();
    for chunk in users.chunks(500) {
        acc.cache_peers(chunk).unwrap();
    }
    store.checkpoint().unwrap();
    let report = acc
        .prune(&PrunePolicy {
            max_peers: Some(1000),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(acc.peer_count().unwrap(), 1000);
    assert_eq!(report.removed, 3003 - 1000);
    assert!(acc.self_user().unwrap().is_some(), "the self user stays");
    for (bare, stays) in [(7, true), (8, true), (9, false)] {
        let p = acc.peer(-(1_000_000_000_000 + bare)).unwrap();
        assert_eq!(p.is_some(), stays, "channel {bare}");
    }
    // The 3 protected count toward the 1000: the 997 newest users stay (written last; within
    // one second, ties go by id).
    assert!(acc.peer(3000).unwrap().is_some() && acc.peer(2004).unwrap().is_some());
    assert!(acc.peer(2003).unwrap().is_none());
    assert!(
        acc.peer_by_username("user_2003").unwrap().is_none(),
        "names go too"
    );
    assert!(acc.peer_by_phone("15550002003").unwrap().is_none());
    assert_eq!(
        acc.peer_by_username("user_2500").unwrap().map(|p| p.id),
        Some(2500)
    );
    store.close().unwrap();
    drop(store);
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    assert_eq!(acc.peer_count().unwrap(), 1000, "after reopen");
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn age_limit_removes_what_was_written_before_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    acc.cache_peers(&(1..=300).map(user).collect::<Vec<_>>())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    acc.cache_peers(&(301..=400).map(user).collect::<Vec<_>>())
        .unwrap();
    // A peer written again is young again.
    acc.cache_peers(&[user(5)]).unwrap();
    let cut = acc.peer(301).unwrap().unwrap().updated_at;
    let report = acc
        .prune(&PrunePolicy {
            written_before: Some(cut),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((report.examined, report.removed), (400, 299));
    assert_eq!(acc.peer_count().unwrap(), 101);
    assert!(acc.peer(5).unwrap().is_some() && acc.peer(4).unwrap().is_none());
    let none = acc.prune(&PrunePolicy::default());
    assert!(matches!(none, Err(Error::InvalidArgument(_))));
}

#[test]
fn prune_runs_beside_durable_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    let users: Vec<Peer> = (1..=20_000).map(user).collect();
    for chunk in users.chunks(1000) {
        acc.cache_peers(chunk).unwrap();
    }
    let writer = {
        let acc = acc.clone();
        std::thread::spawn(move || {
            for pts in 1..=300 {
                let change = UpdateStateChange::Primary {
                    pts,
                    date: pts,
                    seq: 1,
                };
                acc.set_update_state(change).unwrap();
            }
        })
    };
    let report = acc
        .prune(&PrunePolicy {
            max_peers: Some(5_000),
            ..Default::default()
        })
        .unwrap();
    writer.join().unwrap();
    assert_eq!(report.removed, 15_000);
    assert_eq!(acc.peer_count().unwrap(), 5_000);
    assert_eq!(acc.update_state().unwrap().map(|s| s.pts), Some(300));
}

#[test]
fn the_automatic_policy_prunes_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let options = sessiondb::Options {
        auto_prune: Some(sessiondb::AutoPrune {
            max_peers: Some(100),
            max_age: None,
            every: std::time::Duration::from_millis(20),
            reclaim: true,
        }),
        ..Default::default()
    };
    let store = Store::open_with(dir.path().join("bot"), options).unwrap();
    let acc = store.default_account();
    // 105 is within the tenth of slack: left alone.
    acc.cache_peers(&(1..=105).map(user).collect::<Vec<_>>())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(acc.peer_count().unwrap(), 105);
    acc.cache_peers(&(106..=300).map(user).collect::<Vec<_>>())
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while acc.peer_count().unwrap() > 100 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(acc.peer_count().unwrap(), 100);
    assert!(acc.peer(300).unwrap().is_some() && acc.peer(200).unwrap().is_none());
    store.close().unwrap();
}
