//! Migration that never logs anyone out: sessions the real libraries wrote (fixtures-gen/)
//! convert to every format with an address to connect to (Telegram's table when the source
//! holds none, test DCs for a test-mode key), the logged-in user each target needs to know
//! it is logged in, and nothing else changed.
#![cfg(feature = "formats")]

mod formats_common;

use std::net::SocketAddr;
use std::path::Path;

use formats_common::{fake_key, fixture, read, same};
use sessiondb::formats::{self, ExportOptions, Format, Portable};
use sessiondb::{Error, PeerKind};

const SELF_ID: i64 = 123_456_789;

/// Every format, exported from `p` and imported back (files in `dir`).
fn through_every_format(
    p: &Portable,
    dir: &Path,
    options: &ExportOptions,
) -> Vec<(Format, Portable)> {
    Format::ALL
        .into_iter()
        .map(|f| {
            let back = if f.is_string() {
                let text = formats::export_string(p, f, options)
                    .unwrap_or_else(|e| panic!("export {f}: {e}"));
                formats::import_string(&text, Some(f))
            } else {
                let path = dir.join(format!("{f}.out"));
                formats::export_file(p, f, &path, options)
                    .unwrap_or_else(|e| panic!("export {f}: {e}"));
                formats::import_file(&path, Some(f))
            };
            (f, back.unwrap_or_else(|e| panic!("import {f}: {e}")))
        })
        .collect()
}

/// The home DC's (IPv4 or else IPv6) address, and whether its key is the fixtures' key.
fn home(p: &Portable) -> (i32, Option<SocketAddr>, bool) {
    let dc = formats_common::home_dc(p);
    let key = dc.auth_key.as_ref().map(|k| k.as_bytes()) == Some(fake_key().as_bytes());
    (dc.id, formats_common::address(dc), key)
}

fn bot_options() -> ExportOptions {
    ExportOptions {
        api_id: Some(12345),
        ..ExportOptions::default()
    }
}

#[test]
fn pyrogram_sessions_reach_every_format_at_pyrograms_own_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let string = formats::import_string(&read("pyrogram-2.string"), None).expect("string");
    let file = formats::import_file(&fixture("pyrogram-2.0.106.session"), None).expect("file");
    for (what, p) in [("string", string), ("file", file)] {
        assert!(
            p.notes.iter().any(|n| n.contains("DC 2 had no address")),
            "{what}: the filled address is noted"
        );
        let sub = dir.path().join(what);
        std::fs::create_dir(&sub).expect("dir");
        for (f, back) in through_every_format(&p, &sub, &bot_options()) {
            let (id, addr, key) = home(&back);
            assert!(id == 2 && key, "{what} → {f}: DC 2 with its key");
            assert_eq!(
                addr,
                "149.154.167.51:443".parse().ok(),
                "{what} → {f}: Pyrogram 2.0.106's address of DC 2"
            );
            assert!(!back.session.app.test_mode, "{what} → {f}: production");
        }
    }
}

#[test]
fn a_test_mode_key_never_leaves_with_a_production_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = formats::import_string(&read("pyrogram-2-test.string"), None).expect("import");
    assert!(
        p.session.app.test_mode,
        "the fixture is a test-mode session"
    );
    for (f, back) in through_every_format(&p, dir.path(), &bot_options()) {
        let (id, addr, key) = home(&back);
        assert!(id == 2 && key, "{f}: DC 2 with its key");
        assert_eq!(
            addr,
            "149.154.167.40:80".parse().ok(),
            "{f}: Telegram's test DC 2"
        );
        assert!(back.session.app.test_mode, "{f}: comes back as test mode");
    }

    // A test-mode session that somehow holds a production address does not keep it.
    let mut mixed = p.clone();
    mixed.session.dcs[0].ipv4 = "149.154.167.51:443".parse().ok();
    let sub = dir.path().join("mixed");
    std::fs::create_dir(&sub).expect("dir");
    for (f, back) in through_every_format(&mixed, &sub, &bot_options()) {
        assert_eq!(
            home(&back).1,
            "149.154.167.40:80".parse().ok(),
            "mixed → {f}"
        );
    }
    // Nor can one be asked for.
    let asked = ExportOptions {
        dc_address: "149.154.175.53:443".parse().ok(),
        ..bot_options()
    };
    let err = formats::export_string(&p, Format::TelethonString, &asked).expect_err("refused");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

#[test]
fn dc_address_overrides_the_exported_dc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = formats::import_string(&read("pyrogram-2.string"), None).expect("import");
    let options = ExportOptions {
        dc_address: "[2001:db8::7]:8443".parse().ok(),
        ..bot_options()
    };
    for (f, back) in through_every_format(&p, dir.path(), &options) {
        if f == Format::Pyrogram || f == Format::PyrogramString {
            continue; // Pyrogram keeps no address at all
        }
        let dc = &back.session.dcs[0];
        assert_eq!(
            dc.ipv6.map(SocketAddr::V6),
            options.dc_address,
            "{f}: the given address"
        );
    }
}

#[test]
fn telethon_v2_export_writes_the_user_row_or_names_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A Telethon string holds no user: the flags supply it, and nothing else can.
    let mut p = formats::import_string(&read("telethon-ipv4.string"), None).expect("import");
    let path = dir.path().join("refused.session");
    let err = formats::export_file(&p, Format::TelethonV2, &path, &ExportOptions::default())
        .expect_err("no user");
    assert!(
        matches!(&err, Error::MissingField { option, .. } if option == "user_id"),
        "{err}"
    );
    assert!(!path.exists(), "a refused export leaves nothing behind");

    // Home DC 4, so a Telethon 2 without the row (which starts at DC 2) would log in again.
    p.session.dcs[0].id = 4;
    p.session.home_dc = Some(4);
    let options = ExportOptions {
        user_id: Some(SELF_ID),
        is_bot: Some(true),
        ..ExportOptions::default()
    };
    let path = dir.path().join("flags.session");
    formats::export_file(&p, Format::TelethonV2, &path, &options).expect("export");
    let back = formats::import_file(&path, Some(Format::TelethonV2)).expect("import");
    let user = back.session.user.as_ref().expect("user row");
    assert!(
        user.id == SELF_ID && user.bot && user.dc == 4,
        "user from the flags"
    );
    assert_eq!(back.session.home_dc, Some(4));

    // From the session itself (a Pyrogram string holds the user and the bot flag).
    let p = formats::import_string(&read("pyrogram-2-test.string"), None).expect("import");
    let path = dir.path().join("session.session");
    formats::export_file(&p, Format::TelethonV2, &path, &ExportOptions::default()).expect("export");
    let back = formats::import_file(&path, Some(Format::TelethonV2)).expect("import");
    let user = back.session.user.as_ref().expect("user row");
    assert!(
        user.id == SELF_ID && user.bot && user.dc == 2,
        "user from the session"
    );
}

#[test]
fn grammers_export_marks_exactly_the_logged_in_user_as_self() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A Pyrogram string: a user and no cached peers at all.
    let p = formats::import_string(&read("pyrogram-2.string"), None).expect("import");
    let path = dir.path().join("string.sqlite");
    formats::export_file(&p, Format::Grammers, &path, &ExportOptions::default()).expect("export");
    let back = formats::import_file(&path, Some(Format::Grammers)).expect("import");
    let user = back.session.user.as_ref().expect("grammers finds itself");
    assert!(user.id == SELF_ID && !user.bot);

    // A Pyrogram file whose peers include other users, one wrongly marked as self.
    let mut p = formats::import_file(&fixture("pyrogram-2.0.106.session"), None).expect("file");
    if let Some(other) = p
        .peers
        .iter_mut()
        .find(|peer| peer.id != SELF_ID && peer.kind.is_user())
    {
        other.is_self = Some(true);
    }
    let path = dir.path().join("file.sqlite");
    formats::export_file(&p, Format::Grammers, &path, &ExportOptions::default()).expect("export");
    let back = formats::import_file(&path, Some(Format::Grammers)).expect("import");
    let selves: Vec<i64> = back
        .peers
        .iter()
        .filter(|peer| peer.is_self == Some(true))
        .map(|peer| peer.id)
        .collect();
    assert_eq!(selves, vec![SELF_ID], "one self row, the logged-in user's");
    same(
        &back.session.user.as_ref().map(|u| u.id),
        &Some(SELF_ID),
        "grammers' own user",
    );
    assert!(back.peers.iter().any(|peer| peer.kind == PeerKind::Bot));
}
