//! Choosing a record's partition.
//!
//! The default is Java's: a record with a key goes to `toPositive(murmur2(key)) % partitions`
//! (the same partition the Java producer picks for the same key and partition count); a record
//! without one goes to a "sticky" partition (KIP-794): all unkeyed records of a topic go to one
//! partition until about `batch.size` bytes were sent to it, then to another one picked at
//! random among the partitions that have a leader, so batches fill up instead of every
//! partition getting a trickle.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use kafkaex_protocol::murmur2::partition_for_key;

/// What a partitioner knows about the topic.
#[derive(Clone, Copy, Debug)]
pub struct PartitionInfo<'a> {
    /// The number of partitions.
    pub count: i32,
    /// The partitions that have a leader now (a subset, in index order).
    pub available: &'a [i32],
}

/// Chooses the partition of records that do not name one. Called on the sending task for every
/// record: it must be quick and must not block.
pub trait Partitioner: Send + Sync + fmt::Debug {
    /// The partition (in `0..info.count`) for a record of `size` bytes with this key.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        size: usize,
        info: PartitionInfo<'_>,
    ) -> i32;
}

/// Java's default partitioner: murmur2 for keyed records, KIP-794 uniform sticky for the
/// others. One per topic (it keeps the sticky state).
#[derive(Debug)]
pub struct DefaultPartitioner {
    batch_size: usize,
    sticky: AtomicU32,
    /// Bytes sent to the sticky partition since it was chosen.
    sent: AtomicUsize,
    /// `u32::MAX` until a first sticky partition is chosen.
    seed: AtomicU32,
}

impl DefaultPartitioner {
    /// A partitioner that switches unkeyed records to a new partition after `batch_size` bytes.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size: batch_size.max(1),
            sticky: AtomicU32::new(u32::MAX),
            sent: AtomicUsize::new(0),
            seed: AtomicU32::new(random_seed()),
        }
    }

    fn next_random(&self) -> u32 {
        // xorshift32 on a shared state: quality is not the point, spreading is.
        let mut x = self.seed.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y << 13;
            y ^= y >> 17;
            y ^= y << 5;
            match self
                .seed
                .compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return y,
                Err(actual) => x = actual,
            }
        }
    }

    fn pick(&self, info: PartitionInfo<'_>, avoid: u32) -> u32 {
        let choices = if info.available.is_empty() {
            None
        } else {
            Some(info.available)
        };
        let count = u32::try_from(info.count.max(1)).unwrap_or(1);
        for _ in 0..4 {
            let r = self.next_random();
            let p = match choices {
                Some(list) => list[r as usize % list.len()] as u32,
                None => r % count,
            };
            if p != avoid || count == 1 || choices.is_some_and(|l| l.len() == 1) {
                return p;
            }
        }
        // Four draws hit `avoid` (likely only with few choices): take the next one after it.
        match choices {
            Some(list) => list
                .iter()
                .map(|p| *p as u32)
                .find(|p| *p > avoid)
                .unwrap_or(list[0] as u32),
            None => avoid.wrapping_add(1) % count,
        }
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(
        &self,
        _topic: &str,
        key: Option<&[u8]>,
        size: usize,
        info: PartitionInfo<'_>,
    ) -> i32 {
        if let Some(key) = key {
            if let Some(p) = partition_for_key(key, u32::try_from(info.count).unwrap_or(0)) {
                return p;
            }
        }
        let count = u32::try_from(info.count.max(1)).unwrap_or(1);
        let current = self.sticky.load(Ordering::Relaxed);
        let sent = self.sent.fetch_add(size, Ordering::Relaxed) + size;
        let stale = current >= count
            || (!info.available.is_empty() && !info.available.contains(&(current as i32)));
        if stale || sent >= self.batch_size {
            let next = self.pick(info, current);
            // One switch per threshold crossing; a racing sender keeps the winner's choice.
            if self
                .sticky
                .compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.sent.store(size, Ordering::Relaxed);
            }
            return self.sticky.load(Ordering::Relaxed) as i32;
        }
        current as i32
    }
}

fn random_seed() -> u32 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0x9E37_79B9;
    }
    u32::from_ne_bytes(bytes) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_records_follow_java_murmur2() {
        let p = DefaultPartitioner::new(16384);
        let info = PartitionInfo {
            count: 12,
            available: &[],
        };
        // kafka-clients: Utils.toPositive(Utils.murmur2("key-1".getBytes())) % 12.
        assert_eq!(
            p.partition("t", Some(b"key-1"), 10, info),
            partition_for_key(b"key-1", 12u32).unwrap()
        );
    }

    #[test]
    fn unkeyed_records_stick_until_a_batch_worth_then_move_to_an_available_partition() {
        let p = DefaultPartitioner::new(1000);
        let info = PartitionInfo {
            count: 6,
            available: &[1, 3, 5],
        };
        let first = p.partition("t", None, 100, info);
        assert!([1, 3, 5].contains(&first));
        for _ in 0..8 {
            assert_eq!(p.partition("t", None, 100, info), first);
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let part = p.partition("t", None, 100, info);
            assert!([1, 3, 5].contains(&part), "{part}");
            seen.insert(part);
        }
        assert_eq!(seen.len(), 3, "every available partition gets records");
    }
}
