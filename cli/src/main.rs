//! `sessiondb`: inspect, check and back up sessiondb stores — also while a bot runs on them
//! (every command opens the store read-only, beside the writer).
//!
//! Nothing it prints is secret: auth keys, salts and access hashes are never shown.

use std::process::ExitCode;

use sessiondb::{Options, Store};

const USAGE: &str = "usage:
  sessiondb accounts <store>               list the accounts
  sessiondb inspect  <store> [account]     what an account holds (no secrets)
  sessiondb stats    <store>               sizes, counts, log length, last checkpoint
  sessiondb verify   <store>               read everything back and check it
  sessiondb backup   <store> <dest>        write a consistent copy to <dest>.session/

<store> is a path such as `bot` (for bot.session/). Exit status: 0 ok, 1 problems found,
2 usage or error.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["accounts", store] => accounts(store),
        ["inspect", store] => inspect(store, sessiondb::DEFAULT_ACCOUNT),
        ["inspect", store, account] => inspect(store, account),
        ["stats", store] => stats(store),
        ["verify", store] => verify(store),
        ["backup", store, dest] => backup(store, dest),
        ["--help" | "-h" | "help"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sessiondb: {e}");
            ExitCode::from(2)
        }
    }
}

fn open(store: &str) -> sessiondb::Result<Store> {
    let options = Options {
        cache_size: 16 << 20,
        ..Options::default()
    };
    Store::open_read_only_with(store, options)
}

fn accounts(store: &str) -> sessiondb::Result<bool> {
    for name in open(store)?.accounts()? {
        println!("{name}");
    }
    Ok(true)
}

fn inspect(store: &str, account: &str) -> sessiondb::Result<bool> {
    let store = open(store)?;
    let acc = store.account(account)?;
    let Some(session) = acc.session()? else {
        println!("account {account:?}: does not exist");
        return Ok(false);
    };
    println!("account {account:?}");
    match session.home_dc {
        Some(dc) => println!("  home DC: {dc}"),
        None => println!("  home DC: not set"),
    }
    for dc in &session.dcs {
        let addr = |a: Option<String>| a.unwrap_or_else(|| "-".into());
        println!(
            "  DC {}: ipv4 {} ipv6 {} auth key {}",
            dc.id,
            addr(dc.ipv4.map(|a| a.to_string())),
            addr(dc.ipv6.map(|a| a.to_string())),
            if dc.auth_key.is_some() {
                "present"
            } else {
                "none"
            }
        );
    }
    match &session.user {
        Some(u) => println!(
            "  user: {} on DC {}{}",
            u.id,
            u.dc,
            if u.bot { " (bot)" } else { "" }
        ),
        None => println!("  user: not logged in"),
    }
    match session.update_state {
        Some(s) => println!(
            "  update state: pts {} qts {} date {} seq {}",
            s.pts, s.qts, s.date, s.seq
        ),
        None => println!("  update state: none"),
    }
    println!("  channels with pts: {}", session.channels.len());
    println!("  cached peers: {}", acc.peer_count()?);
    if let Some(api_id) = session.app.api_id {
        println!("  api_id: {api_id}");
    }
    if session.app.test_mode {
        println!("  test mode: yes");
    }
    Ok(true)
}

fn stats(store: &str) -> sessiondb::Result<bool> {
    let store = open(store)?;
    let s = store.stats()?;
    println!("store: {}", store.path().display());
    println!("index file: {} bytes", s.index_file_bytes);
    println!("last checkpoint: LSN {}", s.checkpoint_lsn);
    println!("newest record: LSN {}", s.last_lsn);
    println!("records since checkpoint: {}", s.records_since_checkpoint);
    for a in &s.accounts {
        println!(
            "account {:?}: {} peers, {} channels, {} DCs",
            a.name, a.peers, a.channels, a.dcs
        );
    }
    Ok(true)
}

fn verify(store: &str) -> sessiondb::Result<bool> {
    let store = open(store)?;
    let r = store.verify()?;
    println!(
        "checked {} log segments ({} records, {} bytes); {} accounts, {} DCs, {} channels, \
         {} peers, {} index entries",
        r.log_segments,
        r.log_records,
        r.log_bytes,
        r.accounts,
        r.dcs,
        r.channels,
        r.peers,
        r.index_entries
    );
    for p in &r.problems {
        println!("problem: {p}");
    }
    println!("{}", if r.is_ok() { "OK" } else { "PROBLEMS FOUND" });
    Ok(r.is_ok())
}

fn backup(store: &str, dest: &str) -> sessiondb::Result<bool> {
    let report = open(store)?.backup(dest)?;
    println!(
        "backup written to {}: {} accounts, {} peers",
        report.path.display(),
        report.accounts,
        report.peers
    );
    Ok(true)
}
