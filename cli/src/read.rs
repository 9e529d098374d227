//! Commands that read a store (read-only opens, beside a running bot), plus the two that
//! rewrite it whole: `backup` and `compact`, and `accounts delete`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};
use sessiondb::{DataCenter, Options, Peer, Result, Session, Store};

use crate::{AccountArg, Outcome, passphrase, print_json};

fn open(store: &Path) -> Result<Store> {
    let options = Options {
        cache_size: 16 << 20,
        ..Options::default()
    };
    Store::open_read_only_with(store, passphrase::options(store, options)?)
}

/// Opens `store` for writing (with its passphrase if it is encrypted), creating it if new.
pub fn open_writer(store: &Path) -> Result<Store> {
    Store::open_with(store, passphrase::options(store, Options::default())?)
}

/// Refuses a path where no store is: a command that changes a store never creates one
/// (`compact typo` must not make `typo.session/` and report success).
pub fn existing(store: &Path) -> Result<()> {
    let dir = sessiondb::store_dir(std::path::Path::new(store));
    if dir.is_dir() {
        return Ok(());
    }
    Err(sessiondb::Error::InvalidArgument(format!(
        "no store at {} (looked for {})",
        store.display(),
        dir.display()
    )))
}

/// Opens an existing store for writing.
fn open_existing_writer(store: &Path) -> Result<Store> {
    existing(store)?;
    open_writer(store)
}

pub fn accounts(store: &Path, json: bool) -> Result<Outcome> {
    let names = open(store)?.accounts()?;
    if json {
        print_json(&json!(names));
    } else {
        names.iter().for_each(|n| println!("{n}"));
    }
    Ok(Outcome::Ok)
}

pub fn delete_account(store: &Path, account: &str) -> Result<Outcome> {
    let store = open_existing_writer(store)?;
    if !store.accounts()?.iter().any(|a| a == account) {
        eprintln!("account {account:?} does not exist");
        return Ok(Outcome::NotOk);
    }
    store.delete_account(account)?;
    store.close()?;
    println!("deleted account {account:?}");
    Ok(Outcome::Ok)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn dc_json(dc: &DataCenter, secrets: bool) -> Value {
    let mut v = json!({
        "id": dc.id,
        "ipv4": dc.ipv4.map(|a| a.to_string()),
        "ipv6": dc.ipv6.map(|a| a.to_string()),
        "auth_key": dc.auth_key.is_some(),
        "time_offset": dc.time_offset,
    });
    if secrets {
        v["auth_key_hex"] = json!(dc.auth_key.as_ref().map(|k| hex(k.as_bytes())));
        v["server_salt"] = json!(dc.server_salt);
    }
    v
}

fn session_json(s: &Session, peers: u64, secrets: bool) -> Value {
    json!({
        "home_dc": s.home_dc,
        "dcs": s.dcs.iter().map(|d| dc_json(d, secrets)).collect::<Vec<_>>(),
        "user": s.user.as_ref().map(|u| json!({
            "id": u.id, "dc": u.dc, "bot": u.bot, "username": u.username,
        })),
        "update_state": s.update_state.map(|st| json!({
            "pts": st.pts, "qts": st.qts, "date": st.date, "seq": st.seq,
        })),
        "channels": s.channels.len(),
        "channel_pts": s.channels.iter().map(|(id, pts)| json!({"id": id, "pts": pts})).collect::<Vec<_>>(),
        "app": {
            "api_id": s.app.api_id,
            "test_mode": s.app.test_mode,
            "takeout_id": s.app.takeout_id,
            "created_at": s.app.created_at,
            "custom_fields": s.app.custom.keys().collect::<Vec<_>>(),
        },
        "peers": peers,
    })
}

pub fn inspect(store: &Path, account: &str, secrets: bool, as_json: bool) -> Result<Outcome> {
    let store = open(store)?;
    let acc = store.account(account)?;
    let Some(session) = acc.session()? else {
        eprintln!("account {account:?} does not exist");
        return Ok(Outcome::NotOk);
    };
    let mut v = session_json(&session, acc.peer_count()?, secrets);
    let (min_peers, token, endpoints) = (
        acc.min_peers()?.len(),
        acc.login_token()?,
        acc.dc_endpoints()?,
    );
    v["min_peers"] = json!(min_peers);
    v["login_token"] = json!(token.is_some());
    v["dc_endpoints"] = json!(
        endpoints
            .iter()
            .map(|e| json!({"dc": e.dc, "address": e.address, "flags": e.flags}))
            .collect::<Vec<_>>()
    );
    if secrets {
        v["login_token_hex"] = json!(token.as_ref().map(|t| hex(t.as_bytes())));
    }
    if as_json {
        print_json(&json!({ "account": account, "session": v }));
        return Ok(Outcome::Ok);
    }
    println!("account {account:?}");
    match session.home_dc {
        Some(dc) => println!("  home DC: {dc}"),
        None => println!("  home DC: not set"),
    }
    for dc in &session.dcs {
        let addr = |a: Option<String>| a.unwrap_or_else(|| "-".into());
        let key = match (&dc.auth_key, secrets) {
            (Some(k), true) => hex(k.as_bytes()),
            (Some(_), false) => "present".into(),
            (None, _) => "none".into(),
        };
        println!(
            "  DC {}: ipv4 {} ipv6 {} auth key {key}",
            dc.id,
            addr(dc.ipv4.map(|a| a.to_string())),
            addr(dc.ipv6.map(|a| a.to_string())),
        );
        if secrets {
            println!("    server salt {}", dc.server_salt);
        }
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
    println!("  min-peer contexts: {min_peers}");
    match (&token, secrets) {
        (Some(t), true) => println!("  login token: {}", hex(t.as_bytes())),
        (Some(_), false) => println!("  login token: present"),
        (None, _) => println!("  login token: none"),
    }
    for e in &endpoints {
        println!("  DC {} endpoint {} (flags {})", e.dc, e.address, e.flags);
    }
    if let Some(api_id) = session.app.api_id {
        println!("  api_id: {api_id}");
    }
    if session.app.test_mode {
        println!("  test mode: yes");
    }
    Ok(Outcome::Ok)
}

pub fn stats(store: &Path, as_json: bool) -> Result<Outcome> {
    let store = open(store)?;
    let s = store.stats()?;
    if as_json {
        let accounts: Vec<Value> = s
            .accounts
            .iter()
            .map(
                |a| json!({"name": a.name, "peers": a.peers, "channels": a.channels, "dcs": a.dcs}),
            )
            .collect();
        print_json(&json!({
            "store": store.path(),
            "index_file_bytes": s.index_file_bytes,
            "log_bytes": s.log_bytes,
            "checkpoint_lsn": s.checkpoint_lsn,
            "last_lsn": s.last_lsn,
            "records_since_checkpoint": s.records_since_checkpoint,
            "accounts": accounts,
        }));
        return Ok(Outcome::Ok);
    }
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
    Ok(Outcome::Ok)
}

pub fn verify(store: &Path, as_json: bool) -> Result<Outcome> {
    let r = open(store)?.verify()?;
    let outcome = if r.is_ok() {
        Outcome::Ok
    } else {
        Outcome::NotOk
    };
    if as_json {
        print_json(&json!({
            "ok": r.is_ok(),
            "log_segments": r.log_segments,
            "log_records": r.log_records,
            "log_bytes": r.log_bytes,
            "accounts": r.accounts,
            "dcs": r.dcs,
            "channels": r.channels,
            "peers": r.peers,
            "index_entries": r.index_entries,
            "problems": r.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        }));
        return Ok(outcome);
    }
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
    Ok(outcome)
}

#[derive(Args)]
#[group(id = "query", required = true, multiple = false)]
pub struct PeersArgs {
    store: PathBuf,
    #[command(flatten)]
    account: AccountArg,
    /// Marked id (user +id, chat -id, channel -(10^12 + id)).
    #[arg(long, group = "query", allow_hyphen_values = true)]
    id: Option<i64>,
    /// Username, with or without @.
    #[arg(long, group = "query")]
    username: Option<String>,
    /// Phone number, any formatting.
    #[arg(long, group = "query")]
    phone: Option<String>,
    /// List peers in id order.
    #[arg(long, group = "query")]
    list: bool,
    /// With --list: start after this id.
    #[arg(long, allow_hyphen_values = true)]
    after: Option<i64>,
    /// With --list: at most this many.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Also print access hashes.
    #[arg(long)]
    show_secrets: bool,
    #[arg(long)]
    json: bool,
}

fn peer_json(p: &Peer, secrets: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "kind": format!("{:?}", p.kind),
        "usernames": p.usernames,
        "phone": p.phone,
        "name": p.name,
        "is_self": p.is_self,
        "min": p.min,
        "access_hash": p.access_hash.is_some(),
        "updated_at": p.updated_at,
    });
    if secrets {
        v["access_hash"] = json!(p.access_hash);
    }
    v
}

pub fn peers(a: &PeersArgs) -> Result<Outcome> {
    let store = open(&a.store)?;
    let acc = store.account(&a.account.account)?;
    let found: Vec<Peer> = if let Some(id) = a.id {
        acc.peer(id)?.into_iter().collect()
    } else if let Some(name) = &a.username {
        acc.peer_by_username(name)?.into_iter().collect()
    } else if let Some(phone) = &a.phone {
        acc.peer_by_phone(phone)?.into_iter().collect()
    } else {
        acc.peers(a.after, a.limit)?
    };
    if a.json {
        let list: Vec<Value> = found.iter().map(|p| peer_json(p, a.show_secrets)).collect();
        print_json(&json!(list));
    } else {
        for p in &found {
            let hash = match (p.access_hash, a.show_secrets) {
                (Some(h), true) => h.to_string(),
                (Some(_), false) => "yes".into(),
                (None, _) => "none".into(),
            };
            println!(
                "{} {:?} @{} phone {} name {:?} hash {hash}{}",
                p.id,
                p.kind,
                p.usernames.join(",@"),
                p.phone.as_deref().unwrap_or("-"),
                p.name.as_deref().unwrap_or(""),
                if p.is_self == Some(true) {
                    " (self)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(if found.is_empty() && !a.list {
        Outcome::NotOk
    } else {
        Outcome::Ok
    })
}

pub fn backup(store: &Path, dest: &Path) -> Result<Outcome> {
    let report = open(store)?.backup(dest)?;
    println!(
        "backup written to {}: {} accounts, {} peers",
        report.path.display(),
        report.accounts,
        report.peers
    );
    Ok(Outcome::Ok)
}

pub fn compact(store: &Path, as_json: bool) -> Result<Outcome> {
    existing(store)?;
    let r = sessiondb::compact_with(store, passphrase::options(store, Options::default())?)?;
    if as_json {
        print_json(&json!({
            "bytes_before": r.bytes_before,
            "bytes_after": r.bytes_after,
            "accounts": r.accounts,
            "peers": r.peers,
        }));
    } else {
        println!(
            "compacted: {} -> {} bytes ({} accounts, {} peers)",
            r.bytes_before, r.bytes_after, r.accounts, r.peers
        );
    }
    Ok(Outcome::Ok)
}

#[derive(Args)]
pub struct PruneArgs {
    store: PathBuf,
    #[command(flatten)]
    account: AccountArg,
    /// Keep at most this many peers (the most recently written).
    #[arg(long)]
    max_peers: Option<u64>,
    /// Remove peers not written for this many days.
    #[arg(long)]
    older_than_days: Option<u64>,
    #[arg(long)]
    json: bool,
}

pub fn prune(a: &PruneArgs) -> Result<Outcome> {
    let store = open_existing_writer(&a.store)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let policy = sessiondb::PrunePolicy {
        written_before: a
            .older_than_days
            .map(|d| now.saturating_sub(d.saturating_mul(86_400) as i64)),
        max_peers: a.max_peers,
    };
    let r = store.account(&a.account.account)?.prune(&policy)?;
    store.close()?;
    if a.json {
        print_json(
            &json!({"examined": r.examined, "removed": r.removed, "protected": r.protected}),
        );
    } else {
        println!(
            "examined {} peers, removed {}, kept {} protected (self user, channels with pts)",
            r.examined, r.removed, r.protected
        );
    }
    Ok(Outcome::Ok)
}

pub fn rekey(store: &Path, rotate: bool, new: &passphrase::NewKeyArgs) -> Result<Outcome> {
    if !sessiondb::is_encrypted(store) {
        return Err(sessiondb::Error::InvalidArgument(format!(
            "{} is not encrypted (encryption is chosen when a store is created: \
             `sessiondb import --encrypt`)",
            store.display()
        )));
    }
    // Ask for everything before taking the writer's lock: a running bot waits meanwhile.
    let options = passphrase::options(store, Options::default())?;
    let new = passphrase::new_encryption(new)?;
    if rotate {
        sessiondb::rotate(store, options, &new)?;
        println!(
            "rotated {}: a new data key, every value re-encrypted; only the new \
             passphrase opens it, and no older key file (as in earlier backups) opens \
             anything it holds now or later",
            store.display()
        );
        return Ok(Outcome::Ok);
    }
    let writer = Store::open_with(store, options)?;
    writer.rekey(&new)?;
    writer.close()?;
    println!(
        "rekeyed {}: the new passphrase opens it and the old one no longer opens this \
         key file; the data key is unchanged, so an older copy of the key file (as in \
         earlier backups) still opens with the old passphrase and decrypts this store's \
         data; after a leak use `rekey --rotate`",
        store.display()
    );
    Ok(Outcome::Ok)
}
