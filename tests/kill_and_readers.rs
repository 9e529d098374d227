//! A child process holding the store is SIGKILLed mid-write; a read-only open beside a writer.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use sessiondb::{Durability, Store, UpdateStateChange};

const CHILD_ENV: &str = "SESSIONDB_KILL_CHILD";

/// Runs only as the child: writes durably forever, printing each acknowledged pts.
#[test]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    let start = acc.update_state().unwrap().map_or(0, |s| s.pts);
    for pts in start + 1.. {
        acc.cache_peers_with(&[common::peer(i64::from(pts))], Durability::Buffered)
            .unwrap();
        acc.set_update_state(UpdateStateChange::Primary {
            pts,
            date: pts,
            seq: 1,
        })
        .unwrap();
        if pts % 37 == 0 {
            acc.set_dc(common::dc(2, pts as u8)).unwrap();
        }
        if pts % 150 == 0 {
            store.checkpoint().unwrap();
        }
        println!("ACK {pts}");
    }
}

const PEER_CHILD_ENV: &str = "SESSIONDB_PEER_CHILD";
const OPEN_CHILD_ENV: &str = "SESSIONDB_OPEN_CHILD";

/// Runs only as the child: tries to open the store for writing and prints what happened.
#[test]
fn child_opener() {
    let Ok(path) = std::env::var(OPEN_CHILD_ENV) else {
        return;
    };
    match Store::open(&path) {
        Err(sessiondb::Error::Locked { path }) => println!("LOCKED {}", path.display()),
        Err(e) => println!("ERROR {e}"),
        Ok(_) => println!("OPENED"),
    }
}

#[test]
fn a_writer_in_another_process_gets_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_opener", "--exact", "--nocapture", "--test-threads=1"])
        .env(OPEN_CHILD_ENV, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("LOCKED") && stdout.contains("bot.session"),
        "{stdout}"
    );
    store.close().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_opener", "--exact", "--nocapture", "--test-threads=1"])
        .env(OPEN_CHILD_ENV, &path)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("OPENED"));
}

/// Runs only as the child: caches buffered peer batches; every 5th batch is followed by a
/// flush, after which the child reports how many batches are now synced.
#[test]
fn child_peer_writer() {
    let Ok(path) = std::env::var(PEER_CHILD_ENV) else {
        return;
    };
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    for b in 0i64.. {
        let batch: Vec<_> = (b * 100..b * 100 + 100).map(common::peer).collect();
        acc.cache_peers(&batch).unwrap(); // buffered: acknowledged before any sync
        if b % 5 == 4 {
            store.flush().unwrap();
            println!("ACK {}", b + 1);
        }
    }
}

fn run_child_until(path: &std::path::Path, acks: usize) -> i32 {
    run_child("child_writer", CHILD_ENV, path, acks)
}

fn run_child(test: &str, env: &str, path: &std::path::Path, acks: usize) -> i32 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = 0;
    let mut seen = 0;
    while seen < acks {
        let line = lines.next().expect("child died early").unwrap();
        // libtest may print "test <name> ... " ahead of the child's first line.
        let line = line.rsplit(" ... ").next().unwrap_or_default().to_owned();
        if let Some(n) = line.strip_prefix("ACK ") {
            last = n.trim().parse().unwrap();
            seen += 1;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    last
}

#[test]
fn acknowledged_writes_survive_sigkill_and_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim");
    let mut replayed_total = 0;
    for (round, acks) in [40, 170, 7, 260, 90].into_iter().enumerate() {
        let last = run_child_until(&path, acks);
        let store = Store::open(&path).unwrap();
        let acc = store.default_account();
        let state = acc.update_state().unwrap().expect("state survives");
        assert!(
            state.pts >= last,
            "round {round}: pts {} < acknowledged {last}",
            state.pts
        );
        // Durable writes sync the log, so buffered peers written before them are durable too.
        assert!(
            acc.peer(i64::from(last)).unwrap().is_some(),
            "round {round}"
        );
        replayed_total += store.recovery().records_replayed;
        drop(store);
    }
    assert!(replayed_total > 0, "kills must land between checkpoints");
}

#[test]
fn buffered_peers_are_lost_only_if_unsynced_when_the_process_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peers");
    let synced_batches = run_child("child_peer_writer", PEER_CHILD_ENV, &path, 9);
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    // Every batch before the last acknowledged flush is there, whole.
    let synced = synced_batches as i64 * 100;
    assert_eq!(
        acc.peers(None, synced as usize).unwrap().len() as i64,
        synced
    );
    for id in [0, synced / 2, synced - 1] {
        assert!(common::same_peer(
            &common::peer(id),
            &acc.peer(id).unwrap().unwrap()
        ));
    }
    // Batches after it may or may not have reached the disk, but each is all or nothing.
    let count = acc.peer_count().unwrap() as i64;
    assert!(
        count >= synced && count % 100 == 0,
        "{count} peers after {synced} synced"
    );
}

#[test]
fn a_read_only_open_sees_the_checkpoint_and_the_log_beside_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let writer = Store::open(&path).unwrap();
    let acc = writer.default_account();
    acc.save(&common::session(1)).unwrap(); // checkpointed
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 500,
        date: 1,
        seq: 1,
    })
    .unwrap();
    acc.cache_peers_with(&[common::peer(9)], Durability::Durable)
        .unwrap();

    let reader = Store::open_read_only(&path).unwrap();
    let racc = reader.default_account();
    assert_eq!(
        racc.update_state().unwrap().unwrap().pts,
        500,
        "log tail replayed"
    );
    assert_eq!(
        racc.dc(2).unwrap(),
        Some(common::dc(2, 2)),
        "checkpoint read"
    );
    assert!(racc.peer(9).unwrap().is_some());
    assert!(matches!(
        racc.set_update_state(UpdateStateChange::Secondary { qts: 1 }),
        Err(sessiondb::Error::ReadOnly)
    ));
    // The writer goes on (and checkpoints) while the reader holds its snapshot.
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 501,
        date: 1,
        seq: 1,
    })
    .unwrap();
    writer.checkpoint().unwrap();
    assert_eq!(racc.update_state().unwrap().unwrap().pts, 500, "a snapshot");
    let reader2 = Store::open_read_only(&path).unwrap();
    assert_eq!(
        reader2
            .default_account()
            .update_state()
            .unwrap()
            .unwrap()
            .pts,
        501
    );
    drop(reader);
    drop(reader2);
    writer.close().unwrap();
}
