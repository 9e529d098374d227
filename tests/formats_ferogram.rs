//! ferogram's binary session (format 8), against ferogram-session itself: a session it
//! wrote imports and exports byte for byte, through a store too, and what we write it
//! reads back whole. Truncations and impossible counts are typed errors.
#![cfg(all(feature = "formats", feature = "ferogram"))]

use ferogram_session::{
    CachedMinPeer, CachedPeer, ChannelKind, DcEntry, DcFlags, PersistedSession, UpdatesStateSnap,
};
use sessiondb::MemoryStore;
use sessiondb::formats::{self, ExportOptions, Format, Portable};

fn peer(id: i64, kind: u8) -> CachedPeer {
    CachedPeer {
        id,
        access_hash: if kind == 2 { 0 } else { id * 7919 },
        is_channel: kind == 1,
        is_chat: kind == 2,
        channel_kind: match (kind, id % 4) {
            (1, 3) => None,
            (1, k) => ChannelKind::from_byte(k as u8),
            _ => None,
        },
        is_community: kind == 3,
    }
}

/// The marked id sessiondb keys a ferogram peer by.
fn marked(p: &CachedPeer) -> i64 {
    if p.is_chat {
        -p.id
    } else if p.is_channel || p.is_community {
        -(1_000_000_000_000 + p.id)
    } else {
        p.id
    }
}

/// A session as ferogram's client builds it, in the order a store hands it back (peers by
/// marked id, channels and min peers by id), so that bytes can be compared.
fn sample() -> PersistedSession {
    let mut main = DcEntry::from_parts(2, "149.154.167.51", 443, DcFlags::NONE);
    main.auth_key = Some(std::array::from_fn(|i| (i * 13 + 1) as u8));
    main.first_salt = -77;
    main.time_offset = 3;
    let mut media = DcEntry::from_parts(2, "149.154.167.222", 443, DcFlags::MEDIA_ONLY);
    media.auth_key = main.auth_key;
    let v6 = DcEntry::from_parts(4, "2001:67c:4e8:f004::a", 443, DcFlags::IPV6);
    let mut peers: Vec<CachedPeer> = (1..=40).map(|i| peer(1_000 + i, (i % 4) as u8)).collect();
    peers.sort_by_key(marked);
    PersistedSession {
        home_dc_id: 2,
        dcs: vec![main, media, v6],
        updates_state: UpdatesStateSnap {
            pts: 1234,
            qts: 5,
            date: 1_700_000_000,
            seq: 9,
            channels: vec![(1_001, 17), (1_005, 2)],
        },
        peers,
        min_peers: vec![
            CachedMinPeer {
                user_id: 1_004,
                peer_id: 1_001,
                msg_id: 55,
            },
            CachedMinPeer {
                user_id: 1_008,
                peer_id: 1_005,
                msg_id: 56,
            },
        ],
        future_auth_token: Some(vec![0xfe, 0x0d, 0x42]),
    }
}

fn export(p: &Portable) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.session");
    formats::export_file(p, Format::Ferogram, &path, &ExportOptions::default()).expect("export");
    std::fs::read(&path).expect("read")
}

fn import(bytes: &[u8]) -> Portable {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("in.session");
    std::fs::write(&path, bytes).expect("write");
    assert_eq!(formats::detect_file(&path).ok(), Some(Format::Ferogram));
    formats::import_file(&path, None).expect("import")
}

#[test]
fn a_session_ferogram_wrote_round_trips_byte_for_byte() {
    let written = sample().to_bytes();
    let p = import(&written);
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    assert_eq!(p.peers.len(), 40);
    assert_eq!(p.min_peers.len(), 2);
    assert_eq!(p.dc_endpoints.len(), 3);
    assert_eq!(p.session.home_dc, Some(2));
    assert!(
        export(&p) == written,
        "the export differs from ferogram's bytes"
    );
}

#[test]
fn through_a_store_the_bytes_stay_the_same_and_ferogram_reads_them() {
    let written = sample().to_bytes();
    let store = MemoryStore::new();
    let account = store.default_account();
    import(&written).write_to(&account, |_| {}).expect("write");
    let back = Portable::from_account(&account).expect("read");
    let exported = export(&back);
    assert!(
        exported == written,
        "the export differs from ferogram's bytes"
    );
    let read = PersistedSession::from_bytes(&exported).expect("ferogram reads it");
    assert_eq!(read.dcs.len(), 3);
    assert_eq!(read.dcs[1].flags, DcFlags::MEDIA_ONLY);
    assert!(read.dcs[0].auth_key == sample().dcs[0].auth_key);
    assert_eq!(read.peers.iter().filter(|p| p.is_community).count(), 10);
    assert_eq!(read.future_auth_token, Some(vec![0xfe, 0x0d, 0x42]));
}

#[test]
fn a_session_from_another_format_gets_an_entry_per_address() {
    let mut p = Portable::default();
    let mut dc = sessiondb::DataCenter::new(2);
    dc.ipv4 = "149.154.167.51:443".parse().ok();
    dc.ipv6 = "[2001:67c:4e8:f002::a]:443".parse().ok();
    dc.auth_key = Some(sessiondb::AuthKey::new([3; 256]));
    p.session.dcs.push(dc);
    p.session.home_dc = Some(2);
    let read = PersistedSession::from_bytes(&export(&p)).expect("ferogram reads it");
    assert_eq!(read.dcs.len(), 2);
    assert!(read.dcs.iter().all(|d| d.auth_key == Some([3; 256])));
    assert_eq!(read.dcs[1].addr, "[2001:67c:4e8:f002::a]:443");
    assert!(read.dcs[1].is_ipv6());
}

#[test]
fn every_truncation_is_a_typed_error() {
    let written = sample().to_bytes();
    for len in 0..written.len() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cut.session");
        std::fs::write(&path, &written[..len]).expect("write");
        assert!(
            formats::import_file(&path, Some(Format::Ferogram)).is_err(),
            "a file cut at {len} bytes imported"
        );
    }
}

#[test]
fn counts_past_the_formats_fields_are_refused() {
    let p = Portable {
        peers: (1..=65_536)
            .map(|id| sessiondb::Peer::new(id, sessiondb::PeerKind::User, Some(id)))
            .collect(),
        ..Portable::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.session");
    let refused = formats::export_file(&p, Format::Ferogram, &path, &ExportOptions::default());
    assert!(
        matches!(refused, Err(sessiondb::Error::Format { .. })),
        "{refused:?}"
    );
    assert!(!path.exists());
    let mut newer = sample().to_bytes();
    newer[0] = 9;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v9.session");
    std::fs::write(&path, &newer).expect("write");
    assert!(formats::import_file(&path, Some(Format::Ferogram)).is_err());
}

// ---- ferogram's two string forms -------------------------------------------------------

use ferogram_session::string_session::{FullSession, Session, StringSession};

fn compact(ip: &str, version: u8) -> StringSession {
    let (dc_id, ip, port) = (4, ip.parse().expect("ip"), 443);
    let auth_key = std::array::from_fn(|i| (i * 5 + 2) as u8);
    let user_id = 5_000_000_123;
    match version {
        1 => StringSession::V1(FullSession {
            dc_id,
            ip,
            port,
            auth_key,
            user_id,
            server_salt: -42,
            seq_no: 7,
            layer: 220,
        }),
        _ => StringSession::V2(Session {
            dc_id,
            ip,
            port,
            auth_key,
            user_id,
        }),
    }
}

#[test]
fn ferograms_native_string_round_trips_and_ferogram_reads_ours() {
    let written = sample().to_string();
    assert_eq!(
        formats::detect_string(&written).ok(),
        Some(Format::FerogramString)
    );
    let p = formats::import_string(&format!("{written}\n"), None).expect("import");
    assert_eq!((p.peers.len(), p.min_peers.len()), (40, 2));
    assert!(p.login_token.is_some());
    let ours = formats::export_string(&p, Format::FerogramString, &ExportOptions::default())
        .expect("export");
    assert!(ours == written, "the export differs from ferogram's string");
    let read = PersistedSession::from_string(&ours).expect("ferogram reads it");
    assert!(read.to_bytes() == sample().to_bytes());
}

#[test]
fn ferograms_compact_strings_import_and_ours_are_what_ferogram_writes() {
    for ip in ["149.154.167.91", "2001:67c:4e8:f004::a"] {
        let v2 = compact(ip, 2).encode();
        assert_eq!(
            formats::detect_string(&v2).ok(),
            Some(Format::FerogramCompactString),
            "{ip}"
        );
        let p = formats::import_string(&v2, None).expect("import V2");
        let dc = &p.session.dcs[0];
        assert_eq!((p.session.home_dc, dc.id), (Some(4), 4));
        assert!(
            dc.auth_key.as_ref().map(|k| *k.as_bytes()) == Some(compact(ip, 2).session().auth_key)
        );
        assert_eq!(p.session.user.as_ref().map(|u| u.id), Some(5_000_000_123));
        let ours =
            formats::export_string(&p, Format::FerogramCompactString, &ExportOptions::default())
                .expect("export");
        assert!(
            ours == v2,
            "{ip}: the export differs from ferogram's V2 string"
        );

        // V1 carries the salt too; an export writes V2, which ferogram decodes to the same.
        let v1 = compact(ip, 1).encode_v1();
        let p = formats::import_string(&v1, None).expect("import V1");
        assert_eq!(p.session.dcs[0].server_salt, -42);
        let ours =
            formats::export_string(&p, Format::FerogramCompactString, &ExportOptions::default())
                .expect("export");
        let read = StringSession::decode(&ours)
            .expect("ferogram decodes it")
            .session();
        let want = compact(ip, 1).session();
        assert_eq!(
            (read.dc_id, read.ip, read.port, read.user_id),
            (want.dc_id, want.ip, want.port, want.user_id)
        );
        assert!(read.auth_key == want.auth_key);
    }
}

#[test]
fn damaged_ferogram_strings_are_typed_errors() {
    let strings = [
        sample().to_string(),
        compact("149.154.167.91", 2).encode(),
        compact("149.154.167.91", 1).encode_v1(),
    ];
    for (s, format) in strings.iter().zip([
        Format::FerogramString,
        Format::FerogramCompactString,
        Format::FerogramCompactString,
    ]) {
        for len in 0..s.len() {
            let cut = &s[..len];
            assert!(
                matches!(
                    formats::import_string(cut, Some(format)),
                    Err(sessiondb::Error::Format { .. })
                ),
                "{format} cut at {len} characters imported"
            );
            assert!(formats::import_string(cut, None).is_err());
        }
    }
    // A compact string of a version ferogram does not write.
    let mut bytes = base64_decode(&compact("149.154.167.91", 2).encode());
    bytes[0] = 3;
    let text = base64_encode(&bytes);
    let e = formats::import_string(&text, Some(Format::FerogramCompactString)).expect_err("v3");
    assert!(e.to_string().contains("version 3"), "{e}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64")
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

// ---- ferogram's SqliteBackend file -----------------------------------------------------

/// A copy of the SQLite fixture in `dir`: the file is in WAL mode, so opening it (even
/// read-only) makes `-wal` and `-shm` files beside it, which must not land in the tree.
fn sqlite_fixture(dir: &std::path::Path) -> std::path::PathBuf {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats/ferogram-0.6.6.sqlite");
    let to = dir.join("ferogram-0.6.6.sqlite");
    std::fs::copy(from, &to).expect("copy the fixture");
    to
}

#[test]
fn ferograms_sqlite_file_imports_whole() {
    // Written by SqliteBackend itself: a whole save, then incremental calls.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sqlite_fixture(dir.path());
    assert_eq!(
        formats::detect_file(&path).ok(),
        Some(Format::FerogramSqlite)
    );
    let p = formats::import_file(&path, None).expect("import");
    let s = &p.session;
    assert_eq!(s.home_dc, Some(2));
    assert_eq!(p.dc_endpoints.len(), 4);
    assert_eq!(s.dcs.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 2, 4]);
    assert!(s.dcs[1].auth_key.is_some() && s.dcs[0].auth_key.is_none());
    assert_eq!(s.dcs[0].server_salt, 11);
    let state = s.update_state.expect("update state");
    assert_eq!(
        (state.pts, state.qts, state.date, state.seq),
        (1300, 5, 1_700_000_100, 10)
    );
    assert_eq!(s.channels.len(), 3);
    assert_eq!(p.peers.len(), 41);
    let kinds = |k: sessiondb::PeerKind| p.peers.iter().filter(|x| x.kind == k).count();
    assert_eq!(kinds(sessiondb::PeerKind::BasicGroup), 10);
    assert_eq!(kinds(sessiondb::PeerKind::Community), 10);
    assert_eq!(p.min_peers.len(), 2);
    assert_eq!(p.login_token.as_ref().map(|t| t.as_bytes().len()), Some(3));
}

/// ferogram's own reader (fixtures-gen/ferogram, built by .ci/run): a digest of a file as
/// `SqliteBackend` loads it. Under `CI=true` it must be there; elsewhere it is skipped.
fn ferogram_digest(path: &std::path::Path) -> Option<String> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let reader = std::env::var("SESSIONDB_FEROGRAM_READER").ok();
    let reader = reader.filter(|r| std::path::Path::new(r).exists());
    assert!(
        reader.is_some() || !ci,
        "CI=true but SESSIONDB_FEROGRAM_READER is not built"
    );
    let out = std::process::Command::new(reader?)
        .arg("read")
        .arg(path)
        .output()
        .expect("run the reader");
    assert!(
        out.status.success(),
        "ferogram could not load {}",
        path.display()
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn our_sqlite_export_holds_what_ferograms_did_and_ferogram_loads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let theirs = sqlite_fixture(dir.path());
    let p = formats::import_file(&theirs, None).expect("import");
    let out = dir.path().join("ours.sqlite");
    formats::export_file(&p, Format::FerogramSqlite, &out, &ExportOptions::default())
        .expect("export");
    let back = formats::import_file(&out, None).expect("import ours");
    assert_eq!(back.session, p.session);
    assert_eq!(back.peers, p.peers);
    assert_eq!(back.min_peers, p.min_peers);
    assert_eq!(back.dc_endpoints, p.dc_endpoints);
    assert!(back.login_token == p.login_token);
    // The same through a store, and into ferogram's binary format and back.
    let store = MemoryStore::new();
    p.write_to(&store.default_account(), |_| {}).expect("write");
    let stored = Portable::from_account(&store.default_account()).expect("read");
    assert_eq!(stored.dc_endpoints, p.dc_endpoints);
    if let (Some(theirs), Some(ours)) = (ferogram_digest(&theirs), ferogram_digest(&out)) {
        assert!(
            theirs == ours,
            "ferogram loads our export differently from its own file"
        );
    }
}

#[test]
fn a_damaged_sqlite_file_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(sqlite_fixture(dir.path())).expect("read");
    for len in [0, 100, 4096, bytes.len() / 2] {
        let path = dir.path().join(format!("cut-{len}.sqlite"));
        std::fs::write(&path, &bytes[..len]).expect("write");
        assert!(
            formats::import_file(&path, Some(Format::FerogramSqlite)).is_err(),
            "a file cut at {len} bytes imported"
        );
    }
}
