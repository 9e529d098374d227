//! `MemoryStore`: the same behaviour as the file store, with no disk.
//!
//! It keeps one overlay and applies each batch with the same code the file store uses for
//! writes and replay, so every rule (username moves, the min rule, `save` replacing DCs) is
//! identical by construction. Nothing survives the process.

use crate::locks::Unpoisoned;
use std::sync::{Arc, RwLock};

use crate::account::Account;
use crate::engine::{self, Control, Engine, EngineConfig};
use crate::error::Result;
use crate::model::DEFAULT_ACCOUNT;
use crate::options::Durability;
use crate::pending::Pending;
use crate::state::apply::apply_batch;
use crate::state::op::Op;
use crate::state::overlay::Overlay;
use crate::state::peer_writes::PeerWrites;
use crate::state::view::View;

struct MemInner {
    overlay: RwLock<(Overlay, PeerWrites)>,
    config: EngineConfig,
}

impl Engine for MemInner {
    fn view_dyn(&self, f: &mut dyn FnMut(&View<'_>) -> Result<()>) -> Result<()> {
        let overlay = &self.overlay.read().unpoisoned().0;
        f(&View::new(overlay, None, None))
    }

    fn submit(&self, ops: Vec<Op>, _durable: bool) -> Pending<u64> {
        let (overlay, peer_writes) = &mut *self.overlay.write().unpoisoned();
        let lsn = overlay.last_lsn + 1;
        peer_writes.note(&ops);
        // With no index below, applying cannot fail on I/O; a failure leaves the batch out.
        let result = apply_batch(overlay, None, None, lsn, ops).map(|()| lsn);
        Pending::ready(result)
    }

    fn control(&self, _what: Control) -> Pending<u64> {
        Pending::ready(Ok(self.overlay.read().unpoisoned().0.last_lsn))
    }

    fn config(&self) -> EngineConfig {
        self.config
    }

    fn peer_writes(&self, account: &str) -> u64 {
        self.overlay.read().unpoisoned().1.get(account)
    }
}

/// An in-memory store with the file store's behaviour: for tests and for bots that do not
/// need their session to survive.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<MemInner>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store that caches peers.
    pub fn new() -> Self {
        Self::with_peer_caching(true)
    }

    /// An empty store; `cache_peers = false` ignores peer writes (Telethon's `save_entities`).
    pub fn with_peer_caching(cache_peers: bool) -> Self {
        MemoryStore {
            inner: Arc::new(MemInner {
                overlay: RwLock::default(),
                config: EngineConfig {
                    cache_peers,
                    peer_durability: Durability::Durable,
                },
            }),
        }
    }

    fn engine(&self) -> std::sync::Weak<dyn Engine> {
        let weak: std::sync::Weak<dyn Engine> = Arc::downgrade(&self.inner) as _;
        weak
    }

    /// A handle on the `"default"` account.
    pub fn default_account(&self) -> Account {
        Account::new(self.engine(), DEFAULT_ACCOUNT.to_owned())
    }

    /// A handle on a named account.
    pub fn account(&self, name: &str) -> Result<Account> {
        Account::checked(self.engine(), name)
    }

    /// The accounts that exist, sorted.
    pub fn accounts(&self) -> Result<Vec<String>> {
        engine::accounts(self.inner.as_ref())
    }

    /// Creates an account (idempotent).
    pub fn create_account(&self, name: &str) -> Result<Account> {
        let account = self.account(name)?;
        engine::create_account(self.inner.as_ref(), name).wait()?;
        Ok(account)
    }

    /// Per-account figures (the disk figures are 0).
    pub fn stats(&self) -> Result<crate::Stats> {
        let last_lsn = self.inner.overlay.read().unpoisoned().0.last_lsn;
        Ok(crate::Stats {
            last_lsn,
            records_since_checkpoint: last_lsn,
            accounts: crate::maintenance::stats::account_stats(self.inner.as_ref())?,
            ..crate::Stats::default()
        })
    }

    /// Deletes an account and everything under it.
    pub fn delete_account(&self, name: &str) -> Result<()> {
        engine::delete_account(self.inner.as_ref(), name)
            .wait()
            .map(drop)
    }
}
