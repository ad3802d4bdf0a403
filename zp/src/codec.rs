//! Little-endian wire primitives: a bounded reader that never reads past its
//! input and refuses leftovers, and appending writers on `Vec<u8>`.
//!
//! Every multi-byte integer on the zp wire is little-endian
//! (zp-protocol.md, first paragraph).

use crate::error::Error;

/// A cursor over borrowed bytes that fails with [`Error::Truncated`] rather
/// than reading past the end.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.buf.len() {
            return Err(Error::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads `n` bytes that the protocol reserves and requires to be zero.
    #[inline]
    pub(crate) fn reserved(&mut self, n: usize) -> Result<(), Error> {
        if self.take(n)?.iter().any(|&b| b != 0) {
            return Err(Error::ReservedNonZero);
        }
        Ok(())
    }

    /// Succeeds only if every byte was consumed.
    #[inline]
    pub(crate) fn finish(self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes)
        }
    }
}

/// Appending little-endian writers, in the style of rustls' codec.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put(&mut self, bytes: &[u8]);
}

impl Put for Vec<u8> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_to_read_past_the_end_and_leftovers() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0201);
        assert_eq!(r.u16(), Err(Error::Truncated));
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.clone().finish(), Err(Error::TrailingBytes));
        assert_eq!(r.u8().unwrap(), 3);
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn reserved_bytes_must_be_zero() {
        assert_eq!(Reader::new(&[0, 0]).reserved(2), Ok(()));
        assert_eq!(
            Reader::new(&[0, 1]).reserved(2),
            Err(Error::ReservedNonZero)
        );
    }
}
