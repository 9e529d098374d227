//! Session files written by the real Telethon and Pyrogram (tests/fixtures/formats/, see
//! fixtures-gen/) import with exactly the values in EXPECTED.json; every file format round
//! trips (import → export → import is identical), also through a store; bad files give
//! typed errors. Under `CI=true`, the real Telethon opens our export.
#![cfg(feature = "formats")]

use std::path::{Path, PathBuf};

use serde_json::Value;
use sessiondb::formats::{self, ExportOptions, Format, Portable};
use sessiondb::{Error, PeerKind, Store};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/formats")
        .join(name)
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture("EXPECTED.json")).expect("EXPECTED.json");
    let all: Value = serde_json::from_str(&text).expect("json");
    all["fixtures"][name].clone()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares the home DC's key with the expected hex without printing either.
fn assert_key(p: &Portable, want_hex: &str, what: &str) {
    let home = p.session.home_dc.expect("home DC");
    let dc = p
        .session
        .dcs
        .iter()
        .find(|d| d.id == home)
        .expect("home DC row");
    let key = dc.auth_key.as_ref().expect("key");
    assert!(hex(key.as_bytes()) == want_hex, "{what}: auth key differs");
}

fn i64_of(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64))
}

#[test]
fn telethon_files_import_exactly() {
    for name in ["telethon-1.45.session", "telethon-1.42.session"] {
        let want = expected(name);
        let path = fixture(name);
        assert_eq!(
            formats::detect_file(&path).expect("detect"),
            Format::TelethonV1
        );
        let p = formats::import_file(&path, None).expect("import");
        let s = &p.session;
        assert_eq!(
            s.home_dc,
            Some(want["dc_id"].as_i64().expect("dc") as i32),
            "{name}"
        );
        let dc = &s.dcs[0];
        let addr = dc.ipv4.expect("ipv4");
        assert_eq!(
            addr.ip().to_string(),
            want["server_address"].as_str().expect("ip")
        );
        assert_eq!(i64::from(addr.port()), want["port"].as_i64().expect("port"));
        assert_key(&p, want["auth_key_hex"].as_str().expect("key"), name);
        let user = s.user.as_ref().expect("user");
        assert_eq!(user.id, want["self_user_id"].as_i64().expect("self"));
        let st = s.update_state.expect("state");
        let ws = &want["update_state"];
        assert_eq!(
            (st.pts, st.qts, st.date, st.seq),
            (
                ws["pts"].as_i64().expect("pts") as i32,
                ws["qts"].as_i64().expect("qts") as i32,
                i64_of(&ws["date"]).expect("date") as i32,
                ws["seq"].as_i64().expect("seq") as i32
            ),
            "{name} update state"
        );
        let channels = want["channel_states"].as_array().expect("channels");
        assert_eq!(s.channels.len(), channels.len());
        for c in channels {
            let id = c["channel_id"].as_i64().expect("id");
            assert_eq!(
                s.channels.get(&id).map(|&v| i64::from(v)),
                c["pts"].as_i64()
            );
        }
        let entities: Vec<&Value> = want["entities"]
            .as_array()
            .expect("entities")
            .iter()
            .filter(|e| e["id"].as_i64() != Some(0))
            .collect();
        assert_eq!(p.peers.len(), entities.len(), "{name} entity count");
        for e in entities {
            let id = e["id"].as_i64().expect("id");
            let peer = p
                .peers
                .iter()
                .find(|x| x.id == id)
                .expect("entity imported");
            let hash = e["hash"].as_i64().expect("hash");
            let want_hash = (peer.kind != PeerKind::BasicGroup).then_some(hash);
            assert_eq!(peer.access_hash, want_hash, "{name} hash of {id}");
            assert_eq!(
                peer.usernames.first().map(String::as_str),
                e["username"].as_str()
            );
            let phone = e["phone"].as_i64().map(|v| v.to_string());
            assert_eq!(peer.phone, phone, "{name} phone of {id}");
            assert_eq!(
                peer.name.as_deref(),
                e["name"].as_str(),
                "{name} name of {id}"
            );
            assert_eq!(
                Some(peer.updated_at),
                i64_of(&e["date"]),
                "{name} date of {id}"
            );
            assert_eq!(
                peer.is_self == Some(true),
                id == user.id,
                "{name} self mark"
            );
        }
    }
}

#[test]
fn pyrogram_files_import_exactly() {
    for name in [
        "pyrogram-2.0.106.session",
        "pyrogram-1.4.16.session",
        "pyrogram-1.4.16-migrated-2.0.106.session",
    ] {
        let want = expected(name);
        let path = fixture(name);
        assert_eq!(
            formats::detect_file(&path).expect("detect"),
            Format::Pyrogram
        );
        let p = formats::import_file(&path, None).expect("import");
        let s = &p.session;
        assert_eq!(s.home_dc.map(i64::from), want["dc_id"].as_i64(), "{name}");
        assert_eq!(
            s.app.api_id.map(i64::from),
            want["api_id"].as_i64(),
            "{name} api_id"
        );
        assert_eq!(s.app.test_mode, want["test_mode"].as_i64() == Some(1));
        assert_eq!(s.app.created_at, want["date"].as_i64(), "{name} date");
        assert_key(&p, want["auth_key_hex"].as_str().expect("key"), name);
        let user = s.user.as_ref().expect("user");
        assert_eq!(Some(user.id), want["user_id"].as_i64());
        assert_eq!(user.bot, want["is_bot"].as_i64() == Some(1));
        let peers = want["peers"].as_array().expect("peers");
        assert_eq!(p.peers.len(), peers.len(), "{name} peer count");
        for w in peers {
            let id = w["id"].as_i64().expect("id");
            let peer = p.peers.iter().find(|x| x.id == id).expect("peer imported");
            let kind = match w["type"].as_str().expect("type") {
                "user" => PeerKind::User,
                "bot" => PeerKind::Bot,
                "group" => PeerKind::BasicGroup,
                "channel" => PeerKind::Channel,
                _ => PeerKind::Megagroup,
            };
            assert_eq!(peer.kind, kind, "{name} kind of {id}");
            if kind != PeerKind::BasicGroup {
                assert_eq!(peer.access_hash, w["access_hash"].as_i64(), "{name} hash");
            }
            assert_eq!(
                peer.usernames.first().map(String::as_str),
                w["username"].as_str()
            );
            assert_eq!(peer.phone.as_deref(), w["phone_number"].as_str());
            assert_eq!(Some(peer.updated_at), w["last_update_on"].as_i64());
        }
    }
}

fn without_notes(mut p: Portable) -> Portable {
    p.notes.clear();
    p
}

fn round_trip(source: &Portable, format: Format, options: &ExportOptions) -> Portable {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.session");
    formats::export_file(source, format, &path, options).expect("export");
    let mode = std::fs::metadata(&path).expect("meta").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert_eq!(formats::detect_file(&path).expect("detect"), format);
    without_notes(formats::import_file(&path, None).expect("re-import"))
}

#[test]
fn every_file_format_round_trips() {
    let telethon = formats::import_file(&fixture("telethon-1.45.session"), None).expect("t");
    let pyrogram = formats::import_file(&fixture("pyrogram-2.0.106.session"), None).expect("p");
    let none = ExportOptions::default();
    for (source, format) in [
        (&telethon, Format::TelethonV1),
        (&pyrogram, Format::Pyrogram),
        (&telethon, Format::Grammers),
        (&pyrogram, Format::Grammers),
        (&telethon, Format::TelethonV2),
    ] {
        // import → export → import is identical from the first import on.
        let once = round_trip(source, format, &none);
        let twice = round_trip(&once, format, &none);
        assert!(once == twice, "{format}: second round trip differs");
    }
    // Same format in and out keeps everything the format holds.
    assert!(round_trip(&telethon, Format::TelethonV1, &none) == without_notes(telethon.clone()));
    assert!(round_trip(&pyrogram, Format::Pyrogram, &none) == without_notes(pyrogram.clone()));
}

#[test]
fn import_into_a_store_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = formats::import_file(&fixture("telethon-1.45.session"), None).expect("import");
    let store = Store::open(dir.path().join("bot")).expect("open");
    let account = store.create_account("imported").expect("account");
    let mut seen = 0;
    source.write_to(&account, |n| seen = n).expect("write");
    assert_eq!(seen, source.peers.len());
    let back = Portable::from_account(&account).expect("read back");
    assert!(
        back.session == source.session,
        "session differs after the store"
    );
    assert_eq!(back.peers.len(), source.peers.len());
    for (a, b) in back.peers.iter().zip(&source.peers) {
        let mut a = a.clone();
        a.updated_at = b.updated_at; // the store stamps its own write time
        assert!(a == *b, "peer {} differs after the store", b.id);
    }
}

#[test]
fn exports_refuse_what_would_ask_to_log_in_again() {
    let telethon = formats::import_file(&fixture("telethon-1.45.session"), None).expect("t");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.session");
    let err = formats::export_file(&telethon, Format::Pyrogram, &path, &Default::default())
        .expect_err("Telethon has no api_id");
    match &err {
        Error::MissingField { field, option, .. } => {
            assert_eq!((field.as_str(), option.as_str()), ("api_id", "api_id"));
        }
        other => panic!("expected MissingField, got {other}"),
    }
    assert!(!path.exists(), "no half-written file after a refusal");
    let options = ExportOptions {
        api_id: Some(12345),
        ..Default::default()
    };
    formats::export_file(&telethon, Format::Pyrogram, &path, &options).expect("with --api-id");
    let again = formats::export_file(&telethon, Format::Pyrogram, &path, &options);
    assert!(
        matches!(again, Err(Error::InvalidArgument(_))),
        "never overwrites"
    );
}

#[test]
fn damaged_files_give_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(fixture("telethon-1.45.session")).expect("read");
    for cut in [0, 10, 100, 1000, 4096, 8192, bytes.len() - 1] {
        let path = dir.path().join(format!("cut-{cut}.session"));
        std::fs::write(&path, &bytes[..cut.min(bytes.len())]).expect("write");
        let result = formats::import_file(&path, None);
        // Either a typed error or (if the cut kept every page it reads) a clean import.
        if let Err(e) = result {
            assert!(
                matches!(e, Error::Format { .. } | Error::Io { .. }),
                "cut at {cut}: {e}"
            );
        }
    }
    let plain = dir.path().join("other.sqlite");
    std::fs::write(&plain, b"not a session at all").expect("write");
    assert!(matches!(
        formats::detect_file(&plain),
        Err(Error::Format { .. })
    ));
    assert!(matches!(
        formats::import_file(&plain, Some(Format::TelethonV1)),
        Err(Error::Format { .. })
    ));
}

/// Under `CI=true` the real Telethon 1.45 (installed by .ci/run) opens our export.
#[test]
fn telethon_opens_our_export() {
    let python = std::env::var("SESSIONDB_TELETHON_PYTHON").ok();
    let Some(python) = python.filter(|p| Path::new(p).exists()) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but SESSIONDB_TELETHON_PYTHON does not name a Python with telethon 1.45.0"
        );
        eprintln!("skipped: set SESSIONDB_TELETHON_PYTHON to a Python with telethon 1.45.0");
        return;
    };
    let source = formats::import_file(&fixture("pyrogram-2.0.106.session"), None).expect("p");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("exported.session");
    formats::export_file(&source, Format::TelethonV1, &out, &Default::default()).expect("export");
    let json = dir.path().join("expected.json");
    std::fs::write(&json, telethon_expectation(&source).to_string()).expect("json");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures-gen/python/check_telethon_export.py");
    let run = std::process::Command::new(python)
        .arg(script)
        .arg(&out)
        .arg(&json)
        .output()
        .expect("run python");
    assert!(
        run.status.success(),
        "Telethon disagrees with our export:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

/// What Telethon must read from our export, in check_telethon_export.py's format.
fn telethon_expectation(p: &Portable) -> Value {
    let s = &p.session;
    let home = s.home_dc.expect("home");
    let dc = s.dcs.iter().find(|d| d.id == home).expect("dc");
    let addr = dc.ipv4.expect("address");
    let user = s.user.as_ref().expect("user");
    let mut entities = vec![serde_json::json!({"id": 0, "hash": user.id})];
    entities.extend(p.peers.iter().map(|peer| {
        serde_json::json!({
            "id": peer.id,
            "hash": peer.access_hash.unwrap_or(0),
            "username": peer.usernames.first(),
            "phone": peer.phone,
            "name": peer.name,
            "date": peer.updated_at,
        })
    }));
    let channels: Vec<Value> = s
        .channels
        .iter()
        .map(|(id, pts)| serde_json::json!({"channel_id": id, "pts": pts}))
        .collect();
    let mut want = serde_json::json!({
        "dc_id": home,
        "server_address": addr.ip().to_string(),
        "port": addr.port(),
        "auth_key_hex": hex(dc.auth_key.as_ref().expect("key").as_bytes()),
        "schema_version": 8,
        "self_user_id": user.id,
        "channel_states": channels,
        "entities": entities,
    });
    if let Some(st) = s.update_state {
        want["update_state"] =
            serde_json::json!({"pts": st.pts, "qts": st.qts, "date": st.date, "seq": st.seq});
    }
    want
}

/// The file grammers-session 0.11's own `SqliteSession` wrote (fixtures-gen/grammers).
#[test]
fn grammers_file_imports_exactly() {
    let path = fixture("grammers-0.11.sqlite");
    assert_eq!(
        formats::detect_file(&path).expect("detect"),
        Format::Grammers
    );
    let p = formats::import_file(&path, None).expect("import");
    let s = &p.session;
    assert_eq!(s.home_dc, Some(4));
    let key_hex = hex(&std::array::from_fn::<u8, 256, _>(|i| {
        ((i * 7 + 3) % 256) as u8
    }));
    assert_key(&p, &key_hex, "grammers");
    let dc2 = s.dcs.iter().find(|d| d.id == 2).expect("dc 2");
    assert_eq!(dc2.ipv4, Some("149.154.167.41:443".parse().expect("v4")));
    assert_eq!(
        dc2.ipv6,
        Some("[2001:67c:4e8:f002::a]:443".parse().expect("v6"))
    );
    assert!(dc2.auth_key.is_none());
    let st = s.update_state.expect("state");
    assert_eq!(
        (st.pts, st.qts, st.date, st.seq),
        (100, 5, 1_700_000_000, 7)
    );
    let channels: Vec<(i64, i32)> = s.channels.iter().map(|(a, b)| (*a, *b)).collect();
    assert_eq!(channels, [(1_222_333_444, 777), (1_777_888_999, 4242)]);
    assert_eq!(
        s.user.as_ref().map(|u| (u.id, u.bot)),
        Some((123_456_789, false))
    );
    let want: [(i64, PeerKind, Option<i64>, Option<bool>); 9] = [
        (
            -1_001_777_888_999,
            PeerKind::Channel,
            Some(5_555_666_677_778_888_999),
            None,
        ),
        (-1_001_444_555_666, PeerKind::ChannelUnknown, Some(12), None),
        (-1_001_333_444_555, PeerKind::Gigagroup, Some(11), None),
        (
            -1_001_222_333_444,
            PeerKind::Megagroup,
            Some(-7_000_000_000_000_000_001),
            None,
        ),
        (-444_555_666, PeerKind::BasicGroup, None, None),
        (
            123_456_789,
            PeerKind::User,
            Some(-5_000_000_000_000_000_001),
            Some(true),
        ),
        (222_333_444, PeerKind::UserUnknown, None, None),
        (987_654_321, PeerKind::Bot, Some(42), Some(false)),
        // grammers writes no subtype for a plain user: whether it is a bot is unknown.
        (5_000_000_001, PeerKind::UserUnknown, Some(7), None),
    ];
    assert_eq!(p.peers.len(), want.len());
    for (id, kind, hash, is_self) in want {
        let peer = p.peers.iter().find(|x| x.id == id).expect("peer");
        assert_eq!(
            (peer.kind, peer.access_hash, peer.is_self),
            (kind, hash, is_self),
            "{id}"
        );
    }
    let once = round_trip(&p, Format::Grammers, &ExportOptions::default());
    assert!(once == without_notes(p), "grammers round trip differs");
}

/// A grammers user switching to the adapter keeps its login: import, then open.
#[cfg(feature = "grammers")]
#[test]
fn grammers_file_imported_then_served_by_the_adapter() {
    use grammers_session::Session;
    use grammers_session::types::PeerId;
    let p = formats::import_file(&fixture("grammers-0.11.sqlite"), None).expect("import");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(Store::open(dir.path().join("bot")).expect("open"));
    p.write_to(&store.default_account(), |_| {}).expect("write");
    let session = sessiondb::GrammersSession::from_store(store, "default").expect("adapter");
    assert_eq!(session.home_dc_id().expect("home"), 4);
    let dc = session.dc_option(4).expect("dc").expect("dc 4");
    assert!(dc.auth_key.is_some(), "the key survived the switch");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(async {
        let me = session.peer(PeerId::self_user()).await.expect("self");
        assert_eq!(me.map(|m| m.id()), PeerId::user(123_456_789));
        let state = session.updates_state().await.expect("state");
        assert_eq!((state.pts, state.channels.len()), (100, 2));
    });
}
