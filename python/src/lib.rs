//! sessiondb for Python: the file store and `MemoryStore`, their accounts, and write
//! acknowledgements that either block (with the GIL released) or settle an asyncio future.
//! The Telethon adapters are Python (`sessiondb/telethon.py`) over these calls.

use pyo3::prelude::*;

mod account;
mod ack;
mod convert;
mod errors;
mod store;

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::Store>()?;
    m.add_class::<account::Account>()?;
    m.add_class::<ack::Ack>()?;
    m.add_function(wrap_pyfunction!(ack::shutdown, m)?)?;
    m.add("DEFAULT_ACCOUNT", sessiondb::DEFAULT_ACCOUNT)?;
    m.add("AUTH_KEY_LEN", sessiondb::AUTH_KEY_LEN)?;
    Ok(())
}
