#![no_main]
// Every versioned value type the index stores, and batch payloads.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessiondb::fuzzing::stored_values(data));
