//! Round trips, visibility, accounts, locking, permissions and foreign files, on real disk.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{dc, key, peer, session};
use sessiondb::{AppFields, DataCenter, Error, Store, UpdateState, UpdateStateChange, User};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn every_type_round_trips_through_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let s = session(3);
    {
        let store = Store::open(&path).unwrap();
        let acc = store.default_account();
        acc.save(&s).unwrap();
        acc.cache_peers(&[peer(10), peer(11)]).unwrap();
        acc.set_update_state(UpdateStateChange::Secondary { qts: 9 })
            .unwrap();
        store.close().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    let mut expected = s.clone();
    expected.update_state.as_mut().unwrap().qts = 9;
    assert_eq!(acc.session().unwrap(), Some(expected));
    assert!(common::same_peer(
        &peer(10),
        &acc.peer(10).unwrap().unwrap()
    ));
    assert_eq!(store.accounts().unwrap(), vec!["default".to_owned()]);
}

#[test]
fn writes_are_visible_before_a_checkpoint_and_survive_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    acc.set_dc(dc(2, 1)).unwrap();
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 5,
        date: 6,
        seq: 7,
    })
    .unwrap();
    acc.set_update_state(UpdateStateChange::Channel { id: 42, pts: 8 })
        .unwrap();
    assert_eq!(
        store.checkpoint_lsn(),
        0,
        "nothing may have been checkpointed yet"
    );
    assert_eq!(acc.dc(2).unwrap(), Some(dc(2, 1)));
    assert_eq!(
        acc.update_state().unwrap(),
        Some(UpdateState {
            pts: 5,
            qts: 0,
            date: 6,
            seq: 7
        })
    );
    assert_eq!(acc.channel_pts(42).unwrap(), Some(8));
    drop(store); // no checkpoint: the log must carry it
    let store = Store::open(&path).unwrap();
    assert!(store.recovery().records_replayed >= 3);
    let acc = store.default_account();
    assert_eq!(acc.dc(2).unwrap(), Some(dc(2, 1)));
    assert_eq!(acc.channel_pts(42).unwrap(), Some(8));
}

#[test]
fn checkpoint_then_more_writes_then_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    for pts in 1..=50 {
        acc.set_update_state(UpdateStateChange::Primary {
            pts,
            date: pts,
            seq: pts,
        })
        .unwrap();
        if pts % 20 == 0 {
            assert!(store.checkpoint().unwrap() > 0);
        }
    }
    acc.remove_dc(3).unwrap();
    acc.set_dc(dc(3, 9)).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    let acc = store.default_account();
    assert_eq!(acc.update_state().unwrap().unwrap().pts, 50);
    assert_eq!(acc.dc(3).unwrap(), Some(dc(3, 9)));
    assert!(store.recovery().checkpoint_lsn >= 40);
}

#[test]
fn accounts_are_isolated_and_delete_wipes_durably() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multi");
    {
        let store = Store::open(&path).unwrap();
        let a = store.create_account("alice").unwrap();
        let b = store.account("bob").unwrap();
        a.save(&session(1)).unwrap();
        b.save(&session(2)).unwrap();
        a.cache_peers(&[peer(1)]).unwrap();
        assert_eq!(b.peer(1).unwrap(), None);
        assert_eq!(a.dc(2).unwrap(), Some(dc(2, 2)));
        assert_eq!(b.dc(2).unwrap(), Some(dc(2, 3)));
        store.delete_account("alice").unwrap();
        assert!(!a.exists().unwrap());
        assert_eq!(a.dc(2).unwrap(), None);
        assert_eq!(a.peer(1).unwrap(), None);
        assert_eq!(a.session().unwrap(), None);
        assert_eq!(store.accounts().unwrap(), vec!["bob".to_owned()]);
        drop(store);
    }
    // Deleted before and after a checkpoint: both must stay deleted across reopen.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.accounts().unwrap(), vec!["bob".to_owned()]);
    let a = store.account("alice").unwrap();
    assert_eq!(a.session().unwrap(), None);
    a.save(&session(5)).unwrap();
    store.checkpoint().unwrap();
    store.delete_account("alice").unwrap();
    store.close().unwrap();
    let store = Store::open(&path).unwrap();
    let a = store.account("alice").unwrap();
    assert_eq!(a.session().unwrap(), None);
    assert_eq!(a.dcs().unwrap(), vec![]);
    assert_eq!(a.channels().unwrap().len(), 0);
    assert_eq!(
        store.account("bob").unwrap().session().unwrap(),
        Some(session(2))
    );
}

#[test]
fn save_replaces_dcs_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    acc.save(&session(1)).unwrap();
    let mut s = session(1);
    s.dcs.retain(|d| d.id == 2);
    s.channels.remove(&1_234_567);
    s.update_state = None;
    s.user = Some(User {
        id: 5,
        dc: 2,
        bot: false,
        username: None,
    });
    acc.save(&s).unwrap();
    assert_eq!(acc.session().unwrap(), Some(s.clone()));
    // A DC or channel written just before a save (still queued) does not survive it.
    let queued = acc.set_dc_async(dc(7, 7));
    let queued_channel = acc.set_update_state_async(UpdateStateChange::Channel { id: 9, pts: 1 });
    acc.save(&s).unwrap();
    queued.wait().unwrap();
    queued_channel.wait().unwrap();
    assert_eq!(acc.session().unwrap(), Some(s));
}

#[test]
fn bad_arguments_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    assert!(matches!(store.account(""), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        store.account(&"x".repeat(65)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        store.account("a\nb"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        sessiondb::AuthKey::from_slice(&[1; 255]),
        Err(Error::InvalidArgument(_))
    ));
    let mut app = AppFields::default();
    app.custom.insert("big".into(), vec![0; 5000]);
    let acc = store.default_account();
    assert!(matches!(
        acc.set_app_fields(app),
        Err(Error::InvalidArgument(_))
    ));
    let mut s = session(1);
    s.dcs.push(dc(2, 9));
    assert!(matches!(acc.save(&s), Err(Error::InvalidArgument(_))));
    assert_eq!(
        acc.session().unwrap(),
        None,
        "a refused save writes nothing"
    );
}

#[test]
fn second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    match Store::open(&path) {
        Err(Error::Locked { path: p }) => assert!(p.ends_with("bot.session")),
        other => panic!("expected Locked, got {other:?}"),
    }
    store.close().unwrap();
    Store::open(&path).unwrap();
}

#[test]
fn files_are_private_and_wider_modes_are_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    store.default_account().set_dc(dc(2, 1)).unwrap();
    store.close().unwrap();
    let sdir = dir.path().join("bot.session");
    assert_eq!(mode(&sdir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&sdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 3, "lock, index and a log segment");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&sdir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(mode(&sdir), 0o700);
    for f in &files {
        if f.exists() {
            assert_eq!(mode(f), 0o600, "{} was not tightened", f.display());
        }
    }
    drop(store);
}

#[test]
fn a_file_owned_by_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    Store::open(&path).unwrap().close().unwrap();
    let index = dir.path().join("bot.session/index.redb");
    // chown needs root; CI runs as root, elsewhere the test cannot set the scene.
    if std::os::unix::fs::chown(&index, Some(4242), None).is_err() {
        eprintln!("skipping: cannot chown without root");
        return;
    }
    match Store::open(&path) {
        Err(Error::ForeignOwner { owner: 4242, .. }) => {}
        other => panic!("expected ForeignOwner, got {other:?}"),
    }
}

#[test]
fn a_telethon_session_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/telethon_v7.session"
    );
    let target = dir.path().join("bot.session");
    std::fs::copy(fixture, &target).unwrap();
    let before = std::fs::read(&target).unwrap();
    for p in [dir.path().join("bot"), target.clone()] {
        match Store::open(&p) {
            Err(Error::ForeignFormat { format, .. }) => {
                assert_eq!(format, "Telethon v1 SQLite");
            }
            other => panic!("expected ForeignFormat, got {other:?}"),
        }
    }
    assert!(matches!(
        Store::open_read_only(&target),
        Err(Error::ForeignFormat { .. })
    ));
    assert!(
        std::fs::read(&target).unwrap() == before,
        "the file must be untouched"
    );
}

#[test]
fn a_foreign_directory_is_not_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("photos.session");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("cat.jpg"), b"meow").unwrap();
    assert!(matches!(
        Store::open(&target),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn debug_and_errors_never_show_key_bytes() {
    let k = key(1);
    let hex: String = k.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dec = format!(
        "{}, {}, {}",
        k.as_bytes()[0],
        k.as_bytes()[1],
        k.as_bytes()[2]
    );
    let s = session(1);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bot")).unwrap();
    let acc = store.default_account();
    acc.save(&s).unwrap();
    let printed = [
        format!("{k:?}"),
        format!("{k}"),
        format!("{k:#?}"),
        format!("{:?}", dc(2, 1)),
        format!("{s:?}"),
        format!("{s:#?}"),
        format!("{store:?}"),
        format!("{acc:?}"),
        format!("{:?}", acc.dc(2)),
        format!("{:?}", acc.session()),
        format!("{:?}", sessiondb::AuthKey::from_slice(&[7; 3])),
        format!("{:?}", store.stats()),
        format!("{:?}", sessiondb::Options::default()),
        format!("{:?}", sessiondb::MemoryStore::new()),
        format!("{:?}", sessiondb::Storage::file(dir.path().join("x"))),
        format!("{:?}", common::peer(1)),
        format!("{:?}", sessiondb::Error::Closed),
    ];
    for p in &printed {
        assert!(!p.contains(&hex), "hex key bytes printed");
        assert!(!p.contains(&dec), "decimal key bytes printed");
    }
    assert!(printed[0].contains("redacted"));
}

#[test]
fn debug_never_shows_a_server_salt_or_an_access_hash() {
    let mut dc = DataCenter::new(2);
    dc.server_salt = 0x1234_5678_9abc_def0;
    let mut peer = sessiondb::Peer::new(42, sessiondb::PeerKind::User, Some(0x0fed_cba9_8765_4321));
    peer.usernames = vec!["shown".into()];
    let session = sessiondb::Session {
        dcs: vec![dc.clone()],
        ..Default::default()
    };
    for printed in [
        format!("{dc:?}"),
        format!("{dc:#?}"),
        format!("{peer:?}"),
        format!("{peer:#?}"),
        format!("{session:?}"),
        format!("{:?}", Some(vec![peer.clone()])),
    ] {
        for secret in [0x1234_5678_9abc_def0_i64, 0x0fed_cba9_8765_4321] {
            assert!(
                !printed.contains(&secret.to_string()),
                "printed a secret: {printed}"
            );
            assert!(
                !printed.contains(&format!("{secret:x}")),
                "printed a secret: {printed}"
            );
        }
    }
    assert!(format!("{peer:?}").contains("access_hash: <redacted>"));
    assert!(format!("{dc:?}").contains("server_salt: <redacted>"));
    assert!(
        format!("{peer:?}").contains("shown"),
        "the rest still prints"
    );
}
