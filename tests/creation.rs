//! Creating a store is atomic in effect: a kill or a full disk at any step of the first open
//! leaves a directory that opens again — for writing and read-only — and is empty, never a
//! store that every later open refuses.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sessiondb::io::MemFs;
use sessiondb::{Encryption, KdfParams, Options, Passphrase, Phase, PhaseHook, Store};

const CHILD_DIR: &str = "SESSIONDB_CREATE_CHILD";
const CHILD_PHASE: &str = "SESSIONDB_CREATE_PHASE";
const CHILD_ENCRYPTED: &str = "SESSIONDB_CREATE_ENCRYPTED";

const PHASES: [(&str, Phase); 4] = [
    ("locked", Phase::OpenLocked),
    ("key", Phase::OpenKeyReady),
    ("checked", Phase::OpenChecked),
    ("written", Phase::OpenIndexWritten),
];

fn options(encrypted: bool) -> Options {
    Options {
        encryption: encrypted.then(|| Encryption {
            passphrase: Passphrase::new("creation test"),
            kdf: KdfParams::insecure_for_tests(),
        }),
        ..Options::default()
    }
}

/// Runs only as the child. With a phase: creates one store and stops there, saying so,
/// until it is killed. Without: creates stores `s0`, `s1`, … one after another, saying
/// when each is created, until it is killed.
#[test]
fn child_creator() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let encrypted = std::env::var(CHILD_ENCRYPTED).is_ok();
    if let Ok(wanted) = std::env::var(CHILD_PHASE) {
        let (_, phase) = PHASES.into_iter().find(|(n, _)| *n == wanted).unwrap();
        let mut options = options(encrypted);
        options.phase_hook = Some(PhaseHook(Arc::new(move |p| {
            if p == phase {
                println!("AT {wanted}");
                loop {
                    std::thread::park();
                }
            }
        })));
        let _ = Store::open_with(Path::new(&dir).join("bot"), options);
        return;
    }
    for i in 0.. {
        let store = Store::open_with(Path::new(&dir).join(format!("s{i}")), options(encrypted));
        store.unwrap().close().unwrap();
        println!("CREATED {i}");
    }
}

/// A child process, killed when dropped (also when the test fails).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Child {
    /// Waits for the line the child prints when it is where the test wants it.
    fn wait_for(&mut self, wanted: &str) {
        let out = self.0.stdout.take().unwrap();
        for line in BufReader::new(out).lines() {
            // The harness may print "test child_creator ... " on the same line first.
            if line.unwrap().ends_with(wanted) {
                return;
            }
        }
        panic!("the child ended before printing {wanted:?}");
    }

    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

fn child(dir: &Path, phase: Option<&str>, encrypted: bool) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_creator",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_DIR, dir)
    .stdout(Stdio::piped());
    if let Some(p) = phase {
        cmd.env(CHILD_PHASE, p);
    }
    if encrypted {
        cmd.env(CHILD_ENCRYPTED, "1");
    }
    Child(cmd.spawn().unwrap())
}

/// A store left by a killed creation opens read-only and for writing, holds nothing, and
/// takes writes.
fn opens_empty(path: &Path, encrypted: bool) {
    reopens(path, encrypted, true);
}

/// A store left by a killed creation or a full disk opens read-only and for writing and
/// takes writes; `empty`: it holds nothing (else it may hold the one write that fit, and the
/// log may end in the torn record of one that did not).
fn reopens(path: &Path, encrypted: bool, empty: bool) {
    let ro = Store::open_read_only_with(path, options(encrypted))
        .unwrap_or_else(|e| panic!("{}: read-only open failed: {e}", path.display()));
    let report = ro.verify().unwrap();
    if empty {
        assert!(ro.accounts().unwrap().is_empty());
        assert!(report.is_ok());
    } else {
        assert!(report.problems.iter().all(|p| p.contains("log: it ends")));
    }
    drop(ro);
    let store = Store::open_with(path, options(encrypted))
        .unwrap_or_else(|e| panic!("{}: open failed: {e}", path.display()));
    if empty {
        assert!(store.accounts().unwrap().is_empty());
    }
    store.default_account().set_home_dc(2).unwrap();
    store.close().unwrap();
    let store = Store::open_with(path, options(encrypted)).unwrap();
    assert_eq!(store.default_account().home_dc().unwrap(), Some(2));
}

#[test]
fn a_kill_at_every_step_of_creation_leaves_a_store_that_opens() {
    for encrypted in [false, true] {
        for (name, _) in PHASES {
            let dir = tempfile::tempdir().unwrap();
            let mut c = child(dir.path(), Some(name), encrypted);
            c.wait_for(&format!("AT {name}"));
            c.kill();
            opens_empty(&dir.path().join("bot"), encrypted);
        }
    }
}

#[test]
fn kills_at_random_points_of_creation_never_brick_a_store() {
    let kills: u64 = std::env::var("SESSIONDB_CREATION_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut checked = 0;
    for k in 0..kills {
        let encrypted = k % 4 == 3;
        let dir = tempfile::tempdir().unwrap();
        let mut c = child(dir.path(), None, encrypted);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Kill right after the n-th store is created: the next one is being created.
        c.wait_for(&format!("CREATED {}", seed % 3));
        c.kill();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            opens_empty(&path, encrypted);
            checked += 1;
        }
    }
    assert!(checked >= kills, "{checked} stores checked");
}

#[test]
fn an_index_that_never_got_its_magic_number_is_rebuilt_only_under_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let sdir = dir.path().join("bot.session");
    std::fs::create_dir(&sdir).unwrap();
    std::fs::write(sdir.join("LOCK"), b"").unwrap();
    // What a kill inside redb's creation leaves: the file sized, the magic never written.
    std::fs::write(sdir.join("index.redb"), vec![0u8; 73_728]).unwrap();
    opens_empty(&sdir, false);

    // The same file under a log that holds records is damage, not an unfinished creation.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot");
    let store = Store::open(&path).unwrap();
    store.default_account().set_home_dc(4).unwrap();
    drop(store);
    let index = dir.path().join("bot.session/index.redb");
    let len = std::fs::metadata(&index).unwrap().len() as usize;
    std::fs::write(&index, vec![0u8; len]).unwrap();
    assert!(Store::open(&path).is_err());
    assert_eq!(
        std::fs::read(&index).unwrap(),
        vec![0u8; len],
        "the index was replaced"
    );
}

#[test]
fn a_full_disk_at_each_write_of_creation_then_space_freed_opens() {
    for encrypted in [false, true] {
        for fail_at in 0u64.. {
            let dir = tempfile::tempdir().unwrap();
            let fs = MemFs::new();
            let writes = Arc::new(AtomicU64::new(0));
            let w = writes.clone();
            fs.set_write_hook(Some(Arc::new(move |_| {
                if w.fetch_add(1, Ordering::SeqCst) == fail_at {
                    return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
                }
                Ok(())
            })));
            let options = Options {
                fs: Some(Arc::new(fs.clone())),
                ..options(encrypted)
            };
            let path = dir.path().join("bot");
            let first = Store::open_with(&path, options.clone());
            let failed = first.is_err();
            if let Err(e) = &first {
                assert!(e.to_string().contains("bot.session"), "{e}");
            }
            drop(first);
            fs.set_write_hook(None);
            let store = Store::open_with(&path, options.clone())
                .unwrap_or_else(|e| panic!("write {fail_at} failed, then: {e}"));
            store.default_account().set_home_dc(3).unwrap();
            drop(store);
            let store = Store::open_read_only_with(&path, options).unwrap();
            assert_eq!(store.default_account().home_dc().unwrap(), Some(3));
            if !failed {
                break; // every write of creation has been failed once
            }
        }
    }
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` where mounting is not allowed (not root, no CAP_SYS_ADMIN).
    fn mount(dir: &Path, options: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_real_full_disk_during_creation_then_space_freed_opens() {
    // Sizes and inode counts that run out at each step: the directory, LOCK, KEY, the
    // index, the first segment.
    let limits = [
        "size=64k,nr_inodes=2",
        "size=64k,nr_inodes=3",
        "size=64k,nr_inodes=4",
        "size=8k",
        "size=16k",
        "size=64k",
        "size=128k",
        "size=512k",
    ];
    let mut refused = 0;
    for (i, limit) in limits.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let Some(fs) = Tmpfs::mount(dir.path(), limit) else {
            eprintln!("tmpfs cannot be mounted here (needs root): the I/O-seam test covers ENOSPC");
            return;
        };
        let encrypted = i % 2 == 0;
        let path = dir.path().join("bot");
        match Store::open_with(&path, options(encrypted)) {
            Err(e) => {
                refused += 1;
                assert!(e.to_string().contains("bot.session"), "{limit}: {e}");
            }
            Ok(store) => {
                // Creation fit; the first durable write may not.
                let _ = store.default_account().set_home_dc(1);
            }
        }
        fs.remount("size=16m,nr_inodes=1000");
        reopens(&path, encrypted, false);
    }
    assert!(
        refused >= 4,
        "only {refused} of {} limits were hit",
        limits.len()
    );
}
