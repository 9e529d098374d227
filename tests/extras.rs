//! Min-peer contexts, the login token and DC endpoints: stored, replayed, checkpointed,
//! carried by backups and compaction, wiped with their account, redacted, and absent (not
//! an error) in a store written before they existed.

mod common;

use std::path::Path;

use sessiondb::{DcEndpoint, LoginToken, MemoryStore, MinPeerContext, Store};

fn contexts() -> Vec<MinPeerContext> {
    (1..=3)
        .map(|i| MinPeerContext {
            user_id: 100 + i,
            peer_id: -1_000_000_000_000 - i,
            msg_id: i as i32 * 10,
        })
        .collect()
}

fn endpoints() -> Vec<DcEndpoint> {
    vec![
        DcEndpoint {
            dc: 2,
            address: "149.154.167.51:443".into(),
            flags: 0,
            auth_key: Some(common::key(9)),
            server_salt: 11,
            time_offset: -2,
        },
        DcEndpoint {
            dc: 2,
            address: "149.154.167.222:443".into(),
            flags: 2,
            auth_key: None,
            server_salt: 0,
            time_offset: 0,
        },
        DcEndpoint {
            dc: 4,
            address: "[2001:67c:4e8:f004::a]:443".into(),
            flags: 1,
            auth_key: Some(common::key(4)),
            server_salt: 3,
            time_offset: 1,
        },
    ]
}

fn write_all(acc: &sessiondb::Account) {
    acc.set_dc(common::dc(2, 1)).unwrap();
    acc.set_dc(common::dc(4, 2)).unwrap();
    acc.set_min_peers(&contexts()).unwrap();
    acc.remove_min_peers(&[102]).unwrap();
    acc.set_login_token(Some(LoginToken::new(vec![7; 24]).unwrap()))
        .unwrap();
    acc.set_dc_endpoints(endpoints()).unwrap();
}

fn check_all(acc: &sessiondb::Account, what: &str) {
    let mut want = contexts();
    want.retain(|c| c.user_id != 102);
    assert_eq!(acc.min_peers().unwrap(), want, "{what}: min peers");
    assert_eq!(acc.min_peer(101).unwrap(), Some(want[0]), "{what}");
    assert_eq!(acc.min_peer(102).unwrap(), None, "{what}");
    let token = acc.login_token().unwrap().expect("token");
    assert_eq!(token.as_bytes(), &[7; 24], "{what}: token");
    assert!(
        acc.dc_endpoints().unwrap() == endpoints(),
        "{what}: endpoints"
    );
}

#[test]
fn they_survive_replay_checkpoints_backups_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let store = Store::open(&path).unwrap();
    write_all(&store.default_account());
    check_all(&store.default_account(), "live");
    drop(store); // no checkpoint: the log replays them
    let store = Store::open(&path).unwrap();
    assert!(store.recovery().records_replayed > 0);
    check_all(&store.default_account(), "replayed");
    store.checkpoint().unwrap();
    check_all(&store.default_account(), "checkpointed");
    store.backup(dir.path().join("copy")).unwrap();
    store.close().unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    check_all(&reader.default_account(), "read-only");
    assert!(reader.verify().unwrap().is_ok());
    drop(reader);
    sessiondb::compact(&path).unwrap();
    check_all(&Store::open(&path).unwrap().default_account(), "compacted");
    check_all(
        &Store::open(dir.path().join("copy"))
            .unwrap()
            .default_account(),
        "backup",
    );
}

#[test]
fn the_memory_store_keeps_them_too() {
    let store = MemoryStore::new();
    write_all(&store.default_account());
    check_all(&store.default_account(), "memory");
}

#[test]
fn writing_or_removing_a_dc_drops_its_endpoints_only() {
    let store = MemoryStore::new();
    let acc = store.default_account();
    write_all(&acc);
    acc.set_dc(common::dc(2, 5)).unwrap();
    let left = acc.dc_endpoints().unwrap();
    assert!(
        left.iter().all(|e| e.dc == 4) && left.len() == 1,
        "DC 2's went"
    );
    acc.set_dc_endpoints(endpoints()).unwrap();
    acc.remove_dc(4).unwrap();
    assert!(acc.dc_endpoints().unwrap().iter().all(|e| e.dc == 2));
    // A whole-session save keeps only the DCs it lists: endpoints of the others go.
    let mut session = acc.session().unwrap().unwrap();
    session.dcs.clear();
    acc.save(&session).unwrap();
    assert!(acc.dc_endpoints().unwrap().is_empty());
}

#[test]
fn deleting_the_account_wipes_them_through_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s")).unwrap();
    let acc = store.account("alice").unwrap();
    write_all(&acc);
    store.checkpoint().unwrap();
    store.delete_account("alice").unwrap();
    store.checkpoint().unwrap();
    let acc = store.account("alice").unwrap();
    acc.set_home_dc(1).unwrap();
    store.checkpoint().unwrap();
    assert!(acc.min_peers().unwrap().is_empty());
    assert_eq!(acc.login_token().unwrap(), None);
    assert!(acc.dc_endpoints().unwrap().is_empty());
}

#[test]
fn tokens_and_endpoints_never_print_their_secrets() {
    let token = LoginToken::new(b"secret-token-bytes".to_vec()).unwrap();
    assert!(!format!("{token:?}").contains("secret"));
    let e = &endpoints()[0];
    let shown = format!("{e:?}");
    assert!(
        shown.contains("redacted") && !shown.contains("11,"),
        "{shown}"
    );
    assert!(LoginToken::new(vec![0; 4097]).is_err());
    let mut many = endpoints();
    many[0].address = "x".repeat(256);
    let store = MemoryStore::new();
    assert!(matches!(
        store.default_account().set_dc_endpoints(many),
        Err(sessiondb::Error::InvalidArgument(_))
    ));
}

/// A store written before these tables existed opens (read-only too) and reads none;
/// the first checkpoint of a writer creates them.
#[test]
fn a_store_from_before_reads_none_and_gains_them() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-2026-12.session");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("old.session");
    common::copy_dir(&fixture, &copy);
    let reader = Store::open_read_only(&copy).unwrap();
    for name in reader.accounts().unwrap() {
        let acc = reader.account(&name).unwrap();
        assert!(acc.min_peers().unwrap().is_empty());
        assert_eq!(acc.login_token().unwrap(), None);
    }
    drop(reader);
    let store = Store::open(&copy).unwrap();
    write_all(&store.default_account());
    store.close().unwrap();
    let store = Store::open_read_only(&copy).unwrap();
    check_all(&store.default_account(), "gained");
}
