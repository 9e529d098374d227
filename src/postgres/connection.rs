//! Connecting to the server, and its errors as ours: never with a statement's parameters
//! (they may hold session data), keeping the SQLSTATE code that retries are decided by.

use crate::error::{Error, Result};

/// A server error, without the statement's parameters (they may hold session data).
pub(crate) fn server(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::Server {
            message: db.message().to_owned(),
            code: Some(db.code().code().to_owned()),
        },
        None => Error::Server {
            message: e.to_string(),
            code: None,
        },
    }
}

/// A client for `url`, its connection driven by a spawned task until the client is dropped.
pub(super) async fn connect_client(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(server)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Whether a transaction failed only because it raced another (serialization failure or
/// deadlock) and may simply be run again.
pub(super) fn retryable(e: &Error) -> bool {
    matches!(e, Error::Server { code: Some(c), .. } if c == "40001" || c == "40P01")
}
