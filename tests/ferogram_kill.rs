//! SIGKILL a child that drives `FerogramSession` the way ferogram does: `save` of a growing
//! snapshot (peers, DCs, min peers, a login token) beside `apply_update_state` every few
//! milliseconds, and check after every kill that the store opens and holds every
//! acknowledged pts and save (or the one in flight), and nothing else.
//!
//! `SESSIONDB_FEROGRAM_KILLS` sets the number of kills (default 100); a quarter of them
//! land while the child is parked inside a checkpoint.
#![cfg(feature = "ferogram")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::rng::Rng;
use ferogram_session::{
    CachedMinPeer, CachedPeer, DcEntry, DcFlags, PersistedSession, SessionBackend,
    UpdateStateChange,
};
use sessiondb::{FerogramSession, Options, Store};

const CHILD: &str = "SESSIONDB_FEROGRAM_CHILD";
const PEERS_PER_GENERATION: i64 = 40;
const MAX_PEERS: i64 = 4_000;

fn hash_of(id: i64, generation: i64) -> i64 {
    (id ^ generation.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15u64 as i64)
}

fn peers_of(generation: i64) -> i64 {
    (generation * PEERS_PER_GENERATION).min(MAX_PEERS)
}

/// The snapshot of save number `generation` with pts `pts`: what ferogram would build.
fn snapshot(generation: i64, pts: i32) -> PersistedSession {
    let mut dc = DcEntry::from_parts(2, "149.154.167.51", 443, DcFlags::NONE);
    dc.auth_key = Some([(generation % 251) as u8 + 1; 256]);
    dc.first_salt = generation;
    let media = DcEntry::from_parts(2, "149.154.167.222", 443, DcFlags::MEDIA_ONLY);
    let mut s = PersistedSession {
        home_dc_id: 2,
        dcs: vec![dc, media],
        ..PersistedSession::default()
    };
    s.updates_state.pts = pts;
    s.peers = (1..=peers_of(generation))
        .map(|id| CachedPeer {
            id,
            access_hash: hash_of(id, generation),
            is_channel: id % 3 == 0,
            is_chat: false,
            channel_kind: None,
            is_community: false,
        })
        .collect();
    s.min_peers = vec![CachedMinPeer {
        user_id: 1,
        peer_id: 3,
        msg_id: generation as i32,
    }];
    s.future_auth_token = Some(generation.to_le_bytes().to_vec());
    s
}

fn generation_of(s: &PersistedSession) -> i64 {
    s.future_auth_token
        .as_deref()
        .and_then(|t| t.try_into().ok())
        .map_or(0, i64::from_le_bytes)
}

fn options() -> Options {
    let pause: Option<String> = std::env::var("SESSIONDB_PAUSE_IN").ok();
    let hook = common::pausing_hook(pause, common::env_or("SESSIONDB_PAUSE_AFTER", 1));
    Options {
        checkpoint_records: 40,
        checkpoint_log_bytes: 128 << 10,
        segment_bytes: 16 << 10,
        phase_hook: Some(hook),
        ..Options::default()
    }
}

/// The child: pts moves on one thread, saves follow on another; each prints what was
/// acknowledged. A lock keeps a snapshot's pts from going behind an acknowledged one (as
/// ferogram's own snapshot reads its message box).
#[test]
fn ferogram_kill_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let store = Arc::new(Store::open_with(&path, options()).expect("open"));
    let session = Arc::new(FerogramSession::from_store(store, "default").expect("account"));
    let loaded = session.load().expect("load");
    let start = loaded
        .as_ref()
        .map_or((0, 0), |s| (s.updates_state.pts, generation_of(s)));
    let pts = Arc::new(Mutex::new(start.0));
    let mover = {
        let (session, pts) = (session.clone(), pts.clone());
        std::thread::spawn(move || {
            loop {
                let mut p = pts.lock().expect("lock");
                let next = *p + 1;
                let change = UpdateStateChange::Primary {
                    pts: next,
                    date: next,
                    seq: next,
                };
                session.apply_update_state(change).expect("apply");
                *p = next;
                println!("ACK pts {next}");
            }
        })
    };
    for generation in start.1 + 1.. {
        let p = pts.lock().expect("lock");
        session.save(&snapshot(generation, *p)).expect("save");
        drop(p);
        println!("ACK save {generation}");
    }
    mover.join().expect("mover");
}

/// One child: killed after `acks` acknowledgements, or once parked in `pause`. Returns the
/// last pts and save acknowledged, and whether it was parked.
fn run(path: &std::path::Path, acks: u64, pause: Option<(&str, u64)>) -> ((i32, i64), bool) {
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.args([
        "ferogram_kill_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, path)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if let Some((phase, after)) = pause {
        cmd.env("SESSIONDB_PAUSE_IN", phase)
            .env("SESSIONDB_PAUSE_AFTER", after.to_string());
    }
    let mut child = cmd.spawn().expect("spawn");
    let (mut pts, mut saved, mut seen, mut parked) = (0, 0, 0, false);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut note = |line: &str, pts: &mut i32, saved: &mut i64| {
        let line = line.rsplit(" ... ").next().unwrap_or_default();
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["ACK", "pts", n] => *pts = n.parse().expect("pts"),
            ["ACK", "save", n] => *saved = n.parse().expect("generation"),
            ["PAUSED", ..] => parked = true,
            _ => {}
        }
    };
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        note(&line, &mut pts, &mut saved);
        if line.contains("PAUSED") {
            break;
        }
        if line.contains("ACK") {
            seen += 1;
            if (pause.is_none() && seen >= acks) || seen > 20_000 {
                break; // (with a pause: the phase never came, kill anyway)
            }
        }
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    // What the child printed before it died counts too: those writes were acknowledged.
    for line in lines.map_while(std::result::Result::ok) {
        note(&line, &mut pts, &mut saved);
    }
    ((pts, saved), parked)
}

/// The store holds the acknowledged pts (or the one in flight) and the acknowledged save
/// (or the one in flight), whole. Returns what it holds.
fn check(path: &std::path::Path, round: u64, (pts, saved): (i32, i64)) -> (i32, i64) {
    let store = Arc::new(Store::open(path).expect("the store opens after a kill"));
    let session = FerogramSession::from_store(store.clone(), "default").expect("account");
    let Some(s) = session.load().expect("load") else {
        assert_eq!(
            (pts, saved),
            (0, 0),
            "round {round}: acknowledged writes, no session"
        );
        return (0, 0);
    };
    let got = s.updates_state.pts;
    assert!(
        got == pts || got == pts + 1,
        "round {round}: pts {got}, acknowledged {pts}"
    );
    let generation = generation_of(&s);
    assert!(
        generation == saved || generation == saved + 1,
        "round {round}: save {generation} stored, {saved} acknowledged"
    );
    if generation > 0 {
        let want = snapshot(generation, got);
        assert_eq!(s.peers.len(), want.peers.len(), "round {round}: peer count");
        let mut peers: Vec<(i64, i64)> = s.peers.iter().map(|p| (p.id, p.access_hash)).collect();
        peers.sort();
        let expected: Vec<(i64, i64)> = want.peers.iter().map(|p| (p.id, p.access_hash)).collect();
        assert!(
            peers == expected,
            "round {round}: peers of save {generation}"
        );
        assert_eq!(s.dcs.len(), 2, "round {round}: DC entries");
        assert!(
            s.dcs[0].auth_key == want.dcs[0].auth_key,
            "round {round}: DC 2's key is save {generation}'s"
        );
        assert_eq!(s.min_peers.len(), 1, "round {round}: min peers");
        assert_eq!(s.min_peers[0].msg_id, generation as i32, "round {round}");
    }
    store.close().expect("close");
    (got, generation)
}

#[test]
fn sigkill_while_saving_and_moving_pts_loses_nothing_acknowledged() {
    let kills: u64 = common::env_or("SESSIONDB_FEROGRAM_KILLS", 100);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("victim");
    let mut rng = Rng(0xfe60);
    let (mut parked, mut held) = (0, (0, 0));
    for round in 1..=kills {
        let pause = match round % 8 {
            0 => Some(("Checkpointing", 1 + rng.below(3))),
            4 => Some(("CheckpointCommitted", 1 + rng.below(3))),
            _ => None,
        };
        let (acked, was_parked) = run(&path, 5 + rng.below(200), pause);
        parked += u64::from(was_parked);
        // A child killed before its first acknowledgement still left what the last held.
        held = check(&path, round, (acked.0.max(held.0), acked.1.max(held.1)));
    }
    assert!(parked >= kills / 4, "{parked} kills inside checkpoints");
}
