//! Blocking work (disk reads, opening and closing a store) called from async code: on
//! tokio's blocking pool, so that the runtime's threads never wait on the disk. Without the
//! `tokio` feature nothing async runs beside it, and it runs in place.

use crate::error::Result;

/// Runs `f` off the async runtime's threads; `what` names it in an error.
pub(crate) async fn off_runtime<T, F>(what: &'static str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    #[cfg(feature = "tokio")]
    return tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::Error::io(what, std::io::Error::other(e.to_string())))?;
    #[cfg(not(feature = "tokio"))]
    {
        let _ = what; // no pool, so no pool failure to name
        f()
    }
}
