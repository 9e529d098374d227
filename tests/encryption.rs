//! Encryption at rest: no secret or personal byte reaches the disk in the clear, the right
//! passphrase reads everything back, a wrong one is `WrongPassphrase`, damaged or swapped
//! ciphertexts are detected, and a rekey interrupted at any step still opens.
//!
//! Nothing here prints session contents: failures name what leaked, never its bytes.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::ReadableTable;
use sessiondb::io::MemFs;
use sessiondb::{
    AuthKey, DataCenter, Error, Options, Peer, PeerKind, Phase, PhaseHook, RecoveryMode, Store,
    UpdateStateChange, User,
};

use common::{encrypted as with, encryption as enc, tamper};

/// Bytes that look random, so a match in a file is never a coincidence.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn secret_key() -> AuthKey {
    let mut b = [0u8; 256];
    for (i, chunk) in b.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(1000 + i as u64).to_le_bytes());
    }
    AuthKey::new(b)
}

fn secret_peer(i: i64) -> Peer {
    let mut p = Peer::new(i, PeerKind::User, Some(mix(i as u64) as i64));
    p.usernames = vec![format!("hiddenuser{i}")];
    p.phone = Some(format!("4477{:08}", 10_000_000 + i));
    p.name = Some(format!("Hidden Name {i}"));
    p
}

/// What must never be found in an encrypted store's files, each with a label.
fn needles() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, chunk) in secret_key().as_bytes().chunks(16).enumerate() {
        out.push((
            format!("auth key bytes {}..{}", i * 16, i * 16 + 16),
            chunk.to_vec(),
        ));
    }
    for i in 1..=50 {
        let p = secret_peer(i);
        let hash = p.access_hash.unwrap_or_default();
        out.push((
            format!("access hash of {i} (LE)"),
            hash.to_le_bytes().to_vec(),
        ));
        out.push((
            format!("access hash of {i} (BE)"),
            hash.to_be_bytes().to_vec(),
        ));
        out.push((
            format!("username of {i}"),
            p.usernames[0].clone().into_bytes(),
        ));
        out.push((
            format!("phone of {i}"),
            p.phone.clone().unwrap_or_default().into_bytes(),
        ));
        out.push((
            format!("name of {i}"),
            p.name.clone().unwrap_or_default().into_bytes(),
        ));
    }
    out.push(("self username".into(), b"hidden_self_bot".to_vec()));
    out.push((
        "server salt".into(),
        0x5A17_5A17_0BAD_CAFEu64.to_le_bytes().to_vec(),
    ));
    out
}

/// The labels of the needles found in any file of the store directory.
fn leaks(dir: &Path) -> Vec<String> {
    let mut blobs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            blobs.push(std::fs::read(&path).unwrap());
        }
    }
    needles()
        .into_iter()
        .filter(|(_, n)| blobs.iter().any(|b| b.windows(n.len()).any(|w| w == n)))
        .map(|(label, _)| label)
        .collect()
}

fn write_secrets(store: &Store) {
    let acc = store.default_account();
    let mut dc = DataCenter::new(2);
    dc.auth_key = Some(secret_key());
    dc.server_salt = 0x5A17_5A17_0BAD_CAFEu64 as i64;
    acc.set_dc(dc).unwrap();
    acc.set_home_dc(2).unwrap();
    acc.set_user(Some(User {
        id: 4242,
        dc: 2,
        bot: true,
        username: Some("hidden_self_bot".into()),
    }))
    .unwrap();
    let peers: Vec<Peer> = (1..=50).map(secret_peer).collect();
    acc.cache_peers(&peers).unwrap();
    acc.set_update_state(UpdateStateChange::Primary {
        pts: 77,
        date: 1_700_000_000,
        seq: 5,
    })
    .unwrap();
    store.flush().unwrap();
}

fn check_secrets(store: &Store) {
    let acc = store.default_account();
    let dc = acc.dc(2).unwrap().expect("dc 2");
    assert!(
        dc.auth_key == Some(secret_key()),
        "auth key read back wrong"
    );
    assert_eq!(acc.home_dc().unwrap(), Some(2));
    assert_eq!(acc.update_state().unwrap().map(|s| s.pts), Some(77));
    for i in [1, 17, 50] {
        let want = secret_peer(i);
        let by_id = acc.peer(i).unwrap().expect("peer by id");
        assert!(common::same_peer(&by_id, &want), "peer {i} by id");
        let by_name = acc.peer_by_username(&want.usernames[0]).unwrap();
        assert_eq!(by_name.map(|p| p.id), Some(i), "peer {i} by username");
        let by_phone = acc.peer_by_phone(want.phone.as_deref().unwrap()).unwrap();
        assert_eq!(by_phone.map(|p| p.id), Some(i), "peer {i} by phone");
    }
    assert_eq!(acc.peer_count().unwrap(), 50);
}

#[test]
fn an_encrypted_store_holds_no_secret_in_the_clear_and_a_plain_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    let store = Store::open_with(&path, with("open sesame")).unwrap();
    assert!(store.is_encrypted().unwrap());
    write_secrets(&store);
    // In the log only, then in the index, then after a clean close.
    assert_eq!(leaks(store.path()), Vec::<String>::new(), "log");
    store.checkpoint().unwrap();
    assert_eq!(leaks(store.path()), Vec::<String>::new(), "index");
    check_secrets(&store);
    store.close().unwrap();
    assert_eq!(
        leaks(&dir.path().join("secret.session")),
        Vec::<String>::new()
    );

    // The search does find them in a plain store: the check above can fail.
    let plain = Store::open(dir.path().join("plain")).unwrap();
    write_secrets(&plain);
    plain.checkpoint().unwrap();
    let found = leaks(plain.path());
    assert!(found.iter().any(|l| l.starts_with("auth key")), "{found:?}");
    assert!(found.iter().any(|l| l.starts_with("username")));
    assert!(found.iter().any(|l| l.starts_with("phone")));
}

#[test]
fn the_right_passphrase_reads_everything_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open_with(&path, with("right")).unwrap();
    write_secrets(&store);
    drop(store); // no checkpoint: the next open replays the encrypted log
    let store = Store::open_with(&path, with("right")).unwrap();
    check_secrets(&store);
    assert!(store.recovery().records_replayed > 0);
    let reader = Store::open_read_only_with(&path, with("right")).unwrap();
    check_secrets(&reader);
    drop(reader);
    store.close().unwrap();
    let store = Store::open_with(&path, with("right")).unwrap();
    check_secrets(&store);
    assert!(store.verify().unwrap().is_ok());
    drop(store);

    let wrong = Store::open_with(&path, with("wrong"));
    assert!(
        matches!(wrong, Err(Error::WrongPassphrase { .. })),
        "{wrong:?}"
    );
    let wrong = Store::open_read_only_with(&path, with("wrong"));
    assert!(matches!(wrong, Err(Error::WrongPassphrase { .. })));
    let none = Store::open(&path);
    assert!(
        matches!(none, Err(Error::PassphraseRequired { .. })),
        "{none:?}"
    );
    let empty = Store::open_with(&path, with(""));
    assert!(matches!(empty, Err(Error::InvalidArgument(_))), "{empty:?}");

    // A plain store refuses a passphrase instead of mixing sealed and plain data.
    let plain = dir.path().join("plain");
    Store::open(&plain).unwrap().close().unwrap();
    let refused = Store::open_with(&plain, with("right"));
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "{refused:?}"
    );

    // A deleted key file is reported, not taken for a plain store.
    std::fs::remove_file(dir.path().join("bot.session/KEY")).unwrap();
    let lost = Store::open(&path);
    assert!(matches!(lost, Err(Error::Corrupt { .. })), "{lost:?}");
}

#[test]
fn the_passphrase_is_never_printed() {
    let e = enc("hunter2-passphrase");
    let shown = format!("{e:?} {:?}", with("hunter2-passphrase"));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("redacted"));
}

/// Recomputes a record's CRC after its payload was changed, so only authentication can
/// tell.
fn fix_crc(bytes: &mut [u8], (start, payload, end): (usize, usize, usize)) {
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[start..start + 4]);
    h.update(&bytes[start + 8..payload]);
    h.update(&bytes[payload..end]);
    let crc = h.finalize();
    bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A store with ten durable update-state records in one segment, never checkpointed.
fn ten_records(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let path = dir.join("log");
    let store = Store::open_with(&path, with("pw")).unwrap();
    let acc = store.default_account();
    for pts in 1..=10 {
        acc.set_update_state(UpdateStateChange::Primary {
            pts,
            date: 1,
            seq: 1,
        })
        .unwrap();
    }
    let segment = store.path().join("00000000000000000001.log");
    drop(store);
    (path, segment)
}

fn reopen(path: &Path, mode: RecoveryMode) -> sessiondb::Result<Store> {
    Store::open_with(
        path,
        Options {
            recovery: mode,
            ..with("pw")
        },
    )
}

#[test]
fn a_sealed_record_that_fails_authentication_is_torn_tail_or_corruption_like_a_crc_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (path, segment) = ten_records(dir.path());
    let original = std::fs::read(&segment).unwrap();
    let recs = common::record_spans(&original);
    assert!(recs.len() >= 10, "{} records", recs.len());

    // The last record damaged, with a valid CRC: nothing after it was synced, so it is a
    // torn tail in the default mode, and corruption in Strict mode.
    let mut bytes = original.clone();
    let last = recs[recs.len() - 1];
    bytes[last.1 + 30] ^= 0x04;
    fix_crc(&mut bytes, last);
    std::fs::write(&segment, &bytes).unwrap();
    let strict = reopen(&path, RecoveryMode::Strict);
    assert!(matches!(strict, Err(Error::Corrupt { .. })), "{strict:?}");
    let store = reopen(&path, RecoveryMode::TornTail).unwrap();
    assert!(store.recovery().bytes_cut > 0);
    let pts = store
        .default_account()
        .update_state()
        .unwrap()
        .map(|s| s.pts);
    assert_eq!(pts, Some(9));
    drop(store);

    // A damaged record followed by synced ones: corruption.
    let mut bytes = original.clone();
    let middle = recs[5];
    bytes[middle.1 + 30] ^= 0x04;
    fix_crc(&mut bytes, middle);
    std::fs::write(&segment, &bytes).unwrap();
    let r = reopen(&path, RecoveryMode::TornTail);
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");

    // Two records' payloads swapped (same length, CRCs fixed): each is bound to its LSN.
    let mut bytes = original.clone();
    let (a, b) = (recs[3], recs[4]);
    assert_eq!(a.2 - a.1, b.2 - b.1);
    let pa = original[a.1..a.2].to_vec();
    let pb = original[b.1..b.2].to_vec();
    bytes[a.1..a.2].copy_from_slice(&pb);
    bytes[b.1..b.2].copy_from_slice(&pa);
    fix_crc(&mut bytes, a);
    fix_crc(&mut bytes, b);
    std::fs::write(&segment, &bytes).unwrap();
    let r = reopen(&path, RecoveryMode::TornTail);
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");

    // Untouched (and without the segment the torn-tail open started), it opens whole.
    for entry in std::fs::read_dir(segment.parent().unwrap()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "log") && p != segment {
            std::fs::remove_file(p).unwrap();
        }
    }
    std::fs::write(&segment, &original).unwrap();
    let store = reopen(&path, RecoveryMode::Strict).unwrap();
    let pts = store
        .default_account()
        .update_state()
        .unwrap()
        .map(|s| s.pts);
    assert_eq!(pts, Some(10));
}

const PEERS: redb::TableDefinition<(u32, i64), &[u8]> = redb::TableDefinition::new("peers");
const DCS: redb::TableDefinition<(u32, i32), &[u8]> = redb::TableDefinition::new("dcs");

#[test]
fn flipped_and_swapped_index_values_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let store = Store::open_with(&path, with("pw")).unwrap();
    write_secrets(&store);
    store.close().unwrap();
    let index = dir.path().join("idx.session/index.redb");

    // Swap the values of peers 3 and 4.
    tamper(&index, |txn| {
        let mut t = txn.open_table(PEERS).unwrap();
        let key3 = t
            .iter()
            .unwrap()
            .map(|e| e.unwrap().0.value())
            .find(|k| k.1 == 3);
        let (n, _) = key3.expect("peer 3 row");
        let v3 = t.get((n, 3)).unwrap().unwrap().value().to_vec();
        let v4 = t.get((n, 4)).unwrap().unwrap().value().to_vec();
        t.insert((n, 3), v4.as_slice()).unwrap();
        t.insert((n, 4), v3.as_slice()).unwrap();
    });
    // Flip one bit of DC 2's value.
    tamper(&index, |txn| {
        let mut t = txn.open_table(DCS).unwrap();
        let key = t
            .iter()
            .unwrap()
            .map(|e| e.unwrap().0.value())
            .find(|k| k.1 == 2);
        let key = key.expect("dc 2 row");
        let mut v = t.get(key).unwrap().unwrap().value().to_vec();
        v[40] ^= 0x10;
        t.insert(key, v.as_slice()).unwrap();
    });
    let store = Store::open_with(&path, with("pw")).unwrap();
    let acc = store.default_account();
    for id in [3, 4] {
        let r = acc.peer(id);
        assert!(
            matches!(r, Err(Error::CorruptValue { .. })),
            "peer {id}: {r:?}"
        );
    }
    assert!(acc.peer(5).unwrap().is_some(), "untouched rows still read");
    let r = acc.dc(2);
    assert!(matches!(r, Err(Error::CorruptValue { .. })), "{r:?}");
    assert!(!store.verify().map(|v| v.is_ok()).unwrap_or(false));
}

#[test]
fn rekey_interrupted_at_every_step_opens_with_the_old_or_the_new_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rekey");
    let fs = MemFs::new();
    let images: Arc<Mutex<Vec<(Phase, MemFs, MemFs)>>> = Arc::default();
    let (seen, fs2) = (images.clone(), fs.clone());
    let hook = PhaseHook(Arc::new(move |phase: Phase| {
        if matches!(phase, Phase::RekeyWritten | Phase::RekeyRenamed) {
            // A killed process (page cache kept) and a power cut (only synced state kept).
            let cut = fs2.power_cut(&mut |_, _| false);
            seen.lock().unwrap().push((phase, fs2.kill(), cut));
        }
    }));
    let opts = |pass: &str, fs: &MemFs| Options {
        fs: Some(Arc::new(fs.clone())),
        phase_hook: Some(hook.clone()),
        ..with(pass)
    };
    let store = Store::open_with(&path, opts("old", &fs)).unwrap();
    write_secrets(&store);
    store.checkpoint().unwrap();
    store.rekey(&enc("new")).unwrap();
    check_secrets(&store);
    drop(store);

    let images = std::mem::take(&mut *images.lock().unwrap());
    assert_eq!(images.len(), 2, "both rekey steps were reached");
    let mut outcomes = Vec::new();
    for (phase, killed, cut) in images {
        for (how, image) in [("kill", killed), ("power cut", cut)] {
            let old = Store::open_with(&path, opts("old", &image));
            let store = match old {
                Ok(s) => {
                    outcomes.push("old");
                    s
                }
                Err(Error::WrongPassphrase { .. }) => {
                    outcomes.push("new");
                    Store::open_with(&path, opts("new", &image))
                        .unwrap_or_else(|e| panic!("{how} at {phase:?}: new passphrase: {e}"))
                }
                Err(e) => panic!("{how} at {phase:?}: {e}"),
            };
            check_secrets(&store);
            drop(store);
        }
    }
    // Before the rename only the old key file exists; a kill after it keeps the new one.
    assert_eq!(outcomes, ["old", "old", "new", "old"]);

    // Finished: the new passphrase opens, the old one no longer does.
    let r = Store::open_with(&path, opts("old", &fs));
    assert!(matches!(r, Err(Error::WrongPassphrase { .. })), "{r:?}");
    let store = Store::open_with(&path, opts("new", &fs)).unwrap();
    check_secrets(&store);
}

#[test]
fn backups_and_compaction_of_an_encrypted_store_stay_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("src");
    let store = Store::open_with(&path, with("pw")).unwrap();
    write_secrets(&store);
    let dest = dir.path().join("copy");
    store.backup(&dest).unwrap();
    store.close().unwrap();
    let copy = dir.path().join("copy.session");
    assert_eq!(leaks(&copy), Vec::<String>::new());
    assert!(matches!(
        Store::open(&dest),
        Err(Error::PassphraseRequired { .. })
    ));
    check_secrets(&Store::open_with(&dest, with("pw")).unwrap());

    let compacted = sessiondb::compact_with(&path, with("pw")).unwrap();
    assert_eq!(compacted.peers, 50);
    assert_eq!(leaks(&dir.path().join("src.session")), Vec::<String>::new());
    check_secrets(&Store::open_with(&path, with("pw")).unwrap());
}

const ACCOUNTS: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("accounts");

#[test]
fn swapped_accounts_are_detected_and_bad_key_files_and_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two");
    let store = Store::open_with(&path, with("pw")).unwrap();
    for name in ["alice", "bob"] {
        let acc = store.create_account(name).unwrap();
        acc.set_home_dc(if name == "alice" { 1 } else { 5 })
            .unwrap();
    }
    // Parameters above the limits are refused before anything is written.
    let mut heavy = enc("new");
    heavy.kdf.iterations = 17;
    let r = store.rekey(&heavy);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    store.close().unwrap();
    assert!(
        Store::open_with(&path, with("pw")).is_ok(),
        "the old key file still opens"
    );

    // Swap the two accounts' rows: all their data would change hands.
    let index = dir.path().join("two.session/index.redb");
    tamper(&index, |txn| {
        let mut t = txn.open_table(ACCOUNTS).unwrap();
        let a = t.get("alice").unwrap().unwrap().value().to_vec();
        let b = t.get("bob").unwrap().unwrap().value().to_vec();
        t.insert("alice", b.as_slice()).unwrap();
        t.insert("bob", a.as_slice()).unwrap();
    });
    let r = Store::open_with(&path, with("pw"));
    assert!(matches!(r, Err(Error::CorruptValue { .. })), "{r:?}");

    // A key file of the wrong size is damage, and is never read whole.
    let key = dir.path().join("two.session/KEY");
    let f = std::fs::OpenOptions::new().write(true).open(&key).unwrap();
    f.set_len(1 << 40).unwrap(); // sparse: 1 TiB
    drop(f);
    let r = Store::open_with(&path, with("pw"));
    assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
}
