//! Shared by the comparison binaries (included with `#[path]`, no dependencies): workload
//! names, synthetic peers, measurements and the RESULT line format.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

/// A deterministic mixer: ids, hashes and lookup orders.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Peer `i`: a user id, its hash, username and phone.
pub fn peer(i: u64) -> (i64, i64, String, String) {
    (
        i as i64 + 1,
        mix(i) as i64,
        format!("user_{i}"),
        format!("{}", 10_000_000_000 + i),
    )
}

/// Bytes this process has written to storage so far (`/proc/self/io`).
pub fn write_bytes() -> u64 {
    proc_field("/proc/self/io", "write_bytes:")
}

/// Peak resident set size in KiB (`VmHWM`).
pub fn peak_rss_kib() -> u64 {
    proc_field("/proc/self/status", "VmHWM:")
}

fn proc_field(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Total size of the files under `path`.
pub fn disk_bytes(path: &Path) -> u64 {
    if path.is_file() {
        return std::fs::metadata(path).map_or(0, |m| m.len());
    }
    std::fs::read_dir(path)
        .map(|d| d.flatten().map(|e| disk_bytes(&e.path())).sum())
        .unwrap_or(0)
}

pub fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v.get(((v.len().max(1) - 1) as f64 * p) as usize)
        .copied()
        .unwrap_or_default()
}

/// One measured figure, printed for the report driver.
pub struct Outcome {
    pub value: f64,
    pub unit: &'static str,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub write_bytes_per_peer: Option<f64>,
    pub disk_bytes_per_peer: Option<f64>,
}

impl Outcome {
    pub fn rate(ops: u64, took: Duration) -> Outcome {
        Outcome {
            value: ops as f64 / took.as_secs_f64(),
            unit: "ops/s",
            p50: None,
            p99: None,
            write_bytes_per_peer: None,
            disk_bytes_per_peer: None,
        }
    }

    pub fn latencies(mut lat: Vec<Duration>) -> Outcome {
        let p50 = pct(&mut lat, 0.5);
        let p99 = pct(&mut lat, 0.99);
        Outcome {
            value: p50.as_nanos() as f64 / 1000.0,
            unit: "us",
            p50: Some(p50),
            p99: Some(p99),
            write_bytes_per_peer: None,
            disk_bytes_per_peer: None,
        }
    }

    pub fn print(&self, system: &str, workload: &str) {
        let opt = |d: Option<Duration>| {
            d.map_or("-".to_owned(), |d| {
                format!("{:.3}", d.as_nanos() as f64 / 1000.0)
            })
        };
        let optf = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        println!(
            "RESULT system={system} workload={workload} value={:.3} unit={} p50_us={} p99_us={} write_b_per_peer={} disk_b_per_peer={} peak_rss_kib={}",
            self.value,
            self.unit,
            opt(self.p50),
            opt(self.p99),
            optf(self.write_bytes_per_peer),
            optf(self.disk_bytes_per_peer),
            peak_rss_kib()
        );
    }
}

/// Times `f` once.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// Workloads every system implements (or reports as not applicable).
pub const WORKLOADS: &[&str] = &[
    "ingest_durable",
    "ingest_checkpoint",
    "lookup_id",
    "lookup_username",
    "self_user",
    "update_1",
    "update_64",
    "ingest_default",
];

pub struct Args {
    pub workload: String,
    pub dir: std::path::PathBuf,
    pub n: u64,
}

pub fn args() -> Args {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: {} <workload> <dir> <peers>", a[0]);
        std::process::exit(2);
    }
    Args {
        workload: a[1].clone(),
        dir: a[2].clone().into(),
        n: a[3].parse().unwrap_or(200_000),
    }
}
