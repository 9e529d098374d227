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
