//! `compare pg <url> [peers] [rounds]`: the shared PostgreSQL backend against a server, with 1
//! and 8 workers (each its own connection, account and lease), beside the embedded store
//! doing the same work in the same run. Writes `benches/REPORT-postgres.md`.

use std::time::{Duration, Instant};

use sessiondb::{Durability, Peer, PeerKind, PgBackend, Store, UpdateState};

use crate::common::{mix, peer};

const UPDATES: u64 = 500;
const LOOKUPS: u64 = 5_000;

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

/// One worker's share: ingest `n` peers in batches of 200, look them up, then durable
/// update-state writes. Returns (ingest s, lookup-by-id µs, lookup-by-username µs, update s).
async fn pg_worker(url: String, worker: usize, n: u64, run: u64) -> [f64; 4] {
    let mut db = PgBackend::connect(&url, &format!("bench{worker}"))
        .await
        .expect("connect");
    let account = format!("bench-{run}-{worker}-{}", std::process::id());
    let lease = db
        .acquire(&account, Duration::from_secs(600))
        .await
        .expect("lease");
    let t = Instant::now();
    for start in (0..n).step_by(200) {
        db.cache_peers(&lease, &peers(start..(start + 200).min(n)))
            .await
            .expect("ingest");
    }
    let ingest = t.elapsed().as_secs_f64();
    let (mut by_id, mut by_name) = (Vec::new(), Vec::new());
    for k in 0..LOOKUPS {
        let i = mix(k) % n;
        let (id, _, name, _) = peer(i);
        let t = Instant::now();
        assert!(db.peer(&account, id).await.expect("get").is_some());
        by_id.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        assert!(
            db.peer_by_username(&account, &name)
                .await
                .expect("get")
                .is_some()
        );
        by_name.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let t = Instant::now();
    for pts in 1..=UPDATES as i32 {
        let state = UpdateState {
            pts,
            qts: 0,
            date: 1,
            seq: 1,
        };
        db.set_update_state(&lease, &state).await.expect("update");
    }
    let update = t.elapsed().as_secs_f64();
    db.release(lease).await.expect("release");
    [ingest, median(by_id), median(by_name), update]
}

/// The same work on the embedded store, one thread per worker on one store.
fn embedded(workers: usize, n: u64, dir: &std::path::Path) -> [f64; 4] {
    let store = Store::open(dir.join("bench")).expect("open");
    let per = n / workers as u64;
    let results: Vec<[f64; 4]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let acc = store.account(&format!("w{w}")).expect("account");
                s.spawn(move || {
                    let t = Instant::now();
                    for start in (0..per).step_by(200) {
                        acc.cache_peers_with(
                            &peers(start..(start + 200).min(per)),
                            Durability::Durable,
                        )
                        .expect("ingest");
                    }
                    let ingest = t.elapsed().as_secs_f64();
                    let (mut by_id, mut by_name) = (Vec::new(), Vec::new());
                    for k in 0..LOOKUPS {
                        let (id, _, name, _) = peer(mix(k) % per);
                        let t = Instant::now();
                        assert!(acc.peer(id).expect("get").is_some());
                        by_id.push(t.elapsed().as_secs_f64() * 1e6);
                        let t = Instant::now();
                        assert!(acc.peer_by_username(&name).expect("get").is_some());
                        by_name.push(t.elapsed().as_secs_f64() * 1e6);
                    }
                    let t = Instant::now();
                    for pts in 1..=UPDATES as i32 {
                        let change = sessiondb::UpdateStateChange::Primary {
                            pts,
                            date: 1,
                            seq: 1,
                        };
                        acc.set_update_state(change).expect("update");
                    }
                    [
                        ingest,
                        median(by_id),
                        median(by_name),
                        t.elapsed().as_secs_f64(),
                    ]
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    combine(&results, n, workers)
}

/// Aggregate rates over the workers' wall time (the slowest worker), median latencies.
fn combine(results: &[[f64; 4]], n: u64, workers: usize) -> [f64; 4] {
    let slowest = |k: usize| results.iter().map(|r| r[k]).fold(0.0, f64::max);
    [
        n as f64 / slowest(0),
        median(results.iter().map(|r| r[1]).collect()),
        median(results.iter().map(|r| r[2]).collect()),
        (UPDATES * workers as u64) as f64 / slowest(3),
    ]
}

pub fn run(url: &str, n: u64, rounds: u64) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut rows = Vec::new();
    for workers in [1usize, 8] {
        let (mut pg, mut emb) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let per = n / workers as u64;
            let tasks: Vec<_> = (0..workers)
                .map(|w| rt.spawn(pg_worker(url.to_owned(), w, per, round)))
                .collect();
            let results: Vec<[f64; 4]> = rt.block_on(async {
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.expect("task"));
                }
                out
            });
            pg.push(combine(&results, per * workers as u64, workers));
            let dir = tempfile_dir(round, workers);
            emb.push(embedded(workers, n, &dir));
            let _ = std::fs::remove_dir_all(&dir);
            eprintln!(
                "workers {workers} round {round}: pg {:?} embedded {:?}",
                pg.last(),
                emb.last()
            );
        }
        let col = |v: &[[f64; 4]], k: usize| median(v.iter().map(|r| r[k]).collect());
        rows.push(format!(
            "| {workers} | {:.0} peers/s | {:.0} peers/s | {:.0} µs | {:.2} µs | {:.0} µs | {:.2} µs | {:.0}/s | {:.0}/s |",
            col(&pg, 0), col(&emb, 0), col(&pg, 1), col(&emb, 1), col(&pg, 2), col(&emb, 2), col(&pg, 3), col(&emb, 3)
        ));
    }
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
        "# PostgreSQL backend report\n\n{date}; PostgreSQL 15 on 127.0.0.1 (same machine, default settings: \
         fsync on, synchronous_commit on). Command: `cd compare && cargo run --release -- pg '<url>' {n} {rounds}`\n\n\
         {n} peers per row split over the workers (each its own connection, account and lease), ingested in \
         durable batches of 200; {LOOKUPS} random lookups per worker; {UPDATES} durable update-state writes \
         per worker, each its own fenced transaction (no cross-task batching yet). Embedded: one sessiondb \
         store, one thread per worker, same work, same run. Medians over {rounds} rounds.\n\n\
         | workers | ingest, PostgreSQL | ingest, embedded | lookup id, PostgreSQL | lookup id, embedded \
         | lookup username, PostgreSQL | lookup username, embedded | durable updates, PostgreSQL | durable updates, embedded |\n\
         |---|---|---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/REPORT-postgres.md");
    std::fs::write(&path, out).expect("write report");
    println!("wrote {}", path.display());
}

fn tempfile_dir(round: u64, workers: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sessiondb-pg-compare-{}-{round}-{workers}",
        std::process::id()
    ));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
