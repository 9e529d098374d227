//! How a store is opened, and what its opening found.

use std::sync::Arc;

use crate::io::FileSystem;
use crate::log::recovery::RecoveryMode;

/// When a kind of write is acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// After the log is synced: survives `kill -9` and power loss.
    #[default]
    Durable,
    /// At once, visible to readers; synced with the next durable write, `flush`, or
    /// checkpoint. Lost only if the process or machine dies before that.
    Buffered,
}

/// How a store is opened. Every field documents its default.
#[derive(Clone, Debug)]
pub struct Options {
    /// What to do with a damaged log. Default: [`RecoveryMode::TornTail`].
    pub recovery: RecoveryMode,
    /// redb page-cache size in bytes, an upper bound filled only by pages read (redb's own
    /// default is 1 GiB). Default: 256 MiB, which holds a 1M-peer index (what smaller caches
    /// cost: `benches/SCALE.md`).
    pub cache_size: usize,
    /// Checkpoint automatically once the log holds this many bytes. Default: 8 MiB.
    pub checkpoint_log_bytes: u64,
    /// ... or once this many records were written since the last checkpoint. Default: 50,000.
    pub checkpoint_records: u64,
    /// Start a new log segment past this size. Default: 16 MiB.
    pub segment_bytes: u64,
    /// Durability of peer-cache writes. Default: [`Durability::Buffered`].
    pub peer_durability: Durability,
    /// Whether peers are cached at all (Telethon's `save_entities`). Default: `true`.
    pub cache_peers: bool,
    /// Test seam (feature `testing`): the file system the log (and, if it offers one, the
    /// index) goes through; tests use [`MemFs`](crate::io::MemFs) to cut the power and
    /// inject faults. Default: the real one.
    #[cfg(feature = "testing")]
    pub fs: Option<Arc<dyn FileSystem>>,
    /// Test seam (feature `testing`): called at each [`Phase`](crate::Phase) of the
    /// pipeline (crash tests). Default: none.
    #[cfg(feature = "testing")]
    pub phase_hook: Option<crate::PhaseHook>,
    /// Prune every account's peer cache automatically in the background. Default: never.
    pub auto_prune: Option<AutoPrune>,
    /// Encrypt the store with a passphrase. Chosen when the store is created; an encrypted
    /// store needs it at every open, a plain one refuses it. Default: none (plain).
    pub encryption: Option<crate::Encryption>,
}

/// An automatic peer-cache limit (see `Account::prune`), checked
/// every `every` on a background thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoPrune {
    /// Keep at most this many peers per account. A prune starts once an account holds a
    /// tenth more (so that a busy bot does not rescan its cache at every check).
    pub max_peers: Option<u64>,
    /// Remove peers not written for this long.
    pub max_age: Option<std::time::Duration>,
    /// How often to check.
    pub every: std::time::Duration,
    /// After a prune that removed a quarter or more of a cache, give the space back with
    /// `Store::reclaim`. While it runs (seconds per GB of index),
    /// writes go on; a `save` or explicit checkpoint issued meanwhile waits for it.
    pub reclaim: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            recovery: RecoveryMode::TornTail,
            cache_size: 256 << 20,
            checkpoint_log_bytes: 8 << 20,
            checkpoint_records: 50_000,
            segment_bytes: 16 << 20,
            peer_durability: Durability::Buffered,
            cache_peers: true,
            #[cfg(feature = "testing")]
            fs: None,
            #[cfg(feature = "testing")]
            phase_hook: None,
            auto_prune: None,
            encryption: None,
        }
    }
}

impl Options {
    /// The file system the store goes through: a test's, or the real one.
    pub(crate) fn file_system(&self) -> Arc<dyn FileSystem> {
        #[cfg(feature = "testing")]
        if let Some(fs) = &self.fs {
            return fs.clone();
        }
        Arc::new(crate::io::RealFs)
    }

    /// Whether a test's file system stands in for the real one.
    pub(crate) fn has_test_fs(&self) -> bool {
        #[cfg(feature = "testing")]
        return self.fs.is_some();
        #[cfg(not(feature = "testing"))]
        false
    }

    /// The phase hook of a crash test, if any.
    pub(crate) fn hook(&self) -> Option<crate::phase::PhaseHook> {
        #[cfg(feature = "testing")]
        return self.phase_hook.clone();
        #[cfg(not(feature = "testing"))]
        None
    }

    /// These options going through `fs` (a copy made in the store's own file system).
    pub(crate) fn through(self, fs: &Arc<dyn FileSystem>) -> Options {
        #[cfg(feature = "testing")]
        return Options {
            fs: Some(fs.clone()),
            ..self
        };
        #[cfg(not(feature = "testing"))]
        {
            let _ = fs; // always the real file system
            self
        }
    }
}

/// What the last open found in the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Records replayed on top of the last checkpoint.
    pub records_replayed: u64,
    /// Bytes of torn tail cut off.
    pub bytes_cut: u64,
    /// The checkpoint LSN found in the index.
    pub checkpoint_lsn: u64,
}
