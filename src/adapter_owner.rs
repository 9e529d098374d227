//! What keeps an adapter's store open for as long as the adapter lives (the grammers and
//! ferogram adapters): a shared file store, or an in-memory one.

use std::sync::Arc;

use crate::error::Result;
use crate::memory::MemoryStore;
use crate::store::Store;

pub(crate) enum Owner {
    File(Arc<Store>),
    Memory { _alive: MemoryStore },
}

impl Owner {
    /// Flushes and checkpoints a file store (a no-op for an in-memory one).
    pub(crate) fn close(&self) -> Result<()> {
        match self {
            Owner::File(store) => store.close(),
            Owner::Memory { .. } => Ok(()),
        }
    }
}
