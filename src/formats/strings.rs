//! Telethon, GramJS and Pyrogram session strings. (Being written.)

use super::{ExportOptions, Format, Portable, bad};
use crate::error::Result;

/// Identifies a session string by its prefix, alphabet and decoded layout.
pub fn detect_string(text: &str) -> Result<Format> {
    Err(bad(
        Format::TelethonString,
        format!("cannot detect yet ({} chars)", text.len()),
    ))
}

pub(crate) fn decode(_text: &str, format: Format) -> Result<Portable> {
    Err(bad(format, "not implemented yet"))
}

pub(crate) fn encode(_p: &Portable, format: Format, _options: &ExportOptions) -> Result<String> {
    Err(bad(format, "not implemented yet"))
}
