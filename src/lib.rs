//! # sessiondb
//!
//! Crash-safe embedded storage for Telegram (MTProto) client sessions: per account, the
//! session (home DC, per-DC addresses and auth keys, salt, logged-in user), the peer
//! access-hash cache and the update state.
//!
//! Writes go to a CRC-framed append log with group commit and are visible at once through an
//! in-memory overlay; checkpoints fold the overlay into a redb index in one durable
//! transaction. See `docs/design.md` for the on-disk format and the protocols.
//!
//! ```
//! use sessiondb::{DataCenter, Store, UpdateStateChange};
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("bot");
//! let store = Store::open(&path)?; // creates bot.session/
//! let account = store.default_account();
//! account.set_home_dc(2)?;
//! account.set_dc(DataCenter::new(2))?;
//! account.set_update_state(UpdateStateChange::Primary { pts: 10, date: 1_700_000_000, seq: 1 })?;
//! assert_eq!(account.update_state()?.map(|s| s.pts), Some(10));
//! store.close()?;
//! # Ok::<(), sessiondb::Error>(())
//! ```
#![deny(missing_docs)]
#![deny(clippy::unwrap_used)]

mod account;
#[cfg(any(feature = "grammers", feature = "ferogram"))]
mod adapter_owner;
mod blocking;
mod codec;
mod commit;
mod core;
mod creation;
mod crypto;
#[cfg(any(feature = "ferogram", feature = "formats"))]
mod dc_endpoints;
mod engine;
mod error;
mod extras;
#[cfg(feature = "ferogram")]
mod ferogram;
#[cfg(any(feature = "formats", feature = "ferogram"))]
mod ferogram_peer;
#[cfg(feature = "formats")]
pub mod formats;
#[doc(hidden)]
#[cfg(feature = "testing")]
pub mod fuzzing;
#[cfg(feature = "grammers")]
mod grammers;
mod index;
/// Test seam (feature `testing`): the file-system trait and `MemFs`, which cuts the power.
#[cfg(feature = "testing")]
pub mod io;
#[cfg(not(feature = "testing"))]
mod io;
mod locks;
mod log;
mod maintenance;
mod memory;
mod model;
mod options;
mod paths;
mod pending;
mod phase;
#[cfg(feature = "postgres")]
mod postgres;
mod session_store;
mod state;
mod storage;
mod store;
mod transfer;
mod update_tracker;
mod whole_session;

pub use account::Account;
pub use crypto::{
    Encryption, KdfParams, MIN_KDF_ITERATIONS, MIN_KDF_MEMORY_KIB, Passphrase, is_encrypted,
};
pub use error::{Error, Result};
pub use extras::{
    DcEndpoint, LoginToken, MAX_DC_ENDPOINTS, MAX_ENDPOINT_ADDRESS_LEN, MAX_LOGIN_TOKEN_LEN,
    MinPeerContext,
};
#[cfg(feature = "ferogram")]
pub use ferogram::FerogramSession;
#[cfg(feature = "grammers")]
pub use grammers::GrammersSession;
pub use index::io::IndexIoCounts;
pub use log::recovery::RecoveryMode;
pub use maintenance::backup::{BackupReport, partial_dir};
pub use maintenance::compact::{CompactReport, compact, compact_with};
pub use maintenance::prune::{PrunePolicy, PruneReport};
pub use maintenance::rotate::rotate;
pub use maintenance::stats::{AccountStats, Stats};
pub use maintenance::verify::VerifyReport;
pub use memory::MemoryStore;
pub use model::{
    AUTH_KEY_LEN, AppFields, AuthKey, DEFAULT_ACCOUNT, DataCenter, MAX_ACCOUNT_NAME_LEN, Peer,
    PeerKind, Session, UpdateState, UpdateStateChange, User, normalize_phone, normalize_username,
    validate_account, validate_new_account,
};
pub use options::AutoPrune;
pub use options::{Durability, Options, RecoveryReport};
pub use paths::store_dir;
pub use pending::{BoxFuture, Pending};
#[cfg(feature = "testing")]
pub use phase::{Phase, PhaseHook};
#[cfg(feature = "postgres")]
pub use postgres::{Lease, PgBackend, PgOptions, PgStore};
pub use session_store::SessionStore;
pub use storage::Storage;
pub use store::Store;
pub use transfer::{TransferReport, copy_account, move_account};
pub use update_tracker::{Sequence, Ticket, TrackerOptions, UpdateTracker};
