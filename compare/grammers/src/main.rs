//! grammers-session 0.11 `SqliteSession` (libsql) under the comparison workloads, in its own
//! process: `compare-grammers <workload> <dir> <peers>` prints a RESULT line.

#[path = "../../src/common.rs"]
mod common;
#[path = "../../src/session_workloads.rs"]
mod session_workloads;

use std::sync::Arc;

use grammers_session::storages::SqliteSession;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = common::args();
    let path = a.dir.join("bot.grammers.sqlite");
    let _ = std::fs::create_dir_all(&a.dir);
    let s = Arc::new(SqliteSession::open(&path).await.expect("open"));
    // SqliteSession commits every call: there is no deferred work to checkpoint.
    match session_workloads::run(s, &a.workload, &a.dir, a.n, || {}).await {
        Some(o) => o.print("grammers", &a.workload),
        None => println!("RESULT system=grammers workload={} value=na", a.workload),
    }
}
