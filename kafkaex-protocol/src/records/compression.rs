//! Compression codecs for record batches and legacy message sets: gzip, snappy, lz4 and zstd,
//! with Kafka's historical framing quirks.
//!
//! Decompression is always bounded: output is produced in chunks and abandoned as soon as it
//! would exceed the caller's cap ([`CompressionError::TooLarge`]), and sizes declared inside the
//! compressed data are never trusted beyond that cap. A few hundred hostile bytes therefore
//! cannot make us allocate gigabytes.
//!
//! Kafka quirks handled here:
//!
//! - **Snappy**: the Java client writes snappy-java's *xerial* stream framing (a
//!   `\x82SNAPPY\0` magic, two big-endian version ints, then big-endian length-prefixed raw
//!   snappy blocks), not the official snappy framing format. Other clients (librdkafka when
//!   configured so, old Go clients) write a single raw snappy block. We read both and write
//!   xerial, which every Kafka client reads.
//! - **LZ4**: Kafka uses the LZ4 *frame* format, but its first implementation
//!   (`KafkaLZ4BlockOutputStream` before KIP-57) computed the frame-descriptor checksum over the
//!   4-byte frame magic as well as the descriptor. Brokers and clients keep that broken checksum
//!   for magic 0 and the correct one for magic 1 and 2. We read both variants whatever the magic
//!   and write the broken one only for magic 0.

use std::io::{Read, Write};

use bytes::{BufMut, BytesMut};

use crate::error::CompressionError;

/// A compression codec, as stored in bits 0-2 of record batch and message attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression (codec id 0).
    #[default]
    None,
    /// gzip (codec id 1).
    Gzip,
    /// Snappy with xerial framing (codec id 2).
    Snappy,
    /// LZ4 frame format (codec id 3).
    Lz4,
    /// Zstandard (codec id 4; record batches v2 only).
    Zstd,
}

/// Mask of the codec bits in record batch and message attributes.
pub const CODEC_MASK: u8 = 0x07;

impl Compression {
    /// The codec id Kafka stores in the attributes.
    pub const fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec for a codec id; ids 5-7 are unknown.
    pub const fn from_id(id: u8) -> Result<Compression, CompressionError> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(CompressionError::UnknownCodec(other)),
        }
    }

    /// The codec named by the low three bits of an attributes value.
    pub fn from_attributes(attributes: i16) -> Result<Compression, CompressionError> {
        Compression::from_id(attributes as u8 & CODEC_MASK)
    }

    /// The codec's name as Kafka's `compression.type` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn codec_err(
    codec: Compression,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> CompressionError {
    CompressionError::Codec {
        codec: codec.name(),
        source: crate::error::CodecError::new(e),
    }
}

/// Compresses `input` with `codec`, appending the result to `out`.
///
/// `magic` is the record format the output is for; it only matters for LZ4, where magic 0 gets
/// the historical broken frame-descriptor checksum (see the module docs). `Compression::None`
/// appends `input` unchanged.
pub fn compress_into(
    codec: Compression,
    magic: i8,
    input: &[u8],
    out: &mut BytesMut,
) -> Result<(), CompressionError> {
    compress_into_at(codec, magic, input, out, None)
}

/// The levels each codec accepts, as Kafka's `compression.<codec>.level` settings: gzip 1-9
/// (default 6), zstd -131072..=22 (default 3; negative levels are zstd's fast ones), lz4 1-17
/// (liblz4's high-compression levels, as Java's; without a level, lz4_flex's fast encoder).
/// Snappy has none.
pub fn level_range(codec: Compression) -> Option<std::ops::RangeInclusive<i32>> {
    match codec {
        Compression::Gzip => Some(1..=9),
        Compression::Zstd => Some(-131_072..=22),
        Compression::Lz4 => Some(1..=17),
        Compression::None | Compression::Snappy => None,
    }
}

/// [`compress_into`] at `level` (`None`: the codec's default). A level outside
/// [`level_range`] is [`CompressionError::InvalidLevel`].
pub fn compress_into_at(
    codec: Compression,
    magic: i8,
    input: &[u8],
    out: &mut BytesMut,
    level: Option<i32>,
) -> Result<(), CompressionError> {
    if let Some(level) = level {
        if !level_range(codec).is_some_and(|r| r.contains(&level)) {
            return Err(CompressionError::InvalidLevel { codec, level });
        }
    }
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                out.writer(),
                level.map_or(flate2::Compression::default(), |l| {
                    flate2::Compression::new(l as u32)
                }),
            );
            enc.write_all(input).map_err(|e| codec_err(codec, e))?;
            enc.finish().map_err(|e| codec_err(codec, e))?;
        }
        Compression::Snappy => snappy_xerial_compress(input, out)?,
        Compression::Lz4 if level.is_some() => {
            let start = out.len();
            // Kafka's reader takes independent blocks of 64 KiB-4 MiB; no content checksum (its
            // writer sets none).
            let mut enc = lz4::EncoderBuilder::new()
                .level(level.unwrap_or(9).unsigned_abs())
                .block_mode(lz4::BlockMode::Independent)
                .block_size(lz4::BlockSize::Max64KB)
                .checksum(lz4::ContentChecksum::NoChecksum)
                .build(out.writer())
                .map_err(|e| codec_err(codec, e))?;
            enc.write_all(input).map_err(|e| codec_err(codec, e))?;
            let (_, finished) = enc.finish();
            finished.map_err(|e| codec_err(codec, e))?;
            if magic == 0 {
                lz4_break_header_checksum(&mut out[start..]);
            }
        }
        Compression::Lz4 => {
            let start = out.len();
            // Kafka's reader (KafkaLZ4BlockInputStream) only supports independent blocks and
            // 64 KiB-4 MiB block sizes; lz4_flex's defaults (independent, 64 KiB) fit.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_mode(lz4_flex::frame::BlockMode::Independent)
                .block_size(lz4_flex::frame::BlockSize::Max64KB);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, out.writer());
            enc.write_all(input).map_err(|e| codec_err(codec, e))?;
            enc.finish().map_err(|e| codec_err(codec, e))?;
            if magic == 0 {
                lz4_break_header_checksum(&mut out[start..]);
            }
        }
        Compression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(out.writer(), level.unwrap_or(3))
                .map_err(|e| codec_err(codec, e))?;
            enc.write_all(input).map_err(|e| codec_err(codec, e))?;
            enc.finish().map_err(|e| codec_err(codec, e))?;
        }
    }
    Ok(())
}

/// Compresses `input` with `codec` into a new buffer (see [`compress_into`]).
pub fn compress(codec: Compression, magic: i8, input: &[u8]) -> Result<BytesMut, CompressionError> {
    let mut out = BytesMut::with_capacity(input.len() / 2 + 64);
    compress_into(codec, magic, input, &mut out)?;
    Ok(out)
}

/// Decompresses `input`, failing with [`CompressionError::TooLarge`] as soon as the output would
/// exceed `max_len` bytes. Reads both variants of each quirk (xerial or raw snappy, broken or
/// correct LZ4 header checksum).
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_len: usize,
) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => {
            if input.len() > max_len {
                return Err(CompressionError::TooLarge { limit: max_len });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => read_bounded(
            codec,
            flate2::read::MultiGzDecoder::new(input),
            input.len(),
            max_len,
        ),
        Compression::Snappy => snappy_decompress(input, max_len),
        Compression::Lz4 => lz4_decompress(input, max_len),
        Compression::Zstd => {
            // The first frame's declared content size, when it has one: above the cap it is
            // refused before any work; and libzstd checks it against the output only when its
            // output buffer can hold the whole frame, which the bounded read below does not
            // guarantee, so a frame shorter than it declares is caught here under every cap.
            let declared = zstd::zstd_safe::get_frame_content_size(input)
                .ok()
                .flatten();
            if let Some(declared) = declared {
                if declared > max_len as u64 {
                    return Err(CompressionError::TooLarge { limit: max_len });
                }
            }
            if let Some(declared) = declared {
                // One frame that says how large it is (what Kafka's producers write): decode it
                // in one pass into a buffer of exactly that size, so memory is the content and
                // no more (the streaming read below grows its buffer by doubling). Several
                // frames, or a frame that does not hold what it declares, fail here and are
                // read (and reported) by the streaming decoder.
                let mut out = Vec::with_capacity(declared as usize);
                let one_pass = zstd::bulk::Decompressor::new()
                    .and_then(|mut d| d.decompress_to_buffer(input, &mut out));
                if one_pass.is_ok() && out.len() as u64 == declared {
                    return Ok(out);
                }
            }
            let dec =
                zstd::stream::read::Decoder::with_buffer(input).map_err(|e| codec_err(codec, e))?;
            let out = read_bounded(codec, dec, input.len(), max_len)?;
            match declared {
                Some(declared) if (out.len() as u64) < declared => Err(codec_err(
                    codec,
                    format!(
                        "frame declares {declared} bytes of content but holds {}",
                        out.len()
                    ),
                )),
                _ => Ok(out),
            }
        }
    }
}

/// Reads `reader` to its end in chunks, stopping with `TooLarge` once more than `max_len` bytes
/// came out. The initial capacity is a guess from the input size, capped by `max_len`, so the
/// allocation grows with real output only.
fn read_bounded(
    codec: Compression,
    reader: impl Read,
    input_len: usize,
    max_len: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::with_capacity(input_len.saturating_mul(4).min(max_len).min(1 << 20) + 16);
    // `take(max_len + 1)`: reading one byte past the cap proves the cap is exceeded without
    // ever holding more than cap + 1 bytes.
    let limit = max_len.saturating_add(1);
    let mut limited = reader.take(limit as u64);
    // The buffer doubles as output arrives, but never past the cap: one `read_to_end` would
    // grow it by its own rule, to half as much again as the cap allows (95 MB for 63 MB of
    // output under the 64 MiB cap). Each round fills exactly the room there is, so
    // `read_to_end` itself never grows it.
    loop {
        let mut room = out.capacity() - out.len();
        if room == 0 {
            room = out.capacity().max(64 << 10).min(limit - out.len());
            if room == 0 {
                break;
            }
            out.reserve_exact(room);
        }
        let n = (&mut limited)
            .take(room as u64)
            .read_to_end(&mut out)
            .map_err(|e| codec_err(codec, e))?;
        if n < room {
            break;
        }
    }
    if out.len() > max_len {
        return Err(CompressionError::TooLarge { limit: max_len });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Snappy
// ---------------------------------------------------------------------------------------------

/// snappy-java's stream header: magic, then version 1 and minimum compatible version 1.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
/// snappy-java's default block size (32 KiB of uncompressed input per block).
const XERIAL_BLOCK: usize = 32 * 1024;

fn snappy_xerial_compress(input: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.put_i32(1);
    out.put_i32(1);
    let mut enc = snap::raw::Encoder::new();
    let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK.min(input.len()))];
    for chunk in input.chunks(XERIAL_BLOCK) {
        let n = enc
            .compress(chunk, &mut block)
            .map_err(|e| codec_err(Compression::Snappy, e))?;
        out.put_i32(n as i32);
        out.extend_from_slice(&block[..n]);
    }
    Ok(())
}

fn snappy_decompress(input: &[u8], max_len: usize) -> Result<Vec<u8>, CompressionError> {
    let codec = Compression::Snappy;
    let mut dec = snap::raw::Decoder::new();
    if input.len() >= XERIAL_HEADER_LEN && input[..8] == XERIAL_MAGIC {
        let mut out = Vec::new();
        let mut rest = &input[XERIAL_HEADER_LEN..];
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(codec_err(codec, "truncated xerial block length"));
            }
            let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            rest = &rest[4..];
            if len < 0 || len as usize > rest.len() {
                return Err(codec_err(
                    codec,
                    format!("invalid xerial block length {len}"),
                ));
            }
            let (block, tail) = rest.split_at(len as usize);
            rest = tail;
            append_raw_snappy(&mut dec, block, &mut out, max_len)?;
        }
        Ok(out)
    } else {
        let mut out = Vec::new();
        append_raw_snappy(&mut dec, input, &mut out, max_len)?;
        Ok(out)
    }
}

/// The most a raw snappy block can expand: its densest element, a copy with a 2-byte offset,
/// takes 3 bytes and writes at most 64 (literals write no more than they take, 1-byte-offset
/// copies 11 bytes from 2, 4-byte-offset copies 64 from 5), so a block of `n` bytes decodes to
/// at most `n * 64 / 3`.
const SNAPPY_MAX_EXPANSION: (usize, usize) = (64, 3);

/// Decompresses one raw snappy block onto `out`. The block declares its uncompressed length up
/// front, and the whole output is allocated from it, so it is checked *before* allocating:
/// against what the cap still allows, and against what a block of this size can expand to at
/// all, so a few bytes declaring 60 MiB cost nothing instead of the cap.
fn append_raw_snappy(
    dec: &mut snap::raw::Decoder,
    block: &[u8],
    out: &mut Vec<u8>,
    max_len: usize,
) -> Result<(), CompressionError> {
    let declared =
        snap::raw::decompress_len(block).map_err(|e| codec_err(Compression::Snappy, e))?;
    if declared > max_len - out.len() {
        return Err(CompressionError::TooLarge { limit: max_len });
    }
    let (num, den) = SNAPPY_MAX_EXPANSION;
    if declared.saturating_mul(den) > block.len().saturating_mul(num) {
        return Err(codec_err(
            Compression::Snappy,
            format!(
                "a {}-byte block cannot hold the {declared} bytes it declares",
                block.len()
            ),
        ));
    }
    let start = out.len();
    out.resize(start + declared, 0);
    let n = dec
        .decompress(block, &mut out[start..])
        .map_err(|e| codec_err(Compression::Snappy, e))?;
    out.truncate(start + n);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LZ4
// ---------------------------------------------------------------------------------------------

const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// Length of the LZ4 frame descriptor (FLG, BD, optional content size and dictionary id),
/// not counting the magic and the checksum byte; `None` if `frame` is too short.
fn lz4_descriptor_len(frame: &[u8]) -> Option<usize> {
    let flg = *frame.get(4)?;
    let mut len = 2;
    if flg & 0x08 != 0 {
        len += 8;
    }
    if flg & 0x01 != 0 {
        len += 4;
    }
    (frame.len() > 4 + len).then_some(len)
}

/// Rewrites the header checksum of a correctly written frame the way Kafka's pre-KIP-57 code
/// computed it: over the magic and the descriptor instead of the descriptor alone.
fn lz4_break_header_checksum(frame: &mut [u8]) {
    if let Some(len) = lz4_descriptor_len(frame) {
        frame[4 + len] = (xxh32(&frame[..4 + len], 0) >> 8) as u8;
    }
}

fn lz4_decompress(input: &[u8], max_len: usize) -> Result<Vec<u8>, CompressionError> {
    let codec = Compression::Lz4;
    if input.len() < 4 || input[..4] != LZ4_MAGIC {
        return Err(codec_err(codec, "missing LZ4 frame magic"));
    }
    let len =
        lz4_descriptor_len(input).ok_or_else(|| codec_err(codec, "truncated LZ4 frame header"))?;
    let hc_at = 4 + len;
    let correct = (xxh32(&input[4..hc_at], 0) >> 8) as u8;
    let stored = input[hc_at];
    if stored == correct {
        return lz4_read_reusing(input, max_len);
    }
    let broken = (xxh32(&input[..hc_at], 0) >> 8) as u8;
    if stored != broken {
        return Err(codec_err(codec, "LZ4 frame header checksum mismatch"));
    }
    // A legacy frame: hand the decoder a header with the checksum it expects, chained to the
    // untouched rest of the input (no copy of the payload).
    let mut header = [0u8; 4 + 14 + 1];
    header[..=hc_at].copy_from_slice(&input[..=hc_at]);
    header[hc_at] = correct;
    let reader = (&header[..=hc_at]).chain(&input[hc_at + 1..]);
    read_bounded(
        codec,
        lz4_flex::frame::FrameDecoder::new(reader),
        input.len(),
        max_len,
    )
}

std::thread_local! {
    /// A frame decoder kept per thread, with its input buffer: lz4_flex's decoder allocates
    /// two buffers of the frame's maximum block size for every frame, and producers that
    /// declare 4 MiB blocks (franz-go's lz4, for one) made each batch map, fault in and unmap
    /// 8 MiB: a consumer of such a topic spent 1 s of system time per 2M records. Kept, the
    /// buffers are reused (at most twice the largest block size seen, 8 MiB, per thread).
    static LZ4_DECODER: std::cell::RefCell<Option<lz4_flex::frame::FrameDecoder<std::io::Cursor<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Decodes a frame (with a correct header checksum) with this thread's reused decoder.
fn lz4_read_reusing(input: &[u8], max_len: usize) -> Result<Vec<u8>, CompressionError> {
    LZ4_DECODER.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // Re-entered (cannot happen from this module; be safe): a decoder of its own.
            return read_bounded(
                Compression::Lz4,
                lz4_flex::frame::FrameDecoder::new(input),
                input.len(),
                max_len,
            );
        };
        let mut decoder = slot.take().unwrap_or_else(|| {
            lz4_flex::frame::FrameDecoder::new(std::io::Cursor::new(Vec::new()))
        });
        let cursor = decoder.get_mut();
        cursor.get_mut().clear();
        cursor.get_mut().extend_from_slice(input);
        cursor.set_position(0);
        let result = read_bounded(Compression::Lz4, &mut decoder, input.len(), max_len);
        if result.is_ok() {
            // Only a decoder that finished its frames cleanly is kept: after an error (or a
            // read stopped at the cap) its state is mid-frame.
            decoder.get_mut().get_mut().clear();
            if decoder.get_ref().get_ref().capacity() <= 8 << 20 {
                *slot = Some(decoder);
            }
        }
        result
    })
}

/// xxHash32, which the LZ4 frame format uses for its checksums. Only the header checksum is
/// computed here (lz4_flex does the rest), so this favours brevity over speed.
fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 2_654_435_761;
    const P2: u32 = 2_246_822_519;
    const P3: u32 = 3_266_489_917;
    const P4: u32 = 668_265_263;
    const P5: u32 = 374_761_393;
    let read = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let round = |acc: u32, lane: u32| {
        acc.wrapping_add(lane.wrapping_mul(P2))
            .rotate_left(13)
            .wrapping_mul(P1)
    };
    let mut rest = data;
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 16 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, read(&rest[i * 4..]));
            }
            rest = &rest[16..];
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    while rest.len() >= 4 {
        h = h
            .wrapping_add(read(rest).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
        rest = &rest[4..];
    }
    for &b in rest {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh32_known_answers() {
        assert_eq!(xxh32(b"", 0), 0x02cc_5d05);
        assert_eq!(xxh32(b"a", 0), 0x550d_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32d1_53ff);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xe229_3b2f
        );
    }

    #[test]
    fn lz4_frames_of_4_mib_blocks_decode_with_a_reused_decoder_also_after_errors() {
        // What franz-go writes: 4 MiB maximum blocks, content checksums.
        let frame = |data: &[u8]| {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max4MB)
                .content_checksum(true);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        };
        for round in 0..20u32 {
            let data: Vec<u8> = (0..(100_000 + round * 50_000))
                .map(|i| (i.wrapping_mul(round + 7) % 251) as u8)
                .collect();
            let good = frame(&data);
            assert_eq!(decompress(Compression::Lz4, &good, 64 << 20).unwrap(), data);
            // A corrupt frame, a frame cut short and one over the cap fail, and leave the
            // next decode unharmed.
            let mut bad = good.clone();
            let n = bad.len();
            bad[n - 3] ^= 0x5a;
            assert!(decompress(Compression::Lz4, &bad, 64 << 20).is_err());
            assert!(decompress(Compression::Lz4, &good[..good.len() / 2], 64 << 20).is_err());
            assert!(matches!(
                decompress(Compression::Lz4, &good, 1000),
                Err(CompressionError::TooLarge { limit: 1000 })
            ));
        }
    }

    #[test]
    fn lz4_both_checksums_read() {
        let data = b"hello hello hello hello kafka".repeat(10);
        for magic in [0, 1, 2] {
            let c = compress(Compression::Lz4, magic, &data).unwrap();
            assert_eq!(decompress(Compression::Lz4, &c, 1 << 20).unwrap(), data);
        }
        let good = compress(Compression::Lz4, 1, &data).unwrap();
        let broken = compress(Compression::Lz4, 0, &data).unwrap();
        assert_ne!(
            good[6], broken[6],
            "magic 0 writes a different header checksum"
        );
    }

    #[test]
    fn unlimited_cap_works() {
        let data = b"no limit".repeat(100);
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let c = compress(codec, 2, &data).unwrap();
            assert_eq!(decompress(codec, &c, usize::MAX).unwrap(), data, "{codec}");
        }
    }

    /// The densest raw snappy block (a literal, then copies of 64 bytes from 3) decodes; one
    /// byte more declared than it can hold is refused before allocating.
    #[test]
    fn raw_snappy_expansion_bound() {
        let copies = 1000;
        let declared = 1 + 64 * copies;
        let mut block = Vec::new();
        let mut v = declared;
        while v >= 0x80 {
            block.push((v as u8) | 0x80);
            v >>= 7;
        }
        block.push(v as u8);
        block.extend_from_slice(&[0x00, b'a']);
        for _ in 0..copies {
            // Copy with a 2-byte offset: length 64 (tag bits 63 << 2 | 2), offset 1.
            block.extend_from_slice(&[0xfe, 0x01, 0x00]);
        }
        let out = decompress(Compression::Snappy, &block, 1 << 20).unwrap();
        assert_eq!(out, vec![b'a'; declared]);
        // As many bytes declaring more than 64 per 3: corrupt, whatever the cap.
        let mut hostile = block.clone();
        hostile[..3].copy_from_slice(&[0xff, 0xff, 0x7f]);
        let err = decompress(Compression::Snappy, &hostile, 64 << 20).unwrap_err();
        assert!(err.to_string().contains("snappy"), "{err}");
        assert!(format!("{:?}", err).contains("cannot hold"), "{err:?}");
    }

    #[test]
    fn raw_snappy_read() {
        let data = b"snappy snappy snappy".repeat(100);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 1 << 20).unwrap(),
            data
        );
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100),
            Err(CompressionError::TooLarge { limit: 100 })
        );
    }
}
