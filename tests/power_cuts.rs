//! Simulated power loss, model-checked. The whole store (log and redb index) lives in a
//! `MemFs` with a live and a durable image. A random workload runs against the store and a
//! reference model; at a random I/O operation the power is cut (dropping unsynced data, or
//! keeping a random subset of unsynced pages: torn writes). The durable image must then open
//! and hold exactly the acknowledged-durable state plus some prefix of what was in flight.
//!
//! One run in five injects a failing write or fsync at that point instead (and cuts the power
//! there): the store must latch, acknowledge nothing afterwards, and reopen cleanly.
//!
//! `SESSIONDB_POWER_CUTS` sets the number of cuts (default 1000); `SESSIONDB_SEED` the first
//! seed. A failure prints the seed that replays it.

mod model;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use model::{Model, Op, Rng, issue, random_op, read_store};
use sessiondb::io::MemFs;
use sessiondb::{Options, Store};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every fourth seed runs on an encrypted store (small Argon2 parameters: it reopens often).
fn encryption(encrypted: bool) -> Option<sessiondb::Encryption> {
    encrypted.then(|| sessiondb::Encryption {
        passphrase: sessiondb::Passphrase::new("power cuts"),
        kdf: sessiondb::KdfParams::insecure_for_tests(),
    })
}

fn options(fs: &MemFs, rng: &mut Rng, encrypted: bool) -> Options {
    Options {
        encryption: encryption(encrypted),
        fs: Some(Arc::new(fs.clone())),
        checkpoint_records: 3 + rng.below(40),
        checkpoint_log_bytes: 4096 + rng.below(64 << 10),
        segment_bytes: 512 + rng.below(8192),
        cache_size: 1 << 20,
        ..Options::default()
    }
}

/// Outcome of one cut, for the totals.
#[derive(Default)]
struct Tally {
    cuts: u64,
    encrypted: u64,
    torn: u64,
    faults: u64,
    prefixes_lost: u64,
    ops: u64,
}

fn one_cut(dir: &Path, seed: u64, tally: &mut Tally) {
    let mut rng = Rng(seed);
    let fs = MemFs::new();
    let encrypted = seed.is_multiple_of(4);
    let opts = options(&fs, &mut rng, encrypted);
    let torn = rng.chance(50);
    let fault = rng.chance(20);
    let cut_at = 1 + rng.below(400);
    let page_seed = rng.next();
    let io_ops = Arc::new(AtomicU64::new(0));
    let image: Arc<Mutex<Option<MemFs>>> = Arc::default();
    // Set before the image is taken: an op acknowledged while this was still false was
    // synced before the cut; one still running when it turns true is in flight.
    let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hook = {
        let (fs, io_ops, image, cut) = (fs.clone(), io_ops.clone(), image.clone(), cut.clone());
        Arc::new(move |_: &Path| {
            let n = io_ops.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= cut_at {
                cut.store(true, Ordering::SeqCst);
            }
            if n == cut_at {
                let mut pages = Rng(page_seed);
                let cut = fs.power_cut(&mut |_, _| torn && pages.chance(50));
                *image.lock().unwrap() = Some(cut);
            }
            if fault && n >= cut_at {
                return Err(std::io::Error::other("injected I/O failure"));
            }
            Ok(())
        })
    };

    let store = Store::open_with(dir.join("bot"), opts.clone()).unwrap();
    fs.set_write_hook(Some(hook.clone()));
    fs.set_sync_hook(Some(hook));

    // committed: every op acknowledged before the cut whose ack implies a sync, and all
    // before it. pending: ops acknowledged without a sync, then the op the cut fell into.
    let mut committed = Model::default();
    let mut pending: Vec<Op> = Vec::new();
    for _ in 0..2_000 {
        let op = random_op(&mut rng);
        let before_cut = !cut.load(Ordering::SeqCst);
        let result = issue(&store, &op);
        tally.ops += 1;
        let cut_happened = cut.load(Ordering::SeqCst);
        if before_cut && !cut_happened {
            result.unwrap_or_else(|e| panic!("seed {seed}: {op:?} failed: {e}"));
            pending.push(op.clone());
            if op.syncs() {
                for p in pending.drain(..) {
                    committed.apply(&p);
                }
            }
            continue;
        }
        if before_cut {
            pending.push(op); // in flight when the power went: may or may not have landed
        }
        if fault {
            // The failed I/O latches the store (a checkpoint's may do so a moment later).
            let mut waited = 0;
            while store.health().is_ok() && waited < 10_000 {
                std::thread::sleep(std::time::Duration::from_millis(1));
                waited += 1;
            }
            assert!(
                store.health().is_err(),
                "seed {seed}: an I/O failure did not latch"
            );
            // Latched: nothing more may be acknowledged, durable or not.
            for _ in 0..5 {
                let op = random_op(&mut rng);
                let r = issue(&store, &op);
                assert!(
                    r.is_err(),
                    "seed {seed}: {op:?} acknowledged after an I/O failure"
                );
            }
        }
        break;
    }
    fs.set_write_hook(None);
    fs.set_sync_hook(None);
    drop(store);
    if !cut.load(Ordering::SeqCst) {
        return; // the workload finished before reaching the cut point
    }
    // The thread taking the image may still be at it.
    let image = loop {
        if let Some(image) = image.lock().unwrap().take() {
            break image;
        }
        std::thread::yield_now();
    };
    tally.cuts += 1;
    tally.encrypted += u64::from(encrypted);
    tally.torn += u64::from(torn);
    tally.faults += u64::from(fault);

    let mut reopen = opts;
    reopen.fs = Some(Arc::new(image.clone()));
    let store = Store::open_with(dir.join("bot"), reopen)
        .unwrap_or_else(|e| panic!("seed {seed}: the durable image does not open: {e}"));
    let got = read_store(&store).unwrap_or_else(|e| panic!("seed {seed}: reading: {e}"));
    let committed_copy = committed.clone();
    let mut candidate = committed;
    let mut matched = candidate == got;
    let mut landed = 0;
    for op in &pending {
        if matched {
            break;
        }
        candidate.apply(op);
        landed += 1;
        matched = candidate == got;
    }
    if !matched {
        let want = &committed_copy;
        let mut diff = Vec::new();
        for name in want.accounts.keys().chain(got.accounts.keys()) {
            let (w, g) = (want.accounts.get(name), got.accounts.get(name));
            if w != g {
                let field = |f: &dyn Fn(&model::AccountState) -> String| {
                    format!("{} vs {}", w.map_or("-".into(), f), g.map_or("-".into(), f))
                };
                diff.push(format!(
                    "account {name}: state {} | channels {} | dcs {} | peers {} | self {}",
                    field(&|a| format!("{:?}", a.state)),
                    field(&|a| format!("{:?}", a.channels)),
                    field(&|a| format!("{:?}", a.dcs.keys().collect::<Vec<_>>())),
                    field(&|a| format!("{}", a.peers.len())),
                    field(&|a| format!("{:?}", a.self_id)),
                ));
            }
        }
        panic!(
            "seed {seed} (torn {torn}, fault {fault}): after the cut the store holds neither the \
             acknowledged state nor any prefix of the {} in-flight ops; acknowledged vs store:\n{}",
            pending.len(),
            diff.join("\n")
        );
    }
    tally.prefixes_lost += (pending.len() - landed) as u64;
    // The recovered store keeps working and survives a clean reopen.
    let acc = store.account("a").unwrap();
    acc.set_update_state(sessiondb::UpdateStateChange::Secondary { qts: 7 })
        .unwrap();
    store.close().unwrap();
    let again = Options {
        encryption: encryption(encrypted),
        fs: Some(Arc::new(image)),
        ..Options::default()
    };
    let store = Store::open_with(dir.join("bot"), again).unwrap();
    assert_eq!(
        store
            .account("a")
            .unwrap()
            .update_state()
            .unwrap()
            .map(|s| s.qts),
        Some(7)
    );
}

#[test]
fn power_cuts_at_random_io_keep_every_acknowledged_write() {
    let cuts = env("SESSIONDB_POWER_CUTS", 1000);
    let first = env("SESSIONDB_SEED", 1);
    let dir = tempfile::tempdir().unwrap();
    let mut tally = Tally::default();
    let mut seed = first;
    while tally.cuts < cuts {
        one_cut(dir.path(), seed, &mut tally);
        seed += 1;
    }
    eprintln!(
        "{} power cuts ({} on encrypted stores, {} with torn pages, {} at an injected I/O \
         failure) over {} ops, seeds {first}..{seed}; {} in-flight ops lost",
        tally.cuts, tally.encrypted, tally.torn, tally.faults, tally.ops, tally.prefixes_lost
    );
    assert!(tally.encrypted > 0 && tally.encrypted < tally.cuts);
    assert!(tally.torn > 0 && tally.torn < tally.cuts);
    assert!(tally.faults > 0);
}

/// Key rotation in the power-cut harness: an encrypted store with a log tail is rotated
/// (`sessiondb::rotate`, its copy, rename and exchange all in the `MemFs`), and the power
/// is cut before every write and sync of the rotation, keeping a random subset of
/// unsynced pages. Each image opens with exactly one of the old and new passphrases (the
/// old before the exchange is durable, the new after), read-only and for writing, with
/// every acknowledged write.
#[test]
fn power_cuts_inside_a_key_rotation_keep_one_passphrase_and_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rot");
    let fs = MemFs::new();
    let with = |pass: &str, fs: &MemFs| Options {
        encryption: Some(sessiondb::Encryption {
            passphrase: sessiondb::Passphrase::new(pass),
            kdf: sessiondb::KdfParams::insecure_for_tests(),
        }),
        fs: Some(Arc::new(fs.clone())),
        segment_bytes: 16 << 10,
        cache_size: 1 << 20,
        ..Options::default()
    };
    let store = Store::open_with(&path, with("old", &fs)).unwrap();
    let acc = store.default_account();
    acc.cache_peers(&(1..=40).map(peer).collect::<Vec<_>>())
        .unwrap();
    store.checkpoint().unwrap();
    for pts in 1..=25 {
        acc.set_update_state(sessiondb::UpdateStateChange::Primary {
            pts,
            date: 1,
            seq: 1,
        })
        .unwrap();
    }
    drop(store); // the last writes only in the log

    let images: Arc<Mutex<Vec<MemFs>>> = Arc::default();
    let hook = {
        let (fs, images, mut rng) = (fs.clone(), images.clone(), Rng(0x707));
        let rng = Mutex::new(Rng(rng.next()));
        Arc::new(move |_: &Path| {
            let mut rng = rng.lock().unwrap();
            let image = fs.power_cut(&mut |_, _| rng.chance(50));
            images.lock().unwrap().push(image);
            Ok(())
        })
    };
    fs.set_write_hook(Some(hook.clone()));
    fs.set_sync_hook(Some(hook));
    let new = sessiondb::Encryption {
        passphrase: sessiondb::Passphrase::new("new"),
        kdf: sessiondb::KdfParams::insecure_for_tests(),
    };
    sessiondb::rotate(&path, with("old", &fs), &new).unwrap();
    fs.set_write_hook(None);
    fs.set_sync_hook(None);
    let mut images = std::mem::take(&mut *images.lock().unwrap());
    images.push(fs.power_cut(&mut |_, _| false));

    let (mut old, mut new) = (0, 0);
    for (i, image) in images.iter().enumerate() {
        let opened: Vec<&str> = ["old", "new"]
            .into_iter()
            .filter(
                |pass| match Store::open_read_only_with(&path, with(pass, image)) {
                    Ok(reader) => {
                        check_rotated(&reader, i);
                        true
                    }
                    Err(sessiondb::Error::WrongPassphrase { .. }) => false,
                    Err(e) => panic!("image {i}: read-only with {pass:?}: {e}"),
                },
            )
            .collect();
        assert_eq!(opened.len(), 1, "image {i}: {opened:?}");
        let store = Store::open_with(&path, with(opened[0], image))
            .unwrap_or_else(|e| panic!("image {i}: {e}"));
        check_rotated(&store, i);
        assert!(store.verify().unwrap().is_ok(), "image {i}");
        drop(store);
        if opened[0] == "old" {
            old += 1
        } else {
            new += 1
        }
    }
    eprintln!(
        "{} power cuts inside a rotation: {old} kept the old key, {new} the new",
        images.len()
    );
    assert!(old > 10 && new > 0, "{old} / {new}");
    // The old files (the old key file among them) are gone for good once it returned.
    let sibling = dir.path().join("rot.rotating.session");
    let left = sessiondb::io::FileSystem::list(images.last().unwrap(), &sibling).unwrap();
    assert!(left.is_empty(), "{left:?}");
}

fn peer(id: i64) -> sessiondb::Peer {
    sessiondb::Peer::new(id, sessiondb::PeerKind::User, Some(id * 7))
}

fn check_rotated(store: &Store, image: usize) {
    let acc = store.default_account();
    let pts = acc.update_state().unwrap().map(|s| s.pts);
    assert_eq!(pts, Some(25), "image {image}: acknowledged pts lost");
    assert_eq!(acc.peer_count().unwrap(), 40, "image {image}");
    assert_eq!(
        acc.peer(17).unwrap().and_then(|p| p.access_hash),
        Some(17 * 7)
    );
}
