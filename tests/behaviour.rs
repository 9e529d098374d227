//! One behavioural suite, generic over `SessionStore`, run against every backend.

mod common;

use std::sync::Arc;

use common::{dc, peer, session};
use sessiondb::{
    DcEndpoint, Durability, Error, LoginToken, MemoryStore, MinPeerContext, Peer, PeerKind,
    SessionStore, Storage, Store, UpdateState, UpdateStateChange, User,
};

async fn suite(s: Arc<dyn SessionStore>) {
    let a = "alice";
    assert_eq!(s.accounts().await.unwrap(), Vec::<String>::new());
    assert_eq!(s.load(a).await.unwrap(), None);

    // Session round trip and replace.
    s.save(a, &session(1)).await.unwrap();
    assert_eq!(s.load(a).await.unwrap(), Some(session(1)));
    assert_eq!(s.accounts().await.unwrap(), vec![a.to_owned()]);
    assert_eq!(s.home_dc(a).await.unwrap(), Some(2));
    assert_eq!(s.dcs(a).await.unwrap().len(), 3);

    // Fine-grained DC and user calls.
    s.set_home_dc(a, 4).await.unwrap();
    s.set_dc(a, dc(5, 9)).await.unwrap();
    s.remove_dc(a, 1).await.unwrap();
    assert_eq!(s.home_dc(a).await.unwrap(), Some(4));
    assert_eq!(s.dc(a, 5).await.unwrap(), Some(dc(5, 9)));
    assert_eq!(s.dc(a, 1).await.unwrap(), None);
    let user = User {
        id: 1,
        dc: 4,
        bot: false,
        username: Some("me".into()),
    };
    s.set_user(a, Some(user.clone())).await.unwrap();
    assert_eq!(s.user(a).await.unwrap(), Some(user));

    // Update state in the protocol's groups.
    s.set_update_state(
        a,
        UpdateStateChange::All(UpdateState {
            pts: 1,
            qts: 2,
            date: 3,
            seq: 4,
        }),
    )
    .await
    .unwrap();
    s.set_update_state(
        a,
        UpdateStateChange::Primary {
            pts: 10,
            date: 30,
            seq: 40,
        },
    )
    .await
    .unwrap();
    s.set_update_state(a, UpdateStateChange::Secondary { qts: 20 })
        .await
        .unwrap();
    s.set_update_state(a, UpdateStateChange::Channel { id: 77, pts: 5 })
        .await
        .unwrap();
    assert_eq!(
        s.update_state(a).await.unwrap(),
        Some(UpdateState {
            pts: 10,
            qts: 20,
            date: 30,
            seq: 40
        })
    );
    assert_eq!(s.channel_pts(a, 77).await.unwrap(), Some(5));
    s.remove_channel(a, 77).await.unwrap();
    assert_eq!(s.channel_pts(a, 77).await.unwrap(), None);

    // App fields.
    let mut app = session(1).app;
    app.api_id = Some(42);
    s.set_app_fields(a, app.clone()).await.unwrap();
    assert_eq!(s.app_fields(a).await.unwrap(), app);

    // Peers: lookups, moves, the min rule, self, paging, count, removal.
    let peers: Vec<Peer> = (1..=300).map(peer).collect();
    s.cache_peers(a, &peers, None).await.unwrap();
    s.cache_peers(a, &[peer(301)], Some(Durability::Durable))
        .await
        .unwrap();
    assert_eq!(s.peer_count(a).await.unwrap(), 301);
    assert!(common::same_peer(
        &peer(7),
        &s.peer(a, 7).await.unwrap().unwrap()
    ));
    assert_eq!(
        s.peer_by_username(a, "USER8").await.unwrap().map(|p| p.id),
        Some(8)
    );
    assert_eq!(
        s.peer_by_phone(a, "+1 555 000 0009")
            .await
            .unwrap()
            .map(|p| p.id),
        Some(9)
    );
    let mut thief = peer(400);
    thief.usernames = vec!["user8".into()];
    s.cache_peers(a, &[thief], None).await.unwrap();
    assert_eq!(
        s.peer_by_username(a, "user8").await.unwrap().map(|p| p.id),
        Some(400)
    );
    assert!(s.peer(a, 8).await.unwrap().unwrap().usernames.is_empty());
    let mut min = Peer::new(7, PeerKind::UserUnknown, Some(-1));
    min.min = true;
    s.cache_peers(a, &[min], None).await.unwrap();
    assert_eq!(
        s.peer(a, 7).await.unwrap().unwrap().access_hash,
        peer(7).access_hash
    );
    let mut me = peer(500);
    me.is_self = Some(true);
    s.cache_peers(a, &[me], None).await.unwrap();
    assert_eq!(s.self_user(a).await.unwrap().map(|p| p.id), Some(500));
    let page = s.peers(a, Some(100), 5).await.unwrap();
    assert_eq!(
        page.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![101, 102, 103, 104, 105]
    );
    s.remove_peer(a, 101).await.unwrap();
    assert_eq!(s.peer(a, 101).await.unwrap(), None);
    assert_eq!(s.peer_count(a).await.unwrap(), 302);

    // Checkpoint and flush keep everything readable.
    s.flush().await.unwrap();
    s.checkpoint().await.unwrap();
    assert_eq!(s.peer_count(a).await.unwrap(), 302);
    assert_eq!(s.dc(a, 5).await.unwrap(), Some(dc(5, 9)));

    let stats = s.stats().await.unwrap();
    let alice = stats.accounts.iter().find(|x| x.name == a).unwrap();
    assert_eq!((alice.peers, alice.dcs, alice.channels), (302, 3, 2));
    assert!(stats.last_lsn > 0);

    // Accounts are isolated; delete wipes.
    let b = "bob";
    s.save(b, &session(2)).await.unwrap();
    assert_eq!(s.peer(b, 7).await.unwrap(), None);
    s.delete_account(a).await.unwrap();
    assert_eq!(s.load(a).await.unwrap(), None);
    assert_eq!(s.peer(a, 7).await.unwrap(), None);
    assert_eq!(s.peer_count(a).await.unwrap(), 0);
    assert_eq!(s.accounts().await.unwrap(), vec![b.to_owned()]);
    assert_eq!(s.load(b).await.unwrap(), Some(session(2)));

    // An account holding only a home DC loads as exactly that.
    s.set_home_dc("carol", 3).await.unwrap();
    let carol = sessiondb::Session {
        home_dc: Some(3),
        ..Default::default()
    };
    assert_eq!(s.load("carol").await.unwrap(), Some(carol));
    s.delete_account("carol").await.unwrap();

    // Min-peer contexts, the login token and DC endpoints.
    let d = "dave";
    let ctx = |user_id, msg_id| MinPeerContext {
        user_id,
        peer_id: -1_000_000_000_005,
        msg_id,
    };
    s.set_min_peers(d, &[ctx(3, 1), ctx(1, 2), ctx(2, 3)])
        .await
        .unwrap();
    s.set_min_peers(d, &[ctx(2, 9)]).await.unwrap();
    s.remove_min_peers(d, &[1]).await.unwrap();
    assert_eq!(s.min_peers(d).await.unwrap(), vec![ctx(2, 9), ctx(3, 1)]);
    let token = LoginToken::new(vec![5; 32]).unwrap();
    s.set_login_token(d, Some(token.clone())).await.unwrap();
    assert_eq!(s.login_token(d).await.unwrap(), Some(token));
    s.set_login_token(d, None).await.unwrap();
    assert_eq!(s.login_token(d).await.unwrap(), None);
    let endpoint = |dc, address: &str| DcEndpoint {
        dc,
        address: address.into(),
        flags: 2,
        auth_key: Some(common::key(dc as u8)),
        server_salt: 4,
        time_offset: -1,
    };
    let endpoints = vec![
        endpoint(2, "149.154.167.51:443"),
        endpoint(1, "[2001:b28:f23d:f001::a]:443"),
        endpoint(2, "149.154.167.222:443"),
    ];
    s.set_dc_endpoints(d, endpoints.clone()).await.unwrap();
    assert!(s.dc_endpoints(d).await.unwrap() == endpoints);
    s.set_dc(d, dc(2, 3)).await.unwrap();
    assert!(s.dc_endpoints(d).await.unwrap() == endpoints[1..2]);
    s.set_dc_endpoints(d, endpoints.clone()).await.unwrap();
    s.remove_dc(d, 1).await.unwrap();
    let left = s.dc_endpoints(d).await.unwrap();
    assert!(left.len() == 2 && left.iter().all(|e| e.dc == 2));
    s.save(d, &session(3)).await.unwrap();
    assert!(s.dc_endpoints(d).await.unwrap().is_empty());
    s.delete_account(d).await.unwrap();
    s.set_home_dc(d, 1).await.unwrap();
    assert!(s.min_peers(d).await.unwrap().is_empty());
    s.delete_account(d).await.unwrap();

    // Bad input is a typed error.
    assert!(matches!(s.load("").await, Err(Error::InvalidArgument(_))));
    assert!(matches!(
        s.peer_by_phone(b, "none").await,
        Err(Error::InvalidArgument(_))
    ));

    s.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_store_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("bot")).unwrap());
    let dynamic: Arc<dyn SessionStore> = store.clone();
    dynamic.set_home_dc("warmup", 1).await.unwrap();
    dynamic.delete_account("warmup").await.unwrap();
    let before = dynamic.stats().await.unwrap();
    assert!(before.log_syncs >= 2 && before.log_bytes > 0, "{before:?}");
    suite(store.clone()).await;
    assert!(
        matches!(store.load("bob").await, Err(Error::Closed)),
        "closed means closed"
    );
    // What the suite left behind survives a reopen.
    let store = Store::open(dir.path().join("bot")).unwrap();
    assert_eq!(
        store.account("bob").unwrap().session().unwrap(),
        Some(session(2))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_memory_store_passes_the_suite() {
    suite(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "current_thread")]
async fn storage_load_save_close_and_load_again_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::file(dir.path().join("bot"));
    assert_eq!(storage.load().await.unwrap(), None);
    storage.save(&session(4)).await.unwrap();
    storage.close().await.unwrap();
    // Closed means the lock is free: another writer could open it now.
    drop(Store::open(dir.path().join("bot")).unwrap());
    assert_eq!(storage.load().await.unwrap(), Some(session(4)));
    storage.close().await.unwrap();

    let memory = Storage::on(Arc::new(MemoryStore::new()), "x").unwrap();
    assert_eq!(memory.load().await.unwrap(), None);
    memory.save(&session(5)).await.unwrap();
    assert_eq!(memory.load().await.unwrap(), Some(session(5)));
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_passes_the_suite() {
    let Some(url) = common::pg::url() else { return };
    let url = common::pg::fresh_database(&url).await;
    let store = Arc::new(sessiondb::PgStore::connect(&url, "suite").await.unwrap());
    suite(store.clone()).await;
    assert!(matches!(store.load("bob").await, Err(Error::Closed)));
    // What the suite left behind is on the server for the next worker, and the closed
    // store released its leases.
    let next = sessiondb::PgStore::connect(&url, "next").await.unwrap();
    assert_eq!(next.load("bob").await.unwrap(), Some(session(2)));
    next.set_home_dc("bob", 5).await.unwrap();
    next.close().await.unwrap();
}
