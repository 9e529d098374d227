//! sessiondb's errors as Python exceptions: one class per `Error` kind (defined in
//! `sessiondb/errors.py`, so that they can also subclass `OSError` or `ValueError`), with the
//! message unchanged.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use sessiondb::Error;

/// The class in `sessiondb.errors` that stands for `e`'s kind.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::Io { .. } => "StoreIoError",
        Error::Locked { .. } => "LockedError",
        Error::ForeignFormat { .. } => "ForeignFormatError",
        Error::Corrupt { .. } => "CorruptError",
        Error::CorruptValue { .. } => "CorruptValueError",
        Error::Latched { .. } => "LatchedError",
        Error::Internal(_) => "InternalError",
        Error::Closed => "ClosedError",
        Error::ReadOnly => "ReadOnlyError",
        Error::InvalidArgument(_) => "InvalidArgumentError",
        Error::UnsupportedVersion { .. } => "UnsupportedVersionError",
        Error::Index { .. } => "StoreIndexError",
        Error::Format { .. } => "FormatError",
        Error::AmbiguousFormat { .. } => "AmbiguousFormatError",
        Error::MissingField { .. } => "MissingFieldError",
        Error::WrongPassphrase { .. } => "WrongPassphraseError",
        Error::PassphraseRequired { .. } => "PassphraseRequiredError",
        Error::AccountLocked { .. } => "AccountLockedError",
        Error::LeaseLost { .. } => "LeaseLostError",
        Error::Server { .. } => "ServerError",
        Error::ForeignOwner { .. } => "ForeignOwnerError",
        _ => "SessiondbError",
    }
}

/// `e` as the Python exception of its kind.
pub fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    Python::attach(|py| {
        let class = py
            .import("sessiondb.errors")
            .and_then(|m| m.getattr(class_name(&e)))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, message),
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

/// `?` for sessiondb results in Python-facing code.
pub trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for sessiondb::Result<T> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// An `InvalidArgumentError` with `message`.
pub fn invalid(message: impl Into<String>) -> PyErr {
    to_py(Error::InvalidArgument(message.into()))
}
