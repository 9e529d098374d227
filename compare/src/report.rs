//! The report driver: every (workload, system) in a fresh process and directory, systems
//! interleaved A B C… and rotated each round, medians with min–max, written to
//! `benches/REPORT.md`. `COMPARE_WORKLOADS`, `COMPARE_SYSTEMS` (comma-separated) and
//! `COMPARE_OUT` (file name under benches/) make partial runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::common::WORKLOADS;

const SYSTEMS: &[&str] = &[
    "sessiondb",
    "grammers",
    "rusqlite",
    "redb",
    "redb-bulk",
    "append",
    "sessiondb-grammers",
    "sessiondb-encrypted",
];

#[derive(Default)]
struct Samples {
    values: Vec<f64>,
    p99: Vec<f64>,
    unit: String,
    write: Vec<f64>,
    disk: Vec<f64>,
    rss: Vec<f64>,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

fn grammers_bin() -> Option<PathBuf> {
    let here = std::env::current_exe().ok()?;
    let root = here.ancestors().nth(3)?; // compare/target/release/compare → compare/
    let bin = root.join("grammers/target/release/sessiondb-compare-grammers");
    bin.exists().then_some(bin)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn span(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

pub fn run(peers: u64, rounds: usize) {
    let me = std::env::current_exe().expect("exe");
    let grammers = grammers_bin();
    if grammers.is_none() {
        eprintln!(
            "note: grammers/ is not built (cargo build --release in compare/grammers); skipping it"
        );
    }
    // Optional filters (comma-separated) for partial runs, written to another file.
    let only = |var: &str| -> Option<Vec<String>> {
        std::env::var(var)
            .ok()
            .map(|v| v.split(',').map(str::to_owned).collect())
    };
    let (only_workloads, only_systems) = (only("COMPARE_WORKLOADS"), only("COMPARE_SYSTEMS"));
    let wanted = |list: &Option<Vec<String>>, name: &str| {
        list.as_ref().is_none_or(|l| l.iter().any(|x| x == name))
    };
    let scratch = std::env::temp_dir().join(format!("sessiondb-compare-{}", std::process::id()));
    let mut results: BTreeMap<(String, String), Samples> = BTreeMap::new();
    for round in 0..rounds {
        for workload in WORKLOADS.iter().filter(|w| wanted(&only_workloads, w)) {
            let mut order: Vec<&str> = SYSTEMS
                .iter()
                .copied()
                .filter(|s| wanted(&only_systems, s))
                .collect();
            let len = order.len().max(1);
            order.rotate_left(round % len);
            for system in order {
                let dir = scratch.join(format!("{system}-{workload}-{round}"));
                let args = [
                    workload.to_string(),
                    dir.display().to_string(),
                    peers.to_string(),
                ];
                let out = match system {
                    "grammers" => match &grammers {
                        Some(bin) => Command::new(bin).args(&args).output(),
                        None => continue,
                    },
                    _ => Command::new(&me).arg(system).args(&args).output(),
                };
                let _ = std::fs::remove_dir_all(&dir);
                let Ok(out) = out else { continue };
                let text = String::from_utf8_lossy(&out.stdout);
                let Some(line) = text.lines().find(|l| l.starts_with("RESULT")) else {
                    eprintln!(
                        "{system} {workload}: no result ({})",
                        String::from_utf8_lossy(&out.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                    );
                    continue;
                };
                let Some(value) = field(line, "value").and_then(|v| v.parse::<f64>().ok()) else {
                    continue;
                };
                let s = results
                    .entry((workload.to_string(), system.to_string()))
                    .or_default();
                s.values.push(value);
                s.unit = field(line, "unit").unwrap_or("").to_owned();
                let num = |k: &str| field(line, k).and_then(|v| v.parse::<f64>().ok());
                if let Some(v) = num("p99_us") {
                    s.p99.push(v)
                }
                if let Some(v) = num("write_b_per_peer") {
                    s.write.push(v)
                }
                if let Some(v) = num("disk_b_per_peer") {
                    s.disk.push(v)
                }
                if let Some(v) = num("peak_rss_kib") {
                    s.rss.push(v)
                }
                eprintln!(
                    "round {round} {workload:<18} {system:<10} {value:.3} {}",
                    s.unit
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let report = render(&results, peers, rounds);
    print!("{report}");
    let name = std::env::var("COMPARE_OUT").unwrap_or_else(|_| "REPORT.md".into());
    let path = me
        .ancestors()
        .nth(4)
        .map(|root| root.join("benches").join(name));
    if let Some(path) = path.filter(|p| p.parent().is_some_and(|d| d.is_dir())) {
        let _ = std::fs::write(&path, &report);
        eprintln!("wrote {}", path.display());
    }
}

fn render(results: &BTreeMap<(String, String), Samples>, peers: u64, rounds: usize) -> String {
    let env: String = ["COMPARE_WORKLOADS", "COMPARE_SYSTEMS", "COMPARE_OUT"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v} ")))
        .collect();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let disk = Command::new("sh")
        .args(["-c", "df -h . | tail -1"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let date = Command::new("date")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let mut out = format!(
        "# Side-by-side report\n\n{date}; {nproc} cores; disk `{disk}`.\n\
         Command: `cd compare && (cd grammers && cargo build --release) && {env}cargo run --release -- report {peers} {rounds}`\n\n\
         {peers} peers, {rounds} rounds; every (workload, system) runs in a fresh process and directory, \
         systems interleaved and rotated each round. Median (min–max) over rounds; every write durable when acknowledged.\n\n\
         | workload | system | median | min–max | p99 µs | ratio vs sessiondb | write B/peer | disk B/peer | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for workload in WORKLOADS {
        let base = results
            .get(&(workload.to_string(), "sessiondb".to_owned()))
            .map(|s| median(&s.values));
        for system in SYSTEMS {
            let Some(s) = results.get(&(workload.to_string(), system.to_string())) else {
                continue;
            };
            let m = median(&s.values);
            let (lo, hi) = span(&s.values);
            // Higher is better for rates, lower for latencies: ratio = how many times better sessiondb is.
            let ratio = base.map(|b| if s.unit == "us" { m / b } else { b / m });
            let opt = |v: &[f64], scale: f64| {
                if v.is_empty() {
                    "–".to_owned()
                } else {
                    format!("{:.0}", median(v) / scale)
                }
            };
            out.push_str(&format!(
                "| {workload} | {system} | {m:.2} {} | {lo:.2}–{hi:.2} | {} | {} | {} | {} | {} |\n",
                s.unit,
                if s.p99.is_empty() { "–".to_owned() } else { format!("{:.2}", median(&s.p99)) },
                ratio.map_or("–".to_owned(), |r| format!("{r:.2}×")),
                opt(&s.write, 1.0),
                opt(&s.disk, 1.0),
                opt(&s.rss, 1024.0),
            ));
        }
    }
    out.push_str(
        "\nRatio: how many times better sessiondb is (higher throughput or lower latency); \
                  above 1 means sessiondb wins.\n",
    );
    out.push_str(&adapter_section(results));
    out.push_str(&encryption_section(results));
    out
}

/// The encrypted store against the plain one, same run (target: at most 1.5× slower).
fn encryption_section(results: &BTreeMap<(String, String), Samples>) -> String {
    let mut out = String::from(
        "\n## Encryption at rest: `sessiondb-encrypted` against `sessiondb`\n\n\
         The same workloads on a store opened with a passphrase (AES-256-GCM on every \
         record and value, keyed hashes for usernames and phones). Cost = encrypted / plain \
         (time per operation); the target is at most 1.5×.\n\n\
         | workload | encrypted | plain | cost |\n|---|---|---|---|\n",
    );
    let mut any = false;
    for workload in WORKLOADS {
        let get = |sys: &str| results.get(&(workload.to_string(), sys.to_owned()));
        let (Some(e), Some(p)) = (get("sessiondb-encrypted"), get("sessiondb")) else {
            continue;
        };
        any = true;
        let (me, mp) = (median(&e.values), median(&p.values));
        let cost = if e.unit == "us" { me / mp } else { mp / me };
        out.push_str(&format!(
            "| {workload} | {me:.2} {} | {mp:.2} {} | {cost:.2}× |\n",
            e.unit, p.unit
        ));
    }
    if any { out } else { String::new() }
}

/// sessiondb's grammers adapter against grammers' own `SqliteSession`, both driven through
/// grammers' `Session` trait from one async loop.
fn adapter_section(results: &BTreeMap<(String, String), Samples>) -> String {
    let mut out = String::from(
        "\n## grammers: `GrammersSession` against `SqliteSession`\n\n\
         Both driven through grammers' `Session` trait inside one tokio loop, each in its own process. \
         `ingest_default` is the adapter with its default peer durability (buffered; grammers' contract \
         lets `cache_peer` forget) against `SqliteSession`'s durable ingest.\n\n\
         | workload | adapter | SqliteSession | adapter better by |\n|---|---|---|---|\n",
    );
    let rows = [
        ("ingest_durable", "ingest_durable"),
        ("ingest_default", "ingest_durable"),
        ("lookup_id", "lookup_id"),
        ("self_user", "self_user"),
        ("update_1", "update_1"),
        ("update_64", "update_64"),
    ];
    let mut any = false;
    for (ours, theirs) in rows {
        let get = |w: &str, sys: &str| results.get(&(w.to_owned(), sys.to_owned()));
        let (Some(a), Some(g)) = (get(ours, "sessiondb-grammers"), get(theirs, "grammers")) else {
            continue;
        };
        any = true;
        let (ma, mg) = (median(&a.values), median(&g.values));
        let better = if a.unit == "us" { mg / ma } else { ma / mg };
        out.push_str(&format!(
            "| {ours} | {ma:.2} {} | {mg:.2} {} | {better:.1}× |\n",
            a.unit, g.unit
        ));
    }
    if any { out } else { String::new() }
}
