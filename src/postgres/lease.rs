//! Account leases: one row per account naming its holder, a fencing token that grows at
//! every change of holder, and an expiry the holder renews. Every write transaction locks
//! the lease row and checks the token (`writer::FENCE`), so a worker that lost its lease
//! (paused, partitioned, or simply slow) cannot write after another took over.

use std::time::Duration;

use super::connection::server;
use crate::error::{Error, Result};

/// Exclusive use of one account by one worker until it expires (server time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The account.
    pub account: String,
    /// The worker holding it.
    pub holder: String,
    /// The fencing token: larger than every earlier holder's.
    pub token: i64,
}

fn millis(ttl: Duration) -> Result<i64> {
    match i64::try_from(ttl.as_millis()) {
        Ok(ms) if ms > 0 => Ok(ms),
        _ => Err(Error::InvalidArgument(format!(
            "a lease lasts at least 1 ms (asked for {ttl:?})"
        ))),
    }
}

/// Takes the lease if it is free, expired, or already this worker's (then renewed, with a
/// new token: a restarted worker must not share writes with its previous life).
pub(super) async fn acquire(
    client: &tokio_postgres::Client,
    worker: &str,
    account: &str,
    ttl: Duration,
) -> Result<Lease> {
    crate::model::validate_account(account)?;
    if let Err(e) = crate::model::validate_new_account(account) {
        // A name from before the stricter rule still opens; a new one must pass it.
        let held = client
            .query_opt(
                "SELECT 1 FROM sessiondb_sessions WHERE account = $1",
                &[&account],
            )
            .await
            .map_err(server)?;
        if held.is_none() {
            return Err(e);
        }
    }
    let ms = millis(ttl)?;
    let row = client
        .query_opt(
            "INSERT INTO sessiondb_leases (account, holder, token, expires_at) \
             VALUES ($1, $2, 1, now() + $3::BIGINT * INTERVAL '1 millisecond') \
             ON CONFLICT (account) DO UPDATE SET holder = excluded.holder, \
             token = sessiondb_leases.token + 1, expires_at = excluded.expires_at \
             WHERE sessiondb_leases.expires_at <= now() \
             OR sessiondb_leases.holder = excluded.holder \
             RETURNING token",
            &[&account, &worker, &ms],
        )
        .await
        .map_err(server)?;
    if let Some(row) = row {
        return Ok(Lease {
            account: account.to_owned(),
            holder: worker.to_owned(),
            token: row.get(0),
        });
    }
    let holder = client
        .query_opt(
            "SELECT holder FROM sessiondb_leases WHERE account = $1",
            &[&account],
        )
        .await
        .map_err(server)?
        .map(|r| r.get::<_, String>(0))
        .unwrap_or_default();
    Err(Error::AccountLocked {
        account: account.to_owned(),
        holder,
    })
}

pub(super) async fn renew(
    client: &tokio_postgres::Client,
    lease: &Lease,
    ttl: Duration,
) -> Result<()> {
    let ms = millis(ttl)?;
    let n = client
        .execute(
            "UPDATE sessiondb_leases \
             SET expires_at = now() + $3::BIGINT * INTERVAL '1 millisecond' \
             WHERE account = $1 AND token = $2 AND expires_at > now()",
            &[&lease.account, &lease.token, &ms],
        )
        .await
        .map_err(server)?;
    if n == 1 { Ok(()) } else { Err(lost(lease)) }
}

pub(super) async fn release(client: &tokio_postgres::Client, lease: &Lease) -> Result<()> {
    client
        .execute(
            "DELETE FROM sessiondb_leases WHERE account = $1 AND token = $2",
            &[&lease.account, &lease.token],
        )
        .await
        .map_err(server)?;
    Ok(())
}

pub(super) fn lost(lease: &Lease) -> Error {
    Error::LeaseLost {
        account: lease.account.clone(),
        token: lease.token,
    }
}
