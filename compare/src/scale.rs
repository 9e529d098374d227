//! How sessiondb behaves as the store grows (sessiondb only, each size in a fresh process):
//! checkpoint cost after 1k update-state changes and after 1k peer changes at 10k, 100k and
//! 1M peers; open + recovery of a 1M-peer store with a 100k-record tail; peak RSS while
//! ingesting 10M peers; pruning 1M of 5M peers beside a durable writer. `compare scale
//! [max_peers]` writes `benches/SCALE.md`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sessiondb::{Options, Peer, PeerKind, Store, UpdateStateChange};

use crate::common::{disk_bytes, peak_rss_kib, peer};

const ROUNDS: usize = 5;

fn fill(store: &Store, from: u64, to: u64) {
    let acc = store.default_account();
    let ids: Vec<u64> = (from..to).collect();
    for chunk in ids.chunks(5_000) {
        let peers: Vec<Peer> = chunk.iter().map(|&i| sessiondb_peer(i, 0)).collect();
        acc.cache_peers(&peers).expect("ingest");
    }
}

fn sessiondb_peer(i: u64, round: u64) -> Peer {
    let (id, hash, name, phone) = peer(i);
    let mut p = Peer::new(id, PeerKind::User, Some(hash));
    p.usernames = vec![name];
    p.phone = Some(phone);
    if round > 0 {
        p.name = Some(format!("renamed {round}"));
    }
    p
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One measurement in this process; prints a SCALE line.
pub fn run_one(what: &str, dir: &Path, n: u64) {
    let path = dir.join("bot");
    let store = Store::open(&path).expect("open");
    let acc = store.default_account();
    match what {
        "checkpoint" => {
            fill(&store, 0, n);
            store.checkpoint().expect("checkpoint");
            let (mut state, mut after_peers, mut peers) = (Vec::new(), Vec::new(), Vec::new());
            let state_checkpoint = || {
                for i in 0..1000 {
                    let change = UpdateStateChange::Primary {
                        pts: i,
                        date: i,
                        seq: 1,
                    };
                    drop(acc.set_update_state_async(change));
                }
                store.flush().expect("flush");
                let t = Instant::now();
                store.checkpoint().expect("checkpoint");
                t.elapsed()
            };
            for round in 1..=ROUNDS as u64 {
                // The first state checkpoint after a peer checkpoint also pays redb's
                // deferred freeing of the pages that one replaced; the second does not.
                after_peers.push(state_checkpoint());
                state.push(state_checkpoint());
                let changed: Vec<Peer> = (0..1000u64)
                    .map(|k| sessiondb_peer((k * 7919 + round * 31) % n, round))
                    .collect();
                acc.cache_peers(&changed).expect("peers");
                store.flush().expect("flush");
                let t = Instant::now();
                store.checkpoint().expect("checkpoint");
                peers.push(t.elapsed());
            }
            println!(
                "SCALE what=checkpoint n={n} state_ms={:.2} state_after_peers_ms={:.2} peers_ms={:.2} disk_b_per_peer={:.0}",
                ms(median(state)),
                ms(median(after_peers)),
                ms(median(peers)),
                disk_bytes(&dir.join("bot.session")) as f64 / n as f64
            );
        }
        "open" => {
            fill(&store, 0, n);
            store.close().expect("close");
            drop(store);
            // The tail: 100k single update-state records, never checkpointed, so every open
            // replays all of them.
            let options = || Options {
                checkpoint_records: u64::MAX,
                checkpoint_log_bytes: u64::MAX,
                ..Options::default()
            };
            {
                let store = Store::open_with(&path, options()).expect("open");
                let acc = store.default_account();
                for i in 0..100_000 {
                    let change = UpdateStateChange::Primary {
                        pts: i,
                        date: 1,
                        seq: 1,
                    };
                    drop(acc.set_update_state_async(change));
                }
                store.flush().expect("flush");
                // Dropped without close: the tail stays in the log for the next open.
            }
            let mut opens = Vec::new();
            for _ in 0..3 {
                let t = Instant::now();
                let store = Store::open_with(&path, options()).expect("reopen");
                opens.push(t.elapsed());
                let replayed = store.recovery().records_replayed;
                assert!(replayed >= 100_000, "tail replayed: {replayed}");
                drop(store);
            }
            println!(
                "SCALE what=open n={n} tail=100000 open_ms={:.1}",
                ms(median(opens))
            );
        }
        "rss" => {
            drop(store);
            let store = Store::open(&path).expect("open");
            let t = Instant::now();
            fill(&store, 0, n);
            store.close().expect("close");
            println!(
                "SCALE what=rss n={n} peak_rss_mib={:.0} ingest_s={:.1} disk_b_per_peer={:.0}",
                peak_rss_kib() as f64 / 1024.0,
                t.elapsed().as_secs_f64(),
                disk_bytes(&dir.join("bot.session")) as f64 / n as f64
            );
        }
        "prune" => {
            drop(store);
            prune(&path, dir, n);
        }
        _ => eprintln!("unknown scale measurement {what}"),
    }
}

/// Durable update-state writes from one thread until `stop`; their latencies.
fn writer(acc: sessiondb::Account, stop: &std::sync::atomic::AtomicBool) -> Vec<Duration> {
    let mut lat = Vec::new();
    let mut pts = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        pts += 1;
        let change = UpdateStateChange::Primary {
            pts,
            date: 1,
            seq: 1,
        };
        let t = Instant::now();
        acc.set_update_state(change).expect("write");
        lat.push(t.elapsed());
    }
    lat
}

fn p99(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |q: f64| ms(v[((v.len() as f64 * q) as usize).min(v.len() - 1)]);
    (at(0.99), at(1.0))
}

/// Prunes a fifth of `n` peers while a durable writer runs: prune time, the writer's p99 and
/// worst latency during the prune against a quiet baseline, and the index file size before,
/// after the prune's checkpoint, and after an offline compact.
fn prune(path: &Path, dir: &Path, n: u64) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let store = Store::open(path).expect("open");
    fill(&store, 0, n);
    store.checkpoint().expect("checkpoint");
    let index = dir.join("bot.session/index.redb");
    let size = || std::fs::metadata(&index).map_or(0, |m| m.len()) as f64 / (1 << 20) as f64;
    let before = size();
    let acc = store.default_account();
    let stop = AtomicBool::new(false);
    let baseline = std::thread::scope(|s| {
        let w = s.spawn(|| writer(acc.clone(), &stop));
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
        w.join().expect("writer")
    });
    stop.store(false, Ordering::Relaxed);
    let (took, during, report) = std::thread::scope(|s| {
        let w = s.spawn(|| writer(acc.clone(), &stop));
        let t = Instant::now();
        let policy = sessiondb::PrunePolicy {
            max_peers: Some(n - n / 5),
            ..Default::default()
        };
        let report = acc.prune(&policy).expect("prune");
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        (took, w.join().expect("writer"), report)
    });
    store.checkpoint().expect("checkpoint");
    let after = size();
    // Give the space back online, the writer still running.
    stop.store(false, Ordering::Relaxed);
    let (reclaim_took, during_reclaim) = std::thread::scope(|s| {
        let w = s.spawn(|| writer(acc.clone(), &stop));
        let t = Instant::now();
        store.reclaim().expect("reclaim");
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        (took, w.join().expect("writer"))
    });
    let reclaimed = size();
    store.close().expect("close");
    drop(store);
    let compact = sessiondb::compact(path).expect("compact");
    let (base99, base_max) = p99(baseline);
    let writes = during.len();
    let (p99_ms, max_ms) = p99(during);
    let (r99, rmax) = p99(during_reclaim);
    println!(
        "SCALE what=prune n={n} removed={} prune_s={:.1} writer_p99_ms={p99_ms:.2} writer_max_ms={max_ms:.1} \
         writes_during={writes} baseline_p99_ms={base99:.2} baseline_max_ms={base_max:.1} \
         reclaim_s={:.1} reclaim_writer_p99_ms={r99:.2} reclaim_writer_max_ms={rmax:.1} \
         index_mib_before={before:.0} after_prune={after:.0} after_reclaim={reclaimed:.0} after_compact={:.0}",
        report.removed,
        took.as_secs_f64(),
        reclaim_took.as_secs_f64(),
        compact.bytes_after as f64 / (1 << 20) as f64,
    );
}

/// Runs every measurement in its own process and writes `benches/SCALE.md`.
pub fn run(max: u64) {
    let me = std::env::current_exe().expect("exe");
    let scratch = std::env::temp_dir().join(format!("sessiondb-scale-{}", std::process::id()));
    let mut jobs: Vec<(&str, u64)> = [10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
        .map(|n| ("checkpoint", n))
        .collect();
    jobs.push(("open", max.min(1_000_000)));
    jobs.push(("prune", max * 5));
    jobs.push(("rss", max * 10));
    let mut lines = Vec::new();
    for (what, n) in jobs {
        let dir = scratch.join(format!("{what}-{n}"));
        let _ = std::fs::create_dir_all(&dir);
        let out = Command::new(&me)
            .args([
                "scale-one",
                what,
                &dir.display().to_string(),
                &n.to_string(),
            ])
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let line = text
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("SCALE"))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| format!("SCALE what={what} n={n} failed"));
        eprintln!("{line}");
        lines.push(line);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let date = Command::new("date")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut report = format!(
        "# Scale report (sessiondb only)\n\n{date}; {} cores. Command: `cd compare && cargo run --release -- scale {max}`\n\n\
         Each line is one fresh process. Checkpoint times are medians of {ROUNDS}; open times medians of 3.\n\n```\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for l in &lines {
        report.push_str(l);
        report.push('\n');
    }
    report.push_str("```\n");
    print!("{report}");
    if let Some(root) = me.ancestors().nth(4) {
        let path = root.join("benches/SCALE.md");
        if path.parent().is_some_and(|d| d.is_dir()) {
            let _ = std::fs::write(&path, report);
        }
    }
}
