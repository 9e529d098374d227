//! `compare pg <url> [peers] [rounds]`: the shared PostgreSQL backend (`PgStore`) against a
//! server, with 1 and 8 workers (each its own store: connections, account and lease), and
//! the embedded store doing the same work through the same `SessionStore` calls in the same
//! run, alternating. Writes `benches/REPORT-postgres.md`.

use std::sync::Arc;
use std::time::Instant;

use sessiondb::{Durability, Peer, PeerKind, PgStore, SessionStore, Store, UpdateStateChange};

use crate::common::{mix, peer};

const LOOKUPS: u64 = 3_000;
const UPDATES: i32 = 300;
/// Tasks per worker in the concurrent update phase, and writes per task.
const TASKS: i64 = 16;
const PER_TASK: i32 = 50;

fn peers(range: std::ops::Range<u64>) -> Vec<Peer> {
    range
        .map(|i| {
            let (id, hash, name, phone) = peer(i);
            let mut p = Peer::new(id, PeerKind::User, Some(hash));
            p.usernames = vec![name];
            p.phone = Some(phone);
            p
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One worker's phases on `account`: seconds to ingest `n` peers in durable batches of 200;
/// median µs of a lookup by id and by username; seconds for `UPDATES` sequential durable
/// update-state writes; seconds for `TASKS` tasks × `PER_TASK` concurrent ones.
async fn worker(s: Arc<dyn SessionStore>, account: String, n: u64) -> [f64; 5] {
    let t = Instant::now();
    for start in (0..n).step_by(200) {
        let batch = peers(start..(start + 200).min(n));
        s.cache_peers(&account, &batch, Some(Durability::Durable))
            .await
            .expect("ingest");
    }
    let ingest = t.elapsed().as_secs_f64();
    let (mut by_id, mut by_name) = (Vec::new(), Vec::new());
    for k in 0..LOOKUPS {
        let (id, _, name, _) = peer(mix(k) % n);
        let t = Instant::now();
        assert!(s.peer(&account, id).await.expect("get").is_some());
        by_id.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let found = s.peer_by_username(&account, &name).await.expect("get");
        assert!(found.is_some());
        by_name.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let t = Instant::now();
    for pts in 1..=UPDATES {
        let change = UpdateStateChange::Primary {
            pts,
            date: 1,
            seq: 1,
        };
        s.set_update_state(&account, change).await.expect("update");
    }
    let sequential = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|id| {
            let (s, account) = (s.clone(), account.clone());
            tokio::spawn(async move {
                for pts in 1..=PER_TASK {
                    let change = UpdateStateChange::Channel { id, pts };
                    s.set_update_state(&account, change).await.expect("update");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let concurrent = t.elapsed().as_secs_f64();
    [
        ingest,
        median(by_id),
        median(by_name),
        sequential,
        concurrent,
    ]
}

/// Runs `workers` workers at once, each on its own store from `stores`; returns aggregate
/// rates over the slowest worker's time and median latencies.
async fn run_workers(stores: Vec<Arc<dyn SessionStore>>, n: u64, tag: &str) -> [f64; 5] {
    let workers = stores.len();
    let per = n / workers as u64;
    let handles: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(w, s)| {
            let account = format!("bench-{tag}-{w}-{}", std::process::id());
            tokio::spawn(worker(s, account, per))
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.expect("worker"));
    }
    let slowest = |k: usize| results.iter().map(|r| r[k]).fold(0.0, f64::max);
    let w = workers as f64;
    [
        (per * workers as u64) as f64 / slowest(0),
        median(results.iter().map(|r| r[1]).collect()),
        median(results.iter().map(|r| r[2]).collect()),
        f64::from(UPDATES) * w / slowest(3),
        f64::from(PER_TASK) * TASKS as f64 * w / slowest(4),
    ]
}

pub fn run(url: &str, n: u64, rounds: u64) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut rows = Vec::new();
    for workers in [1usize, 8] {
        let (mut pg, mut emb) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let tag = format!("{workers}-{round}");
            let result = rt.block_on(async {
                let mut stores: Vec<Arc<dyn SessionStore>> = Vec::new();
                for w in 0..workers {
                    let s = PgStore::connect(url, &format!("bench{w}")).await;
                    stores.push(Arc::new(s.expect("connect")));
                }
                let out = run_workers(stores.clone(), n, &tag).await;
                for s in stores {
                    s.close().await.expect("close");
                }
                out
            });
            pg.push(result);
            let dir = std::env::temp_dir().join(format!("sessiondb-pg-compare-{tag}"));
            let _ = std::fs::remove_dir_all(&dir);
            let store: Arc<Store> = Arc::new(Store::open(dir.join("bench")).expect("open"));
            let shared: Arc<dyn SessionStore> = store.clone();
            emb.push(rt.block_on(run_workers(vec![shared; workers], n, &tag)));
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
            eprintln!(
                "workers {workers} round {round}: pg {:?} embedded {:?}",
                pg.last(),
                emb.last()
            );
        }
        let col = |v: &[[f64; 5]], k: usize| median(v.iter().map(|r| r[k]).collect());
        let labels = [
            ("ingest, durable batches of 200", "peers/s", 0),
            ("lookup by id, median", "µs", 1),
            ("lookup by username, median", "µs", 2),
            ("durable update, 1 task per worker", "writes/s", 3),
            ("durable update, 16 tasks per worker", "writes/s", 4),
        ];
        for (what, unit, k) in labels {
            let (p, e) = (col(&pg, k), col(&emb, k));
            let embedded_better = if unit == "µs" { p / e } else { e / p };
            rows.push(format!(
                "| {workers} | {what} | {p:.1} {unit} | {e:.1} {unit} | {embedded_better:.1}× |"
            ));
        }
    }
    write_report(n, rounds, &rows);
}

fn write_report(n: u64, rounds: u64, rows: &[String]) {
    let date = String::from_utf8_lossy(
        &std::process::Command::new("date")
            .arg("-u")
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default(),
    )
    .trim()
    .to_owned();
    let out = format!(
        "# PostgreSQL backend report\n\n{date}; 2 cores; PostgreSQL 15 on 127.0.0.1 (same machine, \
         default settings: fsync on, synchronous_commit on). Command: \
         `cd compare && cargo run --release -- pg '<url>' {n} {rounds}`\n\n\
         {n} peers per row split over the workers. PostgreSQL: each worker its own `PgStore` \
         (two connections, its own account and lease). Embedded: one sessiondb store, each \
         worker its own account. Both driven through the same `SessionStore` calls, \
         alternating in the same run; medians over {rounds} rounds. Every write is \
         acknowledged only once durable (committed on the server; synced to the log \
         embedded). Rates are totals over all workers.\n\n\
         | workers | workload | PostgreSQL | embedded | embedded better by |\n\
         |---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/REPORT-postgres.md");
    std::fs::write(&path, out).expect("write report");
    println!("wrote {}", path.display());
}
