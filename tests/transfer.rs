//! Moving an account between backends: file store ↔ memory store, and file store ↔
//! PostgreSQL ↔ a new file store (with `SESSIONDB_PG_URL`). Everything must arrive: the
//! session, every peer with its usernames, phone and date, the self user.

mod common;

use std::sync::Arc;

use common::{peer, same_peer, session};
use sessiondb::{
    DcEndpoint, Durability, Error, LoginToken, MemoryStore, MinPeerContext, Peer, PeerKind,
    SessionStore, Store, copy_account, move_account,
};

/// Peers over several copy pages: users, channels (negative ids), a self user, a min peer.
fn peers() -> Vec<Peer> {
    let mut all: Vec<Peer> = (1..=2300).map(peer).collect();
    for id in 1..=200 {
        let mut c = Peer::new(-1_000_000_000_000 - id, PeerKind::Megagroup, Some(id * 7));
        c.usernames = vec![format!("chan{id}"), format!("alias{id}")];
        all.push(c);
    }
    let mut me = peer(5000);
    me.is_self = Some(true);
    all.push(me);
    let mut min = Peer::new(6000, PeerKind::Bot, Some(99));
    min.min = true;
    all.push(min);
    // Dates from the past, as an import brings them: a copy keeps each.
    for (i, p) in all.iter_mut().enumerate() {
        p.updated_at = 1_600_000_000 + i as i64;
    }
    all
}

fn extras() -> (Vec<MinPeerContext>, LoginToken, Vec<DcEndpoint>) {
    let contexts = vec![MinPeerContext {
        user_id: 42,
        peer_id: -1_000_000_000_007,
        msg_id: 3,
    }];
    let endpoint = DcEndpoint {
        dc: 2,
        address: "149.154.167.222:443".into(),
        flags: 2,
        auth_key: Some(common::key(8)),
        server_salt: 6,
        time_offset: 0,
    };
    let token = LoginToken::new(vec![1, 2, 3]).unwrap();
    (contexts, token, vec![endpoint])
}

async fn fill(s: &dyn SessionStore, account: &str) {
    s.save(account, &session(3)).await.unwrap();
    let (contexts, token, endpoints) = extras();
    s.set_min_peers(account, &contexts).await.unwrap();
    s.set_login_token(account, Some(token)).await.unwrap();
    s.set_dc_endpoints(account, endpoints).await.unwrap();
    for batch in peers().chunks(200) {
        s.restore_peers(account, batch, Some(Durability::Durable))
            .await
            .unwrap();
    }
}

async fn all_peers(s: &dyn SessionStore, account: &str) -> Vec<Peer> {
    s.peers(account, None, usize::MAX).await.unwrap()
}

/// `s` holds exactly what `fill` wrote.
async fn check(s: &dyn SessionStore, account: &str) {
    assert_eq!(s.load(account).await.unwrap(), Some(session(3)));
    let (contexts, token, endpoints) = extras();
    assert_eq!(s.min_peers(account).await.unwrap(), contexts);
    assert_eq!(s.login_token(account).await.unwrap(), Some(token));
    assert!(s.dc_endpoints(account).await.unwrap() == endpoints);
    let mut want = peers();
    want.sort_by_key(|p| p.id);
    let got = all_peers(s, account).await;
    assert_eq!(got.len(), want.len());
    for (w, g) in want.iter().zip(&got) {
        assert!(same_peer(w, g), "peer {} differs", w.id);
        assert_eq!(w.updated_at, g.updated_at, "peer {}: its date", w.id);
    }
    assert_eq!(
        s.self_user(account).await.unwrap().map(|p| p.id),
        Some(5000)
    );
    assert_eq!(
        s.peer_by_username(account, "alias7")
            .await
            .unwrap()
            .map(|p| p.id),
        Some(-1_000_000_000_007)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_moves_from_a_file_store_to_memory_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = Store::open(dir.path().join("bot")).unwrap();
    let memory = MemoryStore::new();
    fill(&file, "acc").await;
    file.save("other", &session(9)).await.unwrap();

    let report = copy_account(&file, &memory, "acc").await.unwrap();
    assert_eq!((report.dcs, report.channels, report.peers), (3, 2, 2502));
    check(&memory, "acc").await;
    check(&file, "acc").await; // a copy leaves the source alone
    // Nothing is overwritten, and a missing source is an error, not an empty copy.
    let again = copy_account(&file, &memory, "acc").await;
    assert!(matches!(again, Err(Error::InvalidArgument(_))), "{again:?}");
    let missing = copy_account(&file, &memory, "nobody").await;
    assert!(matches!(missing, Err(Error::InvalidArgument(_))));

    SessionStore::delete_account(&memory, "acc").await.unwrap();
    move_account(&file, &memory, "acc").await.unwrap();
    assert_eq!(file.load("acc").await.unwrap(), None);
    assert_eq!(file.accounts().unwrap(), vec!["other".to_owned()]);
    let back = Store::open(dir.path().join("back")).unwrap();
    move_account(&memory, &back, "acc").await.unwrap();
    check(&back, "acc").await;
    assert_eq!(memory.load("acc").await.unwrap(), None);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_moves_from_a_file_store_to_postgres_and_back() {
    let Some(url) = common::pg::url() else { return };
    let account = common::pg::fresh("moved");
    let dir = tempfile::tempdir().unwrap();
    let file = Store::open(dir.path().join("bot")).unwrap();
    fill(&file, &account).await;
    let pg = Arc::new(sessiondb::PgStore::connect(&url, "mover").await.unwrap());
    move_account(&file, pg.as_ref(), &account).await.unwrap();
    assert_eq!(file.load(&account).await.unwrap(), None);
    check(pg.as_ref(), &account).await;
    let back = Store::open(dir.path().join("back")).unwrap();
    move_account(pg.as_ref(), &back, &account).await.unwrap();
    check(&back, &account).await;
    assert_eq!(pg.load(&account).await.unwrap(), None);
    pg.close().await.unwrap();
}
