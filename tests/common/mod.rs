//! Shared builders for the integration tests.
#![allow(dead_code)]

#[cfg(feature = "postgres")]
pub mod pg;
pub mod rng;

#[allow(unused_imports)] // not every test uses it
pub use rng::Rng;

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddrV4, SocketAddrV6};

use sessiondb::{AppFields, AuthKey, DataCenter, Peer, PeerKind, Session, UpdateState, User};

/// A key whose bytes depend on `seed` (never all zeros: that would hide shifted parsing).
pub fn key(seed: u8) -> AuthKey {
    let mut bytes = [0u8; 256];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed) | 1;
    }
    AuthKey::new(bytes)
}

pub fn dc(id: i32, seed: u8) -> DataCenter {
    DataCenter {
        id,
        ipv4: Some(SocketAddrV4::new([149, 154, 167, id as u8].into(), 443)),
        ipv6: Some(SocketAddrV6::new(
            Ipv6Addr::new(0x2001, 0x67c, 0x4e8, 0xf002, 0, 0, 0, 0xa),
            443,
            0,
            0,
        )),
        auth_key: Some(key(seed)),
        server_salt: 0x1234_5678_9abc_def0 ^ i64::from(id),
        time_offset: -3,
        flags: 5,
    }
}

pub fn session(seed: u8) -> Session {
    let mut custom = BTreeMap::new();
    custom.insert("lang".to_owned(), b"en".to_vec());
    Session {
        home_dc: Some(2),
        dcs: vec![
            dc(1, seed),
            dc(2, seed.wrapping_add(1)),
            dc(4, seed.wrapping_add(2)),
        ],
        user: Some(User {
            id: 777_000 + i64::from(seed),
            dc: 2,
            bot: true,
            username: Some("test_bot".into()),
        }),
        update_state: Some(UpdateState {
            pts: 100 + i32::from(seed),
            qts: 7,
            date: 1_700_000_000,
            seq: 3,
        }),
        channels: [(1_234_567, 55), (7_654_321, 66)].into_iter().collect(),
        app: AppFields {
            api_id: Some(12345),
            test_mode: false,
            takeout_id: Some(99),
            created_at: Some(1_690_000_000),
            custom,
        },
    }
}

pub fn peer(id: i64) -> Peer {
    let mut p = Peer::new(id, PeerKind::User, Some(id.wrapping_mul(31) ^ 0x55));
    p.usernames = vec![format!("user{id}")];
    p.phone = Some(format!("1555{id:07}"));
    p.name = Some(format!("User {id}"));
    p
}

/// Ignores the `updated_at` stamp the store sets.
pub fn same_peer(a: &Peer, b: &Peer) -> bool {
    let mut a = a.clone();
    a.updated_at = b.updated_at;
    &a == b
}

/// Each file of a store directory by name, with its length and CRC (never its bytes: tests
/// print no session contents). Compares across copies of a store.
pub fn files(dir: &std::path::Path) -> Vec<(String, usize, u32)> {
    store_files(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, bytes.len(), crc32fast::hash(&bytes))
        })
        .collect()
}

/// The files of a store directory, sorted by name.
pub fn store_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// The log segments of a store directory, oldest first.
pub fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    store_files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect()
}

/// Copies a store directory's files.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Where a log segment's records start: after its header (40 bytes; 24 in format 1).
pub fn records_start(segment: &[u8]) -> usize {
    match segment.get(8..12) {
        Some([1, 0, 0, 0]) => 24,
        _ => 40,
    }
}

/// The records of a log segment as `(start, payload_start, payload_end)`, up to the first
/// all-zero or cut-short record header.
pub fn record_spans(segment: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut at = records_start(segment);
    while let Some(header) = segment.get(at..at + 24) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if len == 0 || at + 24 + len > segment.len() {
            break;
        }
        out.push((at, at + 24, at + 24 + len));
        at += 24 + len;
    }
    out
}

/// Where a log segment's records end: the rest is zeros written ahead of them.
pub fn records_end(segment: &[u8]) -> usize {
    record_spans(segment)
        .last()
        .map_or(records_start(segment), |r| r.2)
}

/// Encryption with `passphrase` and the tests' fast Argon2 parameters.
pub fn encryption(passphrase: &str) -> sessiondb::Encryption {
    sessiondb::Encryption {
        passphrase: sessiondb::Passphrase::new(passphrase),
        kdf: sessiondb::KdfParams::insecure_for_tests(),
    }
}

/// Options of an encrypted store (see [`encryption`]).
pub fn encrypted(passphrase: &str) -> sessiondb::Options {
    sessiondb::Options {
        encryption: Some(encryption(passphrase)),
        ..sessiondb::Options::default()
    }
}

/// Rewrites index rows directly with redb, as an attacker with the file would.
pub fn tamper(index: &std::path::Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(index).unwrap();
    let txn = db.begin_write().unwrap();
    f(&txn);
    txn.commit().unwrap();
}

/// The stored bytes of every row of `table` in the index file at `index`.
pub fn rows<K: redb::Key + 'static>(
    index: &std::path::Path,
    table: redb::TableDefinition<K, &'static [u8]>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    use redb::{ReadableDatabase, ReadableTable};
    let db = redb::Database::open(index).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(table).unwrap();
    t.iter()
        .unwrap()
        .map(|e| {
            let (k, v) = e.unwrap();
            (
                K::as_bytes(&k.value()).as_ref().to_vec(),
                v.value().to_vec(),
            )
        })
        .collect()
}

/// A number from the environment variable `name`, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The phase hook of a child process its parent kills: prints each phase (`PHASE name`)
/// and, the `after`-th time it reaches `pause`, prints `PAUSED name` and parks for ever,
/// waiting for the kill.
pub fn pausing_hook(pause: Option<String>, after: u64) -> sessiondb::PhaseHook {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    let seen = AtomicU64::new(0);
    sessiondb::PhaseHook(std::sync::Arc::new(move |phase: sessiondb::Phase| {
        let name = format!("{phase:?}");
        println!("PHASE {name}");
        if pause.as_deref() == Some(name.as_str())
            && seen.fetch_add(1, Ordering::SeqCst) + 1 >= after
        {
            println!("PAUSED {name}");
            let _ = std::io::stdout().flush();
            loop {
                std::thread::park();
            }
        }
    }))
}
