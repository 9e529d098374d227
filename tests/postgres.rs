//! The shared PostgreSQL backend against a real server (`SESSIONDB_PG_URL`, which `.ci/run`
//! sets after starting one). Without it the tests say so and pass, except under `CI=true`,
//! where a missing server fails them.
#![cfg(feature = "postgres")]

mod common;

use std::time::{Duration, Instant};

use common::pg::{fresh, spawn_child, url};

use sessiondb::{Error, PgBackend, UpdateState};

const CHILD: &str = "SESSIONDB_PG_CHILD";

fn state(pts: i32) -> UpdateState {
    UpdateState {
        pts,
        qts: 0,
        date: 1_700_000_000,
        seq: 1,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_racing_for_one_lease_exactly_one_wins() {
    let Some(url) = url() else { return };
    let a = PgBackend::connect(&url, "worker-a").await.unwrap();
    let b = PgBackend::connect(&url, "worker-b").await.unwrap();
    let ttl = Duration::from_secs(30);
    for round in 0..20 {
        let account = fresh(&format!("race{round}"));
        let (ra, rb) = tokio::join!(a.acquire(&account, ttl), b.acquire(&account, ttl));
        let (winner, loser) = match (ra, rb) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            (ra, rb) => panic!("round {round}: not exactly one winner: {ra:?} / {rb:?}"),
        };
        match loser {
            Error::AccountLocked { holder, .. } => assert_eq!(holder, winner.holder),
            other => panic!("round {round}: {other}"),
        }
    }
}

/// Runs only as the child: takes a lease (1 s), or writes update states, and reports.
#[tokio::test(flavor = "multi_thread")]
async fn pg_child() {
    let Ok(account) = std::env::var(CHILD) else {
        return;
    };
    let url = std::env::var("SESSIONDB_PG_URL").unwrap();
    let mut me = PgBackend::connect(&url, "child").await.unwrap();
    let lease = me.acquire(&account, Duration::from_secs(1)).await.unwrap();
    println!("HELD {}", lease.token);
    if std::env::var("SESSIONDB_PG_WRITE").is_ok() {
        me.renew(&lease, Duration::from_secs(60)).await.unwrap();
        for pts in 1.. {
            me.set_update_state(&lease, &state(pts)).await.unwrap();
            println!("ACK {pts}");
        }
    }
    tokio::time::sleep(Duration::from_secs(600)).await;
}

/// Starts the child on `account`; returns it once it printed `want` lines.
fn child(account: &str, write: bool, want: usize) -> (std::process::Child, Vec<String>) {
    let mut env = vec![(CHILD, account)];
    if write {
        env.push(("SESSIONDB_PG_WRITE", "1"));
    }
    spawn_child("pg_child", &env, want)
}

fn number(line: &str) -> i64 {
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_holders_lease_expires_and_the_next_holder_gets_a_larger_token() {
    let Some(url) = url() else { return };
    let account = fresh("expiry");
    let (mut holder, lines) = child(&account, false, 1);
    let held = number(&lines[0]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let me = PgBackend::connect(&url, "successor").await.unwrap();
    let ttl = Duration::from_secs(30);
    match me.acquire(&account, ttl).await {
        Err(Error::AccountLocked { holder, .. }) => assert_eq!(holder, "child"),
        other => panic!("taken before the dead holder's lease expired: {other:?}"),
    }
    let start = Instant::now();
    let lease = loop {
        match me.acquire(&account, ttl).await {
            Ok(lease) => break lease,
            Err(Error::AccountLocked { .. }) if start.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("the lease never expired: {other:?}"),
        }
    };
    assert!(lease.token > held, "token {} after {held}", lease.token);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_lost_its_lease_cannot_write() {
    let Some(url) = url() else { return };
    let account = fresh("stale");
    let mut old = PgBackend::connect(&url, "paused").await.unwrap();
    let mut new = PgBackend::connect(&url, "successor").await.unwrap();
    let stale = old
        .acquire(&account, Duration::from_millis(300))
        .await
        .unwrap();
    old.set_update_state(&stale, &state(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await; // "paused" past its expiry
    let lease = new
        .acquire(&account, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(lease.token > stale.token);
    let r = old.set_update_state(&stale, &state(2)).await;
    assert!(matches!(r, Err(Error::LeaseLost { .. })), "{r:?}");
    let r = old.renew(&stale, Duration::from_secs(30)).await;
    assert!(matches!(r, Err(Error::LeaseLost { .. })), "{r:?}");
    new.set_update_state(&lease, &state(3)).await.unwrap();
    assert_eq!(
        new.update_state(&account).await.unwrap().map(|s| s.pts),
        Some(3)
    );
    // Releasing with the stale token does not free the successor's lease.
    old.release(stale).await.unwrap();
    let r = old.acquire(&account, Duration::from_secs(1)).await;
    assert!(matches!(r, Err(Error::AccountLocked { .. })), "{r:?}");
    new.release(lease).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_client_loses_no_acknowledged_write() {
    let Some(url) = url() else { return };
    let account = fresh("acked");
    let (mut writer, lines) = child(&account, true, 1 + 200);
    writer.kill().unwrap();
    writer.wait().unwrap();
    let acked = lines.last().map_or(0, |l| number(l));
    assert!(acked >= 200);
    let reader = PgBackend::connect(&url, "reader").await.unwrap();
    let pts = reader.update_state(&account).await.unwrap().map(|s| s.pts);
    assert!(
        pts.is_some_and(|p| i64::from(p) >= acked),
        "{pts:?} < acknowledged {acked}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_starting_together_on_an_empty_database_migrate_it_once() {
    let Some(url) = url() else { return };
    let db = fresh("migrate").replace('-', "_");
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let fresh_url = format!("{url} dbname={db}");
    let starts = (0..4).map(|i| {
        let u = fresh_url.clone();
        tokio::spawn(async move { PgBackend::connect(&u, &format!("w{i}")).await })
    });
    for started in starts {
        started.await.unwrap().unwrap();
    }
    let (client, conn) = tokio_postgres::connect(&fresh_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let fresh_driver = tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT version FROM sessiondb_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [1, 2, 3], "each migration recorded once");
    drop(client);
    fresh_driver.abort();
    let _ = admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .await;
    driver.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_are_batched_merged_and_found_by_id_username_and_phone() {
    use sessiondb::{Peer, PeerKind};
    let Some(url) = url() else { return };
    let account = fresh("peers");
    let mut db = PgBackend::connect(&url, "peers").await.unwrap();
    let lease = db.acquire(&account, Duration::from_secs(30)).await.unwrap();
    let user = |id: i64, hash: Option<i64>| {
        let mut p = Peer::new(id, PeerKind::User, hash);
        p.usernames = vec![format!("Name{id}"), format!("alt{id}")];
        p.phone = Some(format!("+1 555 {id:04}"));
        p.name = Some(format!("Peer {id}"));
        p
    };
    let batch: Vec<Peer> = (1..=500).map(|id| user(id, Some(id * 7))).collect();
    db.cache_peers(&lease, &batch).await.unwrap();
    let p = db.peer(&account, 42).await.unwrap().expect("by id");
    assert_eq!(p.access_hash, Some(294));
    assert_eq!(p.usernames, ["name42", "alt42"]);
    let by_name = db.peer_by_username(&account, "@NAME42").await.unwrap();
    assert_eq!(by_name.map(|p| p.id), Some(42));
    let by_phone = db.peer_by_phone(&account, "15550042").await.unwrap();
    assert_eq!(by_phone.map(|p| p.id), Some(42));

    // A min hash, an unknown kind and no self-ness do not erase what is known.
    let mut min = Peer::new(42, PeerKind::UserUnknown, Some(-1));
    min.min = true;
    db.cache_peers(&lease, &[min]).await.unwrap();
    let p = db.peer(&account, 42).await.unwrap().expect("still there");
    assert_eq!(
        (p.access_hash, p.min, p.kind),
        (Some(294), false, PeerKind::User)
    );
    assert!(
        p.usernames.is_empty(),
        "a new version replaces the usernames"
    );

    // A username and a phone move to the peer written last, also within one batch.
    let mut taker = user(9000, Some(1));
    taker.usernames = vec!["name7".into()];
    taker.phone = Some("15550007".into());
    let mut later = user(9001, Some(2));
    later.usernames = vec!["name7".into()];
    later.phone = None;
    db.cache_peers(&lease, &[taker, later]).await.unwrap();
    let by_name = db.peer_by_username(&account, "name7").await.unwrap();
    assert_eq!(by_name.map(|p| p.id), Some(9001));
    let by_phone = db.peer_by_phone(&account, "15550007").await.unwrap();
    assert_eq!(by_phone.map(|p| p.id), Some(9000));
    let seven = db.peer(&account, 7).await.unwrap().expect("peer 7");
    assert_eq!(
        (seven.usernames, seven.phone),
        (vec!["alt7".to_owned()], None)
    );

    // Bad input is a typed error; a lost lease writes nothing.
    let mut bad = user(1, None);
    bad.phone = Some("no digits".into());
    let r = db.cache_peers(&lease, &[bad]).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    db.release(lease.clone()).await.unwrap();
    let r = db.cache_peers(&lease, &[user(77_777, Some(5))]).await;
    assert!(matches!(r, Err(Error::LeaseLost { .. })), "{r:?}");
    assert!(db.peer(&account, 77_777).await.unwrap().is_none());
}
