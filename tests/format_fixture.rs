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

/// Index format 2 and log format 1, as the build before lineages wrote them (same content
/// as `v1.session`): plain, and encrypted with "fixture passphrase" (test Argon2 parameters).
fn fixtures_v2() -> [(PathBuf, sessiondb::Options); 2] {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    [
        (
            dir.join("v2-2026-12.session"),
            sessiondb::Options::default(),
        ),
        (
            dir.join("v2-encrypted-2026-12.session"),
            common::encrypted("fixture passphrase"),
        ),
    ]
}

#[test]
fn the_v2_fixtures_upgrade_with_all_their_data() {
    for (fixture, options) in fixtures_v2() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("v2.session");
        common::copy_dir(&fixture, &copy);
        // Read-only, an older format reads as it is.
        let reader = Store::open_read_only_with(&copy, options.clone()).unwrap();
        check_contents(&reader);
        assert!(reader.verify().unwrap().is_ok());
        drop(reader);
        // A writer open upgrades it, its log tail replayed.
        let store = Store::open_with(&copy, options.clone()).unwrap();
        assert!(store.recovery().records_replayed >= 2, "{fixture:?}");
        check_contents(&store);
        let report = store.verify().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        drop(store); // no checkpoint
        let store = Store::open_with(&copy, options.clone()).unwrap();
        if options.encryption.is_some() {
            // The upgrade folded in the records sealed before it: none is read again.
            assert_eq!(store.recovery().records_replayed, 0);
        }
        check_contents(&store);
        store.close().unwrap();
        let reader = Store::open_read_only_with(&copy, options).unwrap();
        check_contents(&reader);
        assert!(reader.verify().unwrap().is_ok());
    }
}

#[test]
fn after_the_upgrade_a_value_sealed_before_it_is_refused() {
    const DCS: redb::TableDefinition<(u32, i32), &[u8]> = redb::TableDefinition::new("dcs");
    let [_, (fixture, options)] = fixtures_v2();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("v2.session");
    common::copy_dir(&fixture, &copy);
    Store::open_with(&copy, options.clone())
        .unwrap()
        .close()
        .unwrap();
    // The fixture's own (pre-upgrade) row of DC 2, back into the upgraded index; read from
    // a second copy, since redb writes to a file it opens.
    let pristine = dir.path().join("pristine.session");
    common::copy_dir(&fixture, &pristine);
    let old = common::rows(&pristine.join("index.redb"), DCS);
    let (key, value) = old
        .into_iter()
        .find(|(k, _)| k.ends_with(&2i32.to_le_bytes()))
        .unwrap();
    common::tamper(&copy.join("index.redb"), |txn| {
        let mut t = txn.open_table(DCS).unwrap();
        t.insert(
            <(u32, i32) as redb::Value>::from_bytes(&key),
            value.as_slice(),
        )
        .unwrap();
    });
    let store = Store::open_with(&copy, options).unwrap();
    let r = store.default_account().dc(2);
    assert!(
        matches!(r, Err(sessiondb::Error::CorruptValue { .. })),
        "{r:?}"
    );
}
