//! The workloads for anything implementing grammers-session's `Session` trait, each inside one
//! async loop: grammers' own `SqliteSession` (in `grammers/`, its own process) and sessiondb's
//! `GrammersSession` adapter (system `sessiondb-grammers` here). One copy for both.

use std::sync::Arc;
use std::time::Instant;

use grammers_session::Session;
use grammers_session::types::{PeerAuth, PeerId, PeerInfo, UpdateState};

use crate::common::{Outcome, disk_bytes, mix, peer, write_bytes};

const LOOKUPS: u64 = 50_000;
const UPDATES_1: u64 = 2_000;
const WRITERS: u64 = 64;
const PER_WRITER: u64 = 1_000;

fn info(i: u64) -> PeerInfo {
    let (id, hash, _, _) = peer(i);
    PeerInfo::User {
        id,
        auth: Some(PeerAuth::from_hash(hash)),
        bot: Some(false),
        is_self: None,
    }
}

async fn ingest_all<S: Session>(s: &S, n: u64)
where
    S::Error: std::fmt::Debug,
{
    let ids: Vec<u64> = (0..n).collect();
    for batch in ids.chunks(200) {
        s.cache_peers(batch.iter().map(|&i| info(i)).collect())
            .await
            .expect("cache");
    }
}

/// Runs `workload` on `s`; `checkpoint` pays the store's deferred index work (a no-op for
/// stores that have none).
pub async fn run<S: Session>(
    s: Arc<S>,
    workload: &str,
    dir: &std::path::Path,
    n: u64,
    checkpoint: impl Fn(),
) -> Option<Outcome>
where
    S::Error: std::fmt::Debug,
{
    let (self_id, self_hash, _, _) = peer(n + 1);
    let me = PeerInfo::User {
        id: self_id,
        auth: Some(PeerAuth::from_hash(self_hash)),
        bot: Some(false),
        is_self: Some(true),
    };
    s.cache_peer(me).await.expect("self");
    match workload {
        "ingest_durable" | "ingest_checkpoint" => {
            let before = write_bytes();
            let t = Instant::now();
            ingest_all(s.as_ref(), n).await;
            if workload == "ingest_checkpoint" {
                checkpoint();
            }
            let took = t.elapsed();
            let mut o = Outcome::rate(n, took);
            o.write_bytes_per_peer = Some((write_bytes() - before) as f64 / n as f64);
            o.disk_bytes_per_peer = Some(disk_bytes(dir) as f64 / n as f64);
            Some(o)
        }
        "lookup_id" | "self_user" => {
            ingest_all(s.as_ref(), n).await;
            checkpoint();
            // grammers finds the self user by a table scan: fewer rounds keep it bearable.
            let count = if workload == "self_user" {
                500
            } else {
                LOOKUPS
            };
            let mut lat = Vec::new();
            for k in 0..count {
                let id = if workload == "self_user" {
                    PeerId::self_user()
                } else {
                    PeerId::user_unchecked(peer(mix(k) % n).0)
                };
                let t = Instant::now();
                let found = s.peer(id).await.expect("peer");
                lat.push(t.elapsed());
                assert!(found.is_some(), "missed");
            }
            Some(Outcome::latencies(lat))
        }
        "update_1" => {
            let mut lat = Vec::new();
            for i in 0..UPDATES_1 {
                let t = Instant::now();
                let update = UpdateState::Primary {
                    pts: i as i32,
                    date: i as i32,
                    seq: 1,
                };
                s.set_update_state(update).await.expect("update");
                lat.push(t.elapsed());
            }
            Some(Outcome::latencies(lat))
        }
        "update_64" => {
            let t = Instant::now();
            let mut tasks = Vec::new();
            for w in 0..WRITERS {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..PER_WRITER {
                        let update = UpdateState::Primary {
                            pts: (w * PER_WRITER + i) as i32,
                            date: 0,
                            seq: 1,
                        };
                        s.set_update_state(update).await.expect("update");
                    }
                }));
            }
            for t in tasks {
                t.await.expect("task");
            }
            Some(Outcome::rate(WRITERS * PER_WRITER, t.elapsed()))
        }
        _ => None,
    }
}
