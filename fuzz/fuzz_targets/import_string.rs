#![no_main]
// Session strings of every format: detection, decoding, and Telethon's encode-back.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessiondb::fuzzing::import_string(data));
