//! layer-client files written by layer-client 0.5.0 (fixtures-gen/layer/) import with the
//! expected values and encode back byte for byte; wrapped 16-bit counts are recovered; bad
//! files are errors, never panics. Failure messages show no keys or session contents.
#![cfg(feature = "formats")]

mod formats_common;

use formats_common::{fake_key, fixture, same_portable};
use sessiondb::formats::{self, ExportOptions, Format, Portable};
use sessiondb::{DataCenter, Error, Peer, PeerKind, UpdateState};

fn layer_sample(peers: usize, channels: usize) -> Portable {
    let mut p = Portable::default();
    let s = &mut p.session;
    s.home_dc = Some(2);
    let mut dc = DataCenter::new(2);
    dc.ipv4 = Some("149.154.167.41:443".parse().unwrap());
    dc.auth_key = Some(fake_key());
    dc.server_salt = -42;
    dc.time_offset = 3;
    s.dcs.push(dc);
    let mut dc = DataCenter::new(4);
    dc.ipv6 = Some("[2001:67c:4e8:f004::a]:443".parse().unwrap());
    s.dcs.push(dc);
    s.update_state = Some(UpdateState {
        pts: 1,
        qts: 2,
        date: 3,
        seq: 4,
    });
    for i in 0..channels {
        s.channels.insert(1_000_000 + i as i64, i as i32);
    }
    for i in 0..peers as i64 {
        p.peers.push(if i % 3 == 0 {
            Peer::new(
                -(1_000_000_000_000 + 1 + i),
                PeerKind::ChannelUnknown,
                Some(-i),
            )
        } else {
            Peer::new(1 + i, PeerKind::UserUnknown, Some(i * 31))
        });
    }
    p
}

#[test]
fn layer_fixture_decodes_and_encodes_byte_for_byte() {
    let path = fixture("layer-0.5.0.session");
    assert_eq!(formats::detect_file(&path).ok(), Some(Format::Layer));
    let p = formats::import_file(&path, None).expect("layer fixture");
    assert!(p.notes.is_empty(), "{} notes", p.notes.len());
    let s = &p.session;
    assert_eq!(s.home_dc, Some(2));
    assert_eq!(s.dcs.iter().map(|d| d.id).collect::<Vec<_>>(), [2, 1, 4]);
    let dc2 = &s.dcs[0];
    assert!(dc2.ipv4 == Some("149.154.167.41:443".parse().unwrap()));
    assert!(dc2.auth_key == Some(fake_key()), "DC 2 key differs");
    assert_eq!(
        (dc2.server_salt, dc2.time_offset),
        (-6_000_000_000_000_000_001, -3)
    );
    assert!(s.dcs[1].ipv4 == Some("149.154.175.53:443".parse().unwrap()));
    assert_eq!(s.dcs[1].flags, 16, "static flag kept");
    assert!(s.dcs[2].ipv6 == Some("[2001:67c:4e8:f004::a]:443".parse().unwrap()));
    assert!(s.dcs[1].auth_key.is_none() && s.dcs[2].auth_key.is_none());
    assert_eq!(
        s.update_state,
        Some(UpdateState {
            pts: 100,
            qts: 5,
            date: 1700000000,
            seq: 7
        })
    );
    assert_eq!(s.channels.len(), 2);
    assert_eq!(s.channels.get(&1777888999), Some(&4242));
    assert_eq!(s.channels.get(&1222333444), Some(&777));
    let ids: Vec<(i64, PeerKind)> = p.peers.iter().map(|x| (x.id, x.kind)).collect();
    use PeerKind::{ChannelUnknown as C, UserUnknown as U};
    assert_eq!(
        ids,
        [
            (123456789, U),
            (5000000001, U),
            (222333444, U),
            (987654321, U),
            (-1001777888999, C),
            (-1001222333444, C)
        ]
    );
    assert_eq!(p.peers[2].access_hash, Some(-1));

    let bytes = std::fs::read(&path).unwrap();
    let out = layer_bytes(&p);
    assert!(
        out == bytes,
        "export differs: {} vs {} bytes, crc {:08x} vs {:08x}",
        out.len(),
        bytes.len(),
        crc32fast::hash(&out),
        crc32fast::hash(&bytes)
    );
}

/// Exports through the public API (a new file) and reads the bytes back.
fn layer_bytes(p: &Portable) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.session");
    formats::export_file(p, Format::Layer, &path, &ExportOptions::default()).unwrap();
    std::fs::read(&path).unwrap()
}

fn layer_import(bytes: &[u8]) -> sessiondb::Result<Portable> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.session");
    std::fs::write(&path, bytes).unwrap();
    formats::import_file(&path, Some(Format::Layer))
}

#[test]
fn layer_getconfig_shapes_import() {
    let p = formats::import_file(&fixture("layer-0.5.0-getconfig.session"), None).unwrap();
    let s = &p.session;
    assert_eq!(s.dcs.iter().map(|d| d.id).collect::<Vec<_>>(), [2, 5]);
    assert!(s.dcs[0].ipv4 == Some("149.154.167.41:443".parse().unwrap()));
    assert!(s.dcs[0].ipv6.is_none() && s.dcs[0].flags == 0);
    assert!(s.dcs[0].auth_key == Some(fake_key()));
    // Written without brackets by getConfig handling; read by splitting at the last colon.
    assert!(s.dcs[1].ipv6 == Some("[2001:b28:f23f:f005::a]:443".parse().unwrap()));
    assert!(
        p.notes.iter().any(|n| n.contains("media-only")),
        "media note"
    );
    let back = layer_import(&layer_bytes(&p)).unwrap();
    same_portable(&back, &p, "getconfig round trip");
    assert!(back.notes.is_empty());
}

#[test]
fn layer_round_trip_recovers_wrapped_counts() {
    for (peers, channels) in [(0, 0), (10, 3), (70_000, 0), (65_536, 65_537)] {
        let p = layer_sample(peers, channels);
        let bytes = layer_bytes(&p);
        let back = layer_import(&bytes).unwrap();
        same_portable(&back, &p, &format!("{peers} peers, {channels} channels"));
        let wrapped = [(peers, "peer"), (channels, "channel")]
            .iter()
            .filter(|(n, _)| *n > 65_535)
            .count();
        assert_eq!(back.notes.len(), wrapped, "{peers}/{channels}: notes");
        if peers == 70_000 {
            let note = &back.notes[0];
            assert!(
                note.contains("4464") && note.contains("recovered 65536"),
                "{note}"
            );
        }
    }
}

#[test]
fn layer_export_skips_what_layer_cannot_hold() {
    let mut p = layer_sample(3, 0);
    p.peers
        .push(Peer::new(-444555666, PeerKind::BasicGroup, None));
    p.peers.push(Peer::new(42, PeerKind::User, None));
    let back = layer_import(&layer_bytes(&p)).unwrap();
    assert_eq!(back.peers.len(), 3);
    // A production DC without an address gets layer's own bootstrap address.
    let mut dc = DataCenter::new(3);
    dc.auth_key = Some(fake_key());
    p.session.dcs.push(dc);
    let back = layer_import(&layer_bytes(&p)).unwrap();
    assert!(back.session.dcs[2].ipv4.is_some());
    p.session.app.test_mode = true;
    let dir = tempfile::tempdir().unwrap();
    let err = formats::export_file(
        &p,
        Format::Layer,
        &dir.path().join("x"),
        &ExportOptions::default(),
    );
    assert!(matches!(err, Err(Error::MissingField { .. })));
}

#[test]
fn layer_truncated_or_flipped_files_are_errors_not_panics() {
    for name in ["layer-0.5.0.session", "layer-0.5.0-getconfig.session"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for n in 0..bytes.len() {
            assert!(
                layer_import(&bytes[..n]).is_err(),
                "{name}: accepted {n} bytes"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(layer_import(&longer).is_err(), "{name}: trailing byte");
        let mut b = bytes.clone();
        for i in 0..b.len() {
            for bit in 0..8 {
                b[i] ^= 1 << bit;
                let _ = layer_import(&b);
                b[i] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn layer_version_2_files_import() {
    // Version 2 is version 3 without the DC flags byte (layer-client reads both).
    let mut p = layer_sample(4, 2);
    p.session.dcs.truncate(1);
    let mut bytes = layer_bytes(&p);
    let flags_at = 6 + 4 + 1 + 256 + 8 + 4 + 1 + "149.154.167.41:443".len();
    assert_eq!(bytes.remove(flags_at), 0);
    bytes[0] = 2;
    let back = layer_import(&bytes).unwrap();
    same_portable(&back, &p, "version 2");
    bytes[0] = 1;
    assert!(layer_import(&bytes).is_err());
}

#[test]
fn layer_string_is_its_file_in_base64_both_ways() {
    // Written by layer's own StringSessionBackend from the file fixture's session.
    let text = std::fs::read_to_string(fixture("layer-0.5.0.string")).unwrap();
    assert_eq!(
        formats::detect_string(&text).ok(),
        Some(Format::LayerString)
    );
    let from_string = formats::import_string(&text, None).unwrap();
    let from_file = formats::import_file(&fixture("layer-0.5.0.session"), None).unwrap();
    same_portable(&from_string, &from_file, "layer string");
    let ours = formats::export_string(&from_string, Format::LayerString, &ExportOptions::default())
        .unwrap();
    assert!(
        ours == text.trim(),
        "the export differs from layer's string"
    );
    for len in [0, 1, 10, text.len() / 2, text.trim().len() - 1] {
        assert!(
            formats::import_string(&text[..len], Some(Format::LayerString)).is_err(),
            "a string cut at {len} characters imported"
        );
    }
}
