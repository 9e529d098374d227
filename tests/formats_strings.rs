//! Session strings written by the real Telethon, GramJS and Pyrogram (tests/fixtures/formats/,
//! see fixtures-gen/python/) import with the expected values, are detected without a format,
//! round trip, and bad input of any kind is an error, never a panic.
//!
//! Failure messages never show keys or session contents: only names, lengths and counts.
#![cfg(feature = "formats")]

mod formats_common;

use formats_common::{fixture, read, same_portable};

use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};

use serde_json::Value;
use sessiondb::formats::{self, ExportOptions, Format, Portable};
use sessiondb::{AuthKey, DataCenter, Error};

const STRINGS: [&str; 7] = [
    "telethon-ipv4.string",
    "telethon-ipv6.string",
    "gramjs-ipv4.string",
    "gramjs-ipv6.string",
    "pyrogram-2.string",
    "pyrogram-1-uid32.string",
    "pyrogram-1-uid64.string",
];

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture("EXPECTED.json")).expect("EXPECTED.json");
    let all: Value = serde_json::from_str(&text).expect("json");
    all["fixtures"][name].clone()
}

fn format_of(e: &Value) -> Format {
    match e["format"].as_str().unwrap_or_default() {
        "telethon-string" => Format::TelethonString,
        "gramjs-string" => Format::GramjsString,
        f if f.starts_with("pyrogram-string") => Format::PyrogramString,
        f => panic!("unexpected fixture format {f}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn crc(s: &str) -> u32 {
    crc32fast::hash(s.as_bytes())
}

#[test]
fn every_string_fixture_decodes_to_expected() {
    for name in STRINGS {
        let e = expected(name);
        let text = read(name);
        assert_eq!(
            text.len() as u64,
            e["length_chars"].as_u64().unwrap(),
            "{name}"
        );
        let format = format_of(&e);
        assert_eq!(
            formats::detect_string(&text).ok(),
            Some(format),
            "{name}: detection"
        );
        let p = formats::import_string(&text, None).expect(name);
        let explicit = formats::import_string(&text, Some(format)).expect(name);
        same_portable(&p, &explicit, name);

        let s = &p.session;
        let dc_id = e["dc_id"].as_i64().unwrap() as i32;
        assert_eq!(s.home_dc, Some(dc_id), "{name}");
        assert_eq!(s.dcs.len(), 1, "{name}");
        let dc = &s.dcs[0];
        assert_eq!(dc.id, dc_id, "{name}");
        let key = dc.auth_key.as_ref().expect("key");
        assert!(
            hex(key.as_bytes()) == e["auth_key_hex"].as_str().unwrap(),
            "{name}: auth key differs"
        );
        assert!(p.peers.is_empty() && s.update_state.is_none(), "{name}");

        if format == Format::PyrogramString {
            // Pyrogram keeps no address: the import takes Pyrogram's own table's.
            let table = if e["test_mode"].as_bool().unwrap() {
                "149.154.167.40:80"
            } else {
                "149.154.167.51:443"
            };
            assert_eq!(dc.ipv4, table.parse().ok(), "{name}: table address");
            assert!(
                p.notes.iter().any(|n| n.contains("had no address")),
                "{name}: note"
            );
            let user = s.user.as_ref().expect("user");
            assert_eq!(user.id, e["user_id"].as_i64().unwrap(), "{name}");
            assert_eq!(user.dc, dc_id, "{name}");
            assert_eq!(user.bot, e["is_bot"].as_bool().unwrap(), "{name}");
            assert_eq!(s.app.api_id.map(i64::from), e["api_id"].as_i64(), "{name}");
            assert_eq!(s.app.test_mode, e["test_mode"].as_bool().unwrap(), "{name}");
        } else {
            assert!(s.user.is_none() && s.app.api_id.is_none(), "{name}");
            let ip: IpAddr = e["server_address"].as_str().unwrap().parse().unwrap();
            let port = e["port"].as_u64().unwrap() as u16;
            match ip {
                IpAddr::V4(a) => {
                    assert!(dc.ipv4 == Some(SocketAddrV4::new(a, port)), "{name}: IPv4");
                    assert!(dc.ipv6.is_none(), "{name}");
                }
                IpAddr::V6(a) => {
                    assert!(
                        dc.ipv6 == Some(SocketAddrV6::new(a, port, 0, 0)),
                        "{name}: IPv6"
                    );
                    assert!(dc.ipv4.is_none(), "{name}");
                }
            }
        }
    }
}

#[test]
fn telethon_ipv6_and_gramjs_ipv4_share_a_length_but_not_a_format() {
    let telethon = read("telethon-ipv6.string");
    let gramjs = read("gramjs-ipv4.string");
    assert_eq!(telethon.len(), gramjs.len());
    assert_eq!(
        formats::detect_string(&telethon).ok(),
        Some(Format::TelethonString)
    );
    assert_eq!(
        formats::detect_string(&gramjs).ok(),
        Some(Format::GramjsString)
    );
    // Read as the other format, each gives a different (wrong) session or an error.
    let right = formats::import_string(&gramjs, None).expect("gramjs");
    if let Ok(wrong) = formats::import_string(&gramjs, Some(Format::TelethonString)) {
        assert!(wrong.session != right.session);
    }
    assert!(formats::import_string(&telethon, Some(Format::GramjsString)).is_err());

    // Same collision with a key whose base64 has no `+/-_`, so only the layout tells them
    // apart: GramJS's header is a small length plus address text, Telethon's raw IP bytes.
    let mut dc = DataCenter::new(2);
    dc.ipv4 = Some("149.154.167.41:443".parse().unwrap());
    dc.auth_key = Some(AuthKey::new([0x41; 256]));
    let mut p = Portable::default();
    p.session.home_dc = Some(2);
    p.session.dcs.push(dc.clone());
    let g = formats::export_string(&p, Format::GramjsString, &ExportOptions::default()).unwrap();
    dc.ipv4 = None;
    dc.ipv6 = Some("[2001:67c:4e8:f002::a]:443".parse().unwrap());
    p.session.dcs = vec![dc];
    let t = formats::export_string(&p, Format::TelethonString, &ExportOptions::default()).unwrap();
    assert_eq!(g.len(), t.len());
    assert_eq!(formats::detect_string(&g).ok(), Some(Format::GramjsString));
    assert_eq!(
        formats::detect_string(&t).ok(),
        Some(Format::TelethonString)
    );
}

#[test]
fn strings_round_trip_and_match_the_libraries_bytes() {
    let opts = ExportOptions::default();
    for name in STRINGS {
        let text = read(name);
        let format = format_of(&expected(name));
        let p = formats::import_string(&text, None).expect(name);
        let old_pyrogram = name.starts_with("pyrogram-1");
        let out = if old_pyrogram {
            // Export always writes the 2.x layout, which needs an api_id.
            let with_api = ExportOptions {
                api_id: Some(12345),
                ..ExportOptions::default()
            };
            formats::export_string(&p, format, &with_api).expect(name)
        } else {
            formats::export_string(&p, format, &opts).expect(name)
        };
        // Telethon, GramJS and Pyrogram 2.x strings come back byte for byte.
        if !old_pyrogram {
            assert!(
                out == text,
                "{name}: export differs ({} chars, crc {:08x} vs {} chars, crc {:08x})",
                out.len(),
                crc(&out),
                text.len(),
                crc(&text)
            );
        }
        let back = formats::import_string(&out, None).expect(name);
        let mut want = p.clone();
        if old_pyrogram {
            want.session.app.api_id = Some(12345);
        }
        same_portable(&back, &want, name);
        if old_pyrogram {
            assert_eq!(out.len(), 362, "{name}: 2.x layout");
        }
    }
}

#[test]
fn truncated_strings_are_errors() {
    let mut older_layout = 0;
    for name in STRINGS {
        let text = read(name);
        let format = format_of(&expected(name));
        let full = formats::import_string(&text, None).expect(name);
        for n in 0..text.len() {
            let cut = &text[..n];
            for f in [None, Some(format)] {
                let Ok(p) = formats::import_string(cut, f) else {
                    continue;
                };
                if text[n..].bytes().all(|b| b == b'=') {
                    // Only an explicit format reads missing padding, as Python and Node do.
                    assert!(f.is_some(), "{name}: detected without padding");
                    same_portable(&p, &full, name);
                } else {
                    // A Pyrogram string cut to 351 or 356 characters is a well-formed string
                    // of an older layout (no checksum tells): it reads as another session.
                    assert!(
                        format == Format::PyrogramString && (n == 351 || n == 356),
                        "{name}: accepted {n} of {} chars",
                        text.len()
                    );
                    assert!(
                        p.session != full.session,
                        "{name}: {n} chars read as the original"
                    );
                    older_layout += 1;
                }
            }
        }
    }
    // pyrogram-2.string cut to 351 characters (its api_id and user id are small).
    assert_eq!(older_layout, 2);
}

/// GramJS stores the address as text: a flip that only changes the case of a hex digit
/// of an IPv6 address is the same address.
fn same_but_case(flipped: &str, text: &str) -> bool {
    use base64::Engine as _;
    let decode = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s[1..].replace('-', "+").replace('_', "/"))
            .unwrap_or_default()
    };
    let (a, b) = (decode(flipped), decode(text));
    a != b && a.eq_ignore_ascii_case(&b)
}

#[test]
fn bit_flipped_strings_never_panic_or_pass_as_the_original() {
    for name in STRINGS {
        let text = read(name);
        let format = format_of(&expected(name));
        let full = formats::import_string(&text, None).expect(name);
        let mut bytes = text.clone().into_bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                bytes[i] ^= 1 << bit;
                if let Ok(flipped) = std::str::from_utf8(&bytes) {
                    for f in [None, Some(format)] {
                        if let Ok(p) = formats::import_string(flipped, f) {
                            assert!(
                                p.session != full.session
                                    || (format == Format::GramjsString
                                        && same_but_case(flipped, &text)),
                                "{name}: flip of bit {bit} at {i} read as the original"
                            );
                        }
                    }
                }
                bytes[i] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn junk_strings_are_errors() {
    for junk in [
        "",
        "1",
        "=",
        "1====",
        "\u{1F600}",
        "1AgAO\u{e9}",
        &"A".repeat(100_000),
    ] {
        assert!(formats::detect_string(junk).is_err());
        for f in [
            Format::TelethonString,
            Format::GramjsString,
            Format::PyrogramString,
        ] {
            assert!(formats::import_string(junk, Some(f)).is_err());
        }
    }
    // A file format is not a string format.
    assert!(formats::import_string(&read("pyrogram-2.string"), Some(Format::Layer)).is_err());
}

#[test]
fn explicit_format_mismatch_names_the_expected_lengths() {
    let err = formats::import_string(&read("gramjs-ipv6.string"), Some(Format::TelethonString))
        .map(drop)
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Format { .. }), "{msg}");
    assert!(msg.contains("263") && msg.contains("275"), "{msg}");
    let msg = formats::import_string(&read("telethon-ipv4.string"), Some(Format::PyrogramString))
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("271") && msg.contains("267"), "{msg}");
    // Never the offending character: it is part of the key.
    let mut bad = read("pyrogram-2.string");
    bad.replace_range(100..101, "*");
    let msg = formats::import_string(&bad, Some(Format::PyrogramString))
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("at 100") && !msg.contains('*'), "{msg}");
}

#[test]
fn exports_name_what_is_missing() {
    let old = formats::import_string(&read("pyrogram-1-uid32.string"), None).unwrap();
    match formats::export_string(&old, Format::PyrogramString, &ExportOptions::default()) {
        Err(Error::MissingField { field, option, .. }) => {
            assert_eq!(option, "api_id");
            assert!(field.contains("api_id"));
        }
        other => panic!("expected MissingField, got ok={}", other.is_ok()),
    }
    // Telethon strings hold no user: a Pyrogram export says so.
    let telethon = formats::import_string(&read("telethon-ipv4.string"), None).unwrap();
    let opts = ExportOptions {
        api_id: Some(1),
        ..ExportOptions::default()
    };
    match formats::export_string(&telethon, Format::PyrogramString, &opts) {
        Err(Error::MissingField { field, option, .. }) => {
            assert!(field.contains("user") && option == "user_id");
        }
        other => panic!("expected MissingField, got ok={}", other.is_ok()),
    }
    let opts = ExportOptions {
        user_id: Some(99),
        ..opts
    };
    match formats::export_string(&telethon, Format::PyrogramString, &opts) {
        Err(Error::MissingField { option, .. }) => assert_eq!(option, "is_bot"),
        other => panic!("expected MissingField, got ok={}", other.is_ok()),
    }
    let opts = ExportOptions {
        is_bot: Some(true),
        ..opts
    };
    let s = formats::export_string(&telethon, Format::PyrogramString, &opts).unwrap();
    let user = formats::import_string(&s, None).unwrap().session.user;
    assert_eq!(user.map(|u| (u.id, u.bot)), Some((99, true)));
    // A DC that neither the session nor Telegram's table has an address for.
    let pyro = formats::import_string(&read("pyrogram-2.string"), None).unwrap();
    let mut nowhere = pyro.clone();
    nowhere.session.dcs[0].id = 9;
    nowhere.session.dcs[0].ipv4 = None;
    nowhere.session.dcs[0].ipv6 = None;
    nowhere.session.home_dc = Some(9);
    for f in [Format::TelethonString, Format::GramjsString] {
        match formats::export_string(&nowhere, f, &ExportOptions::default()) {
            Err(Error::MissingField { field, option, .. }) => {
                assert!(field.contains("address") && option == "dc_address")
            }
            other => panic!("{f}: expected MissingField, got ok={}", other.is_ok()),
        }
    }
    // Options override the session's api_id and bot flag.
    let opts = ExportOptions {
        api_id: Some(777),
        is_bot: Some(true),
        ..ExportOptions::default()
    };
    let s = formats::export_string(&pyro, Format::PyrogramString, &opts).unwrap();
    let back = formats::import_string(&s, None).unwrap();
    assert_eq!(back.session.app.api_id, Some(777));
    assert_eq!(back.session.user.map(|u| u.bot), Some(true));
    // A DC that is not in the session.
    let opts = ExportOptions {
        dc: Some(4),
        ..ExportOptions::default()
    };
    assert!(matches!(
        formats::export_string(&telethon, Format::TelethonString, &opts),
        Err(Error::MissingField { .. })
    ));
}
