//! The state written since the last checkpoint, in memory: the logged operations (`op`),
//! how a batch changes the state (`apply`: the merge and move rules, the same at write time
//! and at replay), the layers (`overlay`), reads through them over the index (`view`), a count of
//! peer writes per account (`peer_writes`), and folding a frozen layer into the index at a checkpoint (`fold`).

pub(crate) mod apply;
pub(crate) mod fold;
pub(crate) mod op;
pub(crate) mod overlay;
pub(crate) mod peer_writes;
pub(crate) mod view;
