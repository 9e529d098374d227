//! Replays every committed fuzz input (regressions, corpus, artifacts) through the same
//! functions the fuzz targets call, and asserts that none panics.

use std::path::Path;

fn replay(target: &str, run: &dyn Fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut panicked = Vec::new();
    let mut count = 0;
    for kind in ["regressions", "corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            count += 1;
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&bytes))).is_err() {
                panicked.push(entry.path());
            }
        }
    }
    assert!(
        panicked.is_empty(),
        "{target}: these inputs panic: {panicked:?}"
    );
    count
}

#[test]
fn log_segment_inputs_never_panic() {
    let n = replay("log_segment", &sessiondb::fuzzing::log_segment);
    assert!(n > 0, "no committed inputs for log_segment");
}

#[test]
fn stored_value_inputs_never_panic() {
    let n = replay("stored_values", &sessiondb::fuzzing::stored_values);
    assert!(n > 0, "no committed inputs for stored_values");
}

#[test]
fn open_with_log_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let n = replay("open_with_log", &|b| {
        sessiondb::fuzzing::open_with_log(dir.path(), b);
    });
    assert!(n > 0, "no committed inputs for open_with_log");
}

#[test]
fn open_encrypted_log_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let n = replay("open_encrypted_log", &|b| {
        sessiondb::fuzzing::open_encrypted_log(dir.path(), b);
    });
    assert!(n > 0, "no committed inputs for open_encrypted_log");
}

#[cfg(feature = "formats")]
#[test]
fn import_string_inputs_never_panic() {
    let n = replay("import_string", &sessiondb::fuzzing::import_string);
    assert!(n > 0, "no committed inputs for import_string");
}

#[cfg(feature = "formats")]
#[test]
fn import_file_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let n = replay("import_file", &|b| {
        sessiondb::fuzzing::import_file(dir.path(), b)
    });
    assert!(n > 0, "no committed inputs for import_file");
}

/// The open targets' seeds are logs a store replays (their records authenticate, encrypted
/// too): a fuzzer starting from them explores past the first record.
#[test]
fn the_log_seeds_open_and_replay_their_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut opened = 0;
    for (target, bytes) in sessiondb::fuzzing::seeds() {
        let replayed = match target {
            "open_with_log" => sessiondb::fuzzing::open_with_log(dir.path(), &bytes),
            "open_encrypted_log" => sessiondb::fuzzing::open_encrypted_log(dir.path(), &bytes),
            _ => continue,
        };
        assert!(replayed.is_some_and(|n| n >= 3), "{target}: {replayed:?}");
        opened += 1;
    }
    assert!(opened >= 2);
}

/// `SESSIONDB_WRITE_SEEDS=1 cargo test --test fuzz_regressions write_seeds` refreshes the
/// seed inputs under `fuzz/regressions/`.
#[test]
fn write_seeds() {
    if std::env::var("SESSIONDB_WRITE_SEEDS").is_err() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for (i, (target, bytes)) in sessiondb::fuzzing::seeds().into_iter().enumerate() {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{i}")), bytes).unwrap();
    }
}
