//! Rollback in an encrypted store: a ciphertext that still authenticates somewhere else —
//! a row, a log record or a `meta` value taken from a backup or from an earlier version of
//! the same store — is refused as `CorruptValue`/`Corrupt`, never served; and a rolled-back
//! next account number never hands a new account another's auth keys.
//!
//! Every splice is done as an attacker with the files (but not the key) would: redb rows
//! rewritten with redb, log records moved with their CRC recomputed.

mod common;

use std::path::{Path, PathBuf};

use common::{encrypted, record_spans, rows, segments, tamper};
use sessiondb::{AuthKey, DataCenter, Error, Options, Store, UpdateStateChange};

const DCS: redb::TableDefinition<(u32, i32), &[u8]> = redb::TableDefinition::new("dcs");
const META: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");

fn options() -> Options {
    Options {
        // Records stay in the log until a test checkpoints.
        checkpoint_records: u64::MAX,
        checkpoint_log_bytes: u64::MAX,
        ..encrypted("pw")
    }
}

fn dc_with_key(seed: u8) -> DataCenter {
    let mut dc = DataCenter::new(2);
    dc.auth_key = Some(AuthKey::new([seed; 256]));
    dc
}

fn key_seed(store: &Store, account: &str) -> sessiondb::Result<Option<u8>> {
    let dc = store.account(account)?.dc(2)?;
    Ok(dc.and_then(|d| d.auth_key).map(|k| k.as_bytes()[0]))
}

fn pts(n: i32) -> UpdateStateChange {
    UpdateStateChange::Primary {
        pts: n,
        date: 1,
        seq: 1,
    }
}

fn index(store: &Path) -> PathBuf {
    sessiondb_dir(store).join("index.redb")
}

fn sessiondb_dir(store: &Path) -> PathBuf {
    let mut name = store.file_name().unwrap().to_owned();
    name.push(".session");
    store.with_file_name(name)
}

/// Copies `table`'s row `key` from the index at `from` into the one at `to`.
fn splice_row<K: redb::Key + 'static>(
    from: &Path,
    to: &Path,
    table: redb::TableDefinition<K, &'static [u8]>,
    key: &[u8],
) {
    let found = rows(from, table).into_iter().find(|(k, _)| k == key);
    let (_, value) = found.expect("the row to splice");
    tamper(to, |txn| {
        let mut t = txn.open_table(table).unwrap();
        t.insert(K::from_bytes(key), value.as_slice()).unwrap();
    });
}

/// The key bytes of the `dcs` row of DC 2 of the only account with one.
fn dc2_key(index: &Path) -> Vec<u8> {
    let found = rows(index, DCS)
        .into_iter()
        .find(|(k, _)| k.ends_with(&2i32.to_le_bytes()));
    found.expect("a DC 2 row").0
}

#[test]
fn a_row_or_meta_value_from_a_backup_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let store = Store::open_with(&a, options()).unwrap();
    store.default_account().set_dc(dc_with_key(1)).unwrap();
    store.backup(&b).unwrap();
    // The live store moves on: a new auth key, then (later) more log.
    store.default_account().set_dc(dc_with_key(2)).unwrap();
    store.close().unwrap();
    drop(store);
    // The backup moves further still, so its checkpoint LSN passes the store's.
    let backup = Store::open_with(&b, options()).unwrap();
    for n in 0..50 {
        backup.default_account().set_update_state(pts(n)).unwrap();
    }
    backup.close().unwrap();
    drop(backup);

    // The backup's (older) auth key row, in the live store: refused, not served.
    splice_row(&index(&b), &index(&a), DCS, &dc2_key(&index(&b)));
    let store = Store::open_with(&a, options()).unwrap();
    let r = key_seed(&store, "default");
    assert!(matches!(r, Err(Error::CorruptValue { .. })), "{r:?}");
    drop(store);

    // The backup's checkpoint LSN, in the live store's meta: the open is refused and
    // changes nothing (it would have skipped and deleted the live store's log).
    let dir_a = sessiondb_dir(&a);
    splice_row(&index(&b), &index(&a), META, b"checkpoint_lsn");
    let before = common::files(&dir_a);
    let r = Store::open_with(&a, options()).map(|_| ());
    assert!(
        matches!(&r, Err(Error::CorruptValue { location, .. }) if location == "meta"),
        "{r:?}"
    );
    assert_eq!(
        common::files(&dir_a),
        before,
        "a refused open changed files"
    );
}

#[test]
fn a_log_record_from_an_earlier_version_of_the_same_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, fork) = (dir.path().join("a"), dir.path().join("fork"));
    let store = Store::open_with(&a, options()).unwrap();
    store.default_account().set_update_state(pts(1)).unwrap();
    drop(store); // no checkpoint: the record stays in the log
    common::copy_dir(&sessiondb_dir(&a), &sessiondb_dir(&fork));
    // Both copies go on from the same point, as a store does after a tail cut: each open
    // writes the same LSNs into a new segment.
    for (path, first) in [(&a, 10), (&fork, 20)] {
        let store = Store::open_with(path, options()).unwrap();
        let acc = store.default_account();
        acc.set_update_state(pts(first)).unwrap();
        acc.set_update_state(pts(first + 1)).unwrap();
        drop(store);
    }
    let newest = |path: &Path| {
        let mut segs = segments(&sessiondb_dir(path));
        segs.sort();
        segs.pop().expect("a segment")
    };
    let (seg_a, seg_fork) = (newest(&a), newest(&fork));
    assert_eq!(seg_a.file_name(), seg_fork.file_name(), "same LSNs");
    // The fork's first record (pts 20) in place of the store's (pts 10): same LSN, same
    // lineage, same length, its CRC still right.
    let mut bytes = std::fs::read(&seg_a).unwrap();
    let theirs = std::fs::read(&seg_fork).unwrap();
    let (mine, other) = (record_spans(&bytes)[0], record_spans(&theirs)[0]);
    assert_eq!(mine.2 - mine.0, other.2 - other.0);
    bytes[mine.0..mine.2].copy_from_slice(&theirs[other.0..other.2]);
    std::fs::write(&seg_a, &bytes).unwrap();
    // A later record says the replaced one was synced: corruption, not a torn tail.
    let r = Store::open_with(&a, options()).map(|s| s.default_account().update_state());
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
    let r =
        Store::open_read_only_with(&a, options()).and_then(|s| s.default_account().update_state());
    assert!(
        !matches!(&r, Ok(Some(s)) if s.pts == 20),
        "a reader served the other copy's record"
    );
}

#[test]
fn a_rolled_back_next_account_number_never_hands_out_anothers_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let store = Store::open_with(&path, options()).unwrap();
    store.default_account().set_dc(dc_with_key(1)).unwrap();
    store.checkpoint().unwrap();
    drop(store);
    // An earlier version of the index, before "alice" took the next number.
    let earlier = dir.path().join("earlier.redb");
    std::fs::copy(index(&path), &earlier).unwrap();
    let store = Store::open_with(&path, options()).unwrap();
    store
        .account("alice")
        .unwrap()
        .set_dc(dc_with_key(7))
        .unwrap();
    store.close().unwrap();
    drop(store);
    splice_row(&earlier, &index(&path), META, b"next_account");

    let store = Store::open_with(&path, options()).unwrap();
    assert_eq!(key_seed(&store, "alice").unwrap(), Some(7));
    let bob = store.account("bob").unwrap();
    bob.set_update_state(pts(3)).unwrap();
    assert_eq!(key_seed(&store, "bob").unwrap(), None);
    // Folding bob in would give him alice's number: refused (and the store stops writing).
    let r = store.checkpoint();
    let refused = match &r {
        Err(Error::CorruptValue { key, .. }) => key == "next_account",
        // A later caller sees the latch, which keeps the failure of its own kind.
        Err(Error::Latched { cause }) => {
            matches!(&**cause, Error::CorruptValue { key, .. } if key == "next_account")
        }
        _ => false,
    };
    assert!(refused, "{r:?}");
    drop(store);
    let store = Store::open_with(&path, options()).unwrap();
    assert_eq!(
        key_seed(&store, "bob").unwrap(),
        None,
        "bob got alice's keys"
    );
    assert_eq!(key_seed(&store, "alice").unwrap(), Some(7));
}
