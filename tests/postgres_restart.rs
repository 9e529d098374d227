//! A PostgreSQL server stopped with `pg_ctl restart -m immediate` (no shutdown checkpoint:
//! the server recovers from its WAL, as after a crash) keeps every write we acknowledged.
//! The test starts its own cluster (own data directory and port), so it can do that to it.
//! It needs Debian's PostgreSQL binaries; without them it says so and passes, except under
//! `CI=true`.
#![cfg(feature = "postgres")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sessiondb::{
    Error, Peer, PeerKind, PgBackend, PgStore, SessionStore, UpdateState, UpdateStateChange,
};

/// A private cluster, stopped when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

fn initdb() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (initdb refuses root).
fn pg(bin: &Path, program: &str, args: &[&str]) {
    let exe = bin.join(program);
    let status = if is_root() {
        let line = std::iter::once(exe.display().to_string())
            .chain(args.iter().map(|a| format!("'{a}'")))
            .collect::<Vec<_>>()
            .join(" ");
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", &line])
            .status()
    } else {
        Command::new(&exe).args(args).status()
    };
    assert!(
        status.is_ok_and(|s| s.success()),
        "{program} {args:?} failed"
    );
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let Some(bin) = initdb() else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but no PostgreSQL binaries under /usr/lib/postgresql"
            );
            eprintln!("skipped: no PostgreSQL binaries under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres", &dir.path().display().to_string()])
                .status();
            assert!(status.is_ok_and(|s| s.success()));
        }
        let data = dir.path().join("data");
        let port = 30_000 + (std::process::id() % 20_000) as u16;
        let d = data.display().to_string();
        pg(&bin, "initdb", &["-D", &d, "-A", "trust", "-U", "postgres"]);
        let cluster = Cluster {
            bin,
            data,
            port,
            _dir: dir,
        };
        cluster.ctl("start");
        Some(cluster)
    }

    fn ctl(&self, action: &str) {
        let d = self.data.display().to_string();
        let log = self.data.with_file_name("server.log").display().to_string();
        let sock = self.data.parent().unwrap().display().to_string();
        let opts = format!("-p {} -k {sock} -c listen_addresses=127.0.0.1", self.port);
        let mut args = vec!["-D", &d, "-l", &log, "-w", "-o", &opts];
        if action == "restart" {
            args.extend(["-m", "immediate"]);
        }
        args.push(action);
        pg(&self.bin, "pg_ctl", &args);
    }

    fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let d = self.data.display().to_string();
        let exe = self.bin.join("pg_ctl").display().to_string();
        let line = format!("{exe} -D '{d}' -m immediate stop");
        let _ = if is_root() {
            Command::new("su")
                .args(["postgres", "-s", "/bin/sh", "-c", &line])
                .output()
        } else {
            Command::new(&exe)
                .args(["-D", &d, "-m", "immediate", "stop"])
                .output()
        };
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immediate_restart_keeps_every_acknowledged_write() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let mut db = PgBackend::connect(&cluster.url(), "w1").await.unwrap();
    let lease = db.acquire("bot", Duration::from_secs(60)).await.unwrap();
    for pts in 1..=100 {
        let state = UpdateState {
            pts,
            qts: 0,
            date: 1,
            seq: 1,
        };
        db.set_update_state(&lease, &state).await.unwrap();
    }
    let peers: Vec<Peer> = (1..=300)
        .map(|id| Peer::new(id, PeerKind::User, Some(id * 11)))
        .collect();
    db.cache_peers(&lease, &peers).await.unwrap();
    drop(db);
    // A store that lives through the restart (it must reconnect by itself).
    let store = PgStore::connect(&cluster.url(), "w2").await.unwrap();
    for pts in 1..=50 {
        let change = UpdateStateChange::Primary {
            pts,
            date: 1,
            seq: 1,
        };
        store.set_update_state("bot2", change).await.unwrap();
    }

    cluster.ctl("restart");

    let mut db = PgBackend::connect(&cluster.url(), "w1").await.unwrap();
    let pts = db.update_state("bot").await.unwrap().map(|s| s.pts);
    assert_eq!(pts, Some(100));
    for id in [1, 150, 300] {
        let p = db.peer("bot", id).await.unwrap();
        assert_eq!(p.and_then(|p| p.access_hash), Some(id * 11));
    }
    // The lease survived too: the same worker takes it back with a larger token.
    let again = db.acquire("bot", Duration::from_secs(60)).await.unwrap();
    assert!(again.token > lease.token);
    db.set_update_state(
        &again,
        &UpdateState {
            pts: 101,
            qts: 0,
            date: 1,
            seq: 1,
        },
    )
    .await
    .unwrap();

    // The surviving store reads and writes again once it reconnected; what it had
    // acknowledged before the restart is there.
    let mut read = Err(Error::Closed);
    for _ in 0..100 {
        read = store.update_state("bot2").await;
        if read.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(read.unwrap().map(|s| s.pts), Some(50));
    let mut written = Err(Error::Closed);
    for _ in 0..100 {
        let change = UpdateStateChange::Primary {
            pts: 51,
            date: 1,
            seq: 1,
        };
        written = store.set_update_state("bot2", change).await;
        if written.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    written.unwrap();
    let state = store.update_state("bot2").await.unwrap();
    assert_eq!(state.map(|s| s.pts), Some(51));
    store.close().await.unwrap();
}
