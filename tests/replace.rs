//! Replacing an account (`Account::replace`, `import --replace`) replaces all of it: no old
//! peer or self user stays beside the new session, and a SIGKILL at any point leaves the
//! old account or the new one, never a mix. Copies and imports keep peers' dates.
//!
//! `SESSIONDB_REPLACE_KILLS` sets the number of kill rounds (default 12).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use sessiondb::{Durability, Options, Peer, PeerKind, Session, Store, User};

const CHILD: &str = "SESSIONDB_REPLACE_CHILD";

/// Account generation `g`: its own user, DC keys and 300 peers whose ids say `g`.
fn generation(g: i64) -> (Session, Vec<Peer>) {
    let mut session = common::session((g % 200) as u8 + 1);
    let me = g * 1_000_000 + 1;
    session.user = Some(User {
        id: me,
        dc: 2,
        bot: false,
        username: None,
    });
    let peers = (0..300)
        .map(|i| {
            let mut p = Peer::new(me + i, PeerKind::User, Some(g));
            p.is_self = Some(i == 0);
            p.usernames = vec![format!("gen{g}_user{i}")];
            p
        })
        .collect();
    (session, peers)
}

/// The generation the account holds, checking that all of it is that generation's.
fn held(store: &Store, round: u32) -> i64 {
    let acc = store.default_account();
    let user = acc.session().unwrap().and_then(|s| s.user).expect("a user");
    let g = user.id / 1_000_000;
    let (session, peers) = generation(g);
    assert!(
        acc.session().unwrap() == Some(session),
        "round {round}: session of gen {g}"
    );
    let all = acc.peers(None, 10_000).unwrap();
    assert_eq!(
        all.len(),
        peers.len(),
        "round {round}: peers of gen {g} only"
    );
    assert!(
        all.iter()
            .all(|p| p.id / 1_000_000 == g && p.access_hash == Some(g)),
        "round {round}: a peer of another generation"
    );
    let selves = all.iter().filter(|p| p.is_self == Some(true)).count();
    assert_eq!(selves, 1, "round {round}: one self user");
    assert_eq!(acc.self_user().unwrap().map(|p| p.id), Some(user.id));
    let by_name = acc.peer_by_username(&format!("gen{g}_user7")).unwrap();
    assert_eq!(by_name.map(|p| p.id), Some(user.id + 7), "round {round}");
    g
}

#[test]
fn replace_leaves_nothing_of_the_old_account() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r");
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    let (s1, p1) = generation(1);
    acc.save(&s1).unwrap();
    acc.cache_peers(&p1).unwrap();
    acc.set_update_state(sessiondb::UpdateStateChange::Channel { id: 77, pts: 5 })
        .unwrap();
    let (s2, p2) = generation(2);
    acc.replace(&s2, &p2).unwrap();
    assert_eq!(held(&store, 0), 2);
    assert_eq!(acc.channel_pts(77).unwrap(), None, "old channel pts gone");
    drop(acc);
    store.close().unwrap();
    // Replayed from the log and read from the index alike.
    let store = Store::open(&path).unwrap();
    assert_eq!(held(&store, 0), 2);
    store.checkpoint().unwrap();
    store.close().unwrap();
    let store = Store::open_read_only(&path).unwrap();
    assert_eq!(held(&store, 0), 2);
}

#[test]
fn copies_and_imports_keep_peer_dates() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("d")).unwrap();
    let acc = store.default_account();
    let mut old = Peer::new(5, PeerKind::User, Some(1));
    old.updated_at = 1_600_000_000;
    let mut future = Peer::new(6, PeerKind::User, Some(1));
    future.updated_at = i64::MAX;
    let undated = Peer::new(7, PeerKind::User, Some(1));
    acc.restore_peers(&[old, future, undated], Durability::Durable)
        .unwrap();
    let at = |id| acc.peer(id).unwrap().unwrap().updated_at;
    assert_eq!(at(5), 1_600_000_000, "the source's date");
    assert!(
        at(6) > 1_700_000_000 && at(6) < i64::MAX,
        "a future date is now"
    );
    assert!(at(7) > 1_700_000_000, "no date is now");
    // A live write stamps its own time, whatever the peer says.
    let mut again = acc.peer(5).unwrap().unwrap();
    again.access_hash = Some(2);
    acc.cache_peers(&[again]).unwrap();
    assert!(at(5) > 1_700_000_000);

    let (session, mut peers) = generation(3);
    peers[1].updated_at = 1_600_000_123;
    let other = store.account("other").unwrap();
    other.replace(&session, &peers).unwrap();
    assert_eq!(
        other.peer(peers[1].id).unwrap().unwrap().updated_at,
        1_600_000_123
    );
}

#[test]
fn a_replace_too_big_for_one_record_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("big")).unwrap();
    let acc = store.default_account();
    let (s1, p1) = generation(1);
    acc.replace(&s1, &p1).unwrap();
    let (s2, _) = generation(2);
    let huge: Vec<Peer> = (0..17_000)
        .map(|i| {
            let mut p = Peer::new(2_000_000 + i, PeerKind::User, Some(2));
            p.name = Some("n".repeat(1000));
            p
        })
        .collect();
    let r = acc.replace(&s2, &huge);
    assert!(
        matches!(&r, Err(sessiondb::Error::InvalidArgument(m)) if m.contains("new account")),
        "{r:?}"
    );
    assert_eq!(held(&store, 0), 1, "the old account, whole");
}

fn options(pause: Option<String>, after: u64) -> Options {
    Options {
        checkpoint_records: 3,
        segment_bytes: 64 << 10,
        phase_hook: Some(common::pausing_hook(pause, after)),
        ..Options::default()
    }
}

#[test]
fn replace_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let pause = std::env::var("SESSIONDB_PAUSE_IN").ok();
    let after = common::env_or("SESSIONDB_PAUSE_AFTER", 1);
    let mut g: i64 = std::env::var("SESSIONDB_GEN").unwrap().parse().unwrap();
    let store = Store::open_with(&path, options(pause, after)).unwrap();
    let acc = store.default_account();
    loop {
        g += 1;
        let (session, peers) = generation(g);
        acc.replace(&session, &peers).unwrap();
        println!("ACK {g}");
    }
}

/// Runs the child until it pauses, or has acknowledged `acks` replaces; SIGKILLs it and
/// returns the last acknowledged generation.
fn run(path: &std::path::Path, from: i64, pause: Option<&str>, acks: i64) -> i64 {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "replace_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, path)
    .env("SESSIONDB_GEN", from.to_string())
    .env("SESSIONDB_PAUSE_AFTER", (acks.max(1) * 2).to_string())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if let Some(p) = pause {
        cmd.env("SESSIONDB_PAUSE_IN", p);
    }
    let mut child = cmd.spawn().unwrap();
    let mut acked = from;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        let line = line.rsplit(" ... ").next().unwrap_or_default().to_owned();
        if let Some(n) = line.strip_prefix("ACK ").and_then(|n| n.parse().ok()) {
            acked = n;
            if pause.is_none() && acked - from >= acks {
                break;
            }
        }
        if line.starts_with("PAUSED") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    acked
}

#[test]
fn a_killed_replace_leaves_the_old_account_or_the_new_one() {
    let rounds: u32 = common::env_or("SESSIONDB_REPLACE_KILLS", 12);
    let pauses = [
        None,
        Some("Writing"),
        Some("Checkpointing"),
        Some("CheckpointCommitted"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let store = Store::open(&path).unwrap();
    let (session, peers) = generation(1);
    store.default_account().replace(&session, &peers).unwrap();
    store.close().unwrap();
    let mut acked = 1;
    for round in 0..rounds {
        let pause = pauses[round as usize % pauses.len()];
        let acks = i64::from(round % 3) + 1;
        let before = acked;
        acked = run(&path, acked, pause, acks);
        if pause.is_none() {
            assert!(
                acked >= before + acks,
                "round {round}: the child acknowledged"
            );
        }
        let reader = Store::open_read_only(&path).unwrap();
        let g = held(&reader, round);
        drop(reader);
        let store = Store::open(&path).unwrap();
        assert_eq!(held(&store, round), g, "round {round}: writer open agrees");
        assert!(store.verify().unwrap().is_ok(), "round {round}: verify");
        store.close().unwrap();
        // Every acknowledged replace is there; at most the one in flight beyond it.
        assert!(
            g == acked || g == acked + 1,
            "round {round}: holds gen {g}, acknowledged {acked} (from {before})"
        );
        acked = g;
    }
    assert!(
        acked > i64::from(rounds),
        "the children replaced the account {acked} times"
    );
}
