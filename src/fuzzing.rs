//! Entry points for the fuzz targets in `fuzz/` and for replaying their findings in
//! `cargo test`. Each must return (with an error or not) on any input: never panic, never
//! allocate without bound, never hang.

use std::path::Path;
use std::sync::Arc;

use crate::codec::decode;
use crate::index::{AccountRecord, SessionRecord};
use crate::io::{FileSystem, MemFs};
use crate::log::frame::{
    LogKeys, OLD_SEGMENT_HEADER_LEN, decode_payload, open_payload, parse_segment_header,
    read_record, valid_records_after,
};
use crate::model::{AppFields, DataCenter, Peer, UpdateState};
use crate::options::Options;
use crate::store::Store;

/// The fixed data key the encrypted fuzz inputs are sealed with (never a real store's).
fn fuzz_keys() -> Option<crate::crypto::Keys> {
    let key = zeroize::Zeroizing::new([0x5a; crate::crypto::KEY_LEN]);
    crate::crypto::Keys::new(key, [0xa5; 16]).ok()
}

/// The lineage of every index the fuzz entry points make, and that the encrypted inputs'
/// records are opened with.
const FUZZ_LINEAGE: crate::crypto::Lineage = [0x3c; 16];

fn fuzz_encryption() -> crate::Encryption {
    crate::Encryption {
        passphrase: crate::Passphrase::new("fuzz"),
        kdf: crate::KdfParams::insecure_for_tests(),
    }
}

/// Parses `bytes` as a log segment: header, every record, every payload (as stored, and
/// opened with the fuzz key as an encrypted store's), and the scan for valid records past
/// damage.
pub fn log_segment(bytes: &[u8]) {
    let keys = fuzz_keys();
    let header = parse_segment_header(bytes).ok();
    let decode = |r: &crate::log::frame::RecordRef| {
        let payload = &bytes[r.payload.0..r.payload.1];
        let _ = decode_payload(payload);
        let (Some(keys), Some(header)) = (&keys, &header) else {
            return;
        };
        // Opened as a store with a lineage reads it, and as one without.
        for lineage in [Some(&FUZZ_LINEAGE), None] {
            let with = LogKeys { keys, lineage };
            if let Ok(plain) = open_payload(Some(with), header, r, payload) {
                let _ = decode_payload(&plain);
            }
        }
    };
    let mut offset = header
        .map_or(OLD_SEGMENT_HEADER_LEN, |h| h.len)
        .min(bytes.len());
    while let Ok(r) = read_record(bytes, offset) {
        decode(&r);
        offset = r.end();
    }
    for r in valid_records_after(bytes, offset, 0, (bytes.len() / 24) as u64 + 1) {
        decode(&r);
    }
}

/// Decodes `bytes` as every versioned value type the index stores.
pub fn stored_values(bytes: &[u8]) {
    let _ = decode::<SessionRecord>(bytes, "fuzz");
    let _ = decode::<AccountRecord>(bytes, "fuzz");
    let _ = decode::<DataCenter>(bytes, "fuzz");
    let _ = decode::<UpdateState>(bytes, "fuzz");
    let _ = decode::<i32>(bytes, "fuzz");
    let _ = decode::<AppFields>(bytes, "fuzz");
    let _ = decode::<Peer>(bytes, "fuzz");
    let _ = decode_payload(bytes);
}

/// Opens a store (in memory, lock file in `dir`) whose log is `bytes` after a mode byte —
/// split into two segments when the mode byte is odd — then reads every account.
/// Returns the records the open replayed, if it opened.
pub fn open_with_log(dir: &Path, bytes: &[u8]) -> Option<u64> {
    open_log_image(dir, bytes, false)
}

/// [`open_with_log`] on an encrypted store (sealed with the fuzz key): the log's records
/// must authenticate before anything in them is decoded.
pub fn open_encrypted_log(dir: &Path, bytes: &[u8]) -> Option<u64> {
    open_log_image(dir, bytes, true)
}

fn open_log_image(dir: &Path, bytes: &[u8], encrypted: bool) -> Option<u64> {
    // Records sealed by the seed store authenticate in the index made here.
    let _ = crate::crypto::FIXED_LINEAGE.set(FUZZ_LINEAGE);
    let fs = MemFs::new();
    let store_dir = dir.join("fuzz.session");
    if encrypted {
        let keys = fuzz_keys()?;
        let _ = fs.create_dir_all(&store_dir);
        crate::crypto::keyfile::write(&fs, &store_dir, &keys, &fuzz_encryption()).ok()?;
    }
    // The first byte says how: odd splits the rest in two segments (where the second byte
    // says), even keeps it one.
    let (&mode, rest) = bytes.split_first()?;
    let (first, second) = match rest.first() {
        Some(&at) if mode & 1 == 1 && rest.len() > 1 => {
            let cut = 1 + usize::from(at) * 4 % (rest.len() - 1);
            (&rest[1..cut], Some(&rest[cut..]))
        }
        _ => (rest, None),
    };
    let write = |name: &str, data: &[u8]| {
        if let Ok(f) = fs.create_new(&store_dir.join(name)) {
            let _ = f.write_at(0, data).and_then(|()| f.sync_data());
        }
    };
    write("00000000000000000001.log", first);
    if let Some(second) = second {
        let lsn = second.get(12..20).map_or(2, |b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a) % 1000
        });
        write(&format!("{lsn:020}.log"), second);
    }
    let _ = fs.sync_dir(&store_dir);
    let options = Options {
        fs: Some(Arc::new(fs)),
        cache_size: 1 << 20,
        encryption: encrypted.then(fuzz_encryption),
        ..Options::default()
    };
    let store = Store::open_with(&store_dir, options).ok()?;
    if let Ok(names) = store.accounts() {
        for name in names {
            if let Ok(acc) = store.account(&name) {
                let _ = acc.session();
                let _ = acc.peers(None, 1000);
            }
        }
    }
    let _ = store.checkpoint();
    Some(store.recovery().records_replayed)
}

/// The log segments a store writes with a little of everything (sealed with the fuzz key
/// if `encrypted`).
fn seed_segments(encrypted: bool) -> Vec<Vec<u8>> {
    use crate::model::{PeerKind, UpdateStateChange, User};
    let mut out = Vec::new();
    let _ = crate::crypto::FIXED_LINEAGE.set(FUZZ_LINEAGE);
    let dir = std::env::temp_dir().join(format!("sessiondb-seeds-{}", std::process::id()));
    let store_dir = dir.join("seed.session");
    let fs = MemFs::new();
    if encrypted {
        let Some(keys) = fuzz_keys() else { return out };
        let _ = fs.create_dir_all(&store_dir);
        if crate::crypto::keyfile::write(&fs, &store_dir, &keys, &fuzz_encryption()).is_err() {
            return out;
        }
    }
    let options = Options {
        fs: Some(Arc::new(fs.clone())),
        encryption: encrypted.then(fuzz_encryption),
        ..Options::default()
    };
    if let Ok(store) = Store::open_with(&store_dir, options) {
        let acc = store.default_account();
        let mut dc = DataCenter::new(2);
        dc.auth_key = Some(crate::AuthKey::new([7; 256]));
        let _ = acc.set_dc(dc);
        let _ = acc.set_update_state(UpdateStateChange::Primary {
            pts: 5,
            date: 6,
            seq: 7,
        });
        let mut p = Peer::new(42, PeerKind::User, Some(99));
        p.usernames = vec!["seed".into()];
        p.phone = Some("123".into());
        let _ = acc.cache_peers(&[p]);
        let _ = store.flush();
        let _ = acc.set_user(Some(User {
            id: 1,
            dc: 2,
            bot: false,
            username: None,
        }));
        if let Ok(names) = fs.list(&store_dir) {
            for name in names.iter().filter(|n| n.ends_with(".log")) {
                if let Some(mut bytes) = fs.read_live(&store_dir.join(name)) {
                    // Without the zeros written ahead: a fuzzer copies every byte per run.
                    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                    bytes.truncate(end);
                    out.push(bytes);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Seed inputs for each target (target name, bytes): real segments written by a store
/// (plain and encrypted), and every value type encoded.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use crate::codec::encode;
    use crate::model::PeerKind;
    let mut out = Vec::new();
    // The open targets' inputs start with a mode byte (0: one segment).
    let with_mode = |bytes: &[u8]| [&[0u8][..], bytes].concat();
    for bytes in seed_segments(false) {
        out.push(("log_segment", bytes.clone()));
        out.push(("open_with_log", with_mode(&bytes)));
    }
    for bytes in seed_segments(true) {
        out.push(("log_segment", bytes.clone()));
        out.push(("open_encrypted_log", with_mode(&bytes)));
    }
    let mut peer = Peer::new(-1_000_000_000_123, PeerKind::Megagroup, Some(-5));
    peer.usernames = vec!["a".into(), "b".into()];
    out.push(("stored_values", encode(&peer)));
    out.push(("stored_values", encode(&SessionRecord::default())));
    out.push(("stored_values", encode(&AccountRecord { number: 3 })));
    out.push((
        "stored_values",
        encode(&UpdateState {
            pts: 1,
            qts: 2,
            date: 3,
            seq: 4,
        }),
    ));
    out.push(("stored_values", encode(&AppFields::default())));
    let mut dc = DataCenter::new(4);
    dc.ipv4 = "1.2.3.4:443".parse().ok();
    dc.auth_key = Some(crate::AuthKey::new([9; 256]));
    out.push(("stored_values", encode(&dc)));
    out
}

/// Detects and decodes `bytes` as a session string of every format; what decodes as a
/// Telethon string must encode and decode back to the same session.
#[cfg(feature = "formats")]
pub fn import_string(bytes: &[u8]) {
    use crate::formats::{self, Format};
    let text = String::from_utf8_lossy(bytes);
    let _ = formats::detect_string(&text);
    for format in Format::ALL.into_iter().filter(|f| f.is_string()) {
        let Ok(p) = formats::import_string(&text, Some(format)) else {
            continue;
        };
        if format == Format::TelethonString {
            let again = formats::export_string(&p, format, &Default::default())
                .and_then(|s| formats::import_string(&s, Some(format)));
            assert!(
                again.is_ok_and(|q| q.session == p.session),
                "a decoded Telethon string does not round-trip"
            );
        }
    }
}

/// Writes `bytes` to a file in `dir` and imports it as every file format (SQLite ones go
/// through SQLite's own parser, which must turn damage into errors too).
#[cfg(feature = "formats")]
pub fn import_file(dir: &Path, bytes: &[u8]) {
    use crate::formats::{self, Format};
    let path = dir.join("fuzz-input.session");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let _ = formats::detect_file(&path);
    for format in Format::ALL.into_iter().filter(|f| !f.is_string()) {
        let _ = formats::import_file(&path, Some(format));
    }
    let _ = std::fs::remove_file(&path);
}
