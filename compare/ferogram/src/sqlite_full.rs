//! ferogram's `SqliteBackend` with `synchronous=FULL`: its schema sets `NORMAL` on a
//! connection it keeps private, so an SQLite auto-extension notes each new connection's
//! handle and the pragma is set on that handle after `open` returns (before any other use).

use std::path::Path;
use std::sync::{Arc, Mutex};

use ferogram_session::{SessionBackend, SqliteBackend};
use rusqlite::ffi;

static OPENED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

unsafe extern "C" fn note_handle(
    db: *mut ffi::sqlite3,
    _err: *mut *mut std::ffi::c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> std::ffi::c_int {
    OPENED.lock().expect("handle list").push(db as usize);
    ffi::SQLITE_OK
}

pub fn open(path: &Path) -> Arc<dyn SessionBackend> {
    OPENED.lock().expect("handle list").clear();
    // SAFETY: registers a plain function; SQLite calls it on each new connection.
    let rc = unsafe { ffi::sqlite3_auto_extension(Some(note_handle)) };
    assert_eq!(rc, ffi::SQLITE_OK, "sqlite3_auto_extension");
    let backend = SqliteBackend::open(path).expect("open");
    let handles = std::mem::take(&mut *OPENED.lock().expect("handle list"));
    // SAFETY: unregisters the same function.
    unsafe { ffi::sqlite3_cancel_auto_extension(Some(note_handle)) };
    let [handle] = handles[..] else {
        panic!("SqliteBackend::open made {} connections", handles.len());
    };
    // SAFETY: the handle is the backend's open connection, used by nobody else until this
    // returns; `from_handle` borrows it and does not close it on drop.
    let conn = unsafe { rusqlite::Connection::from_handle(handle as *mut ffi::sqlite3) }
        .expect("borrow the connection");
    conn.execute_batch("PRAGMA synchronous = FULL")
        .expect("set FULL");
    let mode: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("read synchronous");
    assert_eq!(mode, 2, "synchronous is FULL on ferogram's connection");
    drop(conn);
    Arc::new(backend)
}
