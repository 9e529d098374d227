//! Maintenance that works on an open store's core: a consistent copy while writers go on
//! (`backup`), rewriting into fresh files and swapping them in (`compact`, and `rotate`,
//! which does it with new keys), reading everything back (`verify`) and the figures
//! (`stats`). The face (`Store`) calls these; they never call the face.

pub(crate) mod backup;
pub(crate) mod compact;
pub(crate) mod rotate;
pub(crate) mod stats;
pub(crate) mod verify;
