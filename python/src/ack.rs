//! A write's acknowledgement, handed to Python: `wait()` blocks with the GIL released;
//! `notify(call_soon_threadsafe, resolve, future)` settles an asyncio future from the
//! runtime thread once the write is acknowledged (or failed), so the event loop never waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use sessiondb::Pending;

use crate::errors::{OrRaise, to_py};

type Work = Pin<Box<dyn Future<Output = sessiondb::Result<()>> + Send>>;

enum Source {
    /// An engine acknowledgement: waited on in place, no runtime needed.
    Pending(Pending<u64>),
    /// A future that may need tokio (closing a file store uses its blocking pool).
    Future(Work),
}

/// One write (or flush) in flight. Settles once: a second `wait` or `notify` raises.
#[pyclass(module = "sessiondb._native", frozen)]
pub struct Ack {
    source: Mutex<Option<Source>>,
}

impl Ack {
    pub fn pending(p: Pending<u64>) -> Ack {
        Ack::of(Source::Pending(p))
    }

    pub fn future(f: impl Future<Output = sessiondb::Result<()>> + Send + 'static) -> Ack {
        Ack::of(Source::Future(Box::pin(f)))
    }

    fn of(source: Source) -> Ack {
        Ack {
            source: Mutex::new(Some(source)),
        }
    }

    fn take(&self) -> PyResult<Source> {
        self.source
            .lock()
            .map_err(|_| PyRuntimeError::new_err("acknowledgement lock poisoned"))?
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this acknowledgement was already used"))
    }
}

/// The name of the runtime's thread (a wait on it could never finish).
const RUNTIME_THREAD: &str = "sessiondb-acks";

/// The runtime of this process and its gate into Python.
struct Runtime {
    pid: u32,
    handle: tokio::runtime::Handle,
    /// Held by the runtime thread while it calls into Python; `shutdown` (at interpreter
    /// exit) takes it and closes it, so that the thread never touches a finalizing
    /// interpreter (a call it had begun, e.g. `call_soon_threadsafe` letting go of the GIL
    /// mid-way, is waited for first).
    gate: Arc<Mutex<bool>>,
}

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

/// The runtime whose one thread drives acknowledgements for asyncio (and closes stores),
/// with its gate. One per process: a child made by `fork` has no copy of the thread (nor a
/// usable copy of the gate), so it starts its own.
fn runtime() -> PyResult<(tokio::runtime::Handle, Arc<Mutex<bool>>)> {
    let mut slot = RUNTIME
        .lock()
        .map_err(|_| PyRuntimeError::new_err("sessiondb's runtime lock poisoned"))?;
    let pid = std::process::id();
    if let Some(rt) = slot.as_ref()
        && rt.pid == pid
    {
        return Ok((rt.handle.clone(), rt.gate.clone()));
    }
    let started = || -> std::io::Result<tokio::runtime::Handle> {
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name(RUNTIME_THREAD.into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))?;
        Ok(handle)
    };
    let handle = started()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start sessiondb's runtime: {e}")))?;
    let gate = Arc::new(Mutex::new(true));
    *slot = Some(Runtime {
        pid,
        handle: handle.clone(),
        gate: gate.clone(),
    });
    Ok((handle, gate))
}

/// Runs `f` attached to Python unless the interpreter is exiting (see [`Runtime::gate`]).
fn with_python(gate: &Mutex<bool>, f: impl for<'py> FnOnce(Python<'py>)) {
    let Ok(open) = gate.lock() else { return };
    if *open {
        let _ = Python::try_attach(f);
    }
    drop(open);
}

/// Called at interpreter exit (`atexit`): waits for a callback under way, then keeps the
/// runtime thread out of Python for good.
#[pyfunction]
pub fn shutdown(py: Python<'_>) {
    let gate = match RUNTIME.lock() {
        Ok(slot) => match slot.as_ref() {
            Some(rt) if rt.pid == std::process::id() => rt.gate.clone(),
            _ => return,
        },
        Err(_) => return,
    };
    // The GIL is let go while waiting: the callback under way may need it to finish.
    py.detach(|| {
        if let Ok(mut open) = gate.lock() {
            *open = false;
        }
    });
}

async fn finish(source: Source) -> sessiondb::Result<()> {
    match source {
        Source::Pending(p) => p.await.map(drop),
        Source::Future(f) => f.await,
    }
}

#[pymethods]
impl Ack {
    /// Blocks until the write is acknowledged (the GIL released meanwhile); raises its error.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        match self.take()? {
            Source::Pending(p) => py.detach(|| p.wait().map(drop)).or_raise(),
            Source::Future(f) => {
                if std::thread::current().name() == Some(RUNTIME_THREAD) {
                    return Err(PyRuntimeError::new_err(
                        "an acknowledgement cannot be waited for on sessiondb's own thread",
                    ));
                }
                let (handle, _) = runtime()?;
                let (tx, rx) = std::sync::mpsc::channel();
                handle.spawn(async move {
                    let _ = tx.send(f.await);
                });
                py.detach(move || rx.recv())
                    .map_err(|_| PyRuntimeError::new_err("sessiondb's runtime stopped"))?
                    .or_raise()
            }
        }
    }

    /// Once acknowledged, calls `call_soon(resolve, future, error)` (`error` is `None` on
    /// success): pass the loop's `call_soon_threadsafe`.
    fn notify(&self, call_soon: Py<PyAny>, resolve: Py<PyAny>, future: Py<PyAny>) -> PyResult<()> {
        let source = self.take()?;
        let (handle, gate) = runtime()?;
        handle.spawn(async move {
            let result = finish(source).await;
            with_python(&gate, move |py| {
                let error = match result {
                    Ok(()) => py.None(),
                    Err(e) => to_py(e).into_value(py).into_any(),
                };
                // A closed loop refuses the call: nobody is left to tell.
                let _ = call_soon.call1(py, (resolve, future, error));
            });
        });
        Ok(())
    }
}
