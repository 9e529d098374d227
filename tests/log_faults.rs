//! Torn tails, bit flips, power cuts, group commit and latching, through the in-memory seam.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use common::peer;
use sessiondb::io::{FileSystem, MemFs};
use sessiondb::{Durability, Error, Options, Store, UpdateStateChange};

fn options(fs: &MemFs) -> Options {
    Options {
        fs: Some(Arc::new(fs.clone())),
        checkpoint_records: u64::MAX,
        checkpoint_log_bytes: u64::MAX,
        ..Options::default()
    }
}

fn open(dir: &Path, fs: &MemFs) -> sessiondb::Result<Store> {
    Store::open_with(dir.join("bot"), options(fs))
}

fn pts(pts: i32) -> UpdateStateChange {
    UpdateStateChange::Primary {
        pts,
        date: pts,
        seq: pts,
    }
}

/// The one log segment of the store (tests that call this never rotate).
fn segment(dir: &Path, fs: &MemFs) -> PathBuf {
    let sdir = dir.join("bot.session");
    let mut names: Vec<String> = fs
        .list(&sdir)
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    sdir.join(names.last().expect("a segment"))
}

/// Writes `n` durable pts changes and returns the segment length after each.
fn write_records(dir: &Path, fs: &MemFs, n: i32) -> Vec<usize> {
    let store = open(dir, fs).unwrap();
    let acc = store.default_account();
    let seg = segment(dir, fs);
    let mut ends = vec![common::records_end(&fs.read_live(&seg).unwrap())];
    for i in 1..=n {
        acc.set_update_state(pts(i)).unwrap();
        ends.push(common::records_end(&fs.read_live(&seg).unwrap()));
    }
    drop(store);
    ends
}

/// A fresh image holding only `seg` with `bytes`, synced.
fn image_with(seg: &Path, bytes: &[u8]) -> MemFs {
    let fs = MemFs::new();
    let f = fs.create_new(seg).unwrap();
    f.write_at(0, bytes).unwrap();
    f.sync_data().unwrap();
    fs.sync_dir(seg.parent().unwrap()).unwrap();
    fs
}

fn stored_pts(dir: &Path, fs: &MemFs) -> sessiondb::Result<Option<i32>> {
    let store = open(dir, fs)?;
    let got = store.default_account().update_state()?.map(|s| s.pts);
    drop(store);
    Ok(got)
}

#[test]
fn truncating_the_last_record_at_every_offset_keeps_all_earlier_records() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let ends = write_records(dir.path(), &fs, 5);
    let seg = segment(dir.path(), &fs);
    let full = fs.read_live(&seg).unwrap();
    let (start, end) = (ends[4], ends[5]);
    assert!(end > start + 24);
    for cut in start..end {
        let image = image_with(&seg, &full[..cut]);
        assert_eq!(
            stored_pts(dir.path(), &image).unwrap(),
            Some(4),
            "cut at {cut}"
        );
        // The cut is made durable: a second open finds a clean log.
        let store = open(dir.path(), &image).unwrap();
        assert_eq!(store.recovery().bytes_cut, 0);
        drop(store);
    }
    let image = image_with(&seg, &full);
    assert_eq!(stored_pts(dir.path(), &image).unwrap(), Some(5));
}

#[test]
fn a_flipped_bit_in_the_middle_of_the_log_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let ends = write_records(dir.path(), &fs, 10);
    let seg = segment(dir.path(), &fs);
    let full = fs.read_live(&seg).unwrap();
    // byte offsets inside record 5: payload, CRC, LSN, horizon, and the length field
    let rec = ends[4];
    for (at, bit) in [
        (rec + 30, 0x10),
        (rec + 5, 1),
        (rec + 9, 4),
        (rec + 17, 2),
        (rec + 3, 0x80),
        (rec, 1),
    ] {
        let mut bytes = full.clone();
        bytes[at] ^= bit;
        let image = image_with(&seg, &bytes);
        match open(dir.path(), &image) {
            Err(Error::Corrupt { file, offset, .. }) => {
                assert_eq!(file, seg);
                assert_eq!(offset, rec as u64, "flip at {at}");
            }
            other => panic!("flip at {at}: expected Corrupt, got {other:?}"),
        }
        // Corruption is reported, never repaired behind the user's back.
        assert!(
            image.read_live(&seg).unwrap() == bytes,
            "the damaged log was changed"
        );
    }
}

#[test]
fn a_flipped_bit_in_the_last_record_is_a_torn_tail_and_salvage_opens_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let ends = write_records(dir.path(), &fs, 10);
    let seg = segment(dir.path(), &fs);
    let mut bytes = fs.read_live(&seg).unwrap();
    bytes[ends[9] + 28] ^= 1;
    // Nothing after the last record can prove it was synced: indistinguishable from a torn
    // write, so it is cut (documented in docs/design.md).
    assert_eq!(
        stored_pts(dir.path(), &image_with(&seg, &bytes)).unwrap(),
        Some(9)
    );

    let mut bytes = fs.read_live(&seg).unwrap();
    bytes[ends[4] + 28] ^= 1;
    let image = image_with(&seg, &bytes);
    assert!(matches!(
        open(dir.path(), &image),
        Err(Error::Corrupt { .. })
    ));
    let salvage = Options {
        recovery: sessiondb::RecoveryMode::Salvage,
        ..options(&image)
    };
    let store = Store::open_with(dir.path().join("bot"), salvage).unwrap();
    assert_eq!(
        store.default_account().update_state().unwrap().unwrap().pts,
        4
    );
}

#[test]
fn a_power_cut_that_keeps_a_later_page_and_loses_an_earlier_one_still_opens() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let store = open(dir.path(), &fs).unwrap();
    let acc = store.default_account();
    acc.set_dc(common::dc(2, 1)).unwrap();
    acc.set_update_state(pts(41)).unwrap();
    // Unsynced peer batches spanning several pages.
    for b in 0..8 {
        let mut batch: Vec<_> = (0..20).map(|i| peer(b * 100 + i)).collect();
        for p in &mut batch {
            p.name = Some("x".repeat(40));
        }
        acc.cache_peers_with(&batch, Durability::Buffered).unwrap();
    }
    let seg = segment(dir.path(), &fs);
    let mut unsynced = Vec::new();
    fs.power_cut(&mut |p, page| {
        if p == seg {
            unsynced.push(page);
        }
        false
    });
    assert!(
        unsynced.len() >= 3,
        "the buffered batches span pages: {unsynced:?}"
    );
    let lost = unsynced[0];
    let image = fs.power_cut(&mut |_, page| page != lost);
    drop(store);
    let store = open(dir.path(), &image).unwrap();
    assert!(store.recovery().bytes_cut > 0, "the torn tail was cut");
    let acc = store.default_account();
    assert_eq!(acc.dc(2).unwrap(), Some(common::dc(2, 1)));
    assert_eq!(acc.update_state().unwrap().unwrap().pts, 41);
    // Peers either came back whole or not at all.
    for id in [0, 101, 702] {
        if let Some(p) = acc.peer(id).unwrap() {
            let mut want = peer(id);
            want.name = Some("x".repeat(40));
            assert!(common::same_peer(&want, &p));
        }
    }
    // And the store keeps working on the cut log.
    acc.set_update_state(pts(42)).unwrap();
    drop(store);
    assert_eq!(stored_pts(dir.path(), &image).unwrap(), Some(42));
}

#[test]
fn a_power_cut_loses_only_unsynced_writes() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let store = open(dir.path(), &fs).unwrap();
    let acc = store.default_account();
    acc.set_update_state(pts(7)).unwrap();
    acc.cache_peers_with(&[peer(1)], Durability::Buffered)
        .unwrap();
    assert!(
        acc.peer(1).unwrap().is_some(),
        "buffered writes are visible at once"
    );
    let image = fs.power_cut(&mut |_, _| false);
    drop(store);
    let store = open(dir.path(), &image).unwrap();
    let acc = store.default_account();
    assert_eq!(acc.update_state().unwrap().unwrap().pts, 7);
    assert_eq!(acc.peer(1).unwrap(), None, "the unsynced peer is gone");
}

struct Gate {
    state: Mutex<(bool, bool)>, // (closed, a sync is waiting)
    cv: Condvar,
}

#[test]
fn group_commit_64_durable_writes_behind_a_blocked_sync_take_at_most_2_more_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let store = open(dir.path(), &fs).unwrap();
    let acc = store.default_account();
    let gate = Arc::new(Gate {
        state: Mutex::new((true, false)),
        cv: Condvar::new(),
    });
    let g = gate.clone();
    fs.set_sync_hook(Some(Arc::new(move |_| {
        let mut s = g.state.lock().unwrap();
        s.1 = true;
        g.cv.notify_all();
        while s.0 {
            s = g.cv.wait(s).unwrap();
        }
        Ok(())
    })));
    let first = acc.set_update_state_async(pts(1));
    {
        let mut s = gate.state.lock().unwrap();
        while !s.1 {
            s = gate.cv.wait(s).unwrap();
        }
    }
    // The writer is now inside a sync. Queue 64 more durable writes behind it.
    let queued: Vec<_> = (2..=65)
        .map(|i| acc.set_update_state_async(pts(i)))
        .collect();
    let before = fs.sync_count();
    gate.state.lock().unwrap().0 = false;
    gate.cv.notify_all();
    first.wait().unwrap();
    for q in queued {
        q.wait().unwrap();
    }
    let extra = fs.sync_count() - before;
    assert!(
        extra <= 2,
        "64 queued durable writes took {extra} more syncs"
    );
    assert_eq!(acc.update_state().unwrap().unwrap().pts, 65);
}

#[test]
fn a_failed_fsync_latches_the_store_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let store = open(dir.path(), &fs).unwrap();
    let acc = store.default_account();
    acc.set_update_state(pts(1)).unwrap();
    fs.set_sync_hook(Some(Arc::new(|_| {
        Err(std::io::Error::other("injected EIO"))
    })));
    match acc.set_update_state(pts(2)) {
        Err(Error::Io { .. } | Error::Latched { .. }) => {}
        other => panic!("expected an I/O error, got {other:?}"),
    }
    fs.set_sync_hook(None);
    // The sync works again, but the store stays latched: a failed fsync may have lost pages.
    // The latch keeps the failure itself, of its kind, as its source.
    match acc.set_update_state(pts(3)) {
        Err(Error::Latched { cause }) => {
            assert!(matches!(&*cause, Error::Io { .. }), "{cause:?}");
            let latched = Error::Latched { cause };
            let source = std::error::Error::source(&latched);
            assert!(source.is_some_and(|s| s.to_string().contains("injected EIO")));
        }
        other => panic!("expected the latch, got {other:?}"),
    }
    assert!(matches!(store.flush(), Err(Error::Latched { .. })));
    assert!(acc.update_state().unwrap().is_some(), "reads still work");
    drop(store);
    let store = open(dir.path(), &fs).unwrap();
    store.default_account().set_update_state(pts(4)).unwrap();
}

#[test]
fn a_failed_write_latches_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let store = open(dir.path(), &fs).unwrap();
    let acc = store.default_account();
    fs.set_write_hook(Some(Arc::new(|_| {
        Err(std::io::Error::other("injected ENOSPC"))
    })));
    assert!(acc.set_update_state(pts(1)).is_err());
    fs.set_write_hook(None);
    assert!(matches!(
        acc.set_update_state(pts(2)),
        Err(Error::Latched { .. })
    ));
}

/// Writes pts 1 (durable), 40 buffered peer records, pts 2 (durable); returns the first
/// segment and where its second record starts.
fn damage_scenario(dir: &Path, fs: &MemFs, options: &Options) -> (PathBuf, usize) {
    let store = Store::open_with(dir.join("bot"), options.clone()).unwrap();
    let acc = store.default_account();
    acc.set_update_state(pts(1)).unwrap();
    let seg = segment(dir, fs);
    let damaged_at = common::records_end(&fs.read_live(&seg).unwrap());
    for b in 0..40 {
        acc.cache_peers_with(&[peer(b)], Durability::Buffered)
            .unwrap();
    }
    acc.set_update_state(pts(2)).unwrap();
    drop(store);
    (seg, damaged_at)
}

#[test]
fn damage_followed_by_a_rotation_and_a_durable_record_is_corruption() {
    // Regression: the scan for proof of a sync bounded LSNs by each segment's own size, so a
    // durable record alone in the next segment, past many buffered records, was missed and
    // the damage cut as a torn tail — losing an acknowledged write.
    let dir = tempfile::tempdir().unwrap();
    // First learn how long the segment is after the buffered records...
    let probe = MemFs::new();
    let (seg, _) = damage_scenario(dir.path(), &probe, &options(&probe));
    let full = common::records_end(&probe.read_live(&seg).unwrap()) as u64;
    // ...then rotate right after the last of them, so pts 2 is alone in the next segment.
    let fs = MemFs::new();
    let opts = Options {
        segment_bytes: full - 80,
        ..options(&fs)
    };
    let (seg, damaged_at) = damage_scenario(dir.path(), &fs, &opts);
    assert_ne!(segment(dir.path(), &fs), seg, "pts 2 went to a new segment");
    let mut bytes = fs.read_live(&seg).unwrap();
    bytes[damaged_at + 30] ^= 1;
    fs.overwrite(&seg, bytes).unwrap();
    assert!(matches!(
        Store::open_with(dir.path().join("bot"), opts),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn a_tail_replayed_after_a_kill_is_synced_before_new_records_vouch_for_it() {
    // Regression: after a SIGKILL the unsynced tail is still in the page cache; recovery
    // replayed it without syncing it, then new durable records claimed it was synced, so a
    // power cut afterwards made the store refuse to open as corrupt.
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let store = open(dir.path(), &fs).unwrap();
    let acc = store.default_account();
    acc.set_update_state(pts(1)).unwrap();
    for b in 0..5 {
        acc.cache_peers_with(&[peer(b)], Durability::Buffered)
            .unwrap();
    }
    let killed = fs.kill(); // the process dies here: nothing synced, nothing lost
    drop(store);
    let store = open(dir.path(), &killed).unwrap();
    let acc = store.default_account();
    assert!(
        acc.peer(4).unwrap().is_some(),
        "the page cache kept the buffered peers"
    );
    acc.set_update_state(pts(2)).unwrap();
    let cut = killed.power_cut(&mut |_, _| false);
    drop(store);
    let store = open(dir.path(), &cut).unwrap();
    assert_eq!(
        store.default_account().update_state().unwrap().unwrap().pts,
        2
    );
    assert!(store.default_account().peer(4).unwrap().is_some());
}

#[test]
fn the_zeros_written_ahead_of_the_records_are_a_clean_end_even_in_strict_mode() {
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let ends = write_records(dir.path(), &fs, 5);
    let seg = segment(dir.path(), &fs);
    let full = fs.read_live(&seg).unwrap();
    assert!(
        full.len() > ends[5] + 4096,
        "zeros are written ahead of the records"
    );
    assert!(full[ends[5]..].iter().all(|&b| b == 0));
    let strict = Options {
        recovery: sessiondb::RecoveryMode::Strict,
        ..options(&fs)
    };
    let store = Store::open_with(dir.path().join("bot"), strict).unwrap();
    assert_eq!(store.recovery().bytes_cut, 0);
    assert_eq!(
        store
            .default_account()
            .update_state()
            .unwrap()
            .map(|s| s.pts),
        Some(5)
    );
    assert!(
        store.verify().unwrap().is_ok(),
        "verify reads the zeros as the end"
    );
}

#[test]
fn a_last_record_zeroed_from_any_offset_is_a_torn_tail() {
    // A power cut inside the preallocated file: the record's later pages read back as the
    // zeros written ahead of it, the file length unchanged.
    let dir = tempfile::tempdir().unwrap();
    let fs = MemFs::new();
    let ends = write_records(dir.path(), &fs, 5);
    let seg = segment(dir.path(), &fs);
    let full = fs.read_live(&seg).unwrap();
    for cut in ends[4]..ends[5] {
        let mut bytes = full.clone();
        bytes[cut..ends[5]].fill(0);
        let image = image_with(&seg, &bytes);
        assert_eq!(
            stored_pts(dir.path(), &image).unwrap(),
            Some(4),
            "zeroed from {cut}"
        );
    }
}
