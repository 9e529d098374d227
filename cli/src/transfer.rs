//! `move` and `copy`: one account between two places, each a store path or a PostgreSQL
//! database (`postgres://…`, or `pg:` then a key=value connection string). The copy is
//! checked against the source before `move` deletes the source's account.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use clap::Args;
use serde_json::json;
use sessiondb::{Error, Result, SessionStore};

use crate::{AccountArg, Outcome, print_json, read};

#[derive(Args)]
pub struct TransferArgs {
    /// Where the account is: a store path, `postgres://…`, or `pg:host=… dbname=…`.
    pub from: OsString,
    /// Where it goes (same forms). The account must not exist there yet.
    pub to: OsString,
    #[command(flatten)]
    pub account: AccountArg,
    /// The worker name this tool holds PostgreSQL leases under while it copies.
    #[arg(long, default_value = "sessiondb-cli")]
    pub worker: String,
    #[arg(long)]
    pub json: bool,
}

/// A PostgreSQL connection string, if `place` names a database rather than a store.
fn database(place: &OsString) -> Option<&str> {
    let place = place.to_str()?;
    if place.starts_with("postgres://") || place.starts_with("postgresql://") {
        Some(place)
    } else {
        place.strip_prefix("pg:")
    }
}

async fn open(place: &OsString, worker: &str) -> Result<Arc<dyn SessionStore>> {
    match database(place) {
        None => Ok(Arc::new(read::open_writer(Path::new(place))?)),
        #[cfg(feature = "postgres")]
        Some(url) => Ok(Arc::new(sessiondb::PgStore::connect(url, worker).await?)),
        #[cfg(not(feature = "postgres"))]
        Some(_) => {
            let _ = worker;
            Err(Error::InvalidArgument(
                "this build has no PostgreSQL support (build the CLI with --features postgres)"
                    .into(),
            ))
        }
    }
}

/// Where a place is, for messages: never a connection string (it may hold a password).
fn shown(place: &OsString) -> String {
    if database(place).is_some() {
        "PostgreSQL".into()
    } else {
        Path::new(place).display().to_string()
    }
}

pub fn run(args: &TransferArgs, delete_source: bool) -> Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "starting the async runtime".into(),
            source,
        })?;
    runtime.block_on(async {
        let from = open(&args.from, &args.worker).await?;
        let to = open(&args.to, &args.worker).await?;
        let account = &args.account.account;
        let copied = if delete_source {
            sessiondb::move_account(from.as_ref(), to.as_ref(), account).await
        } else {
            sessiondb::copy_account(from.as_ref(), to.as_ref(), account).await
        };
        // Close both either way: a store's lock and a database's leases are let go.
        let closed = (from.close().await, to.close().await);
        let report = copied?;
        closed.0?;
        closed.1?;
        let verb = if delete_source { "moved" } else { "copied" };
        if args.json {
            print_json(&json!({
                "account": account, "action": verb, "dcs": report.dcs,
                "channels": report.channels, "peers": report.peers,
            }));
        } else {
            println!(
                "{verb} account {account:?} from {} to {}: {} DCs, {} channels, {} peers (checked)",
                shown(&args.from),
                shown(&args.to),
                report.dcs,
                report.channels,
                report.peers
            );
        }
        Ok(Outcome::Ok)
    })
}
