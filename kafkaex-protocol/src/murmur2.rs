//! The murmur2 hash exactly as the Java client computes it, so that a key lands on the same
//! partition whichever client produced it.
//!
//! Kafka's default partitioner (`BuiltInPartitioner.partitionForKey` in kafka-clients, and the
//! `DefaultPartitioner` before it) sends a record with a key to
//! `toPositive(murmur2(key)) % numPartitions`, where `murmur2` is `Utils.murmur2`: Austin
//! Appleby's MurmurHash2 (32-bit) with the fixed seed `0x9747b28c`, reading the input as
//! little-endian 4-byte words. Its result is a Java `int`, hence [`i32`] here, and its quirks
//! are kept on purpose because they decide partitions:
//!
//! - the length mixed into the seed is the input length as a 32-bit value (Java arrays cannot be
//!   longer; an input of 4 GiB or more is hashed with its length modulo 2^32);
//! - [`to_positive`] masks off the sign bit rather than taking the absolute value, so
//!   `i32::MIN` maps to 0, not to an overflow.
//!
//! `tests/murmur2.rs` checks these functions against answers computed by kafka-clients 4.4.0.
//!
//! ```
//! use kafkaex_protocol::murmur2::{murmur2, partition_for_key};
//!
//! assert_eq!(murmur2(b"21"), -973932308);
//! assert_eq!(partition_for_key(b"foobar", 12), Some(6));
//! assert_eq!(partition_for_key(b"foobar", 0), None);
//! ```

/// The seed `Utils.murmur2` uses.
const SEED: u32 = 0x9747_b28c;
/// MurmurHash2's multiplier.
const M: u32 = 0x5bd1_e995;
/// MurmurHash2's shift.
const R: u32 = 24;

/// Kafka's murmur2 of `data` (`org.apache.kafka.common.utils.Utils.murmur2`), as the Java `int`
/// it returns.
pub fn murmur2(data: &[u8]) -> i32 {
    // Java mixes in `data.length`, an int; truncating matches it for every length Java allows.
    let mut h = SEED ^ data.len() as u32;

    let mut words = data.chunks_exact(4);
    for word in &mut words {
        let mut k = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // The last 1 to 3 bytes, each as an unsigned byte (Java masks with 0xff, so bytes >= 0x80
    // do not sign-extend).
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u32::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    // Reinterpret the bits as Java's signed int.
    h as i32
}

/// `number` with its sign bit cleared (`Utils.toPositive`): a value in `0..=i32::MAX`.
///
/// Not the absolute value: `to_positive(-1)` is `i32::MAX` and `to_positive(i32::MIN)` is 0.
pub const fn to_positive(number: i32) -> i32 {
    number & 0x7fff_ffff
}

/// The partition the Java client's default partitioner picks for a record with key `key` in a
/// topic of `partitions` partitions: `to_positive(murmur2(key)) % partitions`.
///
/// `key` is the serialized key. Every partition of the topic counts, available or not, as in
/// the Java client. `None` when `partitions` is 0 (there is no partition to pick); otherwise the
/// result is in `0..partitions`.
pub fn partition_for_key(key: &[u8], partitions: u32) -> Option<i32> {
    // to_positive(..) is in 0..=i32::MAX: unsigned_abs() is the same number as a u32, and the
    // remainder, never larger than it, converts back to i32 without loss.
    let hash = to_positive(murmur2(key)).unsigned_abs();
    let partition = hash.checked_rem(partitions)?;
    Some(partition as i32)
}
