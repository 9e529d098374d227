//! The command-line tool against real stores, including one a writer holds open.

mod common;

use common::run;
use sessiondb::{AuthKey, DataCenter, Peer, PeerKind, Store, UpdateStateChange};

fn key() -> AuthKey {
    let mut b = [0u8; 256];
    b.iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x = (i as u8).wrapping_mul(13) | 0x81);
    AuthKey::new(b)
}

#[test]
fn inspect_stats_verify_and_backup_a_store_while_its_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let p = path.to_str().unwrap();
    let writer = Store::open(&path).unwrap();
    let acc = writer.default_account();
    let mut dc = DataCenter::new(2);
    dc.ipv4 = "149.154.167.51:443".parse().ok();
    dc.auth_key = Some(key());
    dc.server_salt = 0x1122_3344_5566_7788;
    acc.set_dc(dc).unwrap();
    acc.set_home_dc(2).unwrap();
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 321,
        date: 5,
        seq: 6,
    })
    .unwrap();
    let peers: Vec<Peer> = (1..=50)
        .map(|id| Peer::new(id, PeerKind::User, Some(0x7777_0000 + id)))
        .collect();
    acc.cache_peers(&peers).unwrap();
    acc.set_min_peers(&[sessiondb::MinPeerContext {
        user_id: 9,
        peer_id: 3,
        msg_id: 4,
    }])
    .unwrap();
    let token = sessiondb::LoginToken::new(vec![0xab, 0xcd, 0xef, 0x98]).unwrap();
    acc.set_login_token(Some(token)).unwrap();
    writer.flush().unwrap();

    let (code, out) = run(&["accounts", "list", p]);
    assert_eq!((code, out.trim()), (0, "default"));

    let (code, out) = run(&["inspect", p]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("home DC: 2") && out.contains("DC 2: ipv4 149.154.167.51:443"),
        "{out}"
    );
    assert!(
        out.contains("auth key present")
            && out.contains("pts 321")
            && out.contains("cached peers: 50")
            && out.contains("min-peer contexts: 1")
            && out.contains("login token: present"),
        "{out}"
    );
    // No secret in the output: key bytes, salt, access hashes.
    let hex: String = key().as_bytes()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for secret in [
        hex.as_str(),
        "abcdef98",
        "1122334455667788",
        "1234605616436508552",
        "2004287489",
    ] {
        assert!(!out.to_lowercase().contains(secret), "printed a secret");
    }

    let (code, out) = run(&["stats", p]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("account \"default\": 50 peers"), "{out}");

    let (code, out) = run(&["verify", p]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("50 peers") && out.trim_end().ends_with("OK"),
        "{out}"
    );

    let dest = dir.path().join("copy");
    let (code, out) = run(&["backup", p, dest.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let copy = Store::open(&dest).unwrap();
    assert_eq!(copy.default_account().peer_count().unwrap(), 50);
    assert_eq!(
        copy.default_account()
            .dc(2)
            .unwrap()
            .and_then(|d| d.auth_key),
        Some(key())
    );
    drop(writer);
}

#[test]
fn errors_are_reported_with_exit_status_3_and_usage_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let telethon = dir.path().join("old.session");
    std::fs::write(
        &telethon,
        b"SQLite format 3\0 CREATE TABLE entities sent_files",
    )
    .unwrap();
    let (code, out) = run(&["inspect", telethon.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert!(out.contains("Telethon v1 SQLite"), "{out}");
    let (code, out) = run(&["stats", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(code, 3, "{out}");
    let (code, _) = run(&["frobnicate"]);
    assert_eq!(code, 2);
    let (code, out) = run(&[
        "inspect",
        dir.path().join("x").to_str().unwrap(),
        "--account",
        "no such account",
    ]);
    assert_eq!(code, 3, "{out}");
}

#[test]
fn commands_that_change_a_store_never_create_one_and_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo");
    let t = typo.to_str().unwrap();
    for args in [
        vec!["compact", t],
        vec!["prune", t, "--max-peers", "1"],
        vec!["accounts", "delete", t, "x"],
    ] {
        let (code, out) = run(&args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(out.contains("no store at"), "{args:?}: {out}");
        assert!(
            !dir.path().join("typo.session").exists(),
            "{args:?} created a store"
        );
    }

    // `peers --list | head -1`: the reader goes away after one line.
    let path = dir.path().join("many");
    let store = Store::open(&path).unwrap();
    let peers: Vec<Peer> = (1..=20_000)
        .map(|id| Peer::new(id, PeerKind::User, Some(id)))
        .collect();
    store.default_account().cache_peers(&peers).unwrap();
    store.close().unwrap();
    drop(store);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sessiondb"))
        .args([
            "peers",
            path.to_str().unwrap(),
            "--list",
            "--limit",
            "20000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    drop(out);
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(done.status.code(), Some(101), "{err}");
}
