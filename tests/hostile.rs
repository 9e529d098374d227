//! Bad input and a hostile environment: damaged or missing files, newer formats, full disks,
//! failing creates, files where directories belong. Each gives a typed error naming the path
//! and destroys nothing; `verify` and `backup` on a live store.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{dc, peer, session};
use sessiondb::io::{FileSystem, MemFs};
use sessiondb::{Error, Options, Store, UpdateStateChange};

fn names_path(e: &Error, path: &Path) -> bool {
    e.to_string().contains(&path.display().to_string())
}

/// A closed store with a checkpointed part and a log tail.
fn store_with_tail(dir: &Path) -> PathBuf {
    let path = dir.join("bot");
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    acc.save(&session(1)).unwrap();
    acc.cache_peers(&[peer(1), peer(2)]).unwrap();
    acc.set_update_state(UpdateStateChange::Secondary { qts: 77 })
        .unwrap();
    drop(store);
    dir.join("bot.session")
}

#[test]
fn a_damaged_index_is_a_typed_error_naming_it_and_nothing_is_changed() {
    for damage in ["garbage", "header", "middle"] {
        let dir = tempfile::tempdir().unwrap();
        let sdir = store_with_tail(dir.path());
        let index = sdir.join("index.redb");
        let mut bytes = std::fs::read(&index).unwrap();
        match damage {
            "garbage" => bytes.iter_mut().for_each(|b| *b = 0xA5),
            "header" => bytes[..64].iter_mut().for_each(|b| *b ^= 0xFF),
            _ => {
                let mid = bytes.len() / 2;
                bytes[mid..mid + 4096].iter_mut().for_each(|b| *b ^= 0x5A);
            }
        }
        std::fs::write(&index, &bytes).unwrap();
        let before = common::files(&sdir);
        match Store::open(&sdir) {
            Err(e) => assert!(names_path(&e, &index), "{damage}: {e}"),
            // A flip in pages redb does not need may go unnoticed by redb; then the data must
            // still read back correctly.
            Ok(store) => {
                let got = store.default_account().session().unwrap();
                assert_eq!(got.map(|s| s.dcs), Some(session(1).dcs), "{damage}");
                continue;
            }
        }
        assert_eq!(
            common::files(&sdir),
            before,
            "{damage}: a failed open changed files"
        );
    }
}

#[test]
fn a_segment_of_a_newer_format_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let sdir = store_with_tail(dir.path());
    let seg = common::segments(&sdir)[0].clone();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..36]);
    bytes[36..40].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let before = std::fs::read(&seg).unwrap();
    match Store::open(&sdir) {
        Err(e @ Error::UnsupportedVersion { found: 3, .. }) => assert!(names_path(&e, &seg), "{e}"),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    assert!(
        std::fs::read(&seg).unwrap() == before,
        "the segment was changed"
    );
    // Nothing was lost: with the header put back, everything is there.
    let mut bytes = before;
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..36]);
    bytes[36..40].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let store = Store::open(&sdir).unwrap();
    assert_eq!(
        store.default_account().update_state().unwrap().unwrap().qts,
        77
    );
    assert!(store.default_account().peer(2).unwrap().is_some());
}

#[test]
fn missing_files_are_reported_not_papered_over() {
    // A missing index under a log that was checkpointed before: refused, nothing created.
    let dir = tempfile::tempdir().unwrap();
    let sdir = store_with_tail(dir.path());
    std::fs::remove_file(sdir.join("index.redb")).unwrap();
    match Store::open(&sdir) {
        Err(e @ Error::Corrupt { .. }) => assert!(e.to_string().contains("index")),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(
        !sdir.join("index.redb").exists(),
        "no empty index may replace the lost one"
    );

    // A missing segment in the middle of the log: a gap in the LSNs.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gap");
    let options = Options {
        segment_bytes: 200,
        checkpoint_records: u64::MAX,
        checkpoint_log_bytes: u64::MAX,
        ..Options::default()
    };
    let store = Store::open_with(&path, options.clone()).unwrap();
    for pts in 1..=20 {
        store
            .default_account()
            .set_update_state(UpdateStateChange::Primary {
                pts,
                date: 1,
                seq: 1,
            })
            .unwrap();
    }
    drop(store);
    let sdir = dir.path().join("gap.session");
    let mut segs = common::segments(&sdir);
    assert!(segs.len() >= 3, "{segs:?}");
    segs.sort();
    std::fs::remove_file(&segs[1]).unwrap();
    assert!(matches!(
        Store::open_with(&path, options),
        Err(Error::Corrupt { .. })
    ));

    // Extra files that are not ours are left alone.
    let dir = tempfile::tempdir().unwrap();
    let sdir = store_with_tail(dir.path());
    std::fs::write(sdir.join("notes.txt"), b"hello").unwrap();
    std::fs::write(sdir.join("123.log"), b"not a segment name").unwrap();
    let store = Store::open(&sdir).unwrap();
    assert_eq!(
        store.default_account().update_state().unwrap().unwrap().qts,
        77
    );
    drop(store);
    assert_eq!(std::fs::read(sdir.join("notes.txt")).unwrap(), b"hello");
}

#[test]
fn a_directory_where_the_index_file_belongs_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sdir = dir.path().join("bot.session");
    std::fs::create_dir_all(sdir.join("index.redb")).unwrap();
    std::fs::write(sdir.join("LOCK"), b"").unwrap();
    match Store::open(&sdir) {
        Err(e) => assert!(names_path(&e, &sdir.join("index.redb")), "{e}"),
        Ok(_) => panic!("opened a store whose index is a directory"),
    }
}

#[test]
fn a_full_disk_or_a_refused_create_latches_or_fails_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let options = Options {
        fs: Some(Arc::new(fs.clone())),
        ..Options::default()
    };
    let store = Store::open_with(dir.path().join("bot"), options.clone()).unwrap();
    let acc = store.default_account();
    acc.set_dc(dc(2, 3)).unwrap();
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 9,
        date: 9,
        seq: 9,
    })
    .unwrap();
    fs.set_write_hook(Some(Arc::new(|_| {
        Err(std::io::Error::from_raw_os_error(28))
    }))); // ENOSPC
    let e = acc
        .set_update_state(UpdateStateChange::Primary {
            pts: 10,
            date: 1,
            seq: 1,
        })
        .unwrap_err();
    assert!(e.to_string().contains("bot.session"), "names the path: {e}");
    assert!(matches!(store.checkpoint(), Err(Error::Latched { .. })));
    drop(store);
    // Still full: opening cannot start a segment, says so, and changes nothing durable.
    match Store::open_with(dir.path().join("bot"), options.clone()) {
        Err(e) => assert!(e.to_string().contains("bot.session"), "{e}"),
        Ok(_) => panic!("opened with a full disk"),
    }
    fs.set_write_hook(None);
    let store = Store::open_with(dir.path().join("bot"), options).unwrap();
    let acc = store.default_account();
    assert_eq!(acc.dc(2).unwrap(), Some(dc(2, 3)));
    assert_eq!(acc.update_state().unwrap().unwrap().pts, 9);
}

#[test]
fn verify_reports_what_it_checked_and_finds_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let options = Options {
        segment_bytes: 300,
        checkpoint_records: u64::MAX,
        checkpoint_log_bytes: u64::MAX,
        ..Options::default()
    };
    let store = Store::open_with(&path, options).unwrap();
    let acc = store.default_account();
    acc.save(&session(1)).unwrap();
    acc.cache_peers(&(0..50).map(peer).collect::<Vec<_>>())
        .unwrap();
    for pts in 1..=10 {
        acc.set_update_state(UpdateStateChange::Primary {
            pts,
            date: 1,
            seq: 1,
        })
        .unwrap();
    }
    let report = store.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(
        (report.accounts, report.peers, report.dcs, report.channels),
        (1, 50, 3, 2)
    );
    assert!(
        report.log_records >= 11 && report.log_segments >= 2,
        "{report:?}"
    );
    assert_eq!(report.index_entries, 100);
    // Damage a sealed segment under the running store.
    let sdir = dir.path().join("bot.session");
    let mut segs = common::segments(&sdir);
    segs.sort();
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    std::fs::write(&segs[0], bytes).unwrap();
    let report = store.verify().unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&segs[0].display().to_string())),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_backup_taken_while_writers_run_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("live")).unwrap());
    let acc = store.default_account();
    acc.cache_peers(&(0..3000).map(peer).collect::<Vec<_>>())
        .unwrap();
    let mut me = peer(7);
    me.is_self = Some(true);
    acc.cache_peers(&[me]).unwrap();
    store.account("other").unwrap().save(&session(2)).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The writer says when it has written a few batches: the backup must run beside them.
    let (wrote, written_some) = std::sync::mpsc::channel();
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let acc = store.default_account();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                i += 1;
                // One batch: pts and channel 1 always move together.
                let mut s = session(1);
                s.update_state.as_mut().unwrap().pts = i;
                s.channels = [(1, i)].into_iter().collect();
                acc.save(&s).unwrap();
                acc.cache_peers(&[peer(10_000 + i64::from(i))]).unwrap();
                if i == 3 {
                    let _ = wrote.send(());
                }
            }
            i
        })
    };
    written_some.recv().unwrap();
    let report = store.backup(dir.path().join("copy")).unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(report.peers >= 3001 && report.accounts == 2, "{report:?}");
    assert!(
        store.backup(dir.path().join("copy")).is_err(),
        "never overwrite a backup"
    );
    let copy = Store::open(dir.path().join("copy")).unwrap();
    let cacc = copy.default_account();
    let s = cacc.session().unwrap().unwrap();
    let pts = s.update_state.unwrap().pts;
    assert_eq!(s.channels.get(&1), Some(&pts), "a torn batch in the backup");
    assert!(pts <= written);
    assert!(
        cacc.peer(10_003).unwrap().is_some(),
        "a peer written before the backup started is missing"
    );
    assert_eq!(cacc.self_user().unwrap().map(|p| p.id), Some(7));
    assert_eq!(
        cacc.peer_by_username("user2999").unwrap().map(|p| p.id),
        Some(2999)
    );
    assert_eq!(
        copy.account("other").unwrap().session().unwrap(),
        Some(session(2))
    );
    assert!(copy.verify().unwrap().is_ok());
    assert!(!sessiondb::partial_dir(&dir.path().join("copy")).exists());
    let _ = FileSystem::list(&MemFs::new(), dir.path());
}
