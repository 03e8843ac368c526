//! The contract's record values and the checksum consumers report over them.
//!
//! Record `i`'s value (`--record-size S` bytes) is S letters drawn from splitmix64 seeded with
//! `i`: each output's 8 bytes, little-endian, become `b'A' + byte % 26`. Random letters, like
//! the payloads of Java's `ProducerPerformance`, so that LZ4 finds the same (low) redundancy in
//! every arm's batches (an index in plain digits made the contract arms' lz4 topics 13% smaller
//! than Java's); the seed makes every value distinct. Consumers report the wrapping `u64` sum of the CRC32C
//! (Castagnoli) of every value they read: independent of the order partitions interleave in,
//! and a lost, duplicated or altered record changes it. The harness computes the expected sum
//! itself, so a contract producer's topic is checked record by record, not only counted.

/// Writes record `index`'s value into `value` (its length is the record size).
pub(crate) fn fill_value(value: &mut [u8], index: u64) {
    let mut state = index;
    for chunk in value.chunks_mut(8) {
        let x = splitmix64(&mut state).to_le_bytes();
        for (b, r) in chunk.iter_mut().zip(x) {
            *b = b'A' + r % 26;
        }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The checksum a consumer must report after reading records `0..records` of `size` bytes, as
/// the 16 lowercase hex digits the arms print.
pub(crate) fn expected_checksum(records: u64, size: usize) -> String {
    let mut value = vec![0u8; size];
    let mut sum = 0u64;
    for i in 0..records {
        fill_value(&mut value, i);
        sum = sum.wrapping_add(u64::from(crc32c::crc32c(&value)));
    }
    format!("{sum:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_the_arms() {
        // The same test vector as the rdkafka and franz-go arms' tests (and a Python check).
        let mut v = [0u8; 30];
        fill_value(&mut v, 1234);
        assert_eq!(&v, b"LCYVBMMFKXGZCFRVKLKZUQIZZEAEIN");
        let mut v = [0u8; 100];
        fill_value(&mut v, 0);
        assert_eq!(
            &v[..],
            &b"TXDTFMGSKXDFCCQGBRJYYPOGCZYKMCJOZMMDCHFBAGWMMDVFRYRFIYASIPWTGTCPNITNOQVKKUKCKUCJJJVINCWXMONFQMDMTLFQ"[..]
        );
        // A prefix of the longer value.
        let mut v = [0u8; 4];
        fill_value(&mut v, 1234);
        assert_eq!(&v, b"LCYV");
    }

    #[test]
    fn checksum_is_the_sum_of_crcs() {
        let mut v = [0u8; 100];
        let mut sum = 0u64;
        for i in 0..3 {
            fill_value(&mut v, i);
            sum += u64::from(crc32c::crc32c(&v));
        }
        assert_eq!(expected_checksum(3, 100), format!("{sum:016x}"));
        assert_eq!(expected_checksum(0, 100), "0000000000000000");
    }
}
