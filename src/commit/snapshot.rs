//! Consistent reads of the layers: a lock-free snapshot for long reads, and a view under the
//! layers' read lock for short ones.

use std::sync::Arc;

use super::shared::Shared;
use crate::error::Result;
use crate::index::Base;
use crate::state::overlay::Overlay;
use crate::state::view::View;

/// A frozen copy of the layers: the active one cloned, the others shared. Reading it takes no
/// lock, so long reads (verify, backup) never hold up writers.
pub(crate) struct Snapshot {
    pub active: Overlay,
    pub frozen: Option<Arc<Overlay>>,
    pub base: Arc<Base>,
}

impl Snapshot {
    pub fn of(shared: &Shared) -> Snapshot {
        let layers = shared.read_layers();
        Snapshot {
            active: layers.active.clone(),
            frozen: layers.frozen.clone(),
            base: layers.base.clone(),
        }
    }

    pub fn view(&self) -> View<'_> {
        View::new(&self.active, self.frozen.as_deref(), Some(&self.base))
    }
}

/// Runs `f` on a consistent view: the layers and the checkpointed tables under one lock.
pub(crate) fn with_view<T>(
    shared: &Shared,
    f: &mut dyn FnMut(&View<'_>) -> Result<T>,
) -> Result<T> {
    let layers = shared.read_layers();
    let view = View::new(&layers.active, layers.frozen.as_deref(), Some(&layers.base));
    // redb panics on some damaged pages: the caller gets an error naming the index.
    crate::index::guarded(shared.index_path(), || f(&view))
}
