//! Key rotation (`sessiondb::rotate`, `sessiondb rekey --rotate`): after it, an old key
//! file with the old passphrase opens nothing the store holds, nothing written to it later,
//! and no backup taken later; a plain rekey, by contrast, leaves the data key as it was.
//!
//! Nothing here prints session contents.

mod common;

use std::path::{Path, PathBuf};

use common::{encrypted, encryption};
use sessiondb::{AuthKey, DataCenter, Error, Store, UpdateStateChange};

fn write(store: &Store, seed: u8, pts: i32) {
    let acc = store.default_account();
    let mut dc = DataCenter::new(2);
    dc.auth_key = Some(AuthKey::new([seed; 256]));
    acc.set_dc(dc).unwrap();
    acc.cache_peers(&[common::peer(i64::from(seed))]).unwrap();
    acc.set_update_state(UpdateStateChange::Primary {
        pts,
        date: 1,
        seq: 1,
    })
    .unwrap();
    store.flush().unwrap();
}

fn check(store: &Store, seed: u8, pts: i32) {
    let acc = store.default_account();
    let dc = acc.dc(2).unwrap().expect("dc 2");
    assert!(dc.auth_key == Some(AuthKey::new([seed; 256])), "auth key");
    assert_eq!(acc.update_state().unwrap().map(|s| s.pts), Some(pts));
    assert!(acc.peer(i64::from(seed)).unwrap().is_some());
}

fn files(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap().to_owned();
    name.push(".session");
    store.with_file_name(name)
}

/// Puts `key` (a key file's bytes) in place of the store's own.
fn with_key_file(store: &Path, key: &[u8]) {
    std::fs::write(files(store).join("KEY"), key).unwrap();
}

/// Rewrites the store id in the index's `meta` with a matching checksum.
fn forge_store_id(index: &Path, id: &[u8]) {
    const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
    let key = b"store_id";
    let mut h = crc32fast::Hasher::new();
    h.update(b"meta\0");
    h.update(&0u32.to_le_bytes());
    h.update(&(key.len() as u32).to_le_bytes());
    h.update(key);
    h.update(id);
    let mut value = id.to_vec();
    value.extend_from_slice(&h.finalize().to_le_bytes());
    common::tamper(index, |txn| {
        let mut t = txn.open_table(META).unwrap();
        t.insert("store_id", value.as_slice()).unwrap();
    });
}

#[test]
fn an_old_key_file_opens_nothing_written_after_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open_with(&path, encrypted("old")).unwrap();
    write(&store, 1, 10);
    store.close().unwrap();
    drop(store);
    let old_key = std::fs::read(files(&path).join("KEY")).unwrap();

    // A plain rekey keeps the data key: the old key file still opens the store.
    let store = Store::open_with(&path, encrypted("old")).unwrap();
    store.rekey(&encryption("rekeyed")).unwrap();
    drop(store);
    let rekeyed_key = std::fs::read(files(&path).join("KEY")).unwrap();
    with_key_file(&path, &old_key);
    check(&Store::open_with(&path, encrypted("old")).unwrap(), 1, 10);
    with_key_file(&path, &rekeyed_key);

    let report = sessiondb::rotate(&path, encrypted("rekeyed"), &encryption("new")).unwrap();
    assert_eq!(report.accounts, 1);
    // Afterwards: the new passphrase reads everything; the old ones do not unwrap the key.
    let store = Store::open_with(&path, encrypted("new")).unwrap();
    check(&store, 1, 10);
    write(&store, 2, 20);
    let after = dir.path().join("after");
    store.backup(&after).unwrap();
    store.close().unwrap();
    drop(store);
    for pass in ["old", "rekeyed"] {
        let r = Store::open_with(&path, encrypted(pass));
        assert!(matches!(r, Err(Error::WrongPassphrase { .. })), "{r:?}");
    }
    // An old key file (as in any backup made before) with its passphrase opens nothing:
    // not the rotated store, not what was written after, not a backup taken after.
    for target in [&path, &after] {
        let own = std::fs::read(files(target).join("KEY")).unwrap();
        with_key_file(target, &old_key);
        for open in [Store::open_with, Store::open_read_only_with] {
            let r = open(target, encrypted("old")).map(|_| ());
            assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
        }
        with_key_file(target, &own);
        check(
            &Store::open_read_only_with(target, encrypted("new")).unwrap(),
            2,
            20,
        );
    }
    // Even with the index's store id forged to the old key file's, the old data key
    // authenticates nothing: no auth key, peer or update state is served.
    let index = files(&path).join("index.redb");
    let own = std::fs::read(files(&path).join("KEY")).unwrap();
    forge_store_id(&index, &old_key[40..56]);
    with_key_file(&path, &old_key);
    match Store::open_with(&path, encrypted("old")) {
        Err(Error::CorruptValue { .. } | Error::Corrupt { .. }) => {}
        Ok(store) => {
            let acc = store.default_account();
            assert!(acc.dc(2).is_err() && acc.update_state().is_err());
            assert!(acc.peer(1).is_err() && acc.peer(2).is_err());
        }
        Err(e) => panic!("{e}"),
    }
    forge_store_id(&index, &own[40..56]);
    with_key_file(&path, &own);
    check(&Store::open_with(&path, encrypted("new")).unwrap(), 2, 20);
    // The copy made by the rotation is gone (it held the old key file).
    assert!(!dir.path().join("bot.rotating.session").exists());
}

#[test]
fn rotation_refuses_a_plain_store_weak_parameters_and_a_running_writer() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    Store::open(&plain).unwrap().close().unwrap();
    let r = sessiondb::rotate(&plain, sessiondb::Options::default(), &encryption("x"));
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");

    let path = dir.path().join("enc");
    let store = Store::open_with(&path, encrypted("pw")).unwrap();
    write(&store, 3, 30);
    let weak = sessiondb::Encryption {
        kdf: sessiondb::KdfParams {
            memory_kib: 4096,
            ..sessiondb::KdfParams::default()
        },
        ..encryption("new")
    };
    let r = sessiondb::rotate(&path, encrypted("pw"), &weak);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let r = sessiondb::rotate(&path, encrypted("pw"), &encryption("new"));
    assert!(matches!(r, Err(Error::Locked { .. })), "{r:?}");
    drop(store);
    // A wrong current passphrase changes nothing.
    let r = sessiondb::rotate(&path, encrypted("wrong"), &encryption("new"));
    assert!(matches!(r, Err(Error::WrongPassphrase { .. })), "{r:?}");
    check(&Store::open_with(&path, encrypted("pw")).unwrap(), 3, 30);
}
