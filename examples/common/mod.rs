//! Shared by the examples: the comparison's helpers, one copy (`compare/src/common.rs`,
//! which depends on nothing but std).

#[path = "../../compare/src/common.rs"]
mod compare_common;

/// A deterministic mixer: ids, hashes and lookup orders.
pub use compare_common::mix;
