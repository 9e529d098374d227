//! Maintenance of an open store: a consistent copy while writers go on (`backup`),
//! rewriting into fresh files and swapping them in (`compact`, and `rotate`, which does it
//! with new keys), reading everything back (`verify`), the figures (`stats`), and bounding
//! the peer cache (`prune`, which removes peers through account handles). They call the
//! core; the core never calls them.

pub(crate) mod backup;
pub(crate) mod compact;
pub(crate) mod prune;
pub(crate) mod rotate;
pub(crate) mod stats;
pub(crate) mod verify;
