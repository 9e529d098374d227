//! What keeps an adapter's store open for as long as the adapter lives (the grammers and
//! ferogram adapters): a shared file store, or an in-memory one.

use std::sync::Arc;

use crate::account::Account;
use crate::error::Result;
use crate::memory::MemoryStore;
use crate::store::Store;

pub(crate) enum Owner {
    File(Arc<Store>),
    Memory { _alive: MemoryStore },
}

impl Owner {
    /// `account` of a shared file store, and what keeps the store open.
    pub(crate) fn file(store: Arc<Store>, account: &str) -> Result<(Account, Owner)> {
        Ok((store.account(account)?, Owner::File(store)))
    }

    /// `account` of an in-memory store, and what keeps it alive.
    pub(crate) fn memory(store: MemoryStore, account: &str) -> Result<(Account, Owner)> {
        Ok((store.account(account)?, Owner::Memory { _alive: store }))
    }

    /// Flushes and checkpoints a file store (a no-op for an in-memory one).
    pub(crate) fn close(&self) -> Result<()> {
        match self {
            Owner::File(store) => store.close(),
            Owner::Memory { .. } => Ok(()),
        }
    }
}
