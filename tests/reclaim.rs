//! Reclaim: the index is rebuilt into a fresh file and renamed over the live one while
//! writers go on; the file shrinks, nothing is lost, and a power cut at any step of it
//! leaves a store that opens with every acknowledged write.

mod common;

use std::sync::{Arc, Mutex};

use sessiondb::io::MemFs;
use sessiondb::{Options, Peer, PeerKind, Phase, PhaseHook, PrunePolicy, Store, UpdateStateChange};

fn user(id: i64) -> Peer {
    let mut p = Peer::new(id, PeerKind::User, Some(id * 3));
    p.usernames = vec![format!("user_{id}")];
    p
}

fn fill(store: &Store, n: i64) {
    let acc = store.default_account();
    let peers: Vec<Peer> = (1..=n).map(user).collect();
    for chunk in peers.chunks(2_000) {
        acc.cache_peers(chunk).unwrap();
    }
}

#[test]
fn reclaim_shrinks_the_index_beside_a_writer_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    fill(&store, 100_000);
    store.checkpoint().unwrap();
    let acc = store.default_account();
    acc.prune(&PrunePolicy {
        max_peers: Some(10_000),
        ..Default::default()
    })
    .unwrap();
    let writer = {
        let acc = acc.clone();
        std::thread::spawn(move || {
            for pts in 1..=400 {
                let change = UpdateStateChange::Primary {
                    pts,
                    date: pts,
                    seq: 1,
                };
                acc.set_update_state(change).unwrap();
            }
        })
    };
    let (before, after) = store.reclaim().unwrap();
    writer.join().unwrap();
    assert!(after < before / 2, "index {before} -> {after} bytes");
    let on_disk = std::fs::metadata(dir.path().join("bot.session/index.redb"))
        .unwrap()
        .len();
    assert_eq!(on_disk, after);
    assert_eq!(acc.peer_count().unwrap(), 10_000);
    assert_eq!(
        acc.peer_by_username("user_99000").unwrap().map(|p| p.id),
        Some(99_000)
    );
    assert_eq!(acc.update_state().unwrap().map(|s| s.pts), Some(400));
    // Later checkpoints go into the new file; a reopen reads it.
    acc.cache_peers(&[user(170_000)]).unwrap();
    store.close().unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    assert_eq!(acc.peer_count().unwrap(), 10_001);
    assert_eq!(acc.update_state().unwrap().map(|s| s.pts), Some(400));
    assert!(store.verify().unwrap().is_ok());
}

#[test]
fn a_power_cut_at_any_step_of_a_reclaim_keeps_every_acknowledged_write() {
    for at in [Phase::ReclaimCopied, Phase::ReclaimSwapped] {
        let dir = tempfile::tempdir().unwrap();
        let fs = MemFs::new();
        let image: Arc<Mutex<Option<MemFs>>> = Arc::default();
        let hook = {
            let (fs, image) = (fs.clone(), image.clone());
            PhaseHook(Arc::new(move |phase| {
                if phase == at {
                    *image.lock().unwrap() = Some(fs.power_cut(&mut |_, _| false));
                }
            }))
        };
        let options = Options {
            fs: Some(Arc::new(fs.clone())),
            phase_hook: Some(hook),
            ..Options::default()
        };
        let store = Store::open_with(dir.path().join("bot"), options).unwrap();
        fill(&store, 3_000);
        let acc = store.default_account();
        acc.set_update_state(UpdateStateChange::Primary {
            pts: 7,
            date: 1,
            seq: 1,
        })
        .unwrap();
        store.reclaim().unwrap();
        drop(store);
        let cut = image.lock().unwrap().take().expect("the phase was reached");
        let reopened = Options {
            fs: Some(Arc::new(cut)),
            ..Options::default()
        };
        let store = Store::open_with(dir.path().join("bot"), reopened).unwrap();
        let acc = store.default_account();
        assert_eq!(acc.peer_count().unwrap(), 3_000, "cut at {at:?}");
        assert_eq!(
            acc.update_state().unwrap().map(|s| s.pts),
            Some(7),
            "cut at {at:?}"
        );
        assert!(store.verify().unwrap().is_ok(), "cut at {at:?}");
    }
}

/// A `save` (an explicit checkpoint) asked for while a reclaim runs waits for it, but the
/// writes queued behind it do not.
#[test]
fn a_checkpoint_asked_for_during_a_reclaim_does_not_hold_up_writes() {
    use std::sync::Condvar;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    // (armed, reached, released)
    let gate = Arc::new((Mutex::new((false, false, false)), Condvar::new()));
    let hook_gate = gate.clone();
    let hook = PhaseHook(Arc::new(move |phase: Phase| {
        if phase != Phase::ReclaimCopied {
            return;
        }
        let (m, cv) = &*hook_gate;
        let mut g = m.lock().unwrap();
        if !g.0 {
            return;
        }
        g.1 = true;
        cv.notify_all();
        while !g.2 {
            g = cv.wait(g).unwrap();
        }
    }));
    let options = Options {
        phase_hook: Some(hook),
        ..Options::default()
    };
    let store = Arc::new(Store::open_with(dir.path().join("bot"), options).unwrap());
    fill(&store, 2_000);
    store.checkpoint().unwrap();
    gate.0.lock().unwrap().0 = true;
    let reclaim = {
        let s = store.clone();
        std::thread::spawn(move || s.reclaim())
    };
    let (m, cv) = &*gate;
    let reached = cv
        .wait_timeout_while(m.lock().unwrap(), Duration::from_secs(30), |g| !g.1)
        .unwrap();
    assert!(reached.0.1, "the reclaim never reached its copy");
    drop(reached);

    let acc = store.default_account();
    acc.set_update_state(UpdateStateChange::Secondary { qts: 1 })
        .unwrap();
    let checkpoint = {
        let s = store.clone();
        std::thread::spawn(move || s.checkpoint())
    };
    // Durable writes behind the checkpoint request finish while the reclaim is held.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let writer = {
        let acc = acc.clone();
        std::thread::spawn(move || {
            for qts in 2..=21 {
                acc.set_update_state(UpdateStateChange::Secondary { qts })
                    .unwrap();
            }
            done_tx.send(()).unwrap();
        })
    };
    let writes_finished = done_rx.recv_timeout(Duration::from_secs(20)).is_ok();
    let checkpoint_waited = !checkpoint.is_finished();
    // Open the gate before asserting, so a failure does not leave threads hanging.
    {
        let mut g = m.lock().unwrap();
        g.2 = true;
        cv.notify_all();
    }
    assert!(
        writes_finished,
        "writes waited behind a checkpoint queued during a reclaim"
    );
    assert!(
        checkpoint_waited,
        "the checkpoint finished before the reclaim it waited for"
    );
    writer.join().unwrap();
    reclaim.join().unwrap().unwrap();
    let lsn = checkpoint.join().unwrap().unwrap();
    assert!(lsn >= 1);
    assert_eq!(acc.update_state().unwrap().map(|s| s.qts), Some(21));
    store.close().unwrap();
}

#[test]
fn a_writer_beside_fifty_reclaims_never_fails_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let options = Options {
        peer_durability: sessiondb::Durability::Durable,
        ..Options::default()
    };
    let store = Arc::new(Store::open_with(&path, options.clone()).unwrap());
    fill(&store, 2_000);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The writer never pauses, but rewrites the same 1,000 peers (the index does not outgrow
    // the copies), each batch with a new access hash and pts.
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let acc = store.default_account();
            let mut batch = 0i64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                batch += 1;
                let first = 10_000 + (batch % 100) * 10;
                let peers: Vec<Peer> = (first..first + 10)
                    .map(|id| Peer::new(id, PeerKind::User, Some(batch)))
                    .collect();
                acc.cache_peers(&peers).unwrap();
                let pts = i32::try_from(batch).unwrap();
                let change = UpdateStateChange::Primary {
                    pts,
                    date: 1,
                    seq: 1,
                };
                acc.set_update_state(change).unwrap();
                // Reads go through the base too: a reclaim must never pull it away.
                assert!(acc.peer(1).unwrap().is_some());
            }
            batch
        })
    };
    for _ in 0..50 {
        store.reclaim().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let batches = writer.join().unwrap();
    store.health().unwrap();
    drop(store);
    let store = Store::open_with(&path, options).unwrap();
    let acc = store.default_account();
    let pts = acc.update_state().unwrap().map(|s| s.pts);
    assert_eq!(pts, Some(i32::try_from(batches).unwrap()));
    let last = 10_000 + (batches % 100) * 10;
    assert_eq!(acc.peer(last).unwrap().unwrap().access_hash, Some(batches));
    assert_eq!(
        acc.peer_count().unwrap(),
        2_000 + 1_000.min(batches as u64 * 10)
    );
    assert!(store.verify().unwrap().is_ok());
}
