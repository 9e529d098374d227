//! Opens at the edges: a refused open changes no file, a read-only open works after the
//! writer was killed (and changes no file either), and damage in a sealed segment's zero
//! padding loses no acknowledged record.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sessiondb::{Options, RecoveryMode, Store, UpdateStateChange};

const CHILD_ENV: &str = "SESSIONDB_EDGES_CHILD";

fn primary(pts: i32) -> UpdateStateChange {
    UpdateStateChange::Primary {
        pts,
        date: pts,
        seq: 1,
    }
}

/// Runs only as the child: writes durably (a checkpoint now and then), printing each pts
/// once acknowledged, until killed.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    for pts in 1.. {
        acc.cache_peers(&[common::peer(i64::from(pts))]).unwrap();
        acc.set_update_state(primary(pts)).unwrap();
        if pts % 50 == 0 {
            store.checkpoint().unwrap();
        }
        println!("ACK {pts}");
    }
}

/// Kills a child writer right after it acknowledged pts `at`; returns the store's path.
fn killed_writer(dir: &Path, at: i32) -> PathBuf {
    let path = dir.join("bot");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_writer", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let wanted = format!("ACK {at}");
    let seen = BufReader::new(out)
        .lines()
        .any(|l| l.unwrap().ends_with(&wanted));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen, "the child ended before {wanted}");
    path
}

#[test]
fn a_read_only_open_after_a_kill_reads_everything_and_changes_nothing() {
    for at in [30, 75, 120] {
        let dir = tempfile::tempdir().unwrap();
        let path = killed_writer(dir.path(), at);
        let sdir = dir.path().join("bot.session");
        let before = common::files(&sdir);
        let store = Store::open_read_only(&path).unwrap();
        let acc = store.default_account();
        let pts = acc.update_state().unwrap().unwrap().pts;
        assert!(pts >= at, "read {pts}, {at} was acknowledged");
        assert!(acc.peer(i64::from(at)).unwrap().is_some());
        let report = store.verify().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        // A writer cannot start while the repaired-in-memory reader is open.
        assert!(matches!(
            Store::open(&path),
            Err(sessiondb::Error::Locked { .. })
        ));
        drop(store);
        assert_eq!(
            common::files(&sdir),
            before,
            "a read-only open changed files"
        );
        // And the writer opens afterwards with everything.
        let store = Store::open(&path).unwrap();
        assert!(store.default_account().update_state().unwrap().unwrap().pts >= at);
    }
}

#[test]
fn a_refused_open_changes_no_file_even_after_a_kill() {
    for killed in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = if killed {
            killed_writer(dir.path(), 60)
        } else {
            let path = dir.path().join("bot");
            let store = Store::open(&path).unwrap();
            store
                .default_account()
                .set_update_state(primary(5))
                .unwrap();
            drop(store);
            path
        };
        let sdir = dir.path().join("bot.session");
        // Damage the log's first segment header.
        let seg = common::segments(&sdir)[0].clone();
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[2] ^= 0x40;
        std::fs::write(&seg, &bytes).unwrap();
        let before = common::files(&sdir);
        let strict = Options {
            recovery: RecoveryMode::Strict,
            ..Options::default()
        };
        assert!(Store::open_with(&path, strict).is_err());
        assert_eq!(
            common::files(&sdir),
            before,
            "killed {killed}: a refused open changed files"
        );
    }
}

/// A store never checkpointed, whose log holds `records` durable pts changes (1, 2, …).
fn durable_log(dir: &Path, records: i32) -> (PathBuf, Options) {
    let path = dir.join("bot");
    let options = Options {
        checkpoint_records: u64::MAX,
        checkpoint_log_bytes: u64::MAX,
        ..Options::default()
    };
    let store = Store::open_with(&path, options.clone()).unwrap();
    for pts in 1..=records {
        store
            .default_account()
            .set_update_state(primary(pts))
            .unwrap();
    }
    (path, options)
}

#[test]
fn a_flip_in_a_sealed_segments_padding_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, options) = durable_log(dir.path(), 5);
    // The next open starts a new segment; one record goes into it.
    let store = Store::open_with(&path, options.clone()).unwrap();
    store
        .default_account()
        .set_update_state(primary(6))
        .unwrap();
    drop(store);
    let sdir = dir.path().join("bot.session");
    let mut segs = common::segments(&sdir);
    segs.sort();
    assert_eq!(segs.len(), 2, "{segs:?}");
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    let end = common::records_end(&bytes);
    assert!(end + 64 < bytes.len(), "the sealed segment has no padding");
    bytes[end + 40] ^= 0x10;
    std::fs::write(&segs[0], &bytes).unwrap();
    let store = Store::open_with(&path, options).unwrap();
    assert_eq!(
        store.default_account().update_state().unwrap().unwrap().pts,
        6,
        "an acknowledged record was dropped"
    );
    let report = store.verify().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("after the segment's last record")),
        "verify says nothing of the damage: {:?}",
        report.problems
    );
}

#[test]
fn verify_fails_wherever_the_writer_open_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let (path, options) = durable_log(dir.path(), 40);
    let sdir = dir.path().join("bot.session");
    let seg = common::segments(&sdir)[0].clone();
    let clean = std::fs::read(&seg).unwrap();
    // Record starts, to flip a byte inside records 1, 20 and 39.
    let starts: Vec<usize> = common::record_spans(&clean).iter().map(|r| r.0).collect();
    assert_eq!(starts.len(), 40);
    for record in [0, 19, 38] {
        let mut bytes = clean.clone();
        bytes[starts[record] + 26] ^= 0x01;
        std::fs::write(&seg, &bytes).unwrap();
        let refused = Store::open_with(&path, options.clone()).is_err();
        assert!(refused, "record {}: the writer open took it", record + 1);
        let reader = Store::open_read_only(&path).unwrap();
        let report = reader.verify().unwrap();
        assert!(!report.is_ok(), "record {}: verify said OK", record + 1);
    }
    std::fs::write(&seg, &clean).unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    assert!(reader.verify().unwrap().is_ok());
}
