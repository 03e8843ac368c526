//! KafkaEx's partitioners: how a produce request with no partition gets one.
//!
//! KafkaEx 0.15 (kafkaex/kafka_ex `v0.15.0`) picks the partition of a `Produce.Request` whose
//! `partition` is nil with the module in its `partitioner` config,
//! `KafkaEx.DefaultPartitioner` unless set otherwise; [`Partitioner`] names the two it ships.
//! Both work the same way (`lib/kafka_ex/partitioner.ex`, `lib/kafka_ex/default_partitioner.ex`,
//! `lib/kafka_ex/legacy_partitioner.ex`):
//!
//! 1. The request's key is the key of all its messages, if they all have the same one.
//! 2. A key that is not nil is hashed with murmur2 (`lib/kafka_ex/utils/murmur.ex`, the Java
//!    client's hash, here [`kafkaex_protocol::murmur2::murmur2`]) and the partition is the hash,
//!    made non-negative, modulo the topic's partition count.
//! 3. A nil key, no messages, or messages with different keys give a random partition of the
//!    topic, partition 0 if the topic has no known partitions. The last two also log a warning.
//!
//! The two differ only in how the hash is made non-negative:
//!
//! - [`Partitioner::Default`] clears the sign bit (`murmur2 &&& 0x7FFFFFFF`, [`umurmur2`]), as
//!   the Java client's `toPositive` does, so keyed messages land where a Java producer puts them.
//! - [`Partitioner::Legacy`], KafkaEx's earlier default, takes the hash's 32 bits as an unsigned
//!   number (`murmur2 &&& 0xFFFFFFFF`, [`umurmur2_legacy`]): a key whose hash is negative lands on
//!   another partition than in Java (unless the partition count is a power of two).
//!
//! One deliberate difference: KafkaEx computes `rem(hash, 0)` for a keyed message to a topic
//! with no known partitions, which raises; here a partition count of 0 or less gives partition 0.
//!
//! ```
//! use kafkaex_legacy::partitioner::Partitioner;
//!
//! let key: &[u8] = b"key2";
//! assert_eq!(Partitioner::Default.partition(&[Some(key), Some(key)], 6), 5);
//! assert_eq!(Partitioner::Legacy.partition_for_key(b"key", 6), 3);
//! let random = Partitioner::Default.partition(&[None], 6);
//! assert!((0..6).contains(&random));
//! ```

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use kafkaex_protocol::murmur2::{murmur2, to_positive};

/// How a produce request with no partition picks one (KafkaEx's `partitioner` config).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Partitioner {
    /// `KafkaEx.DefaultPartitioner`: the Java client's choice for keyed messages.
    #[default]
    Default,
    /// `KafkaEx.LegacyPartitioner`: KafkaEx's earlier default, which hashes a key to the unsigned
    /// value of its murmur2 hash.
    Legacy,
}

/// Why a request has no single key (`KafkaEx.Partitioner.get_key/1`'s errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoKey {
    /// The request has no messages.
    NoMessages,
    /// Its messages have different keys (a nil key and a key count as different).
    InconsistentKeys,
}

impl NoKey {
    /// The reason as KafkaEx's warning shows it.
    fn as_str(self) -> &'static str {
        match self {
            NoKey::NoMessages => "no_messages",
            NoKey::InconsistentKeys => "inconsistent_keys",
        }
    }
}

/// The one key all messages share (`Ok(None)` for a nil key), as `KafkaEx.Partitioner.get_key/1`.
fn unique_key<'a>(keys: &[Option<&'a [u8]>]) -> Result<Option<&'a [u8]>, NoKey> {
    let (first, rest) = keys.split_first().ok_or(NoKey::NoMessages)?;
    if rest.iter().all(|key| key == first) {
        Ok(*first)
    } else {
        Err(NoKey::InconsistentKeys)
    }
}

impl Partitioner {
    /// The partition for a request whose messages have `keys` (one per message, `None` for a
    /// nil key), among `partition_count` partitions (0 when the topic's count is unknown).
    ///
    /// A key shared by all messages is hashed ([`partition_for_key`](Self::partition_for_key)).
    /// A nil key shared by all messages, no messages, or different keys (a nil key and a key
    /// count as different) give a random partition; the last two also log a warning
    /// ([`tracing::warn!`]), as KafkaEx does. The result is in `0..partition_count`, or 0 when
    /// `partition_count` is 0 or less.
    pub fn partition(self, keys: &[Option<&[u8]>], partition_count: i32) -> i32 {
        match unique_key(keys) {
            Ok(Some(key)) => self.partition_for_key(key, partition_count),
            Ok(None) => random_partition(partition_count),
            Err(reason) => {
                tracing::warn!(
                    partitioner = self.module_name(),
                    reason = reason.as_str(),
                    "couldn't assign partition due to {}",
                    reason.as_str()
                );
                random_partition(partition_count)
            }
        }
    }

    /// The partition for one key (the hash part): [`umurmur2`] (`Default`) or
    /// [`umurmur2_legacy`] (`Legacy`) of `key`, modulo `partition_count`.
    ///
    /// The result is in `0..partition_count`, or 0 when `partition_count` is 0 or less (where
    /// KafkaEx would raise on the division by zero).
    pub fn partition_for_key(self, key: &[u8], partition_count: i32) -> i32 {
        let Ok(count) = u32::try_from(partition_count) else {
            return 0;
        };
        let hash = match self {
            Partitioner::Default => umurmur2(key),
            Partitioner::Legacy => umurmur2_legacy(key),
        };
        // The remainder is below `count`, itself at most i32::MAX, so it fits an i32.
        hash.checked_rem(count)
            .and_then(|partition| i32::try_from(partition).ok())
            .unwrap_or(0)
    }

    /// The KafkaEx module this partitioner mirrors, for log lines.
    fn module_name(self) -> &'static str {
        match self {
            Partitioner::Default => "KafkaEx.DefaultPartitioner",
            Partitioner::Legacy => "KafkaEx.LegacyPartitioner",
        }
    }
}

/// KafkaEx's `umurmur2`: the murmur2 hash with its sign bit cleared (`murmur2 &&& 0x7FFFFFFF`),
/// in `0..=i32::MAX`, the value [`Partitioner::Default`] reduces modulo the partition count.
pub fn umurmur2(key: &[u8]) -> u32 {
    to_positive(murmur2(key)).unsigned_abs()
}

/// KafkaEx's `umurmur2_legacy`: the hash's 32 bits read as an unsigned number
/// (`murmur2 &&& 0xFFFFFFFF`), the value [`Partitioner::Legacy`] reduces modulo the partition
/// count. It differs from [`umurmur2`] exactly when the hash is negative, by 2^31.
pub fn umurmur2_legacy(key: &[u8]) -> u32 {
    murmur2(key) as u32
}

/// A random partition in `0..partition_count` (0 when the count is 0 or less), like KafkaEx's
/// `Enum.random/1` over the topic's partitions.
///
/// Not cryptographic, only spread: each call hashes a process-wide counter with a fresh
/// [`RandomState`], whose keys are random per thread and change with every instance.
fn random_partition(partition_count: i32) -> i32 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let Ok(count) = u64::try_from(partition_count) else {
        return 0;
    };
    let random = RandomState::new().hash_one(CALLS.fetch_add(1, Ordering::Relaxed));
    // Multiply-shift maps the 64-bit hash onto 0..count; the result is below count, an i32.
    let partition = ((u128::from(random) * u128::from(count)) >> 64) as u64;
    i32::try_from(partition).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kafka_ex v0.15.0 `test/kafka_ex/utils/murmur_test.exs`, "murmur2 correctly encodes
    /// strings" (taken there from kafka-clients' `UtilsTest`).
    const MURMUR2: [(&str, i32); 6] = [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ];

    /// The same file: `umurmur2` and `umurmur2_legacy` of the same words.
    const UMURMUR2: [(&str, u32, u32); 10] = [
        ("rule", 473_888_304, 2_621_371_952),
        ("monkey", 385_264_353, 385_264_353),
        ("hover", 164_653_822, 2_312_137_470),
        ("guest", 1_235_690_374, 1_235_690_374),
        ("necklace", 1_631_936_446, 3_779_420_094),
        ("storm", 393_248_174, 393_248_174),
        ("paint", 493_731_830, 2_641_215_478),
        ("agony", 989_421_259, 3_136_904_907),
        ("strategic", 1_388_697_647, 3_536_181_295),
        ("redundancy", 451_414_978, 451_414_978),
    ];

    #[test]
    fn murmur2_matches_kafka_ex() {
        for (key, hash) in MURMUR2 {
            assert_eq!(murmur2(key.as_bytes()), hash, "{key}");
        }
    }

    #[test]
    fn umurmur2_and_legacy_match_kafka_ex() {
        for (key, unsigned, legacy) in UMURMUR2 {
            assert_eq!(umurmur2(key.as_bytes()), unsigned, "umurmur2 {key}");
            assert_eq!(
                umurmur2_legacy(key.as_bytes()),
                legacy,
                "umurmur2_legacy {key}"
            );
        }
    }

    #[test]
    fn the_two_hashes_differ_by_the_sign_bit_only() {
        for (key, _) in MURMUR2 {
            let key = key.as_bytes();
            let hash = murmur2(key);
            assert_eq!(umurmur2(key), umurmur2_legacy(key) & 0x7fff_ffff);
            assert_eq!(umurmur2(key) == umurmur2_legacy(key), hash >= 0, "{hash}");
        }
    }

    /// kafka_ex v0.15.0 `test/kafka_ex/default_partitioner_test.exs` and
    /// `legacy_partitioner_test.exs`, "key based assignment": (key, partitions, default, legacy).
    const KEYED: [(&str, i32, i32, i32); 4] = [
        ("key", 5, 1, 4),
        ("key", 6, 1, 3),
        ("key2", 5, 1, 1),
        ("key2", 6, 5, 5),
    ];

    #[test]
    fn keyed_requests_land_where_kafka_ex_puts_them() {
        for (key, count, default, legacy) in KEYED {
            let keys = [Some(key.as_bytes())];
            assert_eq!(
                Partitioner::Default.partition(&keys, count),
                default,
                "{key}/{count}"
            );
            assert_eq!(
                Partitioner::Legacy.partition(&keys, count),
                legacy,
                "{key}/{count}"
            );
            assert_eq!(
                Partitioner::Default.partition_for_key(key.as_bytes(), count),
                default
            );
            assert_eq!(
                Partitioner::Legacy.partition_for_key(key.as_bytes(), count),
                legacy
            );
        }
    }

    #[test]
    fn partition_for_key_is_the_hash_modulo_the_count() {
        for (key, unsigned, legacy) in UMURMUR2 {
            for count in [1, 2, 3, 7, 12, 100, i32::MAX] {
                let key = key.as_bytes();
                let n = count.unsigned_abs();
                assert_eq!(
                    Partitioner::Default.partition_for_key(key, count),
                    (unsigned % n) as i32
                );
                assert_eq!(
                    Partitioner::Legacy.partition_for_key(key, count),
                    (legacy % n) as i32
                );
            }
        }
        // "rule" hashes negative: the two partitioners disagree on 12 partitions
        // (473888304 % 12 = 0, 2621371952 % 12 = 8).
        assert_eq!(Partitioner::Default.partition_for_key(b"rule", 12), 0);
        assert_eq!(Partitioner::Legacy.partition_for_key(b"rule", 12), 8);
        // The Java client's answer (kafkaex-protocol) for the default one.
        assert_eq!(
            Partitioner::Default.partition_for_key(b"foobar", 12),
            kafkaex_protocol::murmur2::partition_for_key(b"foobar", 12).unwrap()
        );
    }

    #[test]
    fn all_messages_with_the_same_key_hash_it() {
        let key: &[u8] = b"key2";
        for partitioner in [Partitioner::Default, Partitioner::Legacy] {
            let many = [Some(key); 4];
            assert_eq!(
                partitioner.partition(&many, 6),
                partitioner.partition_for_key(key, 6)
            );
        }
    }

    #[test]
    fn the_empty_key_always_gets_the_same_partition() {
        // KafkaEx.produce/4 defaults the key to "": a real key, hashed, not a random one.
        let empty: &[u8] = b"";
        for partitioner in [Partitioner::Default, Partitioner::Legacy] {
            for count in [2, 5, 6, 64] {
                let first = partitioner.partition(&[Some(empty)], count);
                assert_eq!(first, partitioner.partition_for_key(empty, count));
                for _ in 0..50 {
                    assert_eq!(partitioner.partition(&[Some(empty)], count), first);
                }
            }
        }
        // The Java client's hash of the empty array.
        assert_eq!(
            Partitioner::Default.partition_for_key(empty, 64),
            kafkaex_protocol::murmur2::partition_for_key(empty, 64).unwrap()
        );
    }

    #[test]
    fn unique_key_follows_kafka_ex_get_key() {
        // The cases of kafka_ex v0.15.0 test/kafka_ex/partitioner_test.exs.
        let key: &[u8] = b"key";
        let key2: &[u8] = b"key2";
        assert_eq!(unique_key(&[Some(key); 4]), Ok(Some(key)));
        assert_eq!(
            unique_key(&[Some(key), Some(key2)]),
            Err(NoKey::InconsistentKeys)
        );
        assert_eq!(unique_key(&[Some(key), None]), Err(NoKey::InconsistentKeys));
        assert_eq!(unique_key(&[None, Some(key)]), Err(NoKey::InconsistentKeys));
        assert_eq!(unique_key(&[None, None]), Ok(None));
        assert_eq!(unique_key(&[]), Err(NoKey::NoMessages));
        // The empty key is a key, not nil.
        assert_eq!(
            unique_key(&[Some(b"".as_slice()), None]),
            Err(NoKey::InconsistentKeys)
        );
    }

    /// Calls `partition` many times and checks every answer is in range and, with more than one
    /// partition, that more than one partition comes up (a constant would fail).
    fn assert_random(partitioner: Partitioner, keys: &[Option<&[u8]>], count: i32) {
        let mut seen = vec![false; count as usize];
        for _ in 0..500 {
            let partition = partitioner.partition(keys, count);
            assert!((0..count).contains(&partition), "{partition} of {count}");
            seen[partition as usize] = true;
        }
        if count > 1 {
            // 500 draws among at most 8 partitions: missing one has odds below 8 * (7/8)^500.
            assert!(seen.iter().all(|&s| s), "{seen:?}");
        }
    }

    #[test]
    fn no_key_gives_random_partitions_in_range() {
        let a: &[u8] = b"key-1";
        let b: &[u8] = b"key-2";
        for partitioner in [Partitioner::Default, Partitioner::Legacy] {
            for count in [1, 2, 5, 8] {
                assert_random(partitioner, &[None], count);
                assert_random(partitioner, &[None, None], count);
                assert_random(partitioner, &[], count);
                assert_random(partitioner, &[Some(a), Some(b)], count);
                assert_random(partitioner, &[Some(a), None], count);
            }
        }
    }

    #[test]
    fn random_partitions_stay_in_range_for_large_counts() {
        for count in [1000, i32::MAX] {
            for _ in 0..200 {
                let partition = Partitioner::Default.partition(&[None], count);
                assert!((0..count).contains(&partition), "{partition} of {count}");
            }
        }
    }

    #[test]
    fn no_partitions_gives_partition_zero() {
        let key: &[u8] = b"key";
        for partitioner in [Partitioner::Default, Partitioner::Legacy] {
            for count in [0, -1, i32::MIN] {
                assert_eq!(partitioner.partition_for_key(key, count), 0);
                assert_eq!(partitioner.partition(&[Some(key)], count), 0);
                assert_eq!(partitioner.partition(&[None], count), 0);
                assert_eq!(partitioner.partition(&[], count), 0);
                assert_eq!(partitioner.partition(&[Some(key), None], count), 0);
            }
        }
    }

    /// A subscriber that keeps the `reason` of every warning, to check what is logged.
    #[derive(Clone, Debug, Default)]
    struct Warnings(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    /// Picks the `reason` field out of an event.
    #[derive(Debug, Default)]
    struct Reason(Option<String>);

    impl tracing::field::Visit for Reason {
        fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}

        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            if field.name() == "reason" {
                self.0 = Some(value.to_owned());
            }
        }
    }

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                let mut reason = Reason::default();
                event.record(&mut reason);
                self.0.lock().unwrap().push(reason.0.unwrap_or_default());
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// The reasons of the warnings `f` logs.
    fn warnings(f: impl FnOnce()) -> Vec<String> {
        let warnings = Warnings::default();
        tracing::subscriber::with_default(warnings.clone(), f);
        let reasons = warnings.0.lock().unwrap().clone();
        reasons
    }

    #[test]
    fn inconsistent_keys_and_no_messages_are_warned_about() {
        let a: &[u8] = b"key-1";
        let b: &[u8] = b"key-2";
        for partitioner in [Partitioner::Default, Partitioner::Legacy] {
            let logged = warnings(|| {
                partitioner.partition(&[Some(a), Some(b)], 5);
            });
            assert_eq!(logged, ["inconsistent_keys"]);
            let logged = warnings(|| {
                partitioner.partition(&[None, Some(a)], 5);
            });
            assert_eq!(logged, ["inconsistent_keys"]);
            let logged = warnings(|| {
                partitioner.partition(&[], 5);
            });
            assert_eq!(logged, ["no_messages"]);
            // A shared key, nil or not, is no reason to warn.
            let logged = warnings(|| {
                partitioner.partition(&[None, None], 5);
                partitioner.partition(&[Some(a), Some(a)], 5);
            });
            assert!(logged.is_empty(), "{logged:?}");
        }
    }

    #[test]
    fn default_is_the_default_partitioner() {
        assert_eq!(Partitioner::default(), Partitioner::Default);
        assert_eq!(
            Partitioner::Default.module_name(),
            "KafkaEx.DefaultPartitioner"
        );
        assert_eq!(
            Partitioner::Legacy.module_name(),
            "KafkaEx.LegacyPartitioner"
        );
    }
}
