//! Group commit on the server. One task owns the write connection; every write queued while
//! a transaction runs goes into the next one, so many tasks' durable writes share one
//! commit (and one round trip, the statements being pipelined). Each transaction first
//! locks the lease rows of the accounts it writes and checks this worker's tokens: a write
//! for an account whose lease expired or was taken over is refused with `LeaseLost`, and a
//! takeover waits for the transaction to end, so it is ordered after it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::lease::{self, Lease};
use super::plan::{self, Plan, Prepared, Step, params};
use super::session::REGISTER;
use crate::error::{Error, Result};

/// Most requests in one transaction.
const MAX_BATCH: usize = 1024;
/// Attempts of a transaction the server asks to retry (serialization failure, deadlock:
/// distributed engines ask for this routinely).
const ATTEMPTS: usize = 3;

/// Locks the lease rows of the accounts `$1` and reads their tokens (unexpired rows only).
pub(super) const FENCE: &str = "SELECT account, token FROM sessiondb_leases \
     WHERE account = ANY($1) AND expires_at > now() FOR UPDATE";

/// What a request does to its account besides its plan.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Creates the account if it does not exist.
    Register,
    /// Deletes the account.
    Delete,
}

/// One queued write (or, without an account, a barrier: done once every earlier write is).
pub(super) struct Request {
    pub account: Option<String>,
    pub effect: Effect,
    pub plan: Plan,
    pub done: oneshot::Sender<Result<()>>,
}

/// This worker's view of a lease.
#[derive(Clone, Debug)]
pub(super) enum Slot {
    Held(Lease),
    /// Expired or taken over: writes are refused until `acquire` is called again.
    Lost(i64),
}

/// State the writer shares with the store's handle and the lease renewer.
pub(super) struct Shared {
    pub worker: String,
    pub ttl: Duration,
    pub leases: Mutex<HashMap<String, Slot>>,
    pub commits: AtomicU64,
}

impl Shared {
    pub fn slot(&self, account: &str) -> Option<Slot> {
        self.leases.lock().ok()?.get(account).cloned()
    }

    /// Marks a lease lost unless it was acquired again (with another token) meanwhile.
    pub fn mark_lost(&self, account: &str, token: i64) {
        if let Ok(mut m) = self.leases.lock()
            && let Some(slot) = m.get_mut(account)
            && matches!(slot, Slot::Held(l) if l.token == token)
        {
            *slot = Slot::Lost(token);
        }
    }

    pub fn set(&self, account: &str, slot: Option<Slot>) {
        if let Ok(mut m) = self.leases.lock() {
            match slot {
                Some(s) => m.insert(account.to_owned(), s),
                None => m.remove(account),
            };
        }
    }
}

/// An error for each of several requests refused for one reason.
pub(super) fn copy_error(e: &Error) -> Error {
    match e {
        Error::AccountLocked { account, holder } => Error::AccountLocked {
            account: account.clone(),
            holder: holder.clone(),
        },
        Error::LeaseLost { account, token } => Error::LeaseLost {
            account: account.clone(),
            token: *token,
        },
        Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
        Error::Closed => Error::Closed,
        Error::Server { message, code } => Error::Server {
            message: message.clone(),
            code: code.clone(),
        },
        other => Error::Server {
            message: other.to_string(),
            code: None,
        },
    }
}

/// The writer task: its connection (reconnected when the server dropped it) and the loop.
pub(super) async fn run(
    url: String,
    client: tokio_postgres::Client,
    shared: std::sync::Arc<Shared>,
    mut queue: mpsc::UnboundedReceiver<Request>,
) {
    let mut conn = (client, Prepared::default());
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        if conn.0.is_closed() {
            match super::connection::connect_client(&url).await {
                Ok(c) => conn = (c, Prepared::default()),
                Err(e) => {
                    for r in batch {
                        let _ = r.done.send(Err(copy_error(&e)));
                    }
                    continue;
                }
            }
        }
        commit(&conn.0, &conn.1, &shared, batch).await;
    }
}

/// The leases the batch's accounts are written under; accounts this worker never held are
/// acquired first. Refused accounts map to the reason.
async fn tokens(
    client: &tokio_postgres::Client,
    shared: &Shared,
    batch: &[Request],
) -> (BTreeMap<String, i64>, BTreeMap<String, Error>) {
    let (mut ok, mut refused) = (BTreeMap::new(), BTreeMap::new());
    let accounts: BTreeSet<&String> = batch.iter().filter_map(|r| r.account.as_ref()).collect();
    for account in accounts {
        match shared.slot(account) {
            Some(Slot::Held(l)) => {
                ok.insert(account.clone(), l.token);
            }
            Some(Slot::Lost(token)) => {
                let e = Error::LeaseLost {
                    account: account.clone(),
                    token,
                };
                refused.insert(account.clone(), e);
            }
            None => match lease::acquire(client, &shared.worker, account, shared.ttl).await {
                Ok(l) => {
                    ok.insert(account.clone(), l.token);
                    shared.set(account, Some(Slot::Held(l)));
                }
                Err(e) => {
                    refused.insert(account.clone(), e);
                }
            },
        }
    }
    (ok, refused)
}

async fn commit(
    client: &tokio_postgres::Client,
    prepared: &Prepared,
    shared: &Shared,
    batch: Vec<Request>,
) {
    let (mut tokens, mut refused) = tokens(client, shared, &batch).await;
    let mut outcome = Err(Error::Closed);
    let mut lost = Vec::new();
    for _ in 0..ATTEMPTS {
        outcome = attempt(client, prepared, &batch, &mut tokens, &mut lost).await;
        match &outcome {
            Err(e) if super::connection::retryable(e) => continue,
            _ => break,
        }
    }
    // Accounts whose token the server no longer holds: lost until acquired again.
    for (account, token) in lost {
        shared.mark_lost(&account, token);
        refused.insert(account.clone(), Error::LeaseLost { account, token });
    }
    if outcome.is_ok() {
        shared.commits.fetch_add(1, Ordering::Relaxed);
    }
    for r in batch {
        let result = match (&r.account, &outcome) {
            (Some(a), _) if refused.contains_key(a) => Err(copy_error(&refused[a])),
            (_, Ok(_)) => Ok(()),
            (_, Err(e)) => Err(copy_error(e)),
        };
        let _ = r.done.send(result);
    }
}

/// One try at the batch's transaction: `BEGIN`, the fence and every accepted plan in one
/// pipeline, then `COMMIT` if every lease held. Accounts that fail the fence move from
/// `tokens` to `lost`, the transaction is rolled back and run again without them.
async fn attempt(
    client: &tokio_postgres::Client,
    prepared: &Prepared,
    batch: &[Request],
    tokens: &mut BTreeMap<String, i64>,
    lost: &mut Vec<(String, i64)>,
) -> Result<()> {
    while !tokens.is_empty() {
        // Each account is created before its first write and again after a delete.
        let mut registers = Vec::new();
        let mut live: BTreeSet<&String> = BTreeSet::new();
        let accepted: Vec<&Request> = batch
            .iter()
            .filter(|r| r.account.as_ref().is_some_and(|a| tokens.contains_key(a)))
            .collect();
        for r in &accepted {
            let Some(account) = &r.account else { continue };
            match r.effect {
                Effect::Register if live.insert(account) => registers.push(Some(Step {
                    sql: REGISTER,
                    params: params![account.clone()],
                })),
                Effect::Delete => {
                    live.remove(account);
                    registers.push(None);
                }
                Effect::Register => registers.push(None),
            }
        }
        let mut steps: Vec<&Step> = Vec::new();
        for (r, register) in accepted.iter().zip(&registers) {
            steps.extend(register.as_ref());
            steps.extend(r.plan.0.iter());
        }
        let names: Vec<&String> = tokens.keys().collect();
        let rows = plan::begin_fenced(client, prepared, FENCE, &[&names], &steps).await?;
        let valid: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let failed: Vec<(String, i64)> = tokens
            .iter()
            .filter(|(account, token)| valid.get(*account) != Some(*token))
            .map(|(a, t)| (a.clone(), *t))
            .collect();
        if failed.is_empty() {
            return plan::end(client, true).await;
        }
        plan::end(client, false).await?;
        for (account, token) in failed {
            tokens.remove(&account);
            lost.push((account, token));
        }
    }
    Ok(())
}
