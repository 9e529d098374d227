//! Opening a store, for writing or read-only: the core opens, inside `index::guarded`
//! (redb panics on some damaged pages, anywhere in an open: the caller gets an error naming
//! the index instead), and the face wraps it.

use std::path::Path;

use super::Store;
use crate::core::Core;
use crate::error::Result;
use crate::index;
use crate::options::Options;
use crate::paths::{self, INDEX_FILE};

impl Store {
    /// Opens or creates the store at `path` (`bot` → `bot.session/`) with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_with(path, Options::default())
    }

    /// Opens or creates the store at `path` for writing.
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        let index = paths::store_dir(path.as_ref()).join(INDEX_FILE);
        index::guarded(&index, || Core::open_writer(path.as_ref(), options, None)).map(Store::wrap)
    }

    /// Opens a store read-only, beside a writer that may be running: it reads the last
    /// checkpoint plus the log written so far, as one snapshot taken now.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        Self::open_read_only_with(path, Options::default())
    }

    /// [`Store::open_read_only`] with options (cache size, log file system).
    pub fn open_read_only_with(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        let index = paths::store_dir(path.as_ref()).join(INDEX_FILE);
        index::guarded(&index, || Core::open_read_only(path.as_ref(), options)).map(Store::wrap)
    }
}
