//! `murmur2`, `to_positive` and `partition_for_key` against answers from the Java client.
//!
//! Every expected number below was printed by kafka-clients 4.4.0 itself (`Utils.murmur2` and
//! `BuiltInPartitioner.partitionForKey`, run with `java -cp kafka-clients-4.4.0.jar:slf4j-api.jar`
//! on a throwaway program), not computed by this crate. The text cases include the ones in
//! Kafka's own `UtilsTest.testMurmur2`; the inputs are their UTF-8 bytes.

use kafkaex_protocol::murmur2::{murmur2, partition_for_key, to_positive};
use proptest::prelude::*;

const TEXT_CASES: &[(&str, i32)] = &[
    ("", 275646681),
    ("21", -973932308),
    ("foobar", -790332482),
    ("abc", 479470107),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    (
        "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        -58897971,
    ),
    ("key", -1079937367),
    ("kafkaex", -286972504),
    ("héllo wörld", 439213890),
];

const PREFIX_HASHES: [i32; 41] = [
    275646681,
    425050138,
    -1606385903,
    -108754803,
    1386831423,
    580644288,
    -1879261483,
    -532381679,
    1482585343,
    210905472,
    1170719500,
    387960439,
    -424466987,
    -1260287053,
    -326867563,
    -27470952,
    -1323797251,
    1979245164,
    -421224522,
    1381377166,
    450443725,
    1666824703,
    1458067501,
    1510030371,
    -1565061163,
    1767613753,
    408107491,
    1553175362,
    774123331,
    -231633886,
    -750313810,
    285033068,
    1798458672,
    -448788124,
    -2084595111,
    -1988797684,
    315976191,
    1044179255,
    757792201,
    1738345993,
    -1713972482,
];

const PARTITION_CASES: &[(&str, u32, i32)] = &[
    ("21", 1, 0),
    ("21", 2, 0),
    ("21", 3, 0),
    ("21", 7, 3),
    ("21", 12, 0),
    ("21", 100, 40),
    ("21", 2147483647, 1173551340),
    ("foobar", 1, 0),
    ("foobar", 2, 0),
    ("foobar", 3, 0),
    ("foobar", 7, 0),
    ("foobar", 12, 6),
    ("foobar", 100, 66),
    ("foobar", 2147483647, 1357151166),
    ("abc", 1, 0),
    ("abc", 2, 1),
    ("abc", 3, 0),
    ("abc", 7, 4),
    ("abc", 12, 3),
    ("abc", 100, 7),
    ("abc", 2147483647, 479470107),
    ("key", 1, 0),
    ("key", 2, 1),
    ("key", 3, 1),
    ("key", 7, 4),
    ("key", 12, 1),
    ("key", 100, 81),
    ("key", 2147483647, 1067546281),
    ("kafkaex", 1, 0),
    ("kafkaex", 2, 0),
    ("kafkaex", 3, 1),
    ("kafkaex", 7, 2),
    ("kafkaex", 12, 4),
    ("kafkaex", 100, 44),
    ("kafkaex", 2147483647, 1860511144),
];

/// The first `n` bytes of the sequence `(i * 37 + 200) mod 256`: every length 0..=40, so every
/// tail length and many bytes >= 0x80 (which Java must not sign-extend).
fn prefix(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 37 + 200) as u8).collect()
}

#[test]
fn text_known_answers() {
    for &(text, expected) in TEXT_CASES {
        assert_eq!(murmur2(text.as_bytes()), expected, "murmur2({text:?})");
    }
}

#[test]
fn the_briefs_known_answers() {
    assert_eq!(murmur2(b"21"), -973932308);
    assert_eq!(murmur2(b"foobar"), -790332482);
    assert_eq!(murmur2(b"abc"), 479470107);
    assert_eq!(murmur2(b""), 275646681);
}

#[test]
fn every_length_up_to_40_with_high_bytes() {
    for (n, &expected) in PREFIX_HASHES.iter().enumerate() {
        assert_eq!(murmur2(&prefix(n)), expected, "length {n}");
    }
}

#[test]
fn partitions_match_the_java_partitioner() {
    for &(key, partitions, expected) in PARTITION_CASES {
        assert_eq!(
            partition_for_key(key.as_bytes(), partitions),
            Some(expected),
            "key {key:?}, {partitions} partitions"
        );
    }
}

#[test]
fn zero_partitions_is_none_not_a_panic() {
    assert_eq!(partition_for_key(b"foobar", 0), None);
    assert_eq!(partition_for_key(b"", 0), None);
}

#[test]
fn to_positive_clears_only_the_sign_bit() {
    assert_eq!(to_positive(0), 0);
    assert_eq!(to_positive(5), 5);
    assert_eq!(to_positive(i32::MAX), i32::MAX);
    assert_eq!(to_positive(-1), i32::MAX);
    assert_eq!(to_positive(i32::MIN), 0);
    assert_eq!(to_positive(-973932308), 1173551340);
}

#[test]
fn partition_above_i32_max_partitions_stays_in_range() {
    // Partition counts this large do not exist, but the function must not overflow on them.
    for key in [&b"21"[..], b"foobar", b"", b"abc"] {
        let p = partition_for_key(key, u32::MAX).expect("non-zero partitions");
        assert_eq!(p, to_positive(murmur2(key)));
    }
}

proptest! {
    #[test]
    fn partition_is_in_range_and_is_the_hash_remainder(
        key in proptest::collection::vec(any::<u8>(), 0..64),
        partitions in 1u32..=10_000,
    ) {
        let p = partition_for_key(&key, partitions).expect("non-zero partitions");
        prop_assert!(p >= 0);
        prop_assert!((p as u32) < partitions);
        prop_assert_eq!(i64::from(p), i64::from(to_positive(murmur2(&key))) % i64::from(partitions));
    }
}
