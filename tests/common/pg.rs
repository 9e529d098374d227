//! The PostgreSQL server the shared-backend tests run against (`SESSIONDB_PG_URL`, which
//! `.ci/run` sets after starting one).

/// The server's URL; without one the caller skips, except under `CI=true`, where a missing
/// server fails the run.
pub fn url() -> Option<String> {
    match std::env::var("SESSIONDB_PG_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but SESSIONDB_PG_URL is not set: .ci/run must start PostgreSQL")
        }
        Err(_) => {
            eprintln!("skipped: set SESSIONDB_PG_URL to run the PostgreSQL tests");
            None
        }
    }
}

/// A name no earlier run used.
pub fn fresh(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{label}-{}-{nanos}", std::process::id())
}

/// A new, empty database on the server of `url`; returns the URL that opens it.
pub async fn fresh_database(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let name = fresh("sessiondb_t").replace('-', "_");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    assert!(
        !url.contains("://"),
        "use a key=value connection string in SESSIONDB_PG_URL"
    );
    // In a key=value string the last dbname wins.
    format!("{url} dbname={name}")
}

/// Runs this test binary's test `name` alone in a child process with `env` set, and returns
/// it once it printed `want` lines starting with `HELD` or `ACK` (and those lines).
pub fn spawn_child(
    name: &str,
    env: &[(&str, &str)],
    want: usize,
) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let line = line.rsplit(" ... ").next().unwrap_or_default().to_owned();
        if line.starts_with("HELD") || line.starts_with("ACK") {
            lines.push(line);
        }
        if lines.len() >= want {
            break;
        }
    }
    (child, lines)
}
