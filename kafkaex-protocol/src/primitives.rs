//! Kafka's primitive wire types: fixed-width integers, varints, strings, bytes, arrays, UUIDs and
//! tagged fields, in both their classic and their compact (flexible-version) forms.
//!
//! Decoding reads from a [`Bytes`] cursor (advancing it), so `bytes` and `records` fields are
//! zero-copy slices of the received frame. Every length read from the wire is checked against the
//! bytes that remain before anything is allocated.
//!
//! Encoding writes into a [`BytesMut`]; the `*_len` functions give exact sizes so callers can
//! pre-size buffers and compute tagged-field sizes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};

/// A 128-bit UUID as Kafka sends it (16 big-endian bytes). `Uuid::ZERO` is Kafka's "no id".
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, which Kafka uses for "unset".
    pub const ZERO: Uuid = Uuid([0; 16]);
}

impl std::fmt::Debug for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uuid(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// An inclusive range of versions, e.g. a message's valid versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version, inclusive.
    pub min: i16,
    /// Highest version, inclusive.
    pub max: i16,
}

impl VersionRange {
    /// Whether `version` lies in this range.
    pub const fn contains(&self, version: i16) -> bool {
        version >= self.min && version <= self.max
    }
}

/// Tagged fields of a struct that this code does not know, by tag, kept so a decode/encode round
/// trip preserves them. A map, so tags are unique and always written in ascending order, as
/// KIP-482 requires (Java's reader refuses anything else); they are interleaved with the known
/// tagged fields by tag when encoded.
pub type UnknownTaggedFields = std::collections::BTreeMap<u32, Bytes>;

#[inline]
fn need(buf: &Bytes, n: usize) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError::UnexpectedEof {
            needed: n,
            remaining: buf.remaining(),
        })
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Reads a boolean (one byte; any non-zero value is true, as in Kafka's Java code).
#[inline]
pub fn get_bool(buf: &mut Bytes) -> Result<bool, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_u8() != 0)
}

/// Reads an `int8`.
#[inline]
pub fn get_i8(buf: &mut Bytes) -> Result<i8, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_i8())
}

/// Reads an `int16`.
#[inline]
pub fn get_i16(buf: &mut Bytes) -> Result<i16, DecodeError> {
    need(buf, 2)?;
    Ok(buf.get_i16())
}

/// Reads a `uint16`.
#[inline]
pub fn get_u16(buf: &mut Bytes) -> Result<u16, DecodeError> {
    need(buf, 2)?;
    Ok(buf.get_u16())
}

/// Reads an `int32`.
#[inline]
pub fn get_i32(buf: &mut Bytes) -> Result<i32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_i32())
}

/// Reads a `uint32`.
#[inline]
pub fn get_u32(buf: &mut Bytes) -> Result<u32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_u32())
}

/// Reads an `int64`.
#[inline]
pub fn get_i64(buf: &mut Bytes) -> Result<i64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_i64())
}

/// Reads a `float64`.
#[inline]
pub fn get_f64(buf: &mut Bytes) -> Result<f64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_f64())
}

/// Reads a `uuid`.
#[inline]
pub fn get_uuid(buf: &mut Bytes) -> Result<Uuid, DecodeError> {
    need(buf, 16)?;
    let mut u = [0u8; 16];
    buf.copy_to_slice(&mut u);
    Ok(Uuid(u))
}

/// Reads an unsigned varint (at most 5 bytes, 32 bits).
#[inline]
pub fn get_uvarint(buf: &mut Bytes) -> Result<u32, DecodeError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        need(buf, 1)?;
        let b = buf.get_u8();
        if i == 4 && b > 0x0f {
            return Err(DecodeError::VarintOverflow);
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintOverflow)
}

/// Reads an unsigned varlong (at most 10 bytes, 64 bits).
#[inline]
pub fn get_uvarlong(buf: &mut Bytes) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for i in 0..10 {
        need(buf, 1)?;
        let b = buf.get_u8();
        if i == 9 && b > 0x01 {
            return Err(DecodeError::VarintOverflow);
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintOverflow)
}

/// Reads a zig-zag signed varint (32 bits).
#[inline]
pub fn get_varint(buf: &mut Bytes) -> Result<i32, DecodeError> {
    let v = get_uvarint(buf)?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Reads a zig-zag signed varlong (64 bits).
#[inline]
pub fn get_varlong(buf: &mut Bytes) -> Result<i64, DecodeError> {
    let v = get_uvarlong(buf)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Reads a length prefix and returns `None` for null (-1, or 0 in compact form). Any other
/// negative length, or a length larger than the input left, is an error. `what` names the value
/// for the error message.
#[inline]
fn get_len(
    buf: &mut Bytes,
    compact: bool,
    what: &'static str,
) -> Result<Option<usize>, DecodeError> {
    let len: i64 = if compact {
        i64::from(get_uvarint(buf)?) - 1
    } else {
        i64::from(get_i32(buf)?)
    };
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as u64 > buf.remaining() as u64 {
        return Err(DecodeError::InvalidLength {
            what,
            len,
            remaining: buf.remaining(),
        });
    }
    Ok(Some(len as usize))
}

/// Reads a string length prefix: `int16` classic, unsigned varint (length + 1) compact.
#[inline]
fn get_string_len(buf: &mut Bytes, compact: bool) -> Result<Option<usize>, DecodeError> {
    if compact {
        return get_len(buf, true, "string");
    }
    let len = i64::from(get_i16(buf)?);
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > buf.remaining() {
        return Err(DecodeError::InvalidLength {
            what: "string",
            len,
            remaining: buf.remaining(),
        });
    }
    Ok(Some(len as usize))
}

fn take_string(buf: &mut Bytes, len: usize) -> Result<String, DecodeError> {
    let s = std::str::from_utf8(&buf[..len])
        .map_err(|_| DecodeError::InvalidUtf8)?
        .to_owned();
    buf.advance(len);
    Ok(s)
}

/// Reads a non-nullable string (`string` or `compact_string`).
pub fn get_string(buf: &mut Bytes, compact: bool) -> Result<String, DecodeError> {
    match get_string_len(buf, compact)? {
        Some(len) => take_string(buf, len),
        None => Err(DecodeError::UnexpectedNull { what: "string" }),
    }
}

/// Reads a nullable string (`nullable_string` or `compact_nullable_string`).
pub fn get_nullable_string(buf: &mut Bytes, compact: bool) -> Result<Option<String>, DecodeError> {
    match get_string_len(buf, compact)? {
        Some(len) => take_string(buf, len).map(Some),
        None => Ok(None),
    }
}

/// Reads non-nullable bytes (`bytes` or `compact_bytes`) as a zero-copy slice.
pub fn get_bytes(buf: &mut Bytes, compact: bool) -> Result<Bytes, DecodeError> {
    match get_len(buf, compact, "bytes")? {
        Some(len) => Ok(buf.split_to(len)),
        None => Err(DecodeError::UnexpectedNull { what: "bytes" }),
    }
}

/// Reads nullable bytes as a zero-copy slice.
pub fn get_nullable_bytes(buf: &mut Bytes, compact: bool) -> Result<Option<Bytes>, DecodeError> {
    Ok(get_len(buf, compact, "bytes")?.map(|len| buf.split_to(len)))
}

/// Reads an array length; `None` for a null array. The length is bounded by the bytes left
/// (every element takes at least one byte), so a hostile length cannot cause a huge allocation.
pub fn get_array_len(buf: &mut Bytes, compact: bool) -> Result<Option<usize>, DecodeError> {
    get_len(buf, compact, "array")
}

/// Reads the tagged-field section header and calls `field(tag, data)` for each field, with `data`
/// a zero-copy slice of exactly that field's bytes. `field` returns `Ok(true)` when it knew the tag;
/// unknown tags are kept in `unknown`. A tag that appears twice is an error (it could not be
/// written back, and Kafka never sends one).
pub fn get_tagged_fields(
    buf: &mut Bytes,
    unknown: &mut UnknownTaggedFields,
    mut field: impl FnMut(u32, Bytes) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    let count = get_uvarint(buf)? as usize;
    if count > buf.remaining() {
        return Err(DecodeError::InvalidLength {
            what: "tagged fields",
            len: count as i64,
            remaining: buf.remaining(),
        });
    }
    for _ in 0..count {
        let tag = get_uvarint(buf)?;
        let size = get_uvarint(buf)? as usize;
        if size > buf.remaining() {
            return Err(DecodeError::InvalidLength {
                what: "tagged field",
                len: size as i64,
                remaining: buf.remaining(),
            });
        }
        let data = buf.split_to(size);
        if !field(tag, data.clone())? && unknown.insert(tag, data).is_some() {
            return Err(DecodeError::InvalidValue {
                what: "tagged field tag (repeated)",
                value: i64::from(tag),
            });
        }
    }
    Ok(())
}

/// Skips a tagged-field section (count, then tag, size and bytes per field) without keeping
/// anything, checking every size against the bytes left.
pub fn skip_tagged_fields(buf: &mut Bytes) -> Result<(), DecodeError> {
    let count = get_uvarint(buf)? as usize;
    if count > buf.remaining() {
        return Err(DecodeError::InvalidLength {
            what: "tagged fields",
            len: count as i64,
            remaining: buf.remaining(),
        });
    }
    for _ in 0..count {
        let _tag = get_uvarint(buf)?;
        let size = get_uvarint(buf)? as usize;
        if size > buf.remaining() {
            return Err(DecodeError::InvalidLength {
                what: "tagged field",
                len: size as i64,
                remaining: buf.remaining(),
            });
        }
        buf.advance(size);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Writes a boolean.
#[inline]
pub fn put_bool(buf: &mut BytesMut, v: bool) {
    buf.put_u8(u8::from(v));
}

/// Writes an unsigned varint.
#[inline]
pub fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes an unsigned varlong.
#[inline]
pub fn put_uvarlong(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zig-zag signed varint.
#[inline]
pub fn put_varint(buf: &mut BytesMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes a zig-zag signed varlong.
#[inline]
pub fn put_varlong(buf: &mut BytesMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Size of an unsigned varint.
#[inline]
pub const fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Size of an unsigned varlong.
#[inline]
pub const fn uvarlong_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Size of a zig-zag varint.
#[inline]
pub const fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Size of a zig-zag varlong.
#[inline]
pub const fn varlong_len(v: i64) -> usize {
    uvarlong_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Writes a uuid.
#[inline]
pub fn put_uuid(buf: &mut BytesMut, v: &Uuid) {
    buf.put_slice(&v.0);
}

fn put_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    compact: bool,
    what: &'static str,
) -> Result<(), EncodeError> {
    match (len, compact) {
        (None, true) => put_uvarint(buf, 0),
        (None, false) => buf.put_i32(-1),
        (Some(n), true) => {
            if n >= u32::MAX as usize {
                return Err(EncodeError::TooLong { what, len: n });
            }
            put_uvarint(buf, n as u32 + 1)
        }
        (Some(n), false) => {
            if n > i32::MAX as usize {
                return Err(EncodeError::TooLong { what, len: n });
            }
            buf.put_i32(n as i32)
        }
    }
    Ok(())
}

fn len_len(len: Option<usize>, compact: bool) -> usize {
    if compact {
        uvarint_len(len.map_or(0, |n| (n as u32).wrapping_add(1)))
    } else {
        4
    }
}

/// Writes a string (`string` / `compact_string`).
pub fn put_string(buf: &mut BytesMut, v: &str, compact: bool) -> Result<(), EncodeError> {
    put_nullable_string(buf, Some(v), compact)
}

/// Writes a nullable string (`nullable_string` / `compact_nullable_string`).
pub fn put_nullable_string(
    buf: &mut BytesMut,
    v: Option<&str>,
    compact: bool,
) -> Result<(), EncodeError> {
    if compact {
        put_len(buf, v.map(str::len), true, "string")?;
    } else {
        match v {
            None => buf.put_i16(-1),
            Some(s) if s.len() > i16::MAX as usize => {
                return Err(EncodeError::TooLong {
                    what: "string",
                    len: s.len(),
                })
            }
            Some(s) => buf.put_i16(s.len() as i16),
        }
    }
    if let Some(s) = v {
        buf.put_slice(s.as_bytes());
    }
    Ok(())
}

/// Encoded size of a string.
pub fn string_len(v: &str, compact: bool) -> usize {
    nullable_string_len(Some(v), compact)
}

/// Encoded size of a nullable string.
pub fn nullable_string_len(v: Option<&str>, compact: bool) -> usize {
    let n = v.map_or(0, str::len);
    let prefix = if compact {
        len_len(v.map(str::len), true)
    } else {
        2
    };
    prefix + n
}

/// Writes bytes (`bytes` / `compact_bytes`, also `records`).
pub fn put_bytes(buf: &mut BytesMut, v: &[u8], compact: bool) -> Result<(), EncodeError> {
    put_len(buf, Some(v.len()), compact, "bytes")?;
    buf.put_slice(v);
    Ok(())
}

/// Writes nullable bytes.
pub fn put_nullable_bytes(
    buf: &mut BytesMut,
    v: Option<&[u8]>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(buf, v.map(<[u8]>::len), compact, "bytes")?;
    if let Some(b) = v {
        buf.put_slice(b);
    }
    Ok(())
}

/// Encoded size of bytes.
pub fn bytes_len(v: &[u8], compact: bool) -> usize {
    len_len(Some(v.len()), compact) + v.len()
}

/// Encoded size of nullable bytes.
pub fn nullable_bytes_len(v: Option<&[u8]>, compact: bool) -> usize {
    len_len(v.map(<[u8]>::len), compact) + v.map_or(0, <[u8]>::len)
}

/// Writes an array length (`None` for a null array).
pub fn put_array_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    compact: bool,
) -> Result<(), EncodeError> {
    put_len(buf, len, compact, "array")
}

/// Encoded size of an array length prefix.
pub fn array_len_len(len: Option<usize>, compact: bool) -> usize {
    len_len(len, compact)
}

/// Writes the unknown tagged fields whose tag is below `below` (all of them for `None`) that
/// `rest` still holds, advancing it. Generated encoders call this before each known tagged field
/// and once at the end, so known and unknown fields come out in one ascending order.
pub fn put_unknown_tagged_fields(
    buf: &mut BytesMut,
    rest: &mut std::iter::Peekable<std::collections::btree_map::Iter<'_, u32, Bytes>>,
    below: Option<u32>,
) {
    while let Some((tag, data)) = rest.next_if(|(tag, _)| below.is_none_or(|b| **tag < b)) {
        put_uvarint(buf, *tag);
        put_uvarint(buf, data.len() as u32);
        buf.put_slice(data);
    }
}

/// Encoded size of unknown tagged fields (without the count prefix).
pub fn unknown_tagged_fields_len(fields: &UnknownTaggedFields) -> usize {
    fields
        .iter()
        .map(|(tag, data)| uvarint_len(*tag) + uvarint_len(data.len() as u32) + data.len())
        .sum()
}

/// Fails when an unknown tagged field uses the tag of a field the struct knows (`known`): the
/// two would be written under one tag.
pub fn check_unknown_tags(
    fields: &UnknownTaggedFields,
    known: &[u32],
    message: &'static str,
) -> Result<(), EncodeError> {
    match known.iter().find(|tag| fields.contains_key(tag)) {
        Some(tag) => Err(EncodeError::TaggedFieldConflict { message, tag: *tag }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_sizes_match() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            assert_eq!(b.len(), varlong_len(v), "{v}");
            let mut r = b.freeze();
            assert_eq!(get_varlong(&mut r).unwrap(), v);
            if let Ok(v32) = i32::try_from(v) {
                let mut b = BytesMut::new();
                put_varint(&mut b, v32);
                assert_eq!(b.len(), varint_len(v32));
                let mut r = b.freeze();
                assert_eq!(get_varint(&mut r).unwrap(), v32);
            }
        }
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(get_uvarint(&mut b), Err(DecodeError::VarintOverflow));
        let mut b = Bytes::from_static(&[0xff; 11]);
        assert_eq!(get_uvarlong(&mut b), Err(DecodeError::VarintOverflow));
    }

    #[test]
    fn hostile_lengths_are_rejected_before_allocating() {
        let mut b = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert!(matches!(
            get_array_len(&mut b, false),
            Err(DecodeError::InvalidLength { .. })
        ));
        let mut b = Bytes::from_static(&[0x7f, 0xff, 0x41]);
        assert!(matches!(
            get_string(&mut b, false),
            Err(DecodeError::InvalidLength { .. })
        ));
        let mut b = Bytes::from_static(&[0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            get_bytes(&mut b, true),
            Err(DecodeError::InvalidLength { .. })
        ));
        let mut b = Bytes::from_static(&[0xff, 0xfe, 0x41]);
        assert!(matches!(
            get_nullable_string(&mut b, false),
            Err(DecodeError::InvalidLength { .. })
        ));
    }

    #[test]
    fn null_and_compact_forms() {
        let mut b = BytesMut::new();
        put_nullable_string(&mut b, None, true).unwrap();
        put_nullable_string(&mut b, Some("ab"), true).unwrap();
        put_nullable_bytes(&mut b, None, false).unwrap();
        put_array_len(&mut b, Some(3), true).unwrap();
        assert_eq!(&b[..], &[0, 3, b'a', b'b', 0xff, 0xff, 0xff, 0xff, 4]);
        let mut r = b.freeze();
        assert_eq!(get_nullable_string(&mut r, true).unwrap(), None);
        assert_eq!(
            get_nullable_string(&mut r, true).unwrap().as_deref(),
            Some("ab")
        );
        assert_eq!(get_nullable_bytes(&mut r, false).unwrap(), None);
        assert!(matches!(
            get_array_len(&mut r, true),
            Err(DecodeError::InvalidLength { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut b = Bytes::from_static(&[0, 2, 0xc3, 0x28]);
        assert_eq!(get_string(&mut b, false), Err(DecodeError::InvalidUtf8));
    }
}
