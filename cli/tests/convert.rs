//! The real binary on the real libraries' session files: import, inspect, peers, export,
//! convert, accounts delete and compact, with their exit codes and without leaking secrets.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/formats")
        .join(name)
}

fn run_with(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessiondb"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        std::io::Write::write_all(&mut pipe, text.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(args: &[&str]) -> (i32, String, String) {
    run_with(args, None)
}

/// The fixtures' key starts 03 0a 11 18 1f 26: it must never show without --show-secrets.
const KEY_PREFIX: &str = "030a11181f26";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn import_inspect_look_up_and_export_a_telethon_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("bot");
    let telethon = fixture("telethon-1.45.session");
    let (code, out, err) = run(&["import", s(&telethon), s(&store)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("7 peers") && out.contains("2 channel pts"),
        "{out}"
    );
    // A second import into the same account is refused (nothing is lost) unless --replace.
    let (code, _, err) = run(&["import", s(&telethon), s(&store)]);
    assert_eq!(code, 3);
    assert!(err.contains("--replace"), "{err}");

    let (code, out, _) = run(&["inspect", s(&store), "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("inspect --json");
    assert_eq!(v["session"]["home_dc"], 2);
    assert_eq!(v["session"]["user"]["id"], 123_456_789);
    assert_eq!(v["session"]["update_state"]["pts"], 100);
    assert_eq!(v["session"]["peers"], 7);
    // Each channel's pts, as the store holds them.
    let held = sessiondb::Store::open_read_only(&store)
        .and_then(|st| st.default_account().session())
        .expect("read the store")
        .expect("a session")
        .channels;
    let shown: Vec<(i64, i64)> = v["session"]["channel_pts"]
        .as_array()
        .expect("channel_pts list")
        .iter()
        .map(|c| {
            (
                c["id"].as_i64().expect("id"),
                c["pts"].as_i64().expect("pts"),
            )
        })
        .collect();
    let want: Vec<(i64, i64)> = held
        .iter()
        .map(|(id, pts)| (*id, i64::from(*pts)))
        .collect();
    assert_eq!(shown.len(), 2);
    assert_eq!(shown, want);
    assert!(
        !out.contains(KEY_PREFIX),
        "key printed without --show-secrets"
    );
    let (_, out, _) = run(&["inspect", s(&store)]);
    assert!(
        !out.contains(KEY_PREFIX) && out.contains("auth key present"),
        "{out}"
    );
    let (_, out, _) = run(&["inspect", s(&store), "--show-secrets"]);
    assert!(out.contains(KEY_PREFIX), "--show-secrets shows the key");

    let (code, out, _) = run(&["peers", s(&store), "--username", "@Zoe_Fake", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("peers --json");
    assert_eq!(v[0]["id"], 222_333_444);
    assert_eq!(
        v[0]["access_hash"], true,
        "hash hidden without --show-secrets"
    );
    let (code, _, _) = run(&["peers", s(&store), "--phone", "+1 555 010 0002"]);
    assert_eq!(code, 0);
    let (code, _, _) = run(&["peers", s(&store), "--id", "-42"]);
    assert_eq!(code, 1, "not found is exit 1");
    let (code, out, _) = run(&["peers", s(&store), "--list", "--limit", "3"]);
    assert_eq!((code, out.lines().count()), (0, 3), "{out}");

    // Pyrogram needs api_id: refused with the flag named, then written with it.
    let pyro = dir.path().join("out-pyrogram.session");
    let (code, _, err) = run(&["export", s(&store), s(&pyro), "--to", "pyrogram"]);
    assert_eq!(code, 3);
    assert!(err.contains("api_id") && err.contains("--api-id"), "{err}");
    assert!(!pyro.exists());
    let args = [
        "export",
        s(&store),
        s(&pyro),
        "--to",
        "pyrogram",
        "--api-id",
        "12345",
    ];
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    // Writing where something already is: one refusal, one wording, for a file export, a
    // string written to a file and a backup.
    let taken = dir.path().join("taken.txt");
    std::fs::write(&taken, "x").expect("write");
    let backup_dest = dir.path().join("old-backup.session");
    std::fs::create_dir(&backup_dest).expect("mkdir");
    let refusals = [
        run(&args),
        run(&["export", s(&store), s(&taken), "--to", "telethon-string"]),
        run(&["backup", s(&store), s(&backup_dest)]),
    ];
    for (code, _, err) in &refusals {
        assert_eq!(*code, 3, "{err}");
        assert!(
            err.contains("already exists: sessiondb writes a new one and never overwrites"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&taken).expect("read"), b"x");
    let (code, out, _) = run(&["convert", s(&pyro), "-", "--to", "pyrogram-string"]);
    assert_eq!(code, 0);
    let string = out.trim().to_owned();
    // The string comes back in through stdin, detected, into a second account.
    let (code, out, err) = run_with(
        &["import", "-", s(&store), "--account", "second"],
        Some(&string),
    );
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = run(&["accounts", "list", s(&store), "--json"]);
    assert_eq!(out.trim(), r#"["default","second"]"#);
    let (code, out, _) = run(&["inspect", s(&store), "--account", "second", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(
        (code, &v["session"]["app"]["api_id"]),
        (0, &serde_json::json!(12345))
    );

    let (code, _, _) = run(&["accounts", "delete", s(&store), "second"]);
    assert_eq!(code, 0);
    let (code, _, _) = run(&["accounts", "delete", s(&store), "second"]);
    assert_eq!(code, 1, "already gone");
    let (code, out, _) = run(&["prune", s(&store), "--max-peers", "5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("prune --json");
    assert_eq!((code, &v["removed"]), (0, &serde_json::json!(2)), "{out}");
    let (code, _, _) = run(&["prune", s(&store)]);
    assert_eq!(code, 3, "a prune needs a limit");
    let (code, out, _) = run(&["compact", s(&store), "--json"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&["verify", s(&store), "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(
        (code, &v["ok"], &v["peers"]),
        (0, &serde_json::json!(true), &serde_json::json!(5))
    );
}

#[test]
fn convert_between_formats_and_refuse_ambiguity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grammers = dir.path().join("from-telethon.sqlite");
    let telethon = fixture("telethon-1.42.session");
    let (code, _, err) = run(&["convert", s(&telethon), s(&grammers), "--to", "grammers"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&["convert", s(&grammers), "-", "--to", "telethon-string"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(fixture("telethon-ipv4.string")).expect("fixture");
    assert!(
        out.trim() == want.trim(),
        "Telethon string differs from the real library's"
    );
    // A file format cannot go to stdout; an existing output is never overwritten.
    let (code, _, _) = run(&["convert", s(&telethon), "-", "--to", "telethon"]);
    assert_eq!(code, 3);
    let (code, _, _) = run(&["convert", s(&telethon), s(&grammers), "--to", "grammers"]);
    assert_eq!(code, 3);
    let (code, _, err) = run(&["convert", "no-such-file", "-", "--to", "telethon-string"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, _) = run(&["convert", s(&telethon), "-", "--to", "nonsense"]);
    assert_eq!(code, 2, "usage error");
}

#[test]
fn import_replace_replaces_the_whole_account_and_keeps_peer_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("bot");
    let (code, out, err) = run(&["import", s(&fixture("telethon-1.45.session")), s(&store)]);
    assert_eq!(code, 0, "{out}{err}");
    // Telethon's entities.date of Bob (REAL 1700000123.5) is kept, not the import time.
    let (code, out, _) = run(&["peers", s(&store), "--id", "5000000001", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("peers --json");
    assert_eq!(v[0]["updated_at"], 1_700_000_123);

    // A Pyrogram string holds no peers: after --replace the account holds none either.
    let string = std::fs::read_to_string(fixture("pyrogram-2-test.string")).expect("fixture");
    let (code, out, err) = run_with(&["import", "-", s(&store), "--replace"], Some(&string));
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = run(&["inspect", s(&store), "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("inspect --json");
    assert_eq!(v["session"]["peers"], 0, "no old peer stays: {out}");
    assert_eq!(v["session"]["update_state"], serde_json::Value::Null);
    assert_eq!(
        v["session"]["channel_pts"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(v["session"]["user"]["bot"], true);
}

#[test]
fn pyrogram_to_telethon_in_one_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("bot.session");
    let pyro = fixture("pyrogram-2.0.106.session");
    let (code, out, err) = run(&["convert", s(&pyro), s(&out_path), "--to", "telethon"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(
            "note: DC 2 had no address: using Telegram's production address 149.154.167.51:443"
        ),
        "{err}"
    );
    let back = sessiondb::formats::import_file(&out_path, None).expect("our export reads back");
    let dc = &back.session.dcs[0];
    assert_eq!(dc.ipv4, "149.154.167.51:443".parse().ok());
    // --dc-address overrides the table.
    let other = dir.path().join("other.session");
    let (code, _, err) = run(&[
        "convert",
        s(&pyro),
        s(&other),
        "--to",
        "telethon",
        "--dc-address",
        "10.1.2.3:8443",
    ]);
    assert_eq!(code, 0, "{err}");
    let back = sessiondb::formats::import_file(&other, None).expect("read back");
    assert_eq!(back.session.dcs[0].ipv4, "10.1.2.3:8443".parse().ok());
}

#[test]
fn paths_that_are_not_utf8_work_everywhere() {
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    let run_os = |args: &[&OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sessiondb"))
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let name = |stem: &[u8]| dir.path().join(OsStr::from_bytes(stem));
    let session = name(b"caf\xe9.session");
    std::fs::copy(fixture("telethon-1.45.session"), &session).expect("copy");
    let store = name(b"st\xffre");
    let os = |p: &Path| OsString::from(p.as_os_str());
    let (session_arg, store_arg) = (os(&session), os(&store));
    let (code, err) = run_os(&[OsStr::new("import"), &session_arg, &store_arg]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = run_os(&[OsStr::new("inspect"), &store_arg]);
    assert_eq!(code, 0, "{err}");
    let out = os(&name(b"out\xfe.session"));
    let (code, err) = run_os(&[
        OsStr::new("export"),
        &store_arg,
        &out,
        OsStr::new("--to"),
        OsStr::new("telethon"),
    ]);
    assert_eq!(code, 0, "{err}");
    let back = sessiondb::formats::import_file(Path::new(&out), None).expect("read back");
    assert_eq!(back.session.home_dc, Some(2));
    let (code, err) = run_os(&[OsStr::new("verify"), &store_arg]);
    assert_eq!(code, 0, "{err}");
    // A missing one is an error naming it, on one line, not a usage error.
    let missing = os(&name(b"gone\xff.session"));
    let (code, err) = run_os(&[
        OsStr::new("convert"),
        &missing,
        &out,
        OsStr::new("--to"),
        OsStr::new("layer"),
    ]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bad_inputs_name_the_file_and_the_likely_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.session");
    // A truncated Pyrogram file, and SQLite's magic followed by junk: the path and SQLite
    // are named, never a library the file did not come from.
    let pyro = std::fs::read(fixture("pyrogram-2.0.106.session")).expect("fixture");
    let truncated = dir.path().join("truncated.session");
    std::fs::write(&truncated, &pyro[..3000]).expect("write");
    let junk = dir.path().join("junk.session");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&junk, bytes).expect("write");
    for bad in [&truncated, &junk] {
        let (code, _, err) = run(&["convert", s(bad), s(&out), "--to", "layer"]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains(s(bad)) && err.contains("SQLite"), "{err}");
        assert!(!err.contains("telethon"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert!(!out.exists(), "nothing left behind");

    // A failed detection leads with the format the string most looks like.
    for (name, likely) in [
        ("telethon-ipv4.string", "telethon-string"),
        ("pyrogram-2.string", "pyrogram-string"),
        ("gramjs-ipv4.string", "gramjs-string"),
    ] {
        let text = std::fs::read_to_string(fixture(name)).expect("fixture");
        let cut = &text.trim()[..text.trim().len() - 7];
        let (code, _, err) = run(&["convert", cut, s(&out), "--to", "layer"]);
        assert_eq!(code, 3, "{err}");
        assert!(
            err.contains(&format!("most like {likely}, but")),
            "{name}: {err}"
        );
        assert!(!err.contains(&cut[10..60]), "{name}: the string is echoed");
    }
}

#[test]
fn a_foreign_session_is_met_with_the_command_that_imports_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bot.session");
    std::fs::copy(fixture("telethon-1.45.session"), &path).expect("copy");
    let (code, _, err) = run(&["inspect", s(&path)]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("Telethon") && err.contains(&format!("sessiondb import {}", s(&path))),
        "{err}"
    );
    // An unknown format name is a usage error (exit 2), not an error of the input.
    let (code, _, err) = run(&[
        "convert",
        "--from",
        "nonsense",
        s(&path),
        "x",
        "--to",
        "layer",
    ]);
    assert_eq!(code, 2, "an unknown --from is a usage error: {err}");
}
