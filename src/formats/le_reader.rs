//! A bounds-checked little-endian reader for the binary session formats (layer-client,
//! ferogram): every read past the end is the format's "truncated or damaged" error.

use super::portable::{Format, bad};
use crate::error::{Error, Result};

/// Bounds-checked little-endian reader.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
    format: Format,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], format: Format) -> Self {
        Reader {
            buf,
            pos: 0,
            format,
        }
    }

    /// Bytes not read yet.
    pub fn rest(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn err(&self) -> Error {
        bad(
            self.format,
            format!(
                "truncated or damaged at byte {} of {}",
                self.pos,
                self.buf.len()
            ),
        )
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.err())?;
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        s.try_into().map_err(|_| self.err())
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
}
