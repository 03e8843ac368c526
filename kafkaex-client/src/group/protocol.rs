//! The `consumer` protocol type's blobs: what a member puts in JoinGroup (its
//! [`Subscription`]) and what the leader puts in SyncGroup for each member (its [`Assignment`]).
//!
//! Each blob is an int16 version followed by the body of `ConsumerProtocolSubscription` or
//! `ConsumerProtocolAssignment` at that version (Java's `ConsumerProtocol` and
//! `MessageUtil.toVersionPrefixedByteBuffer`). We write v3, as Java 3.4+ does, with the topics
//! and owned partitions sorted as Java sorts them. We read every version: one above the highest we
//! know is read as the highest we know, with any bytes after its fields ignored, because "new
//! versions cannot remove or reorder fields" (the specs' comment) and Java reads them so; bytes
//! after the body of a known version are ignored too, as Java ignores them.
//!
//! Partitions are held as `(topic, [partition])` lists in the wire's grouping rather than a map:
//! what is read is what was sent. [`Subscription::owned`] and [`Assignment::topic_partitions`]
//! give the flat, sorted form.

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use kafkaex_protocol::messages::consumer_protocol_assignment as wire_assignment;
use kafkaex_protocol::messages::consumer_protocol_subscription as wire_subscription;
use kafkaex_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use kafkaex_protocol::{Decodable as _, DecodeError, Encodable as _, EncodeError};

/// The JoinGroup `protocol_type` of consumer groups.
pub const PROTOCOL_TYPE: &str = "consumer";

/// The version of [`Subscription`] and [`Assignment`] blobs we write (and the highest we know).
pub const CONSUMER_PROTOCOL_VERSION: i16 = 3;

/// The generation of a member that has none yet (Java's `DEFAULT_GENERATION`).
pub const NO_GENERATION: i32 = -1;

/// A consumer protocol blob could not be read or written.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The blob is shorter than its int16 version.
    #[error("consumer protocol {what}: {len} bytes, too short for its version")]
    MissingVersion {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// The blob's length.
        len: usize,
    },
    /// The version is negative (Java rejects it too).
    #[error("consumer protocol {what}: unsupported version {version}")]
    UnsupportedVersion {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// The version read.
        version: i16,
    },
    /// The body is malformed: truncated, a negative or oversized length, invalid UTF-8.
    #[error("malformed consumer protocol {what} v{version}")]
    Malformed {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// The version read.
        version: i16,
        /// How the body failed to decode.
        #[source]
        source: DecodeError,
    },
    /// The blob could not be written (a topic name or user data too long for its length prefix,
    /// or a version outside 0-3).
    #[error("consumer protocol {what} cannot be encoded")]
    Encode {
        /// `subscription` or `assignment`.
        what: &'static str,
        /// Why.
        #[source]
        source: EncodeError,
    },
}

impl From<ProtocolError> for crate::Error {
    fn from(e: ProtocolError) -> Self {
        crate::Error::InvalidArgument(error_chain(&e))
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// A member's subscription, the metadata of its JoinGroup protocols (one per assignor, which
/// differ only in `user_data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The topics the member wants (written sorted).
    pub topics: Vec<String>,
    /// The assignor's data (see [`super::assignor::Assignor::user_data`]).
    pub user_data: Option<Bytes>,
    /// The partitions the member owns now, grouped by topic (v1+; empty when read from v0).
    /// Written sorted by topic, then partition, one entry per topic.
    pub owned_partitions: Vec<(String, Vec<i32>)>,
    /// The generation the member's owned partitions are from (v2+); [`NO_GENERATION`] when it has
    /// none, or when read from v0 or v1.
    pub generation_id: i32,
    /// The member's rack (`client.rack`, v3+); an empty rack is read as `None`, as Java does.
    pub rack_id: Option<String>,
}

impl Default for Subscription {
    /// No topics, nothing owned, [`NO_GENERATION`].
    fn default() -> Self {
        Self::new(Vec::<String>::new())
    }
}

impl Subscription {
    /// A subscription to `topics`, owning nothing, with no generation, rack or user data.
    pub fn new(topics: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            topics: topics.into_iter().map(Into::into).collect(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: NO_GENERATION,
            rack_id: None,
        }
    }

    /// The owned partitions as sorted, distinct `(topic, partition)` pairs.
    pub fn owned(&self) -> Vec<(String, i32)> {
        flatten(&self.owned_partitions)
    }

    /// Writes the blob at v3: the version, then the body (topics sorted, owned partitions sorted by
    /// topic then partition, as Java's `ConsumerProtocol.serializeSubscription`).
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        self.encode_version(CONSUMER_PROTOCOL_VERSION)
    }

    /// Writes the blob at `version`; fields the version does not carry are left out. A version
    /// above 3 is written as 3 (as Java does); a negative one is an error.
    pub fn encode_version(&self, version: i16) -> Result<Bytes, ProtocolError> {
        const WHAT: &str = "subscription";
        let version = write_version(WHAT, version)?;
        let mut topics = self.topics.clone();
        topics.sort();
        let owned = group(self.owned())
            .into_iter()
            .map(|(topic, partitions)| {
                wire_subscription::TopicPartition::default()
                    .with_topic(topic)
                    .with_partitions(partitions)
            })
            .collect();
        let data = ConsumerProtocolSubscription::default()
            .with_topics(topics)
            .with_user_data(self.user_data.clone())
            .with_owned_partitions(owned)
            .with_generation_id(self.generation_id)
            .with_rack_id(self.rack_id.clone());
        let encode = || -> Result<Bytes, EncodeError> {
            let mut buf = BytesMut::with_capacity(2 + data.encoded_len(version)?);
            buf.put_i16(version);
            data.encode(&mut buf, version)?;
            Ok(buf.freeze())
        };
        encode().map_err(|source| ProtocolError::Encode { what: WHAT, source })
    }

    /// Reads a blob of any version (see the [module docs](self)).
    pub fn decode(blob: &[u8]) -> Result<Self, ProtocolError> {
        const WHAT: &str = "subscription";
        let (version, mut body) = read_version(WHAT, blob)?;
        let data = ConsumerProtocolSubscription::decode(&mut body, version).map_err(|source| {
            ProtocolError::Malformed {
                what: WHAT,
                version,
                source,
            }
        })?;
        Ok(Self {
            topics: data.topics,
            user_data: data.user_data,
            owned_partitions: data
                .owned_partitions
                .into_iter()
                .map(|tp| (tp.topic, tp.partitions))
                .collect(),
            generation_id: data.generation_id,
            rack_id: data.rack_id.filter(|r| !r.is_empty()),
        })
    }
}

/// What the leader gives one member: its partitions and the assignor's data for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// The assigned partitions grouped by topic. Written one entry per topic, in the order of each
    /// topic's first appearance (as Java does), partitions in the order given.
    pub partitions: Vec<(String, Vec<i32>)>,
    /// The assignor's data for the member (none of Java's assignors sends any).
    pub user_data: Option<Bytes>,
}

impl Assignment {
    /// An assignment of `partitions` (`(topic, partition)` pairs), sorted and grouped by topic,
    /// with no user data.
    pub fn from_topic_partitions(partitions: impl IntoIterator<Item = (String, i32)>) -> Self {
        let mut flat: Vec<(String, i32)> = partitions.into_iter().collect();
        flat.sort();
        flat.dedup();
        Self {
            partitions: group(flat),
            user_data: None,
        }
    }

    /// The assigned partitions as sorted, distinct `(topic, partition)` pairs.
    pub fn topic_partitions(&self) -> Vec<(String, i32)> {
        flatten(&self.partitions)
    }

    /// Writes the blob at v3.
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        self.encode_version(CONSUMER_PROTOCOL_VERSION)
    }

    /// Writes the blob at `version` (the body is the same at every version). A version above 3 is
    /// written as 3; a negative one is an error.
    pub fn encode_version(&self, version: i16) -> Result<Bytes, ProtocolError> {
        const WHAT: &str = "assignment";
        let version = write_version(WHAT, version)?;
        let mut grouped: Vec<wire_assignment::TopicPartition> = Vec::new();
        for (topic, partitions) in &self.partitions {
            match grouped.iter_mut().find(|tp| &tp.topic == topic) {
                Some(tp) => tp.partitions.extend_from_slice(partitions),
                None => grouped.push(
                    wire_assignment::TopicPartition::default()
                        .with_topic(topic.clone())
                        .with_partitions(partitions.clone()),
                ),
            }
        }
        let data = ConsumerProtocolAssignment::default()
            .with_assigned_partitions(grouped)
            .with_user_data(self.user_data.clone());
        let encode = || -> Result<Bytes, EncodeError> {
            let mut buf = BytesMut::with_capacity(2 + data.encoded_len(version)?);
            buf.put_i16(version);
            data.encode(&mut buf, version)?;
            Ok(buf.freeze())
        };
        encode().map_err(|source| ProtocolError::Encode { what: WHAT, source })
    }

    /// Reads a blob of any version (see the [module docs](self)).
    pub fn decode(blob: &[u8]) -> Result<Self, ProtocolError> {
        const WHAT: &str = "assignment";
        let (version, mut body) = read_version(WHAT, blob)?;
        let data = ConsumerProtocolAssignment::decode(&mut body, version).map_err(|source| {
            ProtocolError::Malformed {
                what: WHAT,
                version,
                source,
            }
        })?;
        Ok(Self {
            partitions: data
                .assigned_partitions
                .into_iter()
                .map(|tp| (tp.topic, tp.partitions))
                .collect(),
            user_data: data.user_data,
        })
    }
}

/// The version to write: above the highest known is the highest known (Java's
/// `checkSubscriptionVersion`); negative is an error.
fn write_version(what: &'static str, version: i16) -> Result<i16, ProtocolError> {
    if version < 0 {
        return Err(ProtocolError::UnsupportedVersion { what, version });
    }
    Ok(version.min(CONSUMER_PROTOCOL_VERSION))
}

/// Splits the int16 version off a blob; the version to read the body at (newer versions as the
/// highest known) and the body.
fn read_version(what: &'static str, blob: &[u8]) -> Result<(i16, Bytes), ProtocolError> {
    if blob.len() < 2 {
        return Err(ProtocolError::MissingVersion {
            what,
            len: blob.len(),
        });
    }
    let mut body = Bytes::copy_from_slice(blob);
    let version = body.get_i16();
    if version < 0 {
        return Err(ProtocolError::UnsupportedVersion { what, version });
    }
    Ok((version.min(CONSUMER_PROTOCOL_VERSION), body))
}

/// `(topic, [partition])` groups as sorted, distinct pairs.
pub(crate) fn flatten(grouped: &[(String, Vec<i32>)]) -> Vec<(String, i32)> {
    let mut flat: Vec<(String, i32)> = grouped
        .iter()
        .flat_map(|(topic, partitions)| partitions.iter().map(move |&p| (topic.clone(), p)))
        .collect();
    flat.sort();
    flat.dedup();
    flat
}

/// Sorted pairs grouped by topic, one entry per topic.
pub(crate) fn group(sorted: Vec<(String, i32)>) -> Vec<(String, Vec<i32>)> {
    let mut grouped: Vec<(String, Vec<i32>)> = Vec::new();
    for (topic, p) in sorted {
        match grouped.last_mut() {
            Some((t, ps)) if *t == topic => ps.push(p),
            _ => grouped.push((topic, vec![p])),
        }
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn owned(pairs: &[(&str, &[i32])]) -> Vec<(String, Vec<i32>)> {
        pairs
            .iter()
            .map(|(t, ps)| (t.to_string(), ps.to_vec()))
            .collect()
    }

    // The golden bytes below were printed by kafka-clients 4.4.0 itself
    // (target/kafka-dist/4.4.0/lib/kafka-clients-4.4.0.jar), with a throwaway Java program
    // calling `ConsumerProtocol.serializeSubscription(subscription, version)` and
    // `ConsumerProtocol.serializeAssignment(assignment[, version])`. They agree with the JSON
    // specs (ConsumerProtocolSubscription.json / ConsumerProtocolAssignment.json) read by hand:
    // the v3 one is
    //   0003                       version 3
    //   00000002 0002 7431 0002 7432   topics ["t1", "t2"] (sorted)
    //   00000003 010203            user_data
    //   00000002                   owned_partitions: 2 topics
    //     0002 7431 00000002 00000000 00000001   t1 [0, 1]
    //     0002 7432 00000001 00000002            t2 [2]
    //   00000005                   generation_id 5
    //   0002 7231                  rack_id "r1"

    /// Java: `new Subscription(["t2", "t1"], {1,2,3}, [t1-1, t2-2, t1-0], 5, Optional.of("r1"))`.
    const SUB_FULL_V0: &str = "000000000002000274310002743200000003010203";
    const SUB_FULL_V1: &str = "0001000000020002743100027432000000030102030000000200027431000000020000000000000001000274320000000100000002";
    const SUB_FULL_V2: &str = "000200000002000274310002743200000003010203000000020002743100000002000000000000000100027432000000010000000200000005";
    const SUB_FULL_V3: &str = "00030000000200027431000274320000000301020300000002000274310000000200000000000000010002743200000001000000020000000500027231";
    /// Java: `new Subscription(["t"], null, [], -1, Optional.empty())`.
    const SUB_EMPTY_V3: &str = "000300000001000174ffffffff00000000ffffffffffff";
    /// Java: `new Assignment([t1-0, t2-1, t1-2], {9})`, at v3 and at v0.
    const ASG_V3: &str =
        "000300000002000274310000000200000000000000020002743200000001000000010000000109";
    const ASG_V0: &str =
        "000000000002000274310000000200000000000000020002743200000001000000010000000109";
    /// Java: `new Assignment([], null)`.
    const ASG_EMPTY_V3: &str = "000300000000ffffffff";

    fn full() -> Subscription {
        Subscription {
            topics: vec!["t2".into(), "t1".into()],
            user_data: Some(Bytes::from_static(&[1, 2, 3])),
            owned_partitions: owned(&[("t1", &[1]), ("t2", &[2]), ("t1", &[0])]),
            generation_id: 5,
            rack_id: Some("r1".into()),
        }
    }

    #[test]
    fn subscription_bytes_equal_javas_at_every_version() {
        let s = full();
        assert_eq!(to_hex(&s.encode().unwrap()), SUB_FULL_V3);
        for (v, golden) in [SUB_FULL_V0, SUB_FULL_V1, SUB_FULL_V2, SUB_FULL_V3]
            .into_iter()
            .enumerate()
        {
            assert_eq!(to_hex(&s.encode_version(v as i16).unwrap()), golden, "v{v}");
        }
        // Above the highest known: written as the highest (Java's checkSubscriptionVersion).
        assert_eq!(to_hex(&s.encode_version(7).unwrap()), SUB_FULL_V3);
        assert!(matches!(
            s.encode_version(-1),
            Err(ProtocolError::UnsupportedVersion { version: -1, .. })
        ));
        let empty = Subscription::new(["t"]);
        assert_eq!(to_hex(&empty.encode().unwrap()), SUB_EMPTY_V3);
    }

    #[test]
    fn subscription_parses_every_version_from_java() {
        let sorted = |mut s: Subscription| {
            s.topics.sort();
            s.owned_partitions = group(s.owned());
            s
        };
        let v3 = Subscription::decode(&hex(SUB_FULL_V3)).unwrap();
        assert_eq!(v3, sorted(full()));
        assert_eq!(
            v3.owned(),
            vec![("t1".into(), 0), ("t1".into(), 1), ("t2".into(), 2)]
        );

        let v2 = Subscription::decode(&hex(SUB_FULL_V2)).unwrap();
        assert_eq!(
            v2,
            Subscription {
                rack_id: None,
                ..sorted(full())
            }
        );

        let v1 = Subscription::decode(&hex(SUB_FULL_V1)).unwrap();
        assert_eq!(
            v1,
            Subscription {
                rack_id: None,
                generation_id: NO_GENERATION,
                ..sorted(full())
            }
        );

        let v0 = Subscription::decode(&hex(SUB_FULL_V0)).unwrap();
        assert_eq!(
            v0,
            Subscription {
                topics: vec!["t1".into(), "t2".into()],
                user_data: Some(Bytes::from_static(&[1, 2, 3])),
                ..Subscription::default()
            }
        );

        let empty = Subscription::decode(&hex(SUB_EMPTY_V3)).unwrap();
        assert_eq!(empty, Subscription::new(["t"]));
    }

    #[test]
    fn subscription_of_a_newer_version_is_read_as_v3_ignoring_what_follows() {
        // A fake v4: v3's fields, then a field v4 might add (an int64 and a string).
        let mut blob = hex(SUB_FULL_V3);
        blob[0..2].copy_from_slice(&4i16.to_be_bytes());
        blob.extend_from_slice(&hex("00000000000000070003616263"));
        let s = Subscription::decode(&blob).unwrap();
        assert_eq!(s, Subscription::decode(&hex(SUB_FULL_V3)).unwrap());
        // And i16::MAX.
        blob[0..2].copy_from_slice(&i16::MAX.to_be_bytes());
        assert_eq!(Subscription::decode(&blob).unwrap(), s);
        // Trailing bytes after a known version are ignored too, as Java ignores them.
        let mut v1 = hex(SUB_FULL_V1);
        v1.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(
            Subscription::decode(&v1).unwrap().owned_partitions,
            owned(&[("t1", &[0, 1]), ("t2", &[2])])
        );
    }

    #[test]
    fn an_empty_rack_is_none() {
        let s = Subscription {
            rack_id: Some(String::new()),
            ..Subscription::new(["t"])
        };
        assert_eq!(
            Subscription::decode(&s.encode().unwrap()).unwrap().rack_id,
            None
        );
    }

    #[test]
    fn assignment_bytes_equal_javas() {
        let a = Assignment {
            partitions: owned(&[("t1", &[0]), ("t2", &[1]), ("t1", &[2])]),
            user_data: Some(Bytes::from_static(&[9])),
        };
        assert_eq!(to_hex(&a.encode().unwrap()), ASG_V3);
        assert_eq!(to_hex(&a.encode_version(0).unwrap()), ASG_V0);
        assert_eq!(
            to_hex(&Assignment::default().encode().unwrap()),
            ASG_EMPTY_V3
        );

        let read = Assignment::decode(&hex(ASG_V3)).unwrap();
        assert_eq!(read.partitions, owned(&[("t1", &[0, 2]), ("t2", &[1])]));
        assert_eq!(read.user_data, Some(Bytes::from_static(&[9])));
        assert_eq!(Assignment::decode(&hex(ASG_V0)).unwrap(), read);
        assert_eq!(
            read.topic_partitions(),
            vec![("t1".into(), 0), ("t1".into(), 2), ("t2".into(), 1)]
        );
        assert_eq!(
            Assignment::from_topic_partitions(read.topic_partitions()).partitions,
            read.partitions
        );
        assert_eq!(
            Assignment::decode(&hex(ASG_EMPTY_V3)).unwrap(),
            Assignment::default()
        );

        // A fake v4 with a trailing field.
        let mut v4 = hex(ASG_V3);
        v4[0..2].copy_from_slice(&4i16.to_be_bytes());
        v4.extend_from_slice(&[0, 0, 0, 1, 0xff]);
        assert_eq!(Assignment::decode(&v4).unwrap(), read);
    }

    #[test]
    fn malformed_blobs_are_errors_not_panics() {
        for blob in [&[][..], &[0]] {
            assert!(matches!(
                Subscription::decode(blob),
                Err(ProtocolError::MissingVersion { .. })
            ));
            assert!(matches!(
                Assignment::decode(blob),
                Err(ProtocolError::MissingVersion { .. })
            ));
        }
        assert!(matches!(
            Subscription::decode(&hex("ffff00000000ffffffff")),
            Err(ProtocolError::UnsupportedVersion { version: -1, .. })
        ));
        assert!(matches!(
            Assignment::decode(&hex("800000000000ffffffff")),
            Err(ProtocolError::UnsupportedVersion {
                version: i16::MIN,
                ..
            })
        ));

        // Every truncation of every golden blob is an error (or, for a v0 read of a blob
        // whose tail is optional, never a panic).
        for golden in [
            SUB_FULL_V0,
            SUB_FULL_V1,
            SUB_FULL_V2,
            SUB_FULL_V3,
            SUB_EMPTY_V3,
        ] {
            let blob = hex(golden);
            for len in 0..blob.len() {
                assert!(
                    Subscription::decode(&blob[..len]).is_err(),
                    "{golden} cut at {len}"
                );
            }
        }
        for golden in [ASG_V3, ASG_EMPTY_V3] {
            let blob = hex(golden);
            for len in 0..blob.len() {
                assert!(
                    Assignment::decode(&blob[..len]).is_err(),
                    "{golden} cut at {len}"
                );
            }
        }

        let malformed = [
            // A negative topics count.
            "0003fffffffe",
            // A null topics array (not nullable).
            "0003ffffffff",
            // A negative topic name length.
            "000300000001fffe",
            // A null topic name (not nullable).
            "000300000001ffff",
            // A topic count far beyond the bytes present.
            "00037fffffff0001",
            // A user data length of -2.
            "000300000000fffffffe",
            // User data longer than the bytes present.
            "000300000000000000ff00",
            // Owned partitions with a negative partition count.
            "0003000000000000000000000001000174fffffff0",
            // Invalid UTF-8 in a topic name.
            "0003000000010002c328",
        ];
        for m in malformed {
            let err = Subscription::decode(&hex(m)).unwrap_err();
            assert!(matches!(err, ProtocolError::Malformed { .. }), "{m}: {err}");
            // It maps to the crate's error with the cause in the message.
            let e: crate::Error = err.into();
            assert!(matches!(e, crate::Error::InvalidArgument(_)));
        }
        for m in [
            "0003fffffffe",
            "00030000000100027431fffffffe",
            "0003000000000000007f",
        ] {
            assert!(matches!(
                Assignment::decode(&hex(m)),
                Err(ProtocolError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seed = hex(SUB_FULL_V3);
        for _ in 0..20_000 {
            let mut blob = seed.clone();
            let flips = (next() % 4 + 1) as usize;
            for _ in 0..flips {
                let i = (next() as usize) % blob.len();
                blob[i] = next() as u8;
            }
            blob.truncate((next() as usize) % (seed.len() + 1));
            let _ = Subscription::decode(&blob);
            let _ = Assignment::decode(&blob);
        }
    }
}
