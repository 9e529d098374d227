//! sessiondb's `FerogramSession` against ferogram-session 0.6.6's own `BinaryFileBackend` and
//! `SqliteBackend` (as shipped, WAL with `synchronous=NORMAL`, and with `synchronous=FULL`),
//! every one driven through `SessionBackend` as ferogram calls it, in one process, round by
//! round interleaved so that the machine's swings hit every system alike.
//!
//! `compare-ferogram [max_peers=1000000] [rounds=3] [dir=/tmp/compare-ferogram]` prints a
//! Markdown report (medians of the rounds).

mod client;
mod sqlite_full;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferogram_session::{BinaryFileBackend, SessionBackend, SqliteBackend, UpdateStateChange};

use client::Client;

const SYSTEMS: [&str; 4] = ["sessiondb", "binary-file", "sqlite-normal", "sqlite-full"];
/// Peers in the session the update-state rows run on.
const UPDATE_PEERS: usize = 10_000;
/// `apply_update_state` calls per round from one thread, and per thread from 16.
const ONE_WRITER_CALLS: i32 = 1000;
const THREADS: usize = 16;
const CALLS_PER_THREAD: i32 = 200;

fn main() {
    let mut args = std::env::args().skip(1);
    let max_peers: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let root = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/tmp/compare-ferogram".into()),
    );
    let _ = std::fs::remove_dir_all(&root);

    println!(
        "# ferogram backends, through `SessionBackend`\n\n\
         Command: `cd compare/ferogram && cargo run --release -- {max_peers} {rounds}`. \
         Medians of {rounds} rounds, systems interleaved in each round. `sqlite-full` is \
         ferogram's `SqliteBackend` with `PRAGMA synchronous=FULL` set on its own connection \
         after it opened (the durable run); `binary-file` never syncs.\n"
    );
    println!("## save: a snapshot with 1% changed (0.5% new hashes, 0.5% new peers)\n");
    println!(
        "| peers | sessiondb | binary-file | sqlite-normal | sqlite-full | vs binary | vs sqlite-full | load: sessiondb | binary-file | sqlite-normal | sqlite-full |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for n in [10_000, 100_000, 1_000_000] {
        if n <= max_peers {
            save_and_load(&root.join(format!("save-{n}")), n, rounds);
        }
    }

    println!(
        "\n## apply_update_state (session of {UPDATE_PEERS} peers), calls per second\n\n\
         One writer: `Primary` {ONE_WRITER_CALLS} times per round. {THREADS} threads: \
         `Channel` on its own channel, {CALLS_PER_THREAD} times each per round; `lost`: \
         channels whose stored pts is not the last one acknowledged.\n"
    );
    println!("| system | one writer | {THREADS} threads | lost |");
    println!("|---|---|---|---|");
    updates(&root.join("updates"), rounds);
    let _ = std::fs::remove_dir_all(&root);
}

fn open(system: &str, dir: &Path) -> Arc<dyn SessionBackend> {
    std::fs::create_dir_all(dir).expect("creating the run directory");
    match system {
        "sessiondb" => Arc::new(sessiondb::FerogramSession::open(dir.join("bot")).expect("open")),
        "binary-file" => Arc::new(BinaryFileBackend::new(dir.join("bot.session"))),
        "sqlite-normal" => Arc::new(SqliteBackend::open(dir.join("bot.sqlite")).expect("open")),
        _ => sqlite_full::open(&dir.join("bot.sqlite")),
    }
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn save_and_load(dir: &Path, n: usize, rounds: usize) {
    let mut client = Client::with_peers(n);
    let backends: Vec<_> = SYSTEMS.iter().map(|s| open(s, &dir.join(s))).collect();
    let first = client.snapshot();
    for b in &backends {
        b.save(&first).expect("first save");
    }
    let mut saves = vec![Vec::new(); SYSTEMS.len()];
    let mut last = first;
    for _ in 0..rounds {
        client.churn(n / 100);
        last = client.snapshot();
        for (i, b) in backends.iter().enumerate() {
            saves[i].push(timed(|| b.save(&last).expect("save")));
        }
    }
    let mut loads = vec![Vec::new(); SYSTEMS.len()];
    let mut wrong = vec![None; SYSTEMS.len()];
    for _ in 0..rounds {
        for (i, b) in backends.iter().enumerate() {
            let mut got = Ok(None);
            loads[i].push(timed(|| got = b.load()));
            // ferogram renames a file it cannot read and loads nothing: that is a loss too.
            let got = got.and_then(|g| g.ok_or_else(|| std::io::Error::other("no session")));
            wrong[i] = match got {
                Ok(g) => client::differs(&last, Some(&g)),
                Err(e) => Some(format!("load failed: {e}")),
            };
        }
    }
    let mark = |i: usize| if wrong[i].is_some() { " ✗" } else { "" };
    let saves: Vec<Duration> = saves.into_iter().map(median).collect();
    let loads: Vec<Duration> = loads.into_iter().map(median).collect();
    let ratio = |i: usize| saves[i].as_secs_f64() / saves[0].as_secs_f64();
    println!(
        "| {n} | {} | {} | {} | {} | {:.1}× | {:.1}× | {}{} | {}{} | {}{} | {}{} |",
        ms(saves[0]),
        ms(saves[1]),
        ms(saves[2]),
        ms(saves[3]),
        ratio(1),
        ratio(3),
        ms(loads[0]),
        mark(0),
        ms(loads[1]),
        mark(1),
        ms(loads[2]),
        mark(2),
        ms(loads[3]),
        mark(3),
    );
    for (i, w) in wrong.iter().enumerate() {
        if let Some(w) = w {
            println!("|  ✗ {}: {w} | | | | | | | | | | |", SYSTEMS[i]);
        }
    }
}

fn updates(dir: &Path, rounds: usize) {
    let base = Client::with_peers(UPDATE_PEERS).snapshot();
    let backends: Vec<_> = SYSTEMS.iter().map(|s| open(s, &dir.join(s))).collect();
    for b in &backends {
        b.save(&base).expect("first save");
    }
    let (mut one, mut many) = (
        vec![Vec::new(); SYSTEMS.len()],
        vec![Vec::new(); SYSTEMS.len()],
    );
    let mut lost = vec![0usize; SYSTEMS.len()];
    for round in 0..rounds as i32 {
        for (i, b) in backends.iter().enumerate() {
            let from = base.updates_state.pts + round * ONE_WRITER_CALLS;
            one[i].push(timed(|| {
                for pts in from + 1..=from + ONE_WRITER_CALLS {
                    let change = UpdateStateChange::Primary {
                        pts,
                        date: pts,
                        seq: pts,
                    };
                    b.apply_update_state(change).expect("one writer");
                }
            }));
            let from = round * CALLS_PER_THREAD;
            many[i].push(timed(|| {
                std::thread::scope(|s| {
                    for t in 0..THREADS {
                        s.spawn(move || {
                            for pts in from + 1..=from + CALLS_PER_THREAD {
                                let change = UpdateStateChange::Channel {
                                    id: channel(t),
                                    pts,
                                };
                                // ferogram ignores these errors; a lost write shows below.
                                let _ = b.apply_update_state(change);
                            }
                        });
                    }
                });
            }));
            let state = b.load().expect("load").expect("a session").updates_state;
            let last = from + CALLS_PER_THREAD;
            lost[i] += (0..THREADS)
                .filter(|&t| !state.channels.contains(&(channel(t), last)))
                .count();
        }
    }
    for (i, system) in SYSTEMS.iter().enumerate() {
        let rate = |d: Duration, calls: i32| format!("{:.0}/s", f64::from(calls) / d.as_secs_f64());
        println!(
            "| {system} | {} | {} | {} of {} |",
            rate(median(one[i].clone()), ONE_WRITER_CALLS),
            rate(median(many[i].clone()), CALLS_PER_THREAD * THREADS as i32),
            lost[i],
            THREADS * rounds
        );
    }
    let speedup = |v: &Vec<Vec<Duration>>, other: usize| {
        median(v[other].clone()).as_secs_f64() / median(v[0].clone()).as_secs_f64()
    };
    println!(
        "\nsessiondb against sqlite-full: one writer {:.1}×, {THREADS} threads {:.1}×; \
         against sqlite-normal: {:.1}×, {:.1}×.",
        speedup(&one, 3),
        speedup(&many, 3),
        speedup(&one, 2),
        speedup(&many, 2)
    );
}

fn channel(t: usize) -> i64 {
    1_000_000 + t as i64
}
