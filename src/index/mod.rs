//! The redb index: one table per kind of data, holding the state as of the last checkpoint.
//! Values are versioned postcard bytes decoded by us (see `codec`).
//!
//! Per-account tables are keyed by a small account number (the `accounts` table maps names
//! to numbers): fixed-width keys compare faster than a repeated name and take less space.

mod base;
mod db;
mod file;
mod gate;
mod hints;
pub(crate) mod io;
pub(crate) mod meta;
pub(crate) mod reader;
pub(crate) mod tables;
mod upgrade;

pub(crate) use base::{Base, read};
pub(crate) use db::guarded;
pub(crate) use file::{Index, check_reader_store_id, compact_file};
pub(crate) use hints::UsernameHints;
pub(crate) use meta::checkpoint_lsn;
pub(crate) use tables::*;
