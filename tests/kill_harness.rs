//! The process-kill harness. A child process (this test binary, re-run) writes to a real store
//! from five threads — durable update-state changes, DC/auth-key changes, buffered peer
//! batches with flushes, checkpoints and reclaims, account create+delete — and prints each
//! acknowledged write and each pipeline phase it enters. The parent SIGKILLs it after a
//! random number of acknowledgements, or while it is paused inside a checkpoint, a segment
//! rotation or a reclaim, then opens the store read-only and for writing and checks that
//! nothing acknowledged was lost and nothing was invented.
//!
//! `SESSIONDB_KILLS` sets the number of kills (default 100; the long run uses 1000+); the
//! same harness also runs on an encrypted store (`SESSIONDB_ENCRYPTED_KILLS`, default 40).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sessiondb::{AuthKey, DataCenter, Options, Peer, PeerKind, Store, UpdateStateChange};

const CHILD: &str = "SESSIONDB_KILL_HARNESS";
/// Set for a child writing an encrypted store.
const ENCRYPTED: &str = "SESSIONDB_KILL_ENCRYPTED";

/// The encryption of the store under test (small Argon2 parameters: the test opens often).
fn encryption(on: bool) -> Option<sessiondb::Encryption> {
    on.then(|| sessiondb::Encryption {
        passphrase: sessiondb::Passphrase::new("kill harness"),
        kdf: sessiondb::KdfParams::insecure_for_tests(),
    })
}
const ROUND: u64 = 1_000_000;

fn hash_of(id: i64) -> i64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64) ^ 0x5555
}

fn key_of(k: i64) -> AuthKey {
    let mut b = [0u8; 256];
    for (i, x) in b.iter_mut().enumerate() {
        *x = (k as u8).wrapping_add((i as u8).wrapping_mul(31)) | 1;
    }
    AuthKey::new(b)
}

fn options() -> Options {
    let pause: Option<String> = std::env::var("SESSIONDB_PAUSE_IN").ok();
    let hook = common::pausing_hook(pause, common::env_or("SESSIONDB_PAUSE_AFTER", 1));
    Options {
        checkpoint_records: 60,
        checkpoint_log_bytes: 256 << 10,
        segment_bytes: 8 << 10,
        cache_size: 4 << 20,
        phase_hook: Some(hook),
        encryption: encryption(std::env::var(ENCRYPTED).is_ok()),
        ..Options::default()
    }
}

/// Set for a child whose store prunes and reclaims by itself.
const AUTO: &str = "SESSIONDB_KILL_AUTO_RECLAIM";

/// The child of the automatic-reclaim rounds: bursts of peers into a cache capped at 200,
/// so the automatic pruner keeps removing a quarter or more and reclaiming, beside durable
/// update-state writes.
fn auto_reclaim_child(path: &str, base: i64) {
    let mut options = options();
    options.auto_prune = Some(sessiondb::AutoPrune {
        max_peers: Some(200),
        max_age: None,
        every: Duration::from_millis(2),
        reclaim: true,
    });
    let store = Store::open_with(path, options).unwrap();
    let acc = store.default_account();
    for i in 1.. {
        let burst: Vec<Peer> = (0..100)
            .map(|k| base + i * 100 + k)
            .map(|id| Peer::new(id, PeerKind::User, Some(hash_of(id))))
            .collect();
        acc.cache_peers(&burst).unwrap();
        ack_state(&acc, base + i);
    }
}

/// Writes pts `pts` durably and says so.
fn ack_state(acc: &sessiondb::Account, pts: i64) {
    let pts = pts as i32;
    acc.set_update_state(UpdateStateChange::Primary {
        pts,
        date: pts,
        seq: 1,
    })
    .unwrap();
    println!("ACK state {pts}");
}

/// Runs only as the child.
#[test]
fn kill_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let round: i64 = std::env::var("SESSIONDB_ROUND").unwrap().parse().unwrap();
    let base = round * ROUND as i64;
    if std::env::var(AUTO).is_ok() {
        return auto_reclaim_child(&path, base);
    }
    let store = Arc::new(Store::open_with(&path, options()).unwrap());
    let mut threads = Vec::new();
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        let acc = s.default_account();
        for i in 1.. {
            ack_state(&acc, base + i);
        }
    }));
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        let acc = s.default_account();
        for i in 1.. {
            let k = base + i;
            let mut dc = DataCenter::new(2);
            dc.server_salt = k;
            dc.auth_key = Some(key_of(k));
            acc.set_dc(dc).unwrap();
            println!("ACK dc {k}");
        }
    }));
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        let acc = s.default_account();
        for b in 0.. {
            let ids = base + b * 50..base + b * 50 + 50;
            let batch: Vec<Peer> = ids
                .map(|id| Peer::new(id, PeerKind::User, Some(hash_of(id))))
                .collect();
            acc.cache_peers(&batch).unwrap();
            if b % 3 == 2 {
                s.flush().unwrap();
                println!("ACK peers {}", b + 1);
            }
        }
    }));
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        for k in 1.. {
            std::thread::sleep(Duration::from_millis(3));
            // Early on and then every 50th, a reclaim: the index rebuilt and swapped beside
            // the writers (early, so that a kill waiting inside one comes soon).
            if k % 50 == 2 {
                s.reclaim().unwrap();
                println!("ACK reclaim");
            } else {
                s.checkpoint().unwrap();
                println!("ACK checkpoint");
            }
        }
    }));
    let s = store.clone();
    threads.push(std::thread::spawn(move || {
        for i in 1.. {
            let name = format!("tmp{}", base + i);
            s.account(&name).unwrap().set_home_dc(4).unwrap();
            s.delete_account(&name).unwrap();
            println!("ACK deleted {}", base + i);
        }
    }));
    for t in threads {
        let _ = t.join();
    }
}

#[derive(Default)]
struct Acked {
    state: i64,
    dc: i64,
    peer_batches: i64,
    deleted: Vec<i64>,
}

/// One child: runs until `acks` acknowledgements or a pause in `pause`, then SIGKILL.
fn run(
    path: &std::path::Path,
    round: u64,
    acks: u64,
    pause: Option<(&str, u64)>,
    (encrypted, auto): (bool, bool),
) -> (Acked, bool) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    if encrypted {
        cmd.env(ENCRYPTED, "1");
    }
    if auto {
        cmd.env(AUTO, "1");
    }
    cmd.args(["kill_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, path)
        .env("SESSIONDB_ROUND", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some((phase, after)) = pause {
        cmd.env("SESSIONDB_PAUSE_IN", phase)
            .env("SESSIONDB_PAUSE_AFTER", after.to_string());
    }
    let mut child = cmd.spawn().unwrap();
    let mut acked = Acked::default();
    let mut paused = false;
    let mut seen = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        // libtest may print "test kill_child ... " ahead of the child's first line.
        let line = line.rsplit(" ... ").next().unwrap_or_default().to_owned();
        let mut words = line.split_whitespace();
        match (
            words.next(),
            words.next(),
            words.next().and_then(|n| n.parse::<i64>().ok()),
        ) {
            (Some("ACK"), Some("state"), Some(n)) => acked.state = n,
            (Some("ACK"), Some("dc"), Some(n)) => acked.dc = n,
            (Some("ACK"), Some("peers"), Some(n)) => acked.peer_batches = n,
            (Some("ACK"), Some("deleted"), Some(n)) => acked.deleted.push(n),
            (Some("PAUSED"), _, _) => {
                paused = true;
                break;
            }
            _ => {}
        }
        if line.starts_with("ACK") {
            seen += 1;
            if pause.is_none() && seen >= acks {
                break;
            }
        }
        if pause.is_some() && seen > 20_000 {
            break; // the phase never came: kill anyway
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    (acked, paused)
}

fn check(path: &std::path::Path, round: u64, acked: &Acked, encrypted: bool) {
    let options = Options {
        encryption: encryption(encrypted),
        ..Options::default()
    };
    // What an operator runs first after a crash: a read-only open, which changes nothing.
    let reader = Store::open_read_only_with(path, options.clone())
        .unwrap_or_else(|e| panic!("round {round}: read-only open failed: {e}"));
    check_store(&reader, round, acked);
    drop(reader);
    let store = Store::open_with(path, options)
        .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
    check_store(&store, round, acked);
    store.close().unwrap();
}

fn check_store(store: &Store, round: u64, acked: &Acked) {
    let base = (round * ROUND) as i64;
    let acc = store.default_account();
    if acked.state > 0 {
        let pts = acc.update_state().unwrap().expect("update state").pts as i64;
        assert!(
            pts >= acked.state,
            "round {round}: pts {pts} older than acknowledged {}",
            acked.state
        );
    }
    if let Some(dc) = acc.dc(2).unwrap() {
        assert!(
            dc.server_salt >= acked.dc,
            "round {round}: DC older than acknowledged"
        );
        assert_eq!(
            dc.auth_key,
            Some(key_of(dc.server_salt)),
            "round {round}: a key never written"
        );
    } else {
        assert_eq!(acked.dc, 0, "round {round}: acknowledged DC lost");
    }
    let peers = acc.peers(Some(base - 1), usize::MAX).unwrap();
    for p in &peers {
        assert_eq!(
            p.access_hash,
            Some(hash_of(p.id)),
            "round {round}: peer {} has a hash never given",
            p.id
        );
    }
    let synced = acked.peer_batches * 50;
    assert!(
        peers.len() as i64 >= synced,
        "round {round}: {} peers, {synced} were synced",
        peers.len()
    );
    for (i, p) in peers.iter().take(synced as usize).enumerate() {
        assert_eq!(p.id, base + i as i64, "round {round}: synced peer missing");
    }
    let accounts = store.accounts().unwrap();
    for k in &acked.deleted {
        assert!(
            !accounts.contains(&format!("tmp{k}")),
            "round {round}: deleted account tmp{k} is back"
        );
    }
}

#[test]
fn sigkill_at_random_moments_and_inside_checkpoints_and_rotations() {
    kill_rounds("SESSIONDB_KILLS", 100, false);
}

#[test]
fn sigkill_on_an_encrypted_store() {
    kill_rounds("SESSIONDB_ENCRYPTED_KILLS", 40, true);
}

fn kill_rounds(var: &str, default: u64, encrypted: bool) {
    let kills: u64 = common::env_or(var, default);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim");
    let mut rng = common_rng(0x5eed);
    let (mut in_checkpoint, mut in_rotation, mut in_reclaim, mut random) = (0, 0, 0, 0);
    for round in 1..=kills {
        let pause = match round % 10 {
            0 | 5 => Some(("Checkpointing", 1 + rng() % 3)),
            1 => Some(("CheckpointCommitted", 1 + rng() % 3)),
            2 | 7 => Some(("Rotating", 1 + rng() % 4)),
            3 => Some(("ReclaimCopied", 1)),
            8 => Some(("ReclaimSwapped", 1)),
            _ => None,
        };
        let (acked, paused) = run(&path, round, 5 + rng() % 300, pause, (encrypted, false));
        match (pause, paused) {
            (Some(("Rotating", _)), true) => in_rotation += 1,
            (Some((p, _)), true) if p.starts_with("Reclaim") => in_reclaim += 1,
            (Some(_), true) => in_checkpoint += 1,
            _ => random += 1,
        }
        check(&path, round, &acked, encrypted);
    }
    eprintln!(
        "{kills} kills (encrypted: {encrypted}): {in_checkpoint} inside checkpoints, {in_rotation} inside segment rotation, {in_reclaim} inside reclaims, {random} at random moments"
    );
    if kills >= 40 {
        assert!(
            in_checkpoint >= kills / 10 && in_rotation >= kills / 10 && in_reclaim >= kills / 10,
            "{in_checkpoint} / {in_rotation} / {in_reclaim}"
        );
    }
}

#[test]
fn sigkill_beside_automatic_prunes_and_reclaims() {
    let kills: u64 = common::env_or("SESSIONDB_AUTO_RECLAIM_KILLS", 12);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim");
    let mut rng = common_rng(0xa070);
    let mut in_reclaim = 0;
    for round in 1..=kills {
        let pause = match round % 3 {
            0 => Some(("ReclaimCopied", 1 + rng() % 3)),
            1 => Some(("ReclaimSwapped", 1 + rng() % 3)),
            _ => None,
        };
        let (acked, paused) = run(&path, round, 5 + rng() % 300, pause, (false, true));
        in_reclaim += u64::from(paused);
        // The cache is pruned by design: only the update state and the hashes are checked.
        let checked = |s: &Store| {
            let acc = s.default_account();
            let pts = acc.update_state().unwrap().map_or(0, |u| i64::from(u.pts));
            assert!(
                pts >= acked.state,
                "round {round}: pts {pts} < {}",
                acked.state
            );
            for p in acc.peers(None, usize::MAX).unwrap() {
                assert_eq!(
                    p.access_hash,
                    Some(hash_of(p.id)),
                    "round {round}: bad hash"
                );
            }
        };
        let reader = Store::open_read_only(&path)
            .unwrap_or_else(|e| panic!("round {round}: read-only open failed: {e}"));
        checked(&reader);
        drop(reader);
        let store = Store::open(&path).unwrap_or_else(|e| panic!("round {round}: {e}"));
        checked(&store);
        store.close().unwrap();
    }
    assert!(
        in_reclaim >= kills / 3,
        "only {in_reclaim} kills inside a reclaim"
    );
}

fn common_rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

const BACKUP_CHILD: &str = "SESSIONDB_BACKUP_CHILD";

/// Runs only as the child: a writer thread saves sessions whose pts and channel 1 always
/// match, while the main thread takes backups one after another.
#[test]
fn backup_child() {
    let Ok(path) = std::env::var(BACKUP_CHILD) else {
        return;
    };
    let store = Arc::new(Store::open(&path).unwrap());
    println!("READY");
    let s = store.clone();
    std::thread::spawn(move || {
        let acc = s.default_account();
        for i in 1.. {
            let session = sessiondb::Session {
                update_state: Some(sessiondb::UpdateState {
                    pts: i,
                    ..Default::default()
                }),
                channels: [(1, i)].into_iter().collect(),
                ..Default::default()
            };
            acc.save(&session).unwrap();
        }
    });
    for k in 0.. {
        store.backup(format!("{path}-backup-{k}")).unwrap();
        println!("BACKUP {k}");
    }
}

#[test]
fn a_backup_killed_midway_is_absent_or_whole_and_the_source_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("src");
    {
        let store = Store::open(&path).unwrap();
        let peers: Vec<Peer> = (1..=5_000)
            .map(|id| Peer::new(id, PeerKind::User, Some(hash_of(id))))
            .collect();
        store.default_account().cache_peers(&peers).unwrap();
        store.close().unwrap();
    }
    let mut rng = common_rng(0xbac);
    let (mut whole, mut partial) = (0, 0);
    for round in 0..20 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["backup_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(BACKUP_CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wanted = rng() % 3;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut backups = 0;
        let mut ready = false;
        while !ready || backups < wanted {
            let Some(Ok(line)) = lines.next() else { break };
            ready |= line.contains("READY");
            backups += u64::from(line.contains("BACKUP"));
        }
        std::thread::sleep(Duration::from_micros(rng() % 3000));
        child.kill().unwrap();
        child.wait().unwrap();
        for k in 0..50 {
            let dest = dir.path().join(format!("src-backup-{k}"));
            let complete = sessiondb::store_dir(&dest).exists();
            if complete {
                let copy =
                    Store::open(&dest).unwrap_or_else(|e| panic!("round {round}: backup {k}: {e}"));
                let s = copy.default_account().session().unwrap().expect("session");
                let pts = s.update_state.map_or(0, |u| u.pts);
                assert_eq!(
                    s.channels.get(&1).copied().unwrap_or(0),
                    pts,
                    "round {round}: torn backup"
                );
                assert_eq!(copy.default_account().peer_count().unwrap(), 5_000);
                drop(copy);
                std::fs::remove_dir_all(sessiondb::store_dir(&dest)).unwrap();
                whole += 1;
            }
            let unfinished = sessiondb::partial_dir(&dest);
            if unfinished.exists() {
                partial += 1;
                std::fs::remove_dir_all(unfinished).unwrap();
            }
        }
        let source = Store::open(&path).unwrap();
        let acc = source.default_account();
        assert_eq!(
            acc.peer_count().unwrap(),
            5_000,
            "round {round}: the source lost peers"
        );
        let s = acc.session().unwrap();
        if let Some(s) = s {
            let pts = s.update_state.map_or(0, |u| u.pts);
            assert_eq!(s.channels.get(&1).copied().unwrap_or(0), pts);
        }
        assert!(source.verify().unwrap().is_ok());
    }
    eprintln!("backups killed: {whole} finished whole, {partial} left unfinished");
}
