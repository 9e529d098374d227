//! `Store`: a sessiondb file store (a directory, `bot` → `bot.session/`) or a `MemoryStore`.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use sessiondb::{Encryption, MemoryStore, Options, SessionStore};

use crate::account::Account;
use crate::ack::Ack;
use crate::errors::OrRaise;

/// A passphrase as text (UTF-8) or bytes.
#[derive(FromPyObject)]
enum Passphrase {
    Text(String),
    Bytes(Vec<u8>),
}

impl Passphrase {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Passphrase::Text(t) => t.into_bytes(),
            Passphrase::Bytes(b) => b,
        }
    }
}

enum Backing {
    File(sessiondb::Store),
    Memory(MemoryStore),
}

impl Backing {
    fn session_store(&self) -> &dyn SessionStore {
        match self {
            Backing::File(s) => s,
            Backing::Memory(m) => m,
        }
    }
}

/// An open store. Its account handles keep it alive; `close()` (or the end of the process)
/// checkpoints and releases it.
#[pyclass(module = "sessiondb._native", frozen)]
pub struct Store {
    backing: Arc<Backing>,
}

#[pymethods]
impl Store {
    /// Opens (creating it if missing) the store at `path` (`bot` → `bot.session/`), with a
    /// passphrase if it is (or is to be) encrypted.
    #[new]
    #[pyo3(signature = (path, passphrase = None, read_only = false))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        passphrase: Option<Passphrase>,
        read_only: bool,
    ) -> PyResult<Store> {
        let options = Options {
            encryption: passphrase.map(|p| Encryption::new(p.into_bytes())),
            ..Options::default()
        };
        let store = py
            .detach(|| {
                if read_only {
                    sessiondb::Store::open_read_only_with(&path, options)
                } else {
                    sessiondb::Store::open_with(&path, options)
                }
            })
            .or_raise()?;
        Ok(Store {
            backing: Arc::new(Backing::File(store)),
        })
    }

    /// A store in memory only (`MemoryStore`): everything is gone with the process.
    #[staticmethod]
    fn memory() -> Store {
        Store {
            backing: Arc::new(Backing::Memory(MemoryStore::new())),
        }
    }

    /// The store's directory (`None` in memory).
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        match &*self.backing {
            Backing::File(s) => Some(s.path().to_owned()),
            Backing::Memory(_) => None,
        }
    }

    #[getter]
    fn is_encrypted(&self) -> PyResult<bool> {
        match &*self.backing {
            Backing::File(s) => s.is_encrypted().or_raise(),
            Backing::Memory(_) => Ok(false),
        }
    }

    /// A handle on account `name` (it exists once something is written to it).
    fn account(slf: Bound<'_, Self>, name: &str) -> PyResult<Account> {
        let account = match &*slf.get().backing {
            Backing::File(s) => s.account(name),
            Backing::Memory(m) => m.account(name),
        }
        .or_raise()?;
        Ok(Account::new(account, slf.unbind()))
    }

    /// The accounts that exist, sorted.
    fn accounts(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        py.detach(|| match &*self.backing {
            Backing::File(s) => s.accounts(),
            Backing::Memory(m) => m.accounts(),
        })
        .or_raise()
    }

    /// Deletes an account and everything under it, durably.
    fn delete_account(&self, name: String) -> Ack {
        let backing = self.backing.clone();
        Ack::future(async move { backing.session_store().delete_account(&name).await })
    }

    /// Syncs every buffered (peer) write.
    fn flush(&self) -> Ack {
        let backing = self.backing.clone();
        Ack::future(async move { backing.session_store().flush().await })
    }

    /// Checkpoints, syncs and closes; later calls raise `ClosedError`.
    fn close(&self) -> Ack {
        let backing = self.backing.clone();
        Ack::future(async move { backing.session_store().close().await })
    }
}
