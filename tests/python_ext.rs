//! The Python extension (`python/`): its pytest suite (`python/tests`: the extension, the
//! Telethon session against Telethon 1.45's SQLiteSession, a real `TelegramClient` offline,
//! Telethon 2's Storage, 50 SIGKILLs) run by the interpreter `SESSIONDB_PYTHON_EXT` names: a
//! virtualenv with `pip install ./python` and `python/requirements-test.txt`, which `.ci/run`
//! makes. Under `CI=true` it must be there; elsewhere a missing one is skipped.

use std::path::Path;
use std::process::Command;

#[test]
fn python_extension_suite_passes() {
    let Some(python) = std::env::var_os("SESSIONDB_PYTHON_EXT") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but SESSIONDB_PYTHON_EXT does not name the extension's virtualenv python"
        );
        eprintln!("SESSIONDB_PYTHON_EXT not set: the Python extension's tests are skipped");
        return;
    };
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/tests");
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-s"])
        .arg(&tests)
        .current_dir(&tests)
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The summary and the crash loop's figures; pytest prints no session contents.
    let lines: Vec<&str> = stdout.lines().collect();
    eprintln!("{}", lines[lines.len().saturating_sub(40)..].join("\n"));
    assert!(
        out.status.success(),
        "pytest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
