//! Bounding the peer cache: remove peers last written before a time, or all but the most
//! recently written N, never the self user or a channel whose pts is stored.
//!
//! Pruning reads the cache in pages (each page one short read of the layers) and removes
//! victims in small batches through the ordinary write path, one in flight at a time, so a
//! writer waits at most for one batch to be applied, never for the whole prune.

use crate::locks::Unpoisoned;
use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;

use crate::account::Account;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::Peer;
use crate::options::AutoPrune;
use crate::pending::Pending;
use crate::state::op::Op;

/// Which peers [`Account::prune`] removes. A peer goes if either limit says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrunePolicy {
    /// Remove peers last written before this unix time (seconds).
    pub written_before: Option<i64>,
    /// Keep at most this many peers (protected ones count, and always stay): the most
    /// recently written ones.
    pub max_peers: Option<u64>,
}

/// What a prune did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Peers looked at.
    pub examined: u64,
    /// Peers removed.
    pub removed: u64,
    /// Peers a limit selected but that were kept: the self user, channels with stored pts.
    pub protected: u64,
}

/// Peers read per page, and removals per log record (one batch in flight at a time).
const PAGE: usize = 4096;
const BATCH: usize = 128;

/// Orders peers oldest first; the id breaks ties so that the cut is exact.
fn age(p: &Peer) -> (i64, i64) {
    (p.updated_at, p.id)
}

/// Calls `each` for every cached peer, page by page.
fn scan(account: &Account, mut each: impl FnMut(&Peer) -> Result<()>) -> Result<()> {
    let mut after = None;
    loop {
        let page = account.peers(after, PAGE)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.id);
        for p in &page {
            each(p)?;
        }
    }
}

fn protected(keep: &BTreeSet<i64>, p: &Peer) -> bool {
    keep.contains(&p.id) || p.is_self == Some(true)
}

/// The (updated_at, id) at and below which peers go so that `max` stay (protected ones
/// included), if any must go.
fn size_cut(account: &Account, keep: &BTreeSet<i64>, max: u64) -> Result<Option<(i64, i64)>> {
    let count = account.peer_count()?;
    if count <= max {
        return Ok(None);
    }
    let mut ages = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut kept = 0usize;
    scan(account, |p| {
        if protected(keep, p) {
            kept += 1;
        } else {
            ages.push(age(p));
        }
        Ok(())
    })?;
    let room = usize::try_from(max)
        .unwrap_or(usize::MAX)
        .saturating_sub(kept);
    let excess = ages.len().saturating_sub(room);
    if excess == 0 {
        return Ok(None);
    }
    let (_, cut, _) = ages.select_nth_unstable(excess - 1);
    Ok(Some(*cut))
}

impl Account {
    /// Removes peers by age and/or keeps only the most recently written ones, never the self
    /// user or a channel whose pts is stored. Runs in small batches beside writers; removals
    /// are buffered (a crash may bring some back, which only costs cache space).
    pub fn prune(&self, policy: &PrunePolicy) -> Result<PruneReport> {
        prune(self, policy)
    }
}

fn prune(account: &Account, policy: &PrunePolicy) -> Result<PruneReport> {
    if policy.written_before.is_none() && policy.max_peers.is_none() {
        return Err(Error::InvalidArgument(
            "a prune needs written_before or max_peers".into(),
        ));
    }
    let mut keep: BTreeSet<i64> = account
        .channels()?
        .keys()
        .map(|&bare| -(1_000_000_000_000 + bare))
        .collect();
    keep.extend(account.self_user()?.map(|p| p.id));
    let cut = match policy.max_peers {
        Some(max) => size_cut(account, &keep, max)?,
        None => None,
    };
    let mut report = PruneReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut pending: Vec<Pending<u64>> = Vec::new();
    scan(account, |p| {
        report.examined += 1;
        let old = policy.written_before.is_some_and(|t| p.updated_at < t);
        let excess = cut.is_some_and(|c| age(p) <= c);
        if !(old || excess) {
            return Ok(());
        }
        if protected(&keep, p) {
            report.protected += 1;
            return Ok(());
        }
        batch.push(Op::RemovePeer {
            account: account.name().to_owned(),
            id: p.id,
        });
        report.removed += 1;
        if batch.len() == BATCH {
            // One batch in flight: a writer's record waits behind at most one batch.
            if let Some(previous) = pending.pop() {
                Pending::wait(previous)?;
            }
            pending.push(account.submit(std::mem::take(&mut batch), false));
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        pending.push(account.submit(batch, false));
    }
    for p in pending {
        p.wait()?;
    }
    Ok(report)
}

/// The background thread of [`AutoPrune`](crate::AutoPrune); stopped and joined on drop.
pub(crate) struct AutoPruner {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl AutoPruner {
    pub(crate) fn spawn(engine: Weak<dyn Engine>, auto: AutoPrune) -> std::io::Result<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sessiondb-prune".into())
            .spawn(move || {
                while !stopped(&signal, auto.every) {
                    match prune_all(&engine, &auto) {
                        Err(Error::Closed) => return,
                        Err(e) => tracing::warn!(error = %e, "automatic prune failed"),
                        Ok(()) => {}
                    }
                }
            })?;
        Ok(AutoPruner {
            stop,
            thread: Some(thread),
        })
    }
}

impl AutoPruner {
    /// Tells the thread to stop after the current prune (if any).
    pub(crate) fn signal(&self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unpoisoned() = true;
        wake.notify_all();
    }
}

impl Drop for AutoPruner {
    fn drop(&mut self) {
        self.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits up to `every`; whether the pruner was told to stop.
fn stopped(signal: &(Mutex<bool>, Condvar), every: std::time::Duration) -> bool {
    let (flag, wake) = signal;
    let guard = flag.lock().unpoisoned();
    let (guard, _) = wake
        .wait_timeout_while(guard, every, |stop| !*stop)
        .unpoisoned();
    *guard
}

fn prune_all(engine: &Weak<dyn Engine>, auto: &AutoPrune) -> Result<()> {
    let names = {
        let strong = engine.upgrade().ok_or(Error::Closed)?;
        crate::engine::view(strong.as_ref(), |v| v.accounts())?
    };
    let now = crate::model::unix_now();
    let mut reclaim = false;
    for name in names {
        let account = Account::new(engine.clone(), name);
        let count = account.peer_count()?;
        let policy = PrunePolicy {
            written_before: auto
                .max_age
                .map(|age| now.saturating_sub(age.as_secs() as i64)),
            max_peers: auto
                .max_peers
                .filter(|&max| count > max.saturating_add(max / 10)),
        };
        if policy.written_before.is_some() || policy.max_peers.is_some() {
            let report = prune(&account, &policy)?;
            tracing::info!(
                account = account.name(),
                removed = report.removed,
                "pruned peers"
            );
            reclaim |= auto.reclaim && report.removed.saturating_mul(4) > report.examined;
        }
    }
    // A quarter or more of a cache gone: give the space back (rebuild the index file).
    if reclaim {
        let strong = engine.upgrade().ok_or(Error::Closed)?;
        strong.control(crate::engine::Control::Reclaim).wait()?;
    }
    Ok(())
}
