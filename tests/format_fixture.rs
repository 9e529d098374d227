//! A store written by format version 1 is committed under `tests/fixtures/v1.session`; every
//! later version must open it. Regenerate (only when adding a new version's fixture) with
//! `SESSIONDB_WRITE_FIXTURE=1 cargo test --test format_fixture write_fixture`.

mod common;

use std::path::{Path, PathBuf};

use sessiondb::{Store, UpdateStateChange};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1.session")
}

/// Index format 1 as the build before checksums wrote it (same content as `v1.session`).
fn fixture_2026() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-2026-12.session")
}

#[test]
fn write_fixture() {
    if std::env::var("SESSIONDB_WRITE_FIXTURE").is_err() {
        return;
    }
    let _ = std::fs::remove_dir_all(fixture());
    let store = Store::open(fixture()).unwrap();
    let acc = store.default_account();
    acc.save(&common::session(1)).unwrap(); // in the index
    acc.cache_peers(&[common::peer(1), common::peer(2)])
        .unwrap();
    store.checkpoint().unwrap();
    let other = store.account("second").unwrap();
    other.save(&common::session(2)).unwrap();
    // ... and in the log, not checkpointed:
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 900,
        date: 901,
        seq: 902,
    })
    .unwrap();
    acc.cache_peers_with(&[common::peer(3)], sessiondb::Durability::Durable)
        .unwrap();
    drop(store); // no checkpoint
}

#[test]
fn the_v1_fixture_opens_with_all_its_data() {
    for fixture in [fixture(), fixture_2026()] {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("v1.session");
        common::copy_dir(&fixture, &copy);
        // Read-only, format 1 reads as it is, and verify says its values are unchecked.
        let reader = Store::open_read_only(&copy).unwrap();
        check_contents(&reader);
        let report = reader.verify().unwrap();
        assert!(report.values_unchecked > 0 && !report.is_ok(), "{report:?}");
        drop(reader);
        // A writer open upgrades it: every value checksummed, verify clean.
        let store = Store::open(&copy).unwrap();
        assert!(
            store.recovery().records_replayed >= 2,
            "the fixture has an un-checkpointed tail"
        );
        check_contents(&store);
        let report = store.verify().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(report.values_unchecked, 0);
        assert!(report.values_checked > 0 && report.index_integrity_checked);
        store.close().unwrap();
        let reader = Store::open_read_only(&copy).unwrap();
        check_contents(&reader);
        assert!(reader.verify().unwrap().is_ok());
    }
}

fn check_contents(store: &Store) {
    assert_eq!(
        store.accounts().unwrap(),
        vec!["default".to_owned(), "second".to_owned()]
    );
    let acc = store.default_account();
    let mut want = common::session(1);
    want.update_state = Some(sessiondb::UpdateState {
        pts: 900,
        qts: 7,
        date: 901,
        seq: 902,
    });
    assert_eq!(acc.session().unwrap(), Some(want));
    for id in 1..=3 {
        let got = acc.peer(id).unwrap().expect("peer");
        assert!(common::same_peer(&common::peer(id), &got));
    }
    assert_eq!(
        acc.peer_by_username("USER2").unwrap().map(|p| p.id),
        Some(2)
    );
    assert_eq!(
        store.account("second").unwrap().session().unwrap(),
        Some(common::session(2))
    );
}
