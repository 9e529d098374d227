//! The main job: a realistic bot workload against an embedded store.
//!
//! Creates `target/bot-workload/bot.session`, stores DCs and auth keys, caches 1M peers in
//! batches of 200, applies 100k durable update-state changes from 64 concurrent tasks, looks
//! peers up by id and username, checkpoints, closes, reopens and verifies everything, and
//! prints throughput and latency percentiles.
//!
//! `cargo run --release --example bot_workload [-- --peers N --updates N --tasks N --dir D]`

mod common;

use common::mix;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sessiondb::{
    AuthKey, DataCenter, Durability, Peer, PeerKind, Session, SessionStore, Store, UpdateState,
    UpdateStateChange, User,
};

struct Args {
    peers: u64,
    durable_peers: u64,
    updates: u64,
    tasks: u64,
    dir: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        peers: 1_000_000,
        durable_peers: 20_000,
        updates: 100_000,
        tasks: 64,
        dir: PathBuf::from("target/bot-workload"),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        let num = || value.parse::<u64>().unwrap_or_else(|_| usage(&pair[0]));
        match pair[0].as_str() {
            "--peers" => a.peers = num(),
            "--durable-peers" => a.durable_peers = num(),
            "--updates" => a.updates = num(),
            "--tasks" => a.tasks = num().max(1),
            "--dir" => a.dir = PathBuf::from(value),
            other => usage(other),
        }
    }
    a
}

fn usage(bad: &str) -> ! {
    eprintln!("unknown or bad argument {bad:?}");
    eprintln!(
        "usage: bot_workload [--peers N] [--durable-peers N] [--updates N] [--tasks N] [--dir D]"
    );
    std::process::exit(2)
}

fn peer(i: u64) -> Peer {
    let kind = match i % 10 {
        0 => PeerKind::Channel,
        1 => PeerKind::Megagroup,
        2 => PeerKind::Bot,
        _ => PeerKind::User,
    };
    let id = if kind.is_user() {
        i as i64 + 1
    } else {
        -(1_000_000_000_000 + i as i64)
    };
    let mut p = Peer::new(id, kind, Some(mix(i) as i64));
    p.usernames = vec![format!("user_{i}")];
    if kind == PeerKind::User && i.is_multiple_of(3) {
        p.phone = Some(format!("{}", 10_000_000_000 + i));
    }
    p.name = Some(format!("Name {i}"));
    p
}

fn key(dc: i32) -> AuthKey {
    let mut bytes = [0u8; 256];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = mix(dc as u64 * 1000 + i as u64) as u8;
    }
    AuthKey::new(bytes)
}

fn session() -> Session {
    let dcs = (1..=5)
        .map(|id| DataCenter {
            id,
            ipv4: Some(
                format!("149.154.167.{}:443", 50 + id)
                    .parse()
                    .expect("addr"),
            ),
            ipv6: Some(
                format!("[2001:67c:4e8:f00{id}::a]:443")
                    .parse()
                    .expect("addr"),
            ),
            auth_key: Some(key(id)),
            server_salt: mix(id as u64) as i64,
            time_offset: 0,
            flags: 0,
        })
        .collect();
    Session {
        home_dc: Some(2),
        dcs,
        user: Some(User {
            id: 4242,
            dc: 2,
            bot: true,
            username: Some("workload_bot".into()),
        }),
        update_state: Some(UpdateState {
            pts: 1,
            qts: 0,
            date: 1_700_000_000,
            seq: 1,
        }),
        ..Session::default()
    }
}

struct Lat(Vec<Duration>);

impl Lat {
    fn report(mut self, what: &str, ops: u64, total: Duration) {
        self.0.sort();
        let q = |p: f64| self.0[((self.0.len() as f64 - 1.0) * p) as usize];
        println!(
            "{what:<34} {:>10.0} ops/s   p50 {:>8.1?}  p99 {:>8.1?}  max {:>8.1?}",
            ops as f64 / total.as_secs_f64(),
            q(0.5),
            q(0.99),
            q(1.0)
        );
    }
}

fn main() -> sessiondb::Result<()> {
    let a = args();
    let _ = std::fs::remove_dir_all(&a.dir);
    std::fs::create_dir_all(&a.dir)
        .map_err(|e| sessiondb::Error::InvalidArgument(e.to_string()))?;
    let path = a.dir.join("bot");
    let started = Instant::now();
    let store = Arc::new(Store::open(&path)?);
    println!("store: {}", store.path().display());
    let acc = store.default_account();
    acc.save(&session())?;
    println!("saved session: home DC 2, 5 DCs with auth keys (checkpointed)");

    // Peer ingest, buffered (the default), batches of 200.
    let mut lat = Lat(Vec::new());
    let t = Instant::now();
    let mut batch = Vec::with_capacity(200);
    for i in 0..a.peers {
        batch.push(peer(i));
        if batch.len() == 200 || i + 1 == a.peers {
            let s = Instant::now();
            acc.cache_peers(&batch)?;
            lat.0.push(s.elapsed());
            batch.clear();
        }
    }
    store.flush()?;
    lat.report("peers, buffered (per batch of 200)", a.peers, t.elapsed());
    println!(
        "{:<34} {:>10.0} peers/s",
        "",
        a.peers as f64 / t.elapsed().as_secs_f64()
    );

    // Peer ingest, durable per batch.
    let mut lat = Lat(Vec::new());
    let t = Instant::now();
    let base = a.peers;
    for start in (0..a.durable_peers).step_by(200) {
        let batch: Vec<Peer> = (start..(start + 200).min(a.durable_peers))
            .map(|i| peer(base + i))
            .collect();
        let s = Instant::now();
        acc.cache_peers_with(&batch, Durability::Durable)?;
        lat.0.push(s.elapsed());
    }
    lat.report(
        "peers, durable (per batch of 200)",
        a.durable_peers,
        t.elapsed(),
    );
    println!(
        "{:<34} {:>10.0} peers/s",
        "",
        a.durable_peers as f64 / t.elapsed().as_secs_f64()
    );
    let total_peers = a.peers + a.durable_peers;

    // Durable update-state changes from concurrent tasks, group-committed.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let dynamic: Arc<dyn SessionStore> = store.clone();
    let per_task = a.updates / a.tasks;
    let syncs_before = store.stats()?.log_syncs;
    let t = Instant::now();
    let lats = rt.block_on(async {
        let mut handles = Vec::new();
        for task in 0..a.tasks {
            let s = dynamic.clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_task as usize);
                for i in 1..=per_task as i32 {
                    let change = if i % 8 == 0 {
                        UpdateStateChange::Primary {
                            pts: i,
                            date: 1_700_000_000 + i,
                            seq: i,
                        }
                    } else {
                        UpdateStateChange::Channel {
                            id: 1_000 + task as i64,
                            pts: i,
                        }
                    };
                    let s0 = Instant::now();
                    s.set_update_state("default", change).await?;
                    lat.push(s0.elapsed());
                }
                Ok::<_, sessiondb::Error>(lat)
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.expect("task")?);
        }
        Ok::<_, sessiondb::Error>(all)
    })?;
    let elapsed = t.elapsed();
    let syncs = store.stats()?.log_syncs - syncs_before;
    Lat(lats).report(
        &format!("durable update state, {} tasks", a.tasks),
        per_task * a.tasks,
        elapsed,
    );
    println!(
        "{:<34} {} log syncs for {} writes ({:.1} writes per sync)",
        "",
        syncs,
        per_task * a.tasks,
        (per_task * a.tasks) as f64 / syncs.max(1) as f64
    );

    // Lookups by id and username, half before and half after the checkpoint.
    let lookups = 100_000.min(total_peers);
    let run_lookups = |label: &str| -> sessiondb::Result<()> {
        let mut by_id = Lat(Vec::new());
        let mut by_name = Lat(Vec::new());
        let t = Instant::now();
        for n in 0..lookups {
            let i = mix(n) % total_peers;
            let want = peer(i);
            let s = Instant::now();
            let got = acc.peer(want.id)?;
            by_id.0.push(s.elapsed());
            assert_eq!(
                got.map(|p| p.access_hash),
                Some(want.access_hash),
                "peer {i}"
            );
        }
        by_id.report(&format!("lookup by id ({label})"), lookups, t.elapsed());
        let t = Instant::now();
        for n in 0..lookups {
            let i = mix(n + 7) % total_peers;
            let s = Instant::now();
            let got = acc.peer_by_username(&format!("user_{i}"))?;
            by_name.0.push(s.elapsed());
            assert_eq!(got.map(|p| p.id), Some(peer(i).id));
        }
        by_name.report(
            &format!("lookup by username ({label})"),
            lookups,
            t.elapsed(),
        );
        Ok(())
    };
    run_lookups("log + overlay")?;
    let t = Instant::now();
    store.checkpoint()?;
    println!("checkpoint of everything: {:.2?}", t.elapsed());
    run_lookups("index")?;

    let stats = store.stats()?;
    println!(
        "index: {:.1} MiB on disk, {:.1} MiB written; log {} KiB",
        stats.index_file_bytes as f64 / 1048576.0,
        stats.index_io.bytes_written as f64 / 1048576.0,
        stats.log_bytes / 1024
    );
    let t = Instant::now();
    store.close()?;
    println!("close: {:.2?}", t.elapsed());
    drop(store);

    // Reopen and verify.
    let t = Instant::now();
    let store = Store::open(&path)?;
    println!(
        "reopen: {:.2?} ({} records replayed)",
        t.elapsed(),
        store.recovery().records_replayed
    );
    let acc = store.default_account();
    let mut want = session();
    let got = acc.session()?.expect("session");
    want.channels = got.channels.clone();
    want.update_state = got.update_state;
    assert_eq!(got, want, "session and auth keys");
    // Every 8th write of a task was a common-state change; the rest went to its channel.
    let last_channel = (1..=per_task as i32).rev().find(|i| i % 8 != 0);
    for task in 0..a.tasks {
        assert_eq!(
            acc.channel_pts(1_000 + task as i64)?,
            last_channel,
            "channel of task {task}"
        );
    }
    assert_eq!(acc.peer_count()?, total_peers);
    for n in 0..10_000 {
        let i = mix(n + 99) % total_peers;
        let want = peer(i);
        let got = acc.peer(want.id)?.expect("peer");
        assert_eq!(
            (got.access_hash, &got.usernames, &got.name),
            (want.access_hash, &want.usernames, &want.name)
        );
    }
    println!(
        "verify: session, {} DC keys, {} channel pts, {} peers: OK",
        5, a.tasks, total_peers
    );
    println!("total: {:.1?}", started.elapsed());
    Ok(())
}
