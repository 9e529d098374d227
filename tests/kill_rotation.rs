//! Key rotation in the kill harness: rounds of a child writing an encrypted store (durable
//! pts and auth-key changes, SIGKILLed after a random number of acknowledgements) alternate
//! with rounds of a child rotating its keys, SIGKILLed while paused in a phase of the
//! rotation (opening, checkpointing, the copy made, the copy swapped in) or once it is done.
//! After every kill the store opens, read-only and for writing, with exactly one of the old
//! and the new passphrase, holding every acknowledged write and no invented key.
//!
//! `SESSIONDB_ROTATION_KILLS` sets the number of rotation rounds (default 16).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use sessiondb::{AuthKey, DataCenter, Error, Options, Store};

const CHILD: &str = "SESSIONDB_KILL_ROTATION";

use common::encryption;

fn key_of(k: i32) -> AuthKey {
    AuthKey::new([(k % 251) as u8 | 1; 256])
}

/// Options with `passphrase` and a hook that pauses (for the parent to kill) in `pause`.
fn options(passphrase: &str, pause: Option<String>) -> Options {
    Options {
        checkpoint_records: 40,
        segment_bytes: 8 << 10,
        phase_hook: Some(common::pausing_hook(pause, 1)),
        encryption: Some(encryption(passphrase)),
        ..Options::default()
    }
}

#[test]
fn rotation_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let pass = std::env::var("SESSIONDB_PASS").unwrap();
    let pause = std::env::var("SESSIONDB_PAUSE_IN").ok();
    if let Ok(to) = std::env::var("SESSIONDB_ROTATE_TO") {
        sessiondb::rotate(&path, options(&pass, pause), &encryption(&to)).unwrap();
        println!("ROTATED");
        return;
    }
    let base: i32 = std::env::var("SESSIONDB_BASE").unwrap().parse().unwrap();
    let store = Store::open_with(&path, options(&pass, None)).unwrap();
    let acc = store.default_account();
    for i in 1.. {
        let n = base + i;
        acc.set_update_state(sessiondb::UpdateStateChange::Primary {
            pts: n,
            date: 1,
            seq: 1,
        })
        .unwrap();
        let mut dc = DataCenter::new(2);
        dc.server_salt = i64::from(n);
        dc.auth_key = Some(key_of(n));
        acc.set_dc(dc).unwrap();
        println!("ACK {n}");
    }
}

/// Runs a child with `env` until it prints `until` (or ends), then SIGKILLs it. Returns the
/// last acknowledged number and whether `until` came.
fn run(env: &[(&str, String)], until: &dyn Fn(&str) -> bool) -> (i32, bool) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "rotation_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .envs(env.iter().map(|(k, v)| (k, v)))
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let (mut acked, mut reached) = (0, false);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        let line = line.rsplit(" ... ").next().unwrap_or_default().to_owned();
        if let Some(n) = line.strip_prefix("ACK ").and_then(|n| n.parse().ok()) {
            acked = n;
        }
        if until(&line) {
            reached = true;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    (acked, reached)
}

/// Opens `path` with whichever of `passes` unwraps its key (exactly one must), checks every
/// acknowledged write, and returns that passphrase.
fn check(path: &std::path::Path, passes: [&str; 2], acked: i32, round: u32) -> String {
    let mut opened = Vec::new();
    for pass in passes {
        match Store::open_read_only_with(path, options(pass, None)) {
            Ok(store) => {
                check_store(&store, acked, round);
                opened.push(pass.to_owned());
            }
            Err(Error::WrongPassphrase { .. }) => {}
            Err(e) => panic!("round {round}: read-only open with {pass:?}: {e}"),
        }
    }
    assert_eq!(opened.len(), 1, "round {round}: opened with {opened:?}");
    let store = Store::open_with(path, options(&opened[0], None))
        .unwrap_or_else(|e| panic!("round {round}: reopen: {e}"));
    check_store(&store, acked, round);
    assert!(store.verify().unwrap().is_ok(), "round {round}: verify");
    store.close().unwrap();
    opened.remove(0)
}

fn check_store(store: &Store, acked: i32, round: u32) {
    let acc = store.default_account();
    let pts = acc.update_state().unwrap().map_or(0, |s| s.pts);
    assert!(
        pts >= acked,
        "round {round}: pts {pts} < acknowledged {acked}"
    );
    if let Some(dc) = acc.dc(2).unwrap() {
        let n = i32::try_from(dc.server_salt).unwrap();
        assert!(n >= acked, "round {round}: DC older than acknowledged");
        assert!(
            dc.auth_key == Some(key_of(n)),
            "round {round}: invented key"
        );
    } else {
        assert_eq!(acked, 0, "round {round}: acknowledged DC lost");
    }
}

#[test]
fn sigkill_inside_key_rotations_keeps_one_passphrase_and_every_acknowledged_write() {
    let rounds: u32 = common::env_or("SESSIONDB_ROTATION_KILLS", 16);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim");
    let path_s = path.to_str().unwrap().to_owned();
    let phases = [
        Some("OpenIndexWritten"),
        Some("Checkpointing"),
        Some("RewriteCopied"),
        Some("RewriteSwapped"),
        None,
    ];
    let mut pass = "pass 0".to_owned();
    let (mut acked, mut kept_old, mut took_new) = (0, 0, 0);
    let mut rng = common::Rng(0x5eed);
    for round in 1..=rounds {
        // A writer, killed after a few acknowledgements.
        let acks = 3 + rng.below(60);
        let env = [
            (CHILD, path_s.clone()),
            ("SESSIONDB_PASS", pass.clone()),
            ("SESSIONDB_BASE", (round * 10_000).to_string()),
        ];
        let (n, _) = run(&env, &|line| {
            line.strip_prefix("ACK ")
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n % 10_000 >= acks)
        });
        acked = acked.max(n);
        // A rotation, killed inside one of its phases or after it finished.
        let next = format!("pass {round}");
        let phase = phases[round as usize % phases.len()];
        let mut env = vec![
            (CHILD, path_s.clone()),
            ("SESSIONDB_PASS", pass.clone()),
            ("SESSIONDB_ROTATE_TO", next.clone()),
        ];
        if let Some(p) = phase {
            env.push(("SESSIONDB_PAUSE_IN", p.to_owned()));
        }
        let (_, reached) = run(&env, &|line| line.contains("PAUSED") || line == "ROTATED");
        assert!(
            reached,
            "round {round}: the rotation never reached {phase:?}"
        );
        let opened = check(&path, [&pass, &next], acked, round);
        if opened == pass {
            kept_old += 1;
        } else {
            took_new += 1;
        }
        pass = opened;
    }
    eprintln!("{rounds} rotations killed: {kept_old} kept the old key, {took_new} the new one");
    assert!(kept_old >= rounds / 5 && took_new >= rounds / 5);
}
