//! What a store holds and has done: sizes, record counts, log length, last checkpoint.

use crate::core::Core;
use crate::engine::{Engine, view};
use crate::error::Result;
use crate::index::io::IndexIoCounts;

/// Per-account figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountStats {
    /// Account name.
    pub name: String,
    /// Cached peers.
    pub peers: u64,
    /// Channels with a stored pts.
    pub channels: u64,
    /// DCs stored.
    pub dcs: u64,
}

/// A snapshot of a store's state. Figures a backend does not have are 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes in the live log segments.
    pub log_bytes: u64,
    /// Log syncs done since open (each covers a whole group of writes).
    pub log_syncs: u64,
    /// LSN of the last checkpoint folded into the index.
    pub checkpoint_lsn: u64,
    /// LSN of the newest record applied.
    pub last_lsn: u64,
    /// Records written since the last checkpoint (held in the overlay).
    pub records_since_checkpoint: u64,
    /// Size of the index file.
    pub index_file_bytes: u64,
    /// What the index wrote and synced since open.
    pub index_io: IndexIoCounts,
    /// Every account, sorted by name.
    pub accounts: Vec<AccountStats>,
}

/// A file store's figures: the log, the layers since the last checkpoint, the index file
/// and its I/O, and every account.
pub(crate) fn of(core: &Core) -> Result<Stats> {
    let shared = core.shared();
    let (last_lsn, records) = {
        let layers = shared.read_layers();
        let frozen = layers.frozen.as_deref();
        let last = layers.active.last_lsn.max(frozen.map_or(0, |f| f.last_lsn));
        let records = layers.active.records + frozen.map_or(0, |f| f.records);
        (last, records)
    };
    let checkpoint_lsn = shared.checkpoint_lsn();
    let index_io = shared.index_io().counts();
    Ok(Stats {
        log_bytes: shared.log_bytes(),
        log_syncs: shared.syncs(),
        checkpoint_lsn,
        last_lsn: last_lsn.max(checkpoint_lsn),
        records_since_checkpoint: records,
        index_file_bytes: index_io.file_len,
        index_io,
        accounts: account_stats(core)?,
    })
}

/// Fills the per-account part of `stats` from a view.
pub(crate) fn account_stats(engine: &dyn Engine) -> Result<Vec<AccountStats>> {
    view(engine, |v| {
        let mut out = Vec::new();
        for name in v.accounts()? {
            out.push(AccountStats {
                peers: v.peer_count(&name)?,
                channels: v.channels(&name)?.len() as u64,
                dcs: v.dcs(&name)?.len() as u64,
                name,
            });
        }
        Ok(out)
    })
}
