#![no_main]
// Log segment and record decoding: header, framing, CRC, LSNs, payloads, damage scan.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessiondb::fuzzing::log_segment(data));
