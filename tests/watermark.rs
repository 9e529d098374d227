//! The ordered update watermark: out-of-order completion, gaps, duplicates, and power cuts
//! at random moments — the stored state is never ahead of an unhandled update and never
//! behind what the tracker reported as persisted.

mod model;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use model::Rng;
use sessiondb::io::MemFs;
use sessiondb::{Error, MemoryStore, Options, Sequence, Store, TrackerOptions, UpdateTracker};

#[test]
fn the_watermark_moves_only_over_handled_updates_without_gaps() {
    let store = MemoryStore::new();
    let t =
        UpdateTracker::new(store.default_account(), TrackerOptions { persist_every: 1 }).unwrap();
    let tickets: Vec<_> = (1..=5)
        .map(|p| t.register(Sequence::Common, p, 1, 100 + p).unwrap())
        .collect();
    t.handled(tickets[1]).unwrap();
    t.handled(tickets[2]).unwrap();
    assert_eq!(
        t.watermark(Sequence::Common),
        0,
        "update 1 is not handled yet"
    );
    t.handled(tickets[0]).unwrap();
    assert_eq!(t.watermark(Sequence::Common), 3);
    assert_eq!(
        store.default_account().update_state().unwrap().unwrap().pts,
        3
    );
    t.handled(tickets[4]).unwrap();
    t.handled(tickets[3]).unwrap();
    assert_eq!(t.watermark(Sequence::Common), 5);
    // pts_count > 1: one update covers 6..=8; 9 never comes (a gap): the watermark waits.
    let wide = t.register(Sequence::Common, 8, 3, 0).unwrap();
    let after_gap = t.register(Sequence::Common, 10, 1, 0).unwrap();
    t.handled(after_gap).unwrap();
    t.handled(wide).unwrap();
    assert_eq!(t.watermark(Sequence::Common), 8);
    assert!(
        matches!(
            t.register(Sequence::Common, 6, 1, 0),
            Err(Error::InvalidArgument(_))
        ),
        "a duplicate"
    );
    assert!(
        matches!(
            t.register(Sequence::Common, 11, 2, 0),
            Err(Error::InvalidArgument(_))
        ),
        "overlaps 10"
    );
    assert!(
        matches!(
            t.register(Sequence::Common, 12, 5, 0),
            Err(Error::InvalidArgument(_))
        ),
        "straddles the watermark: counted as applied, and could never be consumed"
    );
    // Channels and qts are separate sequences.
    let c = t.register(Sequence::Channel(42), 11, 1, 0).unwrap();
    assert_eq!(t.watermark(Sequence::Channel(42)), 0);
    let q = t.register(Sequence::Secondary, 1, 1, 0).unwrap();
    t.handled(q).unwrap();
    t.handled(c).unwrap();
    assert_eq!(t.watermark(Sequence::Secondary), 1);
    assert_eq!(
        t.watermark(Sequence::Channel(42)),
        0,
        "pts 1..=10 of the channel never came"
    );
    t.persist().wait().unwrap();
    let acc = store.default_account();
    assert_eq!(acc.update_state().unwrap().unwrap().qts, 1);
    assert_eq!(acc.channel_pts(42).unwrap(), None);
    // A new tracker starts from what is stored.
    let again = UpdateTracker::new(acc, TrackerOptions::default()).unwrap();
    assert_eq!(again.watermark(Sequence::Common), 8);
}

const SEQS: [Sequence; 4] = [
    Sequence::Common,
    Sequence::Secondary,
    Sequence::Channel(1),
    Sequence::Channel(2),
];

fn stored(store: &Store, s: Sequence) -> i32 {
    let acc = store.default_account();
    let state = acc.update_state().unwrap().unwrap_or_default();
    match s {
        Sequence::Common => state.pts,
        Sequence::Secondary => state.qts,
        Sequence::Seq => state.seq,
        Sequence::Channel(id) => acc.channel_pts(id).unwrap().unwrap_or(0),
    }
}

#[test]
fn power_cuts_never_leave_the_stored_state_ahead_of_an_unhandled_update() {
    let runs: u64 = std::env::var("SESSIONDB_WATERMARK_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let mut cut_runs = 0;
    for seed in 1..=runs {
        let mut rng = Rng(seed);
        let fs = MemFs::new();
        let options = Options {
            fs: Some(Arc::new(fs.clone())),
            ..Options::default()
        };
        let store = Store::open_with(dir.path().join("bot"), options.clone()).unwrap();
        let tracker = UpdateTracker::new(
            store.default_account(),
            TrackerOptions {
                persist_every: 1 + rng.below(8) as u32,
            },
        )
        .unwrap();
        // At the cut: the image, the watermarks then, and what was reported persisted then.
        type AtCut = (MemFs, Vec<i32>, Vec<i32>);
        let at_cut: Arc<Mutex<Option<AtCut>>> = Arc::default();
        let cut_at = 5 + rng.below(150);
        let io = Arc::new(AtomicU64::new(0));
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // What the bot has handled, kept by the test itself (marked before the tracker hears
        // of it), so the bound does not trust the tracker's own arithmetic.
        let handled: Arc<Mutex<Vec<BTreeSet<i32>>>> =
            Arc::new(Mutex::new(vec![BTreeSet::new(); SEQS.len()]));
        let hook = {
            let (fs, at_cut, io, tracker, handled, cut) = (
                fs.clone(),
                at_cut.clone(),
                io.clone(),
                tracker.clone(),
                handled.clone(),
                cut.clone(),
            );
            Arc::new(move |_: &Path| {
                if io.fetch_add(1, Ordering::SeqCst) + 1 == cut_at {
                    cut.store(true, Ordering::SeqCst);
                    let persisted: Vec<i32> = SEQS.iter().map(|&s| tracker.persisted(s)).collect();
                    let image = fs.power_cut(&mut |_, _| false);
                    // The highest value below which every update is handled.
                    let marks: Vec<i32> = handled
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|set| (1..).find(|p| !set.contains(p)).map_or(0, |p| p - 1))
                        .collect();
                    *at_cut.lock().unwrap() = Some((image, marks, persisted));
                }
                Ok(())
            })
        };
        fs.set_write_hook(Some(hook.clone()));
        fs.set_sync_hook(Some(hook));
        // Updates arrive in order, are handled in random order, 4 sequences interleaved.
        let mut tickets = Vec::new();
        for p in 1..=150 {
            for (k, s) in SEQS.into_iter().enumerate() {
                tickets.push((k, p, tracker.register(s, p, 1, p).unwrap()));
            }
        }
        while !tickets.is_empty() && !cut.load(Ordering::SeqCst) {
            let i = rng.below(tickets.len().min(12) as u64) as usize; // mostly near the front
            let (k, pts, ticket) = tickets.remove(i);
            handled.lock().unwrap()[k].insert(pts);
            tracker.handled(ticket).unwrap();
            if rng.chance(5) {
                tracker.persist().wait().unwrap();
            }
        }
        fs.set_write_hook(None);
        fs.set_sync_hook(None);
        if std::env::var("DEBUG_IO").is_ok() {
            eprintln!(
                "seed {seed}: {} I/O ops, cut at {cut_at}",
                io.load(Ordering::SeqCst)
            );
        }
        drop(tracker);
        drop(store);
        if !cut.load(Ordering::SeqCst) {
            continue;
        }
        let (image, marks, persisted) = loop {
            if let Some(taken) = at_cut.lock().unwrap().take() {
                break taken;
            }
            std::thread::yield_now();
        };
        cut_runs += 1;
        let reopened = Store::open_with(
            dir.path().join("bot"),
            Options {
                fs: Some(Arc::new(image)),
                ..options
            },
        )
        .unwrap_or_else(|e| panic!("seed {seed}: the image does not open: {e}"));
        for (k, &s) in SEQS.iter().enumerate() {
            let v = stored(&reopened, s);
            assert!(
                v <= marks[k],
                "seed {seed}: {s:?} stored {v} is ahead of unhandled update {}",
                marks[k] + 1
            );
            assert!(
                v >= persisted[k],
                "seed {seed}: {s:?} stored {v} is behind the reported {}",
                persisted[k]
            );
        }
    }
    assert!(
        cut_runs > runs / 2,
        "{cut_runs} of {runs} runs reached their cut"
    );
}

const CHILD: &str = "SESSIONDB_WATERMARK_CHILD";

/// Runs only as the child: 4 threads handle updates of one sequence out of order, printing
/// each before marking it, and printing every newly reported persisted value.
#[test]
fn watermark_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let store = Store::open(&path).unwrap();
    let tracker =
        UpdateTracker::new(store.default_account(), TrackerOptions { persist_every: 3 }).unwrap();
    let start = tracker.watermark(Sequence::Common);
    let tickets: Vec<_> = (start + 1..start + 20_000)
        .map(|p| (p, tracker.register(Sequence::Common, p, 1, 0).unwrap()))
        .collect();
    let queue = Arc::new(Mutex::new(tickets));
    let mut threads = Vec::new();
    for t in 0..4u64 {
        let (queue, tracker) = (queue.clone(), tracker.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(t + 1);
            let mut last = 0;
            loop {
                let next = {
                    let mut q = queue.lock().unwrap();
                    if q.is_empty() {
                        break;
                    }
                    let i = rng.below(q.len().min(16) as u64) as usize;
                    q.remove(i)
                };
                println!("HANDLED {}", next.0);
                tracker.handled(next.1).unwrap();
                let p = tracker.persisted(Sequence::Common);
                if p > last {
                    println!("PERSISTED {p}");
                    last = p;
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn sigkill_never_leaves_the_stored_state_ahead_of_an_unhandled_update() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wm");
    let mut rng = Rng(99);
    let mut handled = BTreeSet::new();
    let mut reported = 0;
    for round in 0..15 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "watermark_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stop_after = 50 + rng.below(3000);
        let mut seen = 0;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut killed = false;
        // Read until it is time to kill, kill, then drain what the child printed before it
        // died: every update it marked handled was printed first.
        while let Some(Ok(line)) = lines.next() {
            // The harness may print "test watermark_child ... " ahead of the first line.
            let word = |w: &str| {
                line.split(w)
                    .nth(1)
                    .and_then(|p| p.trim().parse::<i32>().ok())
            };
            if let Some(p) = word("HANDLED ") {
                handled.insert(p);
                seen += 1;
            } else if let Some(p) = word("PERSISTED ") {
                reported = reported.max(p);
            }
            if seen >= stop_after && !killed {
                child.kill().unwrap();
                killed = true;
            }
        }
        if !killed {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        let store = Store::open(&path).unwrap();
        let pts = store
            .default_account()
            .update_state()
            .unwrap()
            .map_or(0, |s| s.pts);
        let contiguous = (1..).find(|p| !handled.contains(p)).map_or(0, |p| p - 1);
        assert!(
            pts <= contiguous,
            "round {round}: stored pts {pts} is ahead of unhandled {}",
            contiguous + 1
        );
        assert!(
            pts >= reported,
            "round {round}: stored pts {pts} is behind the reported {reported}"
        );
        // Updates above the stored pts come back after the crash: the next child re-registers
        // them, as a real bot would receive them again.
        handled.retain(|&p| p <= pts);
        reported = pts;
    }
}
