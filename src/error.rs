//! The one error type of sessiondb.
//!
//! No variant ever carries auth-key bytes or other session contents: only paths, offsets,
//! names and short reasons.

use std::path::PathBuf;

/// Everything that can go wrong in sessiondb.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O call failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What sessiondb was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another writer (another process, or another open in this one) holds the store.
    #[error("store {path} is locked by another writer")]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// The path holds a session file of another library; sessiondb never overwrites it.
    #[error("{path} is a {format} session, not a sessiondb store; import it into a new store")]
    ForeignFormat {
        /// The path that was opened.
        path: PathBuf,
        /// The format that was recognised (or "unknown file").
        format: &'static str,
    },
    /// Stored bytes are damaged where they were once known to be durable.
    #[error("corrupt store: {file} at offset {offset}: {reason}")]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage inside the file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A stored value could not be decoded.
    #[error("corrupt record in {location}{}: {reason}", if key.is_empty() { String::new() } else { format!(" at {key}") })]
    CorruptValue {
        /// Table (and key kind) of the value.
        location: String,
        /// Which row: the account number and the row key (never a name's text).
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// A write, sync or checkpoint failed earlier (or a pipeline thread died); the store
    /// refuses writes until it is reopened.
    #[error("store is latched after an earlier failure ({cause}); reopen it")]
    Latched {
        /// The failure that latched it, of its own kind.
        #[source]
        cause: std::sync::Arc<Error>,
    },
    /// A bug: a pipeline thread panicked. The store latches; reopening it recovers.
    #[error("internal error (a bug, please report it): {0}")]
    Internal(String),
    /// The store was closed.
    #[error("store is closed")]
    Closed,
    /// A write was attempted on a read-only open.
    #[error("store was opened read-only")]
    ReadOnly,
    /// A caller-supplied value is not acceptable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The store was written by a format version this build does not know.
    #[error("{what} has format version {found}; this build supports up to {supported}")]
    UnsupportedVersion {
        /// The thing carrying the version (segment, table value, index).
        what: String,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The redb index reported an error.
    #[error("index error: {reason}")]
    Index {
        /// What failed, and where.
        reason: String,
        /// redb's own error, when it came from redb.
        #[source]
        source: Option<redb::Error>,
    },
    /// A session in another library's format could not be read or written.
    #[error("{format} session: {reason}")]
    Format {
        /// The format (as named on the command line).
        format: String,
        /// What is wrong, without secrets.
        reason: String,
    },
    /// An input matches more than one format: name the format explicitly.
    #[error("the input could be any of: {}; name its format", candidates.join(", "))]
    AmbiguousFormat {
        /// The formats it could be.
        candidates: Vec<String>,
    },
    /// An export needs a value the session does not hold.
    #[error(
        "exporting to {format} needs the {field}, which this session does not have; supply it as `ExportOptions::{option}`"
    )]
    MissingField {
        /// The target format.
        format: String,
        /// The missing value.
        field: String,
        /// The `ExportOptions` field that supplies it (`api_id`, `user_id`, `is_bot`, `dc`,
        /// `dc_address`).
        option: String,
    },
    /// The passphrase does not unlock the store's key file.
    #[error("wrong passphrase for {path}")]
    WrongPassphrase {
        /// The store directory.
        path: PathBuf,
    },
    /// The store is encrypted and no passphrase was given.
    #[error("{path} is encrypted; open it with a passphrase (Options::encryption)")]
    PassphraseRequired {
        /// The store directory.
        path: PathBuf,
    },
    /// Another worker holds the account's lease (shared backend).
    #[error("account {account:?} is locked by worker {holder:?}")]
    AccountLocked {
        /// The account.
        account: String,
        /// The worker holding its lease.
        holder: String,
    },
    /// This worker's lease expired or was taken over: the write was refused.
    #[error("the lease on account {account:?} (token {token}) was lost; acquire it again")]
    LeaseLost {
        /// The account.
        account: String,
        /// The stale fencing token.
        token: i64,
    },
    /// The database server reported an error (shared backend).
    #[error("database server: {message}{}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Server {
        /// The server's message (never a statement's parameters).
        message: String,
        /// The SQLSTATE code, when the server sent one (`40001`: a serialization failure).
        code: Option<String>,
    },
    /// A store file is owned by another user: refusing to use it.
    #[error("{path} is owned by uid {owner}, not by this user (uid {me})")]
    ForeignOwner {
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The effective uid of this process.
        me: u32,
    },
}

/// Result with sessiondb's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An index error of ours (no redb error behind it).
    pub(crate) fn index(reason: impl Into<String>) -> Self {
        Error::Index {
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn corrupt_value(location: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::CorruptValue {
            location: location.into(),
            key: String::new(),
            reason: reason.into(),
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                let source = redb::Error::from(e);
                Error::Index {
                    reason: source.to_string(),
                    source: Some(source),
                }
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
