#![no_main]
// Session files of every format (Telethon, Pyrogram, grammers SQLite; layer and ferogram binary).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("sessiondb-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    sessiondb::fuzzing::import_file(&dir, data);
});
