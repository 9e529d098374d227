//! Peer-cache figures at several store sizes: ingest (batches of 200, buffered and durable
//! per batch), lookups by id and username (median, p99), and the cost of a checkpoint after
//! 1k peer changes as the store grows.
//!
//! `cargo run --release --example peer_report [-- 10000 100000 1000000]`

mod common;

use common::mix;
use std::time::{Duration, Instant};

use sessiondb::{Durability, Peer, PeerKind, Store};

fn peer(i: u64) -> Peer {
    let mut p = Peer::new(i as i64 + 1, PeerKind::User, Some(mix(i) as i64));
    p.usernames = vec![format!("user_{i}")];
    p.name = Some(format!("Name {i}"));
    p
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize]
}

fn ingest(store: &Store, range: std::ops::Range<u64>, durability: Durability) -> f64 {
    let acc = store.default_account();
    let n = range.end - range.start;
    let t = Instant::now();
    let mut start = range.start;
    while start < range.end {
        let end = (start + 200).min(range.end);
        let batch: Vec<Peer> = (start..end).map(peer).collect();
        acc.cache_peers_with(&batch, durability).expect("ingest");
        start = end;
    }
    if durability == Durability::Buffered {
        store.flush().expect("flush");
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() -> sessiondb::Result<()> {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    println!(
        "{:>9} | {:>13} {:>13} | {:>17} {:>17} | {:>22}",
        "peers",
        "buffered/s",
        "durable/s",
        "by id p50/p99",
        "by name p50/p99",
        "checkpoint 1k changes"
    );
    for size in sizes {
        let dir = std::env::temp_dir().join(format!("sessiondb-peer-report-{size}"));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = std::env::var("CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(64);
        let options = sessiondb::Options {
            cache_size: cache << 20,
            ..Default::default()
        };
        let store = Store::open_with(dir.join("bot"), options)?;
        // Durable-per-batch ingest is measured on the first 10k (or all) peers, buffered on
        // the rest, so both run against a store of the same order of size.
        let durable_n = size.min(10_000);
        let durable = ingest(&store, 0..durable_n, Durability::Durable);
        let buffered = if size > durable_n {
            ingest(&store, durable_n..size, Durability::Buffered)
        } else {
            f64::NAN
        };
        store.checkpoint()?;
        let acc = store.default_account();
        let (mut by_id, mut by_name) = (Vec::new(), Vec::new());
        for n in 0..20_000u64 {
            let i = mix(n) % size;
            let t = Instant::now();
            let p = acc.peer(i as i64 + 1)?;
            by_id.push(t.elapsed());
            assert!(p.is_some());
            let name = format!("user_{}", mix(n + 1) % size);
            let t = Instant::now();
            let p = acc.peer_by_username(&name)?;
            by_name.push(t.elapsed());
            assert!(p.is_some());
        }
        // 1k changes: 500 new peers and 500 renamed ones spread over the id range.
        let mut changes: Vec<Peer> = (size..size + 500).map(peer).collect();
        changes.extend((0..500).map(|k| {
            let mut p = peer(k * (size / 500).max(1));
            p.name = Some("renamed".into());
            p
        }));
        for chunk in changes.chunks(200) {
            acc.cache_peers(chunk)?;
        }
        let before = store.index_io().bytes_written;
        let t = Instant::now();
        store.checkpoint()?;
        let ck = t.elapsed();
        let ck_bytes = store.index_io().bytes_written - before;
        println!(
            "{:>9} | {:>13.0} {:>13.0} | {:>8.2?} {:>8.2?} {:>8.2?} {:>8.2?} | {:>9.2?} {:>8} KiB",
            size,
            buffered,
            durable,
            pct(by_id.clone(), 0.5),
            pct(by_id, 0.99),
            pct(by_name.clone(), 0.5),
            pct(by_name, 0.99),
            ck,
            ck_bytes / 1024
        );
        store.close()?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
