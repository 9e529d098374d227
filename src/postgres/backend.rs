//! `PgBackend`: one connection as one named worker, with explicit leases.

use std::time::Duration;

use super::connection::connect_client;
use super::lease::{self, Lease};
use super::peers;
use super::plan::{self, Plan, Prepared};
use super::session::{self, Reader};
use super::{schema, writer};
use crate::error::{Error, Result};
use crate::model::{Peer, UpdateState, UpdateStateChange};

/// A connection to the shared database, as one named worker, with explicit leases.
pub struct PgBackend {
    client: tokio_postgres::Client,
    prepared: Prepared,
    worker: String,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl PgBackend {
    /// Connects to `url` (a libpq-style connection string) as `worker` (the name other
    /// workers see as a lease's holder) and brings the schema up to date. Must run inside a
    /// tokio runtime (the connection is driven by a spawned task).
    pub async fn connect(url: &str, worker: &str) -> Result<PgBackend> {
        if worker.is_empty() {
            return Err(Error::InvalidArgument("the worker name is empty".into()));
        }
        let mut client = connect_client(url).await?;
        schema::migrate(&mut client).await?;
        Ok(PgBackend {
            client,
            prepared: Prepared::default(),
            worker: worker.to_owned(),
        })
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

    /// Runs `plan` fenced by `lease`, with the account created first: acknowledged means
    /// committed, and a worker whose lease expired or was taken over gets
    /// `Error::LeaseLost` and writes nothing.
    async fn fenced(&mut self, lease: &Lease, plan: Plan) -> Result<()> {
        let mut steps = Plan::default();
        steps.push(session::REGISTER, plan::params![lease.account.clone()]);
        let all: Vec<&plan::Step> = steps.0.iter().chain(plan.0.iter()).collect();
        let names = [&lease.account];
        let rows = plan::begin_fenced(
            &self.client,
            &self.prepared,
            writer::FENCE,
            &[&names.as_slice()],
            &all,
        )
        .await?;
        let held = rows.iter().any(|r| r.get::<_, i64>(1) == lease.token);
        plan::end(&self.client, held).await?;
        if held {
            Ok(())
        } else {
            Err(lease::lost(lease))
        }
    }

    /// Stores the account's update state, fenced by `lease`.
    pub async fn set_update_state(&mut self, lease: &Lease, state: &UpdateState) -> Result<()> {
        let plan = session::update_state(&lease.account, UpdateStateChange::All(*state));
        self.fenced(lease, plan).await
    }

    /// Caches a batch of peers, fenced by `lease`, in one transaction of a fixed number of
    /// statements whatever the batch size.
    pub async fn cache_peers(&mut self, lease: &Lease, peers: &[Peer]) -> Result<()> {
        let plan = peers::cache(&lease.account, peers, false)?;
        self.fenced(lease, plan).await
    }

    fn reader(&self) -> Reader<'_> {
        Reader {
            client: &self.client,
            prepared: &self.prepared,
        }
    }

    /// A cached peer by marked id.
    pub async fn peer(&self, account: &str, id: i64) -> Result<Option<Peer>> {
        peers::get(&self.reader(), account, peers::By::Id(id)).await
    }

    /// A cached peer by username (case-insensitive, leading `@` ignored).
    pub async fn peer_by_username(&self, account: &str, name: &str) -> Result<Option<Peer>> {
        peers::get(&self.reader(), account, peers::By::Username(name)).await
    }

    /// A cached peer by phone number (only digits count).
    pub async fn peer_by_phone(&self, account: &str, phone: &str) -> Result<Option<Peer>> {
        peers::get(&self.reader(), account, peers::By::Phone(phone)).await
    }

    /// The account's update state, if stored.
    pub async fn update_state(&self, account: &str) -> Result<Option<UpdateState>> {
        self.reader().update_state(account).await
    }
}

#[cfg(test)]
mod tests {
    /// The backend's SQL, as written in its sources.
    const SOURCES: [&str; 5] = [
        include_str!("lease.rs"),
        include_str!("peers.rs"),
        include_str!("schema.rs"),
        include_str!("session.rs"),
        include_str!("writer.rs"),
    ];

    /// What distributed PostgreSQL-compatible engines (CockroachDB, YugabyteDB) lack or
    /// treat differently; the backend must use none of it.
    const SERVER_SPECIFIC: [&str; 14] = [
        "pg_advisory",
        "pg_",
        "CREATE EXTENSION",
        "LISTEN",
        "NOTIFY",
        "SERIAL",
        "SEQUENCE",
        "ctid",
        "xmin",
        "::regclass",
        "LOCK TABLE",
        "COPY ",
        "TEMPORARY",
        "UNLOGGED",
    ];

    #[test]
    fn the_sql_uses_nothing_server_specific() {
        for source in SOURCES {
            // Only string literals count; Rust identifiers may say anything.
            let literals: Vec<&str> = source.split('"').skip(1).step_by(2).collect();
            for lit in literals {
                for bad in SERVER_SPECIFIC {
                    assert!(
                        !lit.to_ascii_uppercase().contains(&bad.to_ascii_uppercase()),
                        "{bad:?} in {lit:?}"
                    );
                }
            }
        }
    }
}
