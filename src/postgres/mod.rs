//! A shared PostgreSQL backend for fleets of workers (feature `postgres`). This first part
//! holds the schema with its migrations, account leases with fencing tokens, and fenced
//! update-state writes, and the peer cache; the rest of the session (DCs, user, app
//! fields, channel pts) has tables but no API yet.
//!
//! SQL is kept to what distributed PostgreSQL-compatible engines also accept: lease rows
//! instead of advisory locks, `INSERT … ON CONFLICT` upserts, `SELECT … FOR UPDATE`, no
//! extensions. Time comes from the server (`now()`), never from the workers' clocks.

mod lease;
mod peers;
mod schema;

use std::time::Duration;

pub use lease::Lease;

use crate::error::{Error, Result};
use crate::model::{Peer, UpdateState};

/// A connection to the shared database, as one named worker.
pub struct PgBackend {
    client: tokio_postgres::Client,
    worker: String,
    connection: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// A server error, without the statement's parameters (they may hold session data).
pub(crate) fn server(e: tokio_postgres::Error) -> Error {
    let reason = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    Error::Server(reason)
}

impl PgBackend {
    /// Connects to `url` (a libpq-style connection string) as `worker` (the name other
    /// workers see as a lease's holder) and brings the schema up to date. Must run inside a
    /// tokio runtime (the connection is driven by a spawned task).
    pub async fn connect(url: &str, worker: &str) -> Result<PgBackend> {
        if worker.is_empty() {
            return Err(Error::InvalidArgument("the worker name is empty".into()));
        }
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(server)?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut backend = PgBackend {
            client,
            worker: worker.to_owned(),
            connection,
        };
        schema::migrate(&mut backend.client).await?;
        Ok(backend)
    }

    /// This worker's name.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Takes `account` for this worker for `ttl` (see [`Lease`]).
    pub async fn acquire(&self, account: &str, ttl: Duration) -> Result<Lease> {
        lease::acquire(&self.client, &self.worker, account, ttl).await
    }

    /// Extends a held lease by `ttl` from now; `Error::LeaseLost` if it expired or was
    /// taken over.
    pub async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<()> {
        lease::renew(&self.client, lease, ttl).await
    }

    /// Gives the account up (a no-op if the lease was already lost).
    pub async fn release(&self, lease: Lease) -> Result<()> {
        lease::release(&self.client, &lease).await
    }

    /// Stores the account's update state, fenced by `lease`: acknowledged means committed,
    /// and a worker whose lease expired or was taken over gets `Error::LeaseLost` and
    /// writes nothing.
    pub async fn set_update_state(&mut self, lease: &Lease, state: &UpdateState) -> Result<()> {
        let txn = lease::fenced(&mut self.client, lease).await?;
        txn.execute(
            "INSERT INTO sessiondb_update_state (account, pts, qts, date, seq) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (account) DO UPDATE SET pts = excluded.pts, qts = excluded.qts, \
             date = excluded.date, seq = excluded.seq",
            &[
                &lease.account,
                &state.pts,
                &state.qts,
                &state.date,
                &state.seq,
            ],
        )
        .await
        .map_err(server)?;
        txn.commit().await.map_err(server)
    }

    /// Caches a batch of peers, fenced by `lease`, in one transaction of three statements
    /// whatever the batch size. Acknowledged means committed.
    pub async fn cache_peers(&mut self, lease: &Lease, peers: &[Peer]) -> Result<()> {
        let txn = lease::fenced(&mut self.client, lease).await?;
        peers::cache(&txn, &lease.account, peers).await?;
        txn.commit().await.map_err(server)
    }

    /// A cached peer by marked id.
    pub async fn peer(&self, account: &str, id: i64) -> Result<Option<Peer>> {
        peers::get(&self.client, account, peers::By::Id(id)).await
    }

    /// A cached peer by username (case-insensitive, leading `@` ignored).
    pub async fn peer_by_username(&self, account: &str, name: &str) -> Result<Option<Peer>> {
        peers::get(&self.client, account, peers::By::Username(name)).await
    }

    /// A cached peer by phone number (only digits count).
    pub async fn peer_by_phone(&self, account: &str, phone: &str) -> Result<Option<Peer>> {
        peers::get(&self.client, account, peers::By::Phone(phone)).await
    }

    /// The account's update state, if stored.
    pub async fn update_state(&self, account: &str) -> Result<Option<UpdateState>> {
        let row = self
            .client
            .query_opt(
                "SELECT pts, qts, date, seq FROM sessiondb_update_state WHERE account = $1",
                &[&account],
            )
            .await
            .map_err(server)?;
        Ok(row.map(|r| UpdateState {
            pts: r.get(0),
            qts: r.get(1),
            date: r.get(2),
            seq: r.get(3),
        }))
    }
}
