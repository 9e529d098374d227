//! Criterion suites. `cargo bench --bench store` runs them at 10k peers; set
//! `SESSIONDB_BENCH_SIZES=10000,100000,1000000` for the full sizes. Under
//! `cargo test --all-targets` each runs once at 1k peers, as a smoke test.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sessiondb::{
    Durability, MemoryStore, Options, Peer, PeerKind, Session, SessionStore, Storage, Store,
    UpdateState, UpdateStateChange,
};

#[path = "../tests/common/rng.rs"]
#[allow(dead_code)] // the benches use part of it
mod rng;

fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn sizes() -> Vec<u64> {
    if !bench_mode() {
        return vec![1_000];
    }
    std::env::var("SESSIONDB_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000])
}

fn peer(i: u64) -> Peer {
    let mut p = Peer::new(
        i as i64 + 1,
        PeerKind::User,
        Some((i as i64).wrapping_mul(0x9E37_79B9)),
    );
    p.usernames = vec![format!("user_{i}")];
    p.phone = Some(format!("{}", 10_000_000_000 + i));
    p.name = Some(format!("Name {i}"));
    p
}

fn quiet() -> Options {
    Options {
        checkpoint_records: 1_000_000,
        checkpoint_log_bytes: 1 << 40,
        ..Options::default()
    }
}

/// A store with `n` peers, checkpointed.
fn filled(dir: &Path, n: u64) -> Store {
    let store = Store::open(dir.join("bench")).expect("open");
    let acc = store.default_account();
    let mut me = peer(0);
    me.is_self = Some(true);
    acc.cache_peers(&[me]).expect("self");
    for start in (1..n).step_by(200) {
        let batch: Vec<Peer> = (start..(start + 200).min(n)).map(peer).collect();
        acc.cache_peers(&batch).expect("ingest");
    }
    store.checkpoint().expect("checkpoint");
    store
}

fn ingest(c: &mut Criterion) {
    for n in sizes() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = filled(dir.path(), n);
        let acc = store.default_account();
        let mut next = n;
        let mut g = c.benchmark_group(format!("ingest_200/{n}"));
        for (name, d) in [
            ("durable", Durability::Durable),
            ("buffered", Durability::Buffered),
        ] {
            g.bench_function(name, |b| {
                b.iter(|| {
                    let batch: Vec<Peer> = (next..next + 200).map(peer).collect();
                    next += 200;
                    acc.cache_peers_with(&batch, d).expect("batch");
                })
            });
        }
        g.finish();
    }
}

fn lookups(c: &mut Criterion) {
    for n in sizes() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = filled(dir.path(), n);
        let acc = store.default_account();
        let mut g = c.benchmark_group(format!("lookup/{n}"));
        let mut rng = rng::Rng(0);
        let mut pick = move || rng.below(n);
        g.bench_function("by_id", |b| {
            b.iter(|| acc.peer(pick() as i64 + 1).expect("id"))
        });
        let names: Vec<String> = (0..1024)
            .map(|k| format!("user_{}", (k * 7919) % n))
            .collect();
        let mut k = 0;
        g.bench_function("by_username", |b| {
            b.iter(|| {
                k = (k + 1) % names.len();
                acc.peer_by_username(&names[k]).expect("name")
            })
        });
        let phones: Vec<String> = (0..1024)
            .map(|k| format!("{}", 10_000_000_000 + (k * 7919) % n))
            .collect();
        g.bench_function("by_phone", |b| {
            b.iter(|| {
                k = (k + 1) % phones.len();
                acc.peer_by_phone(&phones[k]).expect("phone")
            })
        });
        g.bench_function("self_user", |b| b.iter(|| acc.self_user().expect("self")));
        g.finish();
    }
}

fn update_state(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let store: Arc<dyn SessionStore> = Arc::new(Store::open(dir.path().join("us")).expect("open"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("rt");
    let mut g = c.benchmark_group("durable_update_state");
    for tasks in [1u32, 8, 64] {
        g.bench_function(format!("{tasks}_tasks"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(async {
                    let mut handles = Vec::new();
                    for t in 0..tasks {
                        let s = store.clone();
                        handles.push(tokio::spawn(async move {
                            for i in 0..iters {
                                let change = UpdateStateChange::Channel {
                                    id: i64::from(t),
                                    pts: i as i32,
                                };
                                s.set_update_state("default", change).await.expect("write");
                            }
                        }));
                    }
                    for h in handles {
                        h.await.expect("task");
                    }
                });
                // Per durable change: total time over all tasks' writes.
                start.elapsed() / tasks
            })
        });
    }
    let acc = Store::open(dir.path().join("channels")).expect("open");
    let account = acc.default_account();
    let mut i = 0i64;
    g.bench_function("channel_pts_10k_channels", |b| {
        b.iter(|| {
            i += 1;
            account
                .set_update_state(UpdateStateChange::Channel {
                    id: i % 10_000,
                    pts: i as i32,
                })
                .expect("channel")
        })
    });
    g.finish();
}

fn checkpoints(c: &mut Criterion) {
    for n in sizes() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = filled(dir.path(), n);
        let acc = store.default_account();
        let mut g = c.benchmark_group(format!("checkpoint/{n}"));
        g.sample_size(10);
        let mut round = 0u64;
        g.bench_function("after_1k_update_state_changes", |b| {
            b.iter_batched(
                || {
                    for i in 0..1000 {
                        let change = UpdateStateChange::Primary {
                            pts: i,
                            date: i,
                            seq: i,
                        };
                        acc.set_update_state_async(change).wait().expect("state");
                    }
                },
                |()| store.checkpoint().expect("checkpoint"),
                BatchSize::PerIteration,
            )
        });
        g.bench_function("after_1k_peer_changes", |b| {
            b.iter_batched(
                || {
                    round += 1;
                    let changed: Vec<Peer> = (0..1000)
                        .map(|k| {
                            let mut p = peer((k * 7919 + round) % n);
                            p.name = Some(format!("renamed {round}"));
                            p
                        })
                        .collect();
                    for chunk in changed.chunks(200) {
                        acc.cache_peers(chunk).expect("peers");
                    }
                },
                |()| store.checkpoint().expect("checkpoint"),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

fn open_with_tail(c: &mut Criterion) {
    let tails: &[u64] = if bench_mode() {
        &[0, 10_000, 100_000]
    } else {
        &[0, 100]
    };
    let mut g = c.benchmark_group("open_recover");
    g.sample_size(10);
    for &tail in tails {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("tail");
        {
            let store = Store::open_with(&path, quiet()).expect("open");
            let acc = store.default_account();
            for i in 0..tail {
                let change = UpdateStateChange::Primary {
                    pts: i as i32,
                    date: 1,
                    seq: 1,
                };
                drop(acc.set_update_state_async(change)); // queued; the flush below syncs all
            }
            store.flush().expect("flush");
        }
        g.bench_function(format!("tail_{tail}"), |b| {
            b.iter(|| Store::open_with(&path, quiet()).expect("reopen"))
        });
    }
    g.finish();
}

fn storage(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let session = Session {
        home_dc: Some(2),
        update_state: Some(UpdateState {
            pts: 1,
            qts: 2,
            date: 3,
            seq: 4,
        }),
        ..Session::default()
    };
    let mut g = c.benchmark_group("storage");
    let file = Storage::file(dir.path().join("st"));
    let memory = Storage::on(Arc::new(MemoryStore::new()), "default").expect("memory");
    for (name, s) in [("file", &file), ("memory", &memory)] {
        g.bench_function(format!("{name}_save"), |b| {
            b.iter(|| rt.block_on(s.save(&session)).expect("save"))
        });
        g.bench_function(format!("{name}_load"), |b| {
            b.iter(|| rt.block_on(s.load()).expect("load"))
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = ingest, lookups, update_state, checkpoints, open_with_tail, storage
}
criterion_main!(benches);
