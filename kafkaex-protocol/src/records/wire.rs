//! The hot loops' reading and writing: a cursor over a byte slice and a writer into a pre-sized
//! slice.
//!
//! The generic helpers in [`crate::primitives`] work on `Bytes`/`BytesMut` and check capacity per
//! call; records are read and written a few bytes at a time, thousands of times per batch, so
//! here a position in a plain slice does the work and `Bytes` handles are made only for the
//! values users keep (keys, values, headers).

use std::ops::Range;

use crate::error::DecodeError;

/// A read position in a byte slice. Every read is bounds-checked and fails with a
/// [`DecodeError`], never a panic.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

#[inline]
fn eof(needed: usize, remaining: usize) -> DecodeError {
    DecodeError::UnexpectedEof { needed, remaining }
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// A cursor at `pos` in `buf` (positions and ranges stay relative to `buf`'s start).
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor { buf, pos }
    }

    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn i8(&mut self) -> Result<i8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| eof(1, 0))?;
        self.pos += 1;
        Ok(b as i8)
    }

    #[inline]
    fn uvarlong(&mut self, max_bytes: usize) -> Result<u64, DecodeError> {
        // Fast path: most lengths and deltas in a batch fit one byte.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        // The last byte may only carry the bits the type has left (as in `primitives`).
        let last_max = if max_bytes == 5 { 0x0f } else { 0x01 };
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = *self.buf.get(self.pos).ok_or_else(|| eof(1, 0))?;
            self.pos += 1;
            if i == max_bytes - 1 && b > last_max {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// A zig-zag varint (32 bits).
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<i32, DecodeError> {
        let v = self.uvarlong(5)? as u32;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// A zig-zag varlong (64 bits).
    #[inline]
    pub(crate) fn varlong(&mut self) -> Result<i64, DecodeError> {
        let v = self.uvarlong(10)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Skips `len` bytes and returns their range.
    #[inline]
    pub(crate) fn take(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<Range<usize>, DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::InvalidLength {
                what,
                len: len as i64,
                remaining: self.remaining(),
            });
        }
        let start = self.pos;
        self.pos += len;
        Ok(start..self.pos)
    }

    /// A varint length (-1 for null) and that many bytes; `None` for null.
    #[inline]
    pub(crate) fn nullable(
        &mut self,
        what: &'static str,
    ) -> Result<Option<Range<usize>>, DecodeError> {
        let len = self.varint()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::InvalidLength {
                what,
                len: i64::from(len),
                remaining: self.remaining(),
            });
        }
        self.take(len as usize, what).map(Some)
    }
}

/// Reads an unsigned varint of at most `max_bytes` bytes at `*pos` in `buf`, advancing `*pos`:
/// the fast path of record decoding. Accepts exactly what [`Cursor`] accepts (the same overflow
/// rules), but says only `None` when the varint is cut short or too long; the caller reruns
/// [`Cursor`] to say why.
#[inline(always)]
fn read_uvarlong(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let p = *pos;
    let b0 = *buf.get(p)?;
    if b0 < 0x80 {
        *pos = p + 1;
        return Some(u64::from(b0));
    }
    let b1 = *buf.get(p + 1)?;
    if b1 < 0x80 {
        *pos = p + 2;
        return Some(u64::from(b0 & 0x7f) | (u64::from(b1) << 7));
    }
    read_uvarlong_long(buf, pos, max_bytes)
}

/// [`read_uvarlong`] for three bytes or more.
#[inline(never)]
fn read_uvarlong_long(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let last_max = if max_bytes == 5 { 0x0f } else { 0x01 };
    let mut value = 0u64;
    let mut p = *pos;
    for i in 0..max_bytes {
        let b = *buf.get(p)?;
        p += 1;
        if i == max_bytes - 1 && b > last_max {
            return None;
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *pos = p;
            return Some(value);
        }
    }
    None
}

/// A zig-zag varint at `*pos` of `buf` (see [`read_uvarlong`]).
#[inline(always)]
pub(crate) fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let v = read_uvarlong(buf, pos, 5)? as u32;
    Some(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// A zig-zag varlong at `*pos` of `buf` (see [`read_uvarlong`]).
#[inline(always)]
pub(crate) fn read_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let v = read_uvarlong(buf, pos, 10)?;
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// A varint length (-1 for null) and that many bytes of `buf` at `*pos`: `Some(None)` for null,
/// the bytes' range otherwise, `None` if the length is bad or runs past `buf` (see
/// [`read_uvarlong`]).
#[inline(always)]
pub(crate) fn read_nullable(buf: &[u8], pos: &mut usize) -> Option<Option<Range<usize>>> {
    let len = read_varint(buf, pos)?;
    if len == -1 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let start = *pos;
    if len > buf.len() - start {
        return None;
    }
    *pos = start + len;
    Some(Some(start..start + len))
}

/// A write position in a slice that was sized exactly beforehand. Writing past the end is a
/// bug in the size computation, and panics like any slice index.
#[derive(Debug)]
pub(crate) struct SliceWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> SliceWriter<'a> {
        SliceWriter { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf[self.pos] = v;
        self.pos += 1;
    }

    #[inline]
    pub(crate) fn slice(&mut self, v: &[u8]) {
        let out = &mut self.buf[self.pos..self.pos + v.len()];
        copy_short(out, v);
        self.pos += v.len();
    }

    #[inline(always)]
    fn uvarlong(&mut self, mut v: u64) {
        if v < 0x80 {
            self.u8(v as u8);
            return;
        }
        // Two bytes (lengths and deltas up to 8 KiB): one bounds check, one store.
        if v < 0x4000 {
            let p = self.pos;
            self.buf[p..p + 2].copy_from_slice(&[(v as u8) | 0x80, (v >> 7) as u8]);
            self.pos = p + 2;
            return;
        }
        while v >= 0x80 {
            self.u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.u8(v as u8);
    }

    /// A zig-zag varint.
    #[inline]
    pub(crate) fn varint(&mut self, v: i32) {
        self.uvarlong(u64::from(((v << 1) ^ (v >> 31)) as u32));
    }

    /// A zig-zag varlong.
    #[inline]
    pub(crate) fn varlong(&mut self, v: i64) {
        self.uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A length or count as a zig-zag varint. The caller has checked it is at most `i32::MAX`;
    /// non-negative, its zig-zag encoding is just twice it.
    #[inline(always)]
    pub(crate) fn len(&mut self, len: usize) {
        debug_assert!(len <= i32::MAX as usize);
        self.uvarlong((len as u64) << 1);
    }

    /// A varint length and the bytes, or -1 for `None`. The length is at most `i32::MAX` (the
    /// caller checked).
    #[inline(always)]
    pub(crate) fn nullable(&mut self, v: Option<&[u8]>) {
        match v {
            Some(b) => {
                self.len(b.len());
                self.slice(b);
            }
            None => self.u8(1), // zig-zag -1
        }
    }
}

/// Size of an unsigned varlong: one byte per started group of seven significant bits,
/// computed without branches (`(bits * 9 + 64) / 64` is `ceil(bits / 7)` for 1..=64 bits).
/// Copies up to 128 bytes (`out` and `v` have the same length) with two overlapping fixed-size
/// copies instead of a call to `memcpy`: keys, header keys and values are often this short,
/// and the call costs more than the copy. Longer slices are copied the usual way.
#[inline(always)]
pub(crate) fn copy_short(out: &mut [u8], v: &[u8]) {
    let n = v.len();
    match n {
        0 => {}
        1..=3 => {
            out[0] = v[0];
            out[n / 2] = v[n / 2];
            out[n - 1] = v[n - 1];
        }
        4..=7 => {
            out[..4].copy_from_slice(&v[..4]);
            out[n - 4..].copy_from_slice(&v[n - 4..]);
        }
        8..=16 => {
            out[..8].copy_from_slice(&v[..8]);
            out[n - 8..].copy_from_slice(&v[n - 8..]);
        }
        17..=32 => {
            out[..16].copy_from_slice(&v[..16]);
            out[n - 16..].copy_from_slice(&v[n - 16..]);
        }
        33..=64 => {
            out[..32].copy_from_slice(&v[..32]);
            out[n - 32..].copy_from_slice(&v[n - 32..]);
        }
        65..=128 => {
            out[..64].copy_from_slice(&v[..64]);
            out[n - 64..].copy_from_slice(&v[n - 64..]);
        }
        _ => out.copy_from_slice(v),
    }
}

#[inline(always)]
fn uvarlong_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) / 64
}

/// Size of a zig-zag varint (as [`crate::primitives::varint_len`], without branches).
#[inline(always)]
pub(crate) fn varint_len(v: i32) -> usize {
    uvarlong_len(u64::from(((v << 1) ^ (v >> 31)) as u32))
}

/// Size of a zig-zag varlong (as [`crate::primitives::varlong_len`], without branches).
#[inline(always)]
pub(crate) fn varlong_len(v: i64) -> usize {
    uvarlong_len(((v << 1) ^ (v >> 63)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};

    #[test]
    fn varints_agree_with_primitives() {
        let mut values: Vec<i64> = vec![0, 1, -1, 63, 64, -64, -65, i64::MAX, i64::MIN];
        values.extend((0..64).map(|s| 1i64 << s));
        values.extend((0..64).map(|s| (1i64 << s).wrapping_neg()));
        for v in values {
            let mut b = BytesMut::new();
            crate::primitives::put_varlong(&mut b, v);
            assert_eq!(Cursor::new(&b).varlong().unwrap(), v);
            let mut out = vec![0u8; b.len()];
            SliceWriter::new(&mut out).varlong(v);
            assert_eq!(out, &b[..]);
            assert_eq!(varlong_len(v), b.len(), "{v}");
            if let Ok(v32) = i32::try_from(v) {
                let mut b = BytesMut::new();
                crate::primitives::put_varint(&mut b, v32);
                assert_eq!(Cursor::new(&b).varint().unwrap(), v32);
                let mut out = vec![0u8; b.len()];
                SliceWriter::new(&mut out).varint(v32);
                assert_eq!(out, &b[..]);
                assert_eq!(varint_len(v32), b.len(), "{v32}");
            }
        }
    }

    #[test]
    fn short_copies_copy_every_byte_at_every_length() {
        let src: Vec<u8> = (1..=200).collect();
        for n in 0..=200 {
            let mut out = vec![0u8; n];
            copy_short(&mut out, &src[..n]);
            assert_eq!(out, &src[..n], "{n}");
        }
    }

    #[test]
    fn overlong_varints_are_errors() {
        for bad in [&[0xff, 0xff, 0xff, 0xff, 0x10][..], &[0xff; 5], &[0x80; 3]] {
            let r = Cursor::new(bad).varint();
            let p = crate::primitives::get_varint(&mut Bytes::copy_from_slice(bad));
            assert!(r.is_err(), "{bad:?}");
            assert!(p.is_err(), "{bad:?}");
        }
        let ok = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(
            Cursor::new(&ok).varint().unwrap(),
            crate::primitives::get_varint(&mut Bytes::copy_from_slice(&ok)).unwrap()
        );
        assert!(Cursor::new(&[0xff; 10]).varlong().is_err());
        assert!(
            Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .varlong()
                .is_err()
        );
        assert!(
            Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
                .varlong()
                .is_ok()
        );
    }
}
