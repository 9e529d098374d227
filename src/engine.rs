//! What an `Account` needs from whatever holds the data: a consistent view
//! for reads and a way to submit logged operations. The file store and `MemoryStore` both
//! provide it, so every call (and every rule: username moves, the min rule, `save`
//! replacing DCs) is the same code for both.

use crate::error::{Error, Result};
use crate::options::Durability;
use crate::pending::Pending;
use crate::state::op::Op;
use crate::state::view::View;

/// Settings the calls consult.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EngineConfig {
    pub cache_peers: bool,
    pub peer_durability: Durability,
}

/// Control requests besides writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    Flush,
    Checkpoint,
    /// Checkpoint, then rebuild the index into a fresh file.
    Reclaim,
}

pub(crate) trait Engine: Send + Sync {
    /// Runs `f` on a consistent view.
    fn view_dyn(&self, f: &mut dyn FnMut(&View<'_>) -> Result<()>) -> Result<()>;
    /// Queues a batch; the pending result is its LSN once acknowledged.
    fn submit(&self, ops: Vec<Op>, durable: bool) -> Pending<u64>;
    /// Flush or checkpoint.
    fn control(&self, what: Control) -> Pending<u64>;
    fn config(&self) -> EngineConfig;
    /// Batches applied since the open that changed `account`'s peers (counted always, read
    /// by the ferogram adapter only).
    #[cfg_attr(not(feature = "ferogram"), allow(dead_code))]
    fn peer_writes(&self, account: &str) -> u64;
}

/// Runs `f` on a view of `engine` and returns its result.
pub(crate) fn view<T>(engine: &dyn Engine, f: impl FnOnce(&View<'_>) -> Result<T>) -> Result<T> {
    let mut f = Some(f);
    let mut out = None;
    engine.view_dyn(&mut |v| {
        if let Some(f) = f.take() {
            out = Some(f(v)?);
        }
        Ok(())
    })?;
    out.ok_or(Error::Closed)
}

/// The accounts that exist, sorted.
pub(crate) fn accounts(engine: &dyn Engine) -> Result<Vec<String>> {
    view(engine, |v| v.accounts())
}

/// Deletes an account and everything under it, durably.
pub(crate) fn delete_account(engine: &dyn Engine, name: &str) -> Pending<u64> {
    if let Err(e) = crate::model::validate_account(name) {
        return Pending::ready(Err(e));
    }
    engine.submit(
        vec![Op::DeleteAccount {
            account: name.to_owned(),
        }],
        true,
    )
}

/// Creates an account durably (idempotent).
pub(crate) fn create_account(engine: &dyn Engine, name: &str) -> Pending<u64> {
    if let Err(e) = crate::model::validate_account(name) {
        return Pending::ready(Err(e));
    }
    engine.submit(
        vec![Op::CreateAccount {
            account: name.to_owned(),
        }],
        true,
    )
}
