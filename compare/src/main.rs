//! The side-by-side comparison. `compare <system> <workload> <dir> <peers>` runs one system
//! on one workload in this process and prints a RESULT line; `compare report [peers]
//! [rounds]` runs every system (grammers-session from its own binary) on every workload,
//! interleaved over rounds, each in a fresh process and directory, and writes the report;
//! `compare scale [max_peers]` measures sessiondb alone as the store grows (benches/SCALE.md);
//! `compare pg <url> [peers] [rounds]` the PostgreSQL backend (benches/REPORT-postgres.md).

#[path = "common.rs"]
mod common;
mod pg;
mod report;
mod scale;
mod session_workloads;
mod systems;

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    match argv.get(1).map(String::as_str) {
        Some("report") => {
            let peers = argv.get(2).and_then(|v| v.parse().ok()).unwrap_or(200_000);
            let rounds = argv.get(3).and_then(|v| v.parse().ok()).unwrap_or(3);
            report::run(peers, rounds);
        }
        Some("scale") => {
            let max = argv
                .get(2)
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_000_000);
            scale::run(max);
        }
        Some("pg") if argv.len() >= 3 => {
            let peers = argv.get(3).and_then(|v| v.parse().ok()).unwrap_or(100_000);
            let rounds = argv.get(4).and_then(|v| v.parse().ok()).unwrap_or(3);
            pg::run(&argv[2], peers, rounds);
        }
        Some("scale-one") if argv.len() >= 5 => {
            let n = argv[4].parse().unwrap_or(10_000);
            scale::run_one(&argv[2], std::path::Path::new(&argv[3]), n);
        }
        Some(system) if argv.len() >= 5 => {
            let workload = &argv[2];
            let dir = std::path::PathBuf::from(&argv[3]);
            let n: u64 = argv[4].parse().unwrap_or(200_000);
            let _ = std::fs::create_dir_all(&dir);
            match systems::run(system, workload, &dir, n) {
                Some(outcome) => outcome.print(system, workload),
                None => println!("RESULT system={system} workload={workload} value=na"),
            }
        }
        _ => {
            eprintln!(
                "usage: compare report [peers] [rounds] | compare <system> <workload> <dir> <peers>"
            );
            std::process::exit(2);
        }
    }
}
