//! layer-client binary sessions (format version 3). (Being written.)

use super::{Format, Portable, bad};
use crate::error::Result;

pub(crate) fn looks_like(_head: &[u8]) -> bool {
    false
}

pub(crate) fn decode(_bytes: &[u8]) -> Result<Portable> {
    Err(bad(Format::Layer, "not implemented yet"))
}

pub(crate) fn encode(_p: &Portable) -> Result<Vec<u8>> {
    Err(bad(Format::Layer, "not implemented yet"))
}
