//! Every session the real libraries wrote (tests/fixtures/formats) converts to every format a
//! real library can read here, and that library reads our export as a session it would start
//! logged in with: the same DC, the address it would connect to, the same auth key, and the
//! user id and bot flag where the format keeps them. Offline (fixtures-gen/python/
//! read_session.py and read_gramjs.js only construct the libraries' session objects).
//!
//! The libraries come from the environment, set by `.ci/run` (which installs them):
//! `SESSIONDB_TELETHON_PYTHON` (Telethon 1.45), `SESSIONDB_TELETHON_142_PYTHON` (Telethon
//! 1.42), `SESSIONDB_PYROGRAM_PYTHON` (Pyrogram 2.0.106), `SESSIONDB_GRAMJS_NODE_MODULES`
//! (GramJS 2.26.22). Under `CI=true` each must be there; elsewhere a missing one is skipped.
#![cfg(feature = "formats")]

mod formats_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use formats_common::{fake_key, fixture};
use serde_json::Value;
use sessiondb::formats::{self, ExportOptions, Format, Portable};

const SOURCES: [&str; 11] = [
    "telethon-1.45.session",
    "telethon-1.42.session",
    "telethon-ipv4.string",
    "telethon-ipv6.string",
    "gramjs-ipv4.string",
    "gramjs-ipv6.string",
    "pyrogram-2.0.106.session",
    "pyrogram-1.4.16.session",
    "pyrogram-2.string",
    "pyrogram-2-test.string",
    "pyrogram-1-uid64.string",
];
const SELF_ID: i64 = 123_456_789;

/// A reader: a library that reads one of our exports.
struct Reader {
    /// What the library is, for messages.
    name: &'static str,
    /// The program (python or node) and the leading arguments.
    program: PathBuf,
    script: &'static str,
    kind: &'static str,
    env: Option<(&'static str, String)>,
    format: Format,
    telethon_schema: Option<u8>,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures-gen/python")
        .join(name)
}

/// The readers whose library the environment names (under `CI=true`, all of them).
fn readers() -> Vec<Reader> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let found = |var: &str| {
        let v = std::env::var(var).ok().filter(|p| Path::new(p).exists());
        assert!(
            v.is_some() || !ci,
            "CI=true but {var} does not name an installed library"
        );
        if v.is_none() {
            eprintln!("skipped: {var} is not set");
        }
        v
    };
    let mut out = Vec::new();
    let py = |name, var_value: &Option<String>, kind, format, schema| {
        var_value.as_ref().map(|python| Reader {
            name,
            program: PathBuf::from(python),
            script: "read_session.py",
            kind,
            env: None,
            format,
            telethon_schema: schema,
        })
    };
    let t145 = found("SESSIONDB_TELETHON_PYTHON");
    let t142 = found("SESSIONDB_TELETHON_142_PYTHON");
    let pyro = found("SESSIONDB_PYROGRAM_PYTHON");
    let gramjs = found("SESSIONDB_GRAMJS_NODE_MODULES");
    out.extend(py(
        "Telethon 1.45, schema 8",
        &t145,
        "telethon-file",
        Format::TelethonV1,
        None,
    ));
    out.extend(py(
        "Telethon 1.45, schema 7",
        &t145,
        "telethon-file",
        Format::TelethonV1,
        Some(7),
    ));
    out.extend(py(
        "Telethon 1.42, schema 7",
        &t142,
        "telethon-file",
        Format::TelethonV1,
        Some(7),
    ));
    out.extend(py(
        "Telethon 1.45 string",
        &t145,
        "telethon-string",
        Format::TelethonString,
        None,
    ));
    out.extend(py(
        "Telethon 1.42 string",
        &t142,
        "telethon-string",
        Format::TelethonString,
        None,
    ));
    out.extend(py(
        "Pyrogram 2.0.106 file",
        &pyro,
        "pyrogram-file",
        Format::Pyrogram,
        None,
    ));
    out.extend(py(
        "Pyrogram 2.0.106 string",
        &pyro,
        "pyrogram-string",
        Format::PyrogramString,
        None,
    ));
    if let Some(modules) = gramjs {
        out.push(Reader {
            name: "GramJS 2.26.22 string",
            program: PathBuf::from("node"),
            script: "read_gramjs.js",
            kind: "",
            env: Some(("NODE_PATH", modules)),
            format: Format::GramjsString,
            telethon_schema: None,
        });
    }
    out
}

fn import(name: &str) -> Portable {
    let path = fixture(name);
    if name.ends_with(".string") {
        let text = std::fs::read_to_string(&path).expect("fixture");
        formats::import_string(&text, None).expect("import")
    } else {
        formats::import_file(&path, None).expect("import")
    }
}

/// Writes `p` for `reader` into `dir` and returns what the library read.
fn read_back(p: &Portable, reader: &Reader, options: &ExportOptions, dir: &Path) -> Value {
    let options = ExportOptions {
        telethon_schema: reader.telethon_schema,
        ..options.clone()
    };
    let path = dir.join(format!("{}.export", reader.name.replace([' ', ','], "_")));
    if reader.format.is_string() {
        let text = formats::export_string(p, reader.format, &options).expect("export");
        formats::write_private(&path, text.as_bytes()).expect("write");
    } else {
        formats::export_file(p, reader.format, &path, &options).expect("export");
    }
    let key_file = dir.join("key.hex");
    if !key_file.exists() {
        let hex: String = fake_key()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        formats::write_private(&key_file, hex.as_bytes()).expect("key file");
    }
    let mut cmd = Command::new(&reader.program);
    cmd.arg(script(reader.script));
    if !reader.kind.is_empty() {
        cmd.arg(reader.kind);
    }
    cmd.arg(&path).arg(&key_file);
    if let Some((k, v)) = &reader.env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the library");
    assert!(
        out.status.success(),
        "{} cannot read our export: {}",
        reader.name,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reader JSON")
}

#[test]
fn every_library_reads_our_exports_logged_in() {
    let readers = readers();
    if readers.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    for (n, source) in SOURCES.iter().enumerate() {
        let p = import(source);
        // What a user passes when the source lacks it (Telethon and GramJS strings keep no
        // user, Pyrogram 1.x no api_id).
        let options = ExportOptions {
            api_id: Some(12345),
            user_id: p.session.user.is_none().then_some(SELF_ID),
            is_bot: p.session.user.is_none().then_some(false),
            ..ExportOptions::default()
        };
        let ready = p.for_export(&options).expect("prepared");
        let dc = formats_common::home_dc(&ready);
        let home = dc.id;
        let addr = formats_common::address(dc).expect("addr");
        let test = ready.session.app.test_mode;
        let user = ready.session.user.as_ref().map_or(SELF_ID, |u| u.id);
        let bot = ready.session.user.as_ref().is_some_and(|u| u.bot);
        for reader in &readers {
            let sub = dir.path().join(format!("{n}"));
            std::fs::create_dir_all(&sub).expect("dir");
            let got = read_back(&p, reader, &options, &sub);
            let what = format!("{source} → {}", reader.name);
            assert_eq!(got["dc_id"], i64::from(home), "{what}: DC");
            assert_eq!(got["auth_key_matches"], true, "{what}: auth key");
            if matches!(reader.format, Format::Pyrogram | Format::PyrogramString) {
                // Pyrogram connects by its own table, in the session's mode.
                assert_eq!(got["test_mode"], test, "{what}: test mode");
                assert_eq!(got["user_id"], user, "{what}: user id");
                assert_eq!(got["is_bot"], bot, "{what}: bot flag");
            } else {
                let ip = got["address"].as_str().expect("address");
                assert_eq!(ip, addr.ip().to_string(), "{what}: address");
                assert_eq!(got["port"], addr.port(), "{what}: port");
            }
            if reader.format == Format::TelethonV1 {
                assert_eq!(got["user_id"], user, "{what}: Telethon's own user row");
            }
            checked += 1;
        }
    }
    eprintln!("{checked} exports read back by the real libraries");
}
