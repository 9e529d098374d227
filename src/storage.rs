//! The Telethon-v2-style `Storage`: `load`, `save`, `close`, for one account, as a thin layer
//! on any [`SessionStore`]. `load` after `close` reopens.

use crate::locks::Unpoisoned;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::model::{DEFAULT_ACCOUNT, Session, validate_account};
use crate::options::Options;
use crate::session_store::SessionStore;
use crate::store::Store;

type Opener = Arc<dyn Fn() -> Result<Arc<dyn SessionStore>> + Send + Sync>;

/// One account's session behind `load` / `save` / `close`.
pub struct Storage {
    account: String,
    open: Opener,
    current: Mutex<Option<Arc<dyn SessionStore>>>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// The `"default"` account of the file store at `path` (`bot` → `bot.session/`), opened
    /// on first use.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::file_account(path, DEFAULT_ACCOUNT, Options::default())
            .unwrap_or_else(|_| unreachable!("the default account name is valid"))
    }

    /// A named account of the file store at `path`, with options.
    pub fn file_account(path: impl Into<PathBuf>, account: &str, options: Options) -> Result<Self> {
        validate_account(account)?;
        let path = path.into();
        Ok(Storage {
            account: account.to_owned(),
            open: Arc::new(move || {
                let store: Arc<dyn SessionStore> =
                    Arc::new(Store::open_with(&path, options.clone())?);
                Ok(store)
            }),
            current: Mutex::new(None),
        })
    }

    /// An account of an already open backend (closing it closes the backend; `load` after
    /// `close` then reports `Error::Closed` unless the backend reopens by itself).
    pub fn on(backend: Arc<dyn SessionStore>, account: &str) -> Result<Self> {
        validate_account(account)?;
        let first = backend.clone();
        Ok(Storage {
            account: account.to_owned(),
            open: Arc::new(move || Ok(backend.clone())),
            current: Mutex::new(Some(first)),
        })
    }

    /// The open backend; (re)opens it on a blocking thread when needed.
    async fn backend(&self) -> Result<Arc<dyn SessionStore>> {
        if let Some(b) = self.current.lock().unpoisoned().as_ref() {
            return Ok(b.clone());
        }
        let open = self.open.clone();
        let opened = crate::blocking::off_runtime("opening", move || open()).await?;
        let mut current = self.current.lock().unpoisoned();
        // Another load may have opened it meanwhile: keep that one.
        Ok(current.get_or_insert(opened).clone())
    }

    /// The stored session, or `None` for a new account. Opens (or reopens) the backend.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn load(&self) -> Result<Option<Session>> {
        let backend = self.backend().await?;
        backend.load(&self.account).await
    }

    /// Durably replaces the session and checkpoints.
    ///
    /// # Cancel safety
    /// A cancelled save may still land.
    pub async fn save(&self, session: &Session) -> Result<()> {
        let backend = self.backend().await?;
        backend.save(&self.account, session).await
    }

    /// Closes the backend; a later `load` reopens it.
    ///
    /// # Cancel safety
    /// Once called, the backend is closing even if the future is dropped.
    pub async fn close(&self) -> Result<()> {
        let backend = self.current.lock().unpoisoned().take();
        match backend {
            Some(b) => b.close().await,
            None => Ok(()),
        }
    }
}
