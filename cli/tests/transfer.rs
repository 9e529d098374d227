//! `sessiondb move` and `sessiondb copy` between stores, and through PostgreSQL when
//! `SESSIONDB_PG_URL` is set (the CLI built with `--features postgres`).

mod common;

use common::run;
use sessiondb::{Peer, PeerKind, Store, UpdateStateChange};

/// A store with account `acc` (update state, home DC, 1,500 peers) and account `other`.
fn source(path: &std::path::Path) {
    let store = Store::open(path).unwrap();
    let acc = store.account("acc").unwrap();
    acc.set_home_dc(4).unwrap();
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 321,
        date: 5,
        seq: 6,
    })
    .unwrap();
    let peers: Vec<Peer> = (1..=1500)
        .map(|id| {
            let mut p = Peer::new(id, PeerKind::User, Some(0x7777_0000 + id));
            p.usernames = vec![format!("u{id}")];
            p
        })
        .collect();
    acc.cache_peers(&peers).unwrap();
    store.account("other").unwrap().set_home_dc(1).unwrap();
    store.close().unwrap();
}

/// `path` holds `acc` as `source` wrote it.
fn holds_acc(path: &std::path::Path) {
    let store = Store::open(path).unwrap();
    let acc = store.account("acc").unwrap();
    assert_eq!(acc.home_dc().unwrap(), Some(4));
    assert_eq!(acc.update_state().unwrap().map(|s| s.pts), Some(321));
    assert_eq!(acc.peer_count().unwrap(), 1500);
    let p = acc.peer_by_username("u1234").unwrap().unwrap();
    assert_eq!(p.access_hash, Some(0x7777_0000 + 1234));
}

#[test]
fn move_and_copy_an_account_between_stores() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    source(&a);
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    let (code, text) = run(&["move", sa, sb, "--account", "acc"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1500 peers"), "{text}");
    holds_acc(&b);
    let left = Store::open(&a).unwrap();
    assert_eq!(left.accounts().unwrap(), vec!["other".to_owned()]);
    drop(left);

    let (code, text) = run(&["copy", sb, sa, "--account", "acc", "--json"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\"peers\":1500"), "{text}");
    holds_acc(&a);
    holds_acc(&b);
    // Never over an existing account; never from a missing one.
    let (code, text) = run(&["copy", sb, sa, "--account", "acc"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("already exists"), "{text}");
    let (code, _) = run(&["move", sa, sb, "--account", "nobody"]);
    assert_eq!(code, 3);
}

#[cfg(feature = "postgres")]
#[test]
fn move_an_account_to_postgres_and_back() {
    let url = match std::env::var("SESSIONDB_PG_URL") {
        Ok(u) => u,
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but SESSIONDB_PG_URL is not set")
        }
        Err(_) => return eprintln!("skipped: set SESSIONDB_PG_URL"),
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    source(&a);
    // A fresh account name on the shared server: rename by copying into a new store first.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let account = format!("cli-{}-{nanos}", std::process::id());
    {
        let store = Store::open(&a).unwrap();
        let from = store.account("acc").unwrap();
        let to = store.account(&account).unwrap();
        to.set_home_dc(from.home_dc().unwrap().unwrap()).unwrap();
        to.set_update_state(UpdateStateChange::All(
            from.update_state().unwrap().unwrap(),
        ))
        .unwrap();
        to.cache_peers(&from.peers(None, usize::MAX).unwrap())
            .unwrap();
        store.delete_account("acc").unwrap();
        store.close().unwrap();
    }
    let pg = format!("pg:{url}");
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    let (code, text) = run(&["move", sa, &pg, "--account", &account]);
    assert_eq!(code, 0, "{text}");
    assert!(
        !text.contains(&url),
        "the connection string was printed: {text}"
    );
    let (code, text) = run(&["move", &pg, sb, "--account", &account]);
    assert_eq!(code, 0, "{text}");
    let store = Store::open(&b).unwrap();
    let acc = store.account(&account).unwrap();
    assert_eq!(acc.home_dc().unwrap(), Some(4));
    assert_eq!(acc.update_state().unwrap().map(|s| s.pts), Some(321));
    assert_eq!(acc.peer_count().unwrap(), 1500);
    assert_eq!(
        acc.peer_by_username("u77")
            .unwrap()
            .and_then(|p| p.access_hash),
        Some(0x7777_0000 + 77)
    );
    // Moved out of PostgreSQL too: a second move back finds nothing.
    let (code, _) = run(&["move", &pg, sa, "--account", &account]);
    assert_eq!(code, 3);
}
