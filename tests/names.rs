//! Names that could spoof a listing or break lookups are refused with a clear error: account
//! names with bidi controls, zero-width characters or surrounding whitespace, and usernames
//! outside Telegram's alphabet. An imported session keeps a peer whose username breaks the
//! rule, drops that name and says so.

mod common;

use sessiondb::{Error, MemoryStore, Peer, PeerKind, Store};

const SPOOFS: [&str; 7] = [
    "bot\u{202E}tob",
    "a\u{200B}b",
    "\u{2066}x",
    " ",
    " bot",
    "bot\t",
    "\u{FEFF}bot",
];

#[test]
fn new_account_names_that_spoof_a_listing_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("n")).unwrap();
    let memory = MemoryStore::new();
    for name in SPOOFS {
        for r in [
            store.account(name).map(drop),
            store.create_account(name).map(drop),
            memory.account(name).map(drop),
            memory.create_account(name).map(drop),
        ] {
            assert!(
                matches!(r, Err(Error::InvalidArgument(_))),
                "{name:?}: {r:?}"
            );
        }
    }
    assert_eq!(
        store.accounts().unwrap(),
        Vec::<String>::new(),
        "nothing created"
    );
    for name in ["bot", "my bot", "Zoë", "ボット", "a-b.c"] {
        store.create_account(name).unwrap();
    }
    assert_eq!(store.accounts().unwrap().len(), 5);
}

#[test]
fn usernames_take_one_at_and_telegrams_alphabet() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("u")).unwrap();
    let acc = store.default_account();
    for bad in [
        "with space",
        "@@x",
        "ünï",
        "dash-ed",
        "",
        "@",
        &"x".repeat(65),
    ] {
        let mut p = Peer::new(1, PeerKind::User, Some(1));
        p.usernames = vec![bad.to_owned()];
        let r = acc.cache_peers(&[p]);
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{bad:?}: {r:?}"
        );
        let r = acc.peer_by_username(bad);
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "lookup {bad:?}"
        );
    }
    assert_eq!(acc.peer_count().unwrap(), 0, "nothing cached");
    let mut p = Peer::new(1, PeerKind::User, Some(1));
    p.usernames = vec!["@Good_Name_1".into()];
    acc.cache_peers(&[p]).unwrap();
    let found = acc.peer_by_username("good_name_1").unwrap().unwrap();
    assert_eq!(found.usernames, vec!["good_name_1".to_owned()]);
}

#[cfg(feature = "formats")]
#[test]
fn an_import_drops_a_bad_username_and_keeps_its_peer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.session");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats/telethon-1.45.session");
    std::fs::copy(&fixture, &path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE entities SET username = 'zoe fake' WHERE id = 222333444",
        [],
    )
    .unwrap();
    drop(conn);
    let p = sessiondb::formats::import_file(&path, None).unwrap();
    let zoe = p.peers.iter().find(|peer| peer.id == 222_333_444).unwrap();
    assert!(zoe.usernames.is_empty() && zoe.access_hash == Some(-1));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("1 username(s)") && n.contains("zoe fake")),
        "noted"
    );
    // And it goes into a store whole.
    let store = Store::open(dir.path().join("s")).unwrap();
    p.write_to(&store.default_account(), |_| {}).unwrap();
    assert!(store.default_account().peer(222_333_444).unwrap().is_some());
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_the_same_new_names() {
    use sessiondb::SessionStore;
    let Some(url) = common::pg::url() else { return };
    let pg = sessiondb::PgStore::connect(&url, "names").await.unwrap();
    for name in SPOOFS {
        let r = pg.acquire(name).await.map(drop);
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{name:?}: {r:?}"
        );
        let r = pg.save(name, &common::session(1)).await;
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{name:?}: {r:?}"
        );
    }
    let fine = common::pg::fresh("name ok");
    pg.save(&fine, &common::session(1)).await.unwrap();
    pg.close().await.unwrap();
}
