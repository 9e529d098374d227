//! A shared PostgreSQL backend for fleets of workers (feature `postgres`). [`PgStore`]
//! implements [`crate::SessionStore`] on normal tables, with account leases and fencing
//! tokens and group-committed writes; [`PgBackend`] is the lower level: leases handed to
//! the caller and passed to each write.
//!
//! SQL is kept to what distributed PostgreSQL-compatible engines also accept: lease rows
//! instead of advisory locks, `INSERT … ON CONFLICT` upserts, `SELECT … FOR UPDATE`,
//! `UNNEST` of arrays, no extensions and no server functions but `now()` and `count()`.
//! Time comes from the server (`now()`), never from the workers' clocks.

mod backend;
mod connection;
mod extras;
mod lease;
mod peers;
mod plan;
mod schema;
mod session;
mod store;
mod writer;

pub use backend::PgBackend;
pub use lease::Lease;
pub use store::{PgOptions, PgStore};
