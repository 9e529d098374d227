#![no_main]
// Opening an encrypted store (fuzz key) whose log segments are arbitrary bytes, then reading it.
use std::sync::OnceLock;

static DIR: OnceLock<tempdir::Dir> = OnceLock::new();

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("sessiondb-fuzz-enc-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&path);
        tempdir::Dir(path)
    });
    sessiondb::fuzzing::open_encrypted_log(&dir.0, data);
});
