//! The Python extension (`python/`): its pytest suites, each run by the interpreter of a
//! virtualenv that has the extension (`pip install ./python`) and the suite's
//! `python/requirements-*.txt`, which `.ci/run` makes:
//! - `SESSIONDB_PYTHON_EXT` runs `python/tests` (the extension, the Telethon session against
//!   Telethon 1.45's SQLiteSession, a real `TelegramClient` offline, Telethon 2's Storage,
//!   50 SIGKILLs);
//! - `SESSIONDB_PYTHON_KURIGRAM` and `SESSIONDB_PYTHON_PYROFORK` run `python/tests_pyrogram`
//!   (the Pyrogram storage against each fork's own, its client offline, 50 SIGKILLs).
//!
//! Under `CI=true` each must be there; elsewhere a missing one is skipped.

use std::path::Path;
use std::process::Command;

/// Runs the pytest suite in `python/<suite>` with the python `var` names.
fn suite(var: &str, suite: &str) {
    let Some(python) = std::env::var_os(var) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {var} does not name a virtualenv python with the extension"
        );
        eprintln!("{var} not set: python/{suite} is skipped");
        return;
    };
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(suite);
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-s"])
        .arg(&tests)
        .current_dir(&tests)
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The summary and the crash loops' figures; pytest prints no session contents.
    let lines: Vec<&str> = stdout.lines().collect();
    eprintln!("{}", lines[lines.len().saturating_sub(40)..].join("\n"));
    assert!(
        out.status.success(),
        "pytest failed in python/{suite}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn python_extension_suite_passes() {
    suite("SESSIONDB_PYTHON_EXT", "tests");
}

#[test]
fn pyrogram_storage_passes_with_kurigram() {
    suite("SESSIONDB_PYTHON_KURIGRAM", "tests_pyrogram");
}

#[test]
fn pyrogram_storage_passes_with_pyrofork() {
    suite("SESSIONDB_PYTHON_PYROFORK", "tests_pyrogram");
}
