//! Encrypted stores through the real binary: create one by importing, read it with the
//! passphrase from the environment or a file, refuse a wrong one, rekey it.
//!
//! Every run passes a passphrase, so no test ever waits at a terminal prompt.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/formats")
        .join(name)
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sessiondb"))
        .args(args)
        .env_remove("SESSIONDB_PASSPHRASE")
        .env_remove("SESSIONDB_NEW_PASSPHRASE")
        .envs(env.iter().copied())
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Small Argon2 parameters: the binary is a debug build.
const FAST_KDF: [&str; 4] = ["--kdf-memory-kib", "8", "--kdf-iterations", "1"];

/// The first bytes of the fixture's auth key (03 0a 11 18 1f 26 ...).
const KEY_PREFIX: [u8; 6] = [0x03, 0x0a, 0x11, 0x18, 0x1f, 0x26];

fn any_file_contains(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).expect("list").any(|e| {
        let path = e.expect("entry").path();
        path.is_file()
            && std::fs::read(&path)
                .expect("read")
                .windows(needle.len())
                .any(|w| w == needle)
    })
}

#[test]
fn import_encrypted_read_with_the_passphrase_refuse_a_wrong_one_and_rekey() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("bot");
    let telethon = fixture("telethon-1.45.session");
    let mut args = vec!["import", s(&telethon), s(&store), "--encrypt"];
    args.extend(FAST_KDF);
    let (code, _, err) = run(&args, &[("SESSIONDB_NEW_PASSPHRASE", "first pass")]);
    assert_eq!(code, 0, "{err}");
    let files = dir.path().join("bot.session");
    assert!(files.join("KEY").is_file());
    assert!(
        !any_file_contains(&files, &KEY_PREFIX),
        "auth key in the clear"
    );
    // The control: a plain import of the same file does hold the key bytes.
    let plain = dir.path().join("plain");
    let (code, _, err) = run(&["import", s(&telethon), s(&plain)], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["compact", s(&plain)], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(any_file_contains(
        &dir.path().join("plain.session"),
        &KEY_PREFIX
    ));

    let first = [("SESSIONDB_PASSPHRASE", "first pass")];
    let (code, out, err) = run(&["inspect", s(&store)], &first);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("home DC"), "{out}");

    let (code, _, err) = run(&["inspect", s(&store)], &[("SESSIONDB_PASSPHRASE", "nope")]);
    assert_eq!(code, 3);
    assert!(err.contains("wrong passphrase"), "{err}");

    let pass_file = dir.path().join("pass.txt");
    std::fs::write(&pass_file, "first pass\n").expect("write");
    let (code, out, err) = run(
        &["verify", s(&store), "--passphrase-file", s(&pass_file)],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");

    let exported = dir.path().join("out.session");
    let (code, _, err) = run(
        &["export", s(&store), s(&exported), "--to", "telethon"],
        &first,
    );
    assert_eq!(code, 0, "{err}");
    assert!(exported.is_file());

    let mut args = vec!["rekey", s(&store)];
    args.extend(FAST_KDF);
    let (code, _, err) = run(
        &args,
        &[
            ("SESSIONDB_PASSPHRASE", "first pass"),
            ("SESSIONDB_NEW_PASSPHRASE", "second pass"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["inspect", s(&store)], &first);
    assert_eq!(code, 3, "the old passphrase still opens: {err}");
    let second = [("SESSIONDB_PASSPHRASE", "second pass")];
    let (code, _, err) = run(&["stats", s(&store)], &second);
    assert_eq!(code, 0, "{err}");

    // A rotation: a new key file (new store id), the data readable with the new passphrase.
    let old_key = std::fs::read(files.join("KEY")).expect("key file");
    let mut args = vec!["rekey", s(&store), "--rotate"];
    args.extend(FAST_KDF);
    let (code, out, err) = run(
        &args,
        &[
            ("SESSIONDB_PASSPHRASE", "second pass"),
            ("SESSIONDB_NEW_PASSPHRASE", "third pass"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("new data key"), "{out}");
    let new_key = std::fs::read(files.join("KEY")).expect("key file");
    assert_ne!(
        old_key[40..56],
        new_key[40..56],
        "the store id did not change"
    );
    let (code, _, err) = run(&["stats", s(&store)], &second);
    assert_eq!(code, 3, "the old passphrase still opens: {err}");
    let second = [("SESSIONDB_PASSPHRASE", "third pass")];
    let (code, out, err) = run(&["inspect", s(&store)], &second);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("home DC"), "{out}");
    assert!(
        !any_file_contains(&files, &KEY_PREFIX),
        "auth key in the clear"
    );

    // Refusals: rekeying a plain store, encrypting over an existing store.
    let (code, _, err) = run(&["rekey", s(&plain)], &second);
    assert_eq!(code, 3);
    assert!(err.contains("not encrypted"), "{err}");
    let mut args = vec!["import", s(&telethon), s(&plain), "--encrypt"];
    args.extend(FAST_KDF);
    let (code, _, err) = run(&args, &[("SESSIONDB_NEW_PASSPHRASE", "x")]);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn a_new_key_file_below_the_argon2_floor_is_refused_and_nothing_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("weak");
    let telethon = fixture("telethon-1.45.session");
    for weak in [["16384", "3"], ["65536", "1"]] {
        let args = [
            "import",
            s(&telethon),
            s(&store),
            "--encrypt",
            "--kdf-memory-kib",
            weak[0],
            "--kdf-iterations",
            weak[1],
        ];
        let (code, _, err) = run(&args, &[("SESSIONDB_NEW_PASSPHRASE", "pass")]);
        assert_ne!(code, 0);
        assert!(err.contains("below the floor"), "{err}");
        assert!(!dir.path().join("weak.session/KEY").exists());
    }
}
