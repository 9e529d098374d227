//! `PgStore` (the `SessionStore` on PostgreSQL) against a real server: group commit across
//! tasks, leases taken on first write and fenced, and acknowledged writes surviving a
//! killed worker. Skips without `SESSIONDB_PG_URL` (fails under `CI=true`).
#![cfg(feature = "postgres")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::pg::{fresh, spawn_child, url};
use sessiondb::{Error, PgOptions, PgStore, SessionStore, UpdateStateChange};

const CHILD: &str = "SESSIONDB_PG_STORE_CHILD";
const TASKS: i64 = 8;

fn channel(id: i64, pts: i32) -> UpdateStateChange {
    UpdateStateChange::Channel { id, pts }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_writes_share_commits_and_all_land() {
    let Some(url) = url() else { return };
    let store = Arc::new(PgStore::connect(&url, "group").await.unwrap());
    let accounts: Vec<String> = (0..4).map(|i| fresh(&format!("group{i}"))).collect();
    let per_task = 40;
    let tasks: Vec<_> = (0..64)
        .map(|t: i64| {
            let (store, account) = (store.clone(), accounts[t as usize % 4].clone());
            tokio::spawn(async move {
                for pts in 1..=per_task {
                    store.set_update_state(&account, channel(t, pts)).await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    let before = store.stats().await.unwrap().log_syncs;
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let commits = store.stats().await.unwrap().log_syncs - before;
    let writes = 64 * per_task as u64;
    assert!(
        commits * 4 < writes,
        "{commits} commits for {writes} writes: no group commit"
    );
    for t in 0..64 {
        let account = &accounts[t as usize % 4];
        assert_eq!(store.channel_pts(account, t).await.unwrap(), Some(per_task));
    }
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_is_locked_out_and_a_paused_one_is_fenced() {
    let Some(url) = url() else { return };
    let account = fresh("fenced");
    let short = PgOptions {
        lease_ttl: Duration::from_millis(300),
    };
    let first = PgStore::connect_with(&url, "first", short).await.unwrap();
    let second = PgStore::connect(&url, "second").await.unwrap();
    first.set_home_dc(&account, 2).await.unwrap();
    match second.set_home_dc(&account, 3).await {
        Err(Error::AccountLocked { holder, .. }) => assert_eq!(holder, "first"),
        other => panic!("a second worker wrote a held account: {other:?}"),
    }
    let token = first.lease(&account).unwrap().token;

    // "Pause" the first worker: its lease runs out on the server as if it had not renewed.
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .execute(
            "UPDATE sessiondb_leases SET expires_at = now() WHERE account = $1",
            &[&account],
        )
        .await
        .unwrap();
    second.set_home_dc(&account, 4).await.unwrap();
    let taken = second.lease(&account).unwrap().token;
    assert!(taken > token, "token {taken} after {token}");
    let r = first.set_home_dc(&account, 5).await;
    assert!(matches!(r, Err(Error::LeaseLost { .. })), "{r:?}");
    // Lost stays lost: no silent re-acquire, even once the successor let go.
    second.release(&account).await.unwrap();
    let r = first.set_home_dc(&account, 6).await;
    assert!(matches!(r, Err(Error::LeaseLost { .. })), "{r:?}");
    assert_eq!(second.home_dc(&account).await.unwrap(), Some(4));
    first.acquire(&account).await.unwrap();
    first.set_home_dc(&account, 7).await.unwrap();
    assert_eq!(first.home_dc(&account).await.unwrap(), Some(7));
    first.close().await.unwrap();
    second.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_store_child() {
    let Ok(account) = std::env::var(CHILD) else {
        return;
    };
    let url = std::env::var("SESSIONDB_PG_URL").unwrap();
    let store = Arc::new(PgStore::connect(&url, "child").await.unwrap());
    store.acquire(&account).await.unwrap();
    println!("HELD 0");
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (store, account) = (store.clone(), account.clone());
            tokio::spawn(async move {
                for pts in 1.. {
                    store
                        .set_update_state(&account, channel(t, pts))
                        .await
                        .unwrap();
                    println!("ACK {t} {pts}");
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_acknowledged_group_committed_write() {
    let Some(url) = url() else { return };
    let account = fresh("killed");
    let (mut child, lines) = spawn_child("pg_store_child", &[(CHILD, &account)], 1 + 400);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut acked = vec![0i32; TASKS as usize];
    for line in lines.iter().filter(|l| l.starts_with("ACK")) {
        let mut f = line
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse::<i64>().unwrap());
        let (t, pts) = (f.next().unwrap(), f.next().unwrap());
        acked[t as usize] = acked[t as usize].max(pts as i32);
    }
    assert!(acked.iter().sum::<i32>() >= 400);
    let reader = PgStore::connect(&url, "reader").await.unwrap();
    for (t, &want) in acked.iter().enumerate() {
        let stored = reader.channel_pts(&account, t as i64).await.unwrap();
        assert!(
            stored.is_some_and(|p| p >= want),
            "channel {t}: {stored:?} < acknowledged {want}"
        );
    }
}

/// An account that grew after the planner last sampled the table must still be searched by
/// phone and id, not by scanning all its rows (which made ingest quadratic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grown_account_is_still_probed_by_key() {
    let Some(url) = url() else { return };
    let url = common::pg::fresh_database(&url).await;
    let store = PgStore::connect(&url, "planner").await.unwrap();
    let batch =
        |base: i64| -> Vec<sessiondb::Peer> { (base..base + 2000).map(common::peer).collect() };
    for account in ["old1", "old2"] {
        store.cache_peers(account, &batch(1), None).await.unwrap();
    }
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .batch_execute("ANALYZE sessiondb_peers; ANALYZE sessiondb_peer_usernames")
        .await
        .unwrap();
    store.cache_peers("new", &batch(1), None).await.unwrap();
    for (sql, key) in [
        (
            "EXPLAIN UPDATE sessiondb_peers SET phone = NULL WHERE account = 'new' \
             AND phone = ANY(ARRAY['15550000001', '15550000002']) AND NOT (id = ANY(ARRAY[1::BIGINT]))",
            "phone = ANY",
        ),
        (
            "EXPLAIN DELETE FROM sessiondb_peer_usernames WHERE account = 'new' \
             AND id = ANY(ARRAY[1::BIGINT, 2])",
            "id = ANY",
        ),
    ] {
        let plan: Vec<String> = admin
            .query(sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            plan.iter()
                .any(|l| l.contains("Index Cond") && l.contains(key)),
            "{key} is not an index condition:\n{}",
            plan.join("\n")
        );
    }
    store.close().await.unwrap();
}
