//! Reading and writing each offset storage through `kafkaex-client`'s `Admin`: ZooKeeper
//! storage is OffsetFetch/OffsetCommit v0, Kafka storage v1+.

use std::collections::BTreeMap;

use kafkaex_client::offsets::{CommitOffset, CommitOptions, FetchOffsetsOptions, TopicPartition};
use kafkaex_client::{Admin, Error};
use kafkaex_net::{NetError, VersionChoice};
use kafkaex_protocol::{ApiKey, ErrorCode};

use super::{MigrateError, Storage, StoredOffset};

/// What reading one partition of one storage gave: an offset, none, or the error.
pub(crate) type Read = Result<Option<StoredOffset>, Error>;

/// At most this many partitions per OffsetFetch / OffsetCommit.
const CHUNK: usize = 500;

/// Whether `err` says the broker has no v0 offset storage: the version is not in its range
/// (Kafka 4.x), or the broker answered `UNSUPPORTED_VERSION` to a v0 request (KRaft mode 3.x).
pub(crate) fn no_v0_storage(
    err: &Error,
) -> Option<(ApiKey, Option<kafkaex_protocol::VersionRange>, String)> {
    match err {
        Error::Request { source, .. } => match source.root_cause() {
            NetError::UnsupportedVersion {
                api,
                asked: 0,
                broker,
                address,
                ..
            } if matches!(api, ApiKey::OffsetFetch | ApiKey::OffsetCommit) => {
                Some((*api, *broker, address.clone()))
            }
            NetError::Kafka {
                api,
                code: ErrorCode::UnsupportedVersion,
                address,
                ..
            } if matches!(api, ApiKey::OffsetFetch | ApiKey::OffsetCommit) => {
                Some((*api, None, address.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

fn storage_error(err: &Error) -> Option<MigrateError> {
    no_v0_storage(err).map(|(api, range, broker)| MigrateError::NoZooKeeperStorage {
        broker,
        api,
        range,
        source: Some(err.clone()),
    })
}

/// The group-level error of a listing (`fetch_offsets(None)` reports one as the error of
/// partition -1 of topic "").
fn whole_group(tp: &TopicPartition) -> bool {
    tp.topic.is_empty() && tp.partition < 0
}

/// `group`'s ZooKeeper offsets of `partitions` (OffsetFetch v0). A partition without one is
/// `Ok(None)` (the broker answers `UNKNOWN_TOPIC_OR_PARTITION`).
pub(crate) async fn read_zookeeper(
    admin: &Admin,
    group: &str,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Read>, MigrateError> {
    let options = FetchOffsetsOptions::default().version(VersionChoice::Exact(0));
    let mut out = BTreeMap::new();
    for chunk in partitions.chunks(CHUNK) {
        // A partition without a ZooKeeper offset is answered UNKNOWN_TOPIC_OR_PARTITION, which
        // the connection layer hands back as the partition's answer.
        let mut got = admin
            .fetch_offsets(group, Some(chunk), &options)
            .await
            .map_err(|source| MigrateError::ReadGroup {
                group: group.to_owned(),
                storage: Storage::ZooKeeper,
                source,
            })?;
        for tp in chunk {
            let read = match got.remove(tp) {
                Some(Ok(Some(c))) => Ok(Some(StoredOffset::new(c.offset, c.metadata))),
                Some(Ok(None)) => Ok(None),
                Some(Err(e)) if e.kafka_code() == Some(ErrorCode::UnknownTopicOrPartition) => {
                    Ok(None)
                }
                Some(Err(e)) => {
                    if let Some(err) = storage_error(&e) {
                        return Err(err);
                    }
                    Err(e)
                }
                None => Ok(None),
            };
            out.insert(tp.clone(), read);
        }
    }
    Ok(out)
}

/// `group`'s Kafka-stored offsets (OffsetFetch at `version`, 1+): of `partitions`, or with
/// `None` every partition the group has an offset for (v2+).
pub(crate) async fn read_kafka(
    admin: &Admin,
    group: &str,
    partitions: Option<&[TopicPartition]>,
    version: i16,
) -> Result<BTreeMap<TopicPartition, Read>, MigrateError> {
    let options = FetchOffsetsOptions::default().version(VersionChoice::Exact(version));
    let read_error = |source| MigrateError::ReadGroup {
        group: group.to_owned(),
        storage: Storage::Kafka,
        source,
    };
    let convert = |r: kafkaex_client::Result<Option<kafkaex_client::offsets::CommittedOffset>>| {
        r.map(|c| c.map(|c| StoredOffset::new(c.offset, c.metadata)))
    };
    let mut out = BTreeMap::new();
    match partitions {
        None => {
            let got = admin
                .fetch_offsets(group, None, &options)
                .await
                .map_err(read_error)?;
            for (tp, read) in got {
                if whole_group(&tp) {
                    if let Err(e) = read {
                        return Err(read_error(e));
                    }
                    continue;
                }
                out.insert(tp, convert(read));
            }
        }
        Some(partitions) => {
            for chunk in partitions.chunks(CHUNK) {
                let mut got = admin
                    .fetch_offsets(group, Some(chunk), &options)
                    .await
                    .map_err(read_error)?;
                for tp in chunk {
                    let read = got.remove(tp).map_or(Ok(None), convert);
                    out.insert(tp.clone(), read);
                }
            }
        }
    }
    Ok(out)
}

/// Commits `offsets` for `group` to `storage` (OffsetCommit v0 for ZooKeeper, `version` for
/// Kafka), standalone (generation -1, no member id), with each offset's metadata.
pub(crate) async fn write(
    admin: &Admin,
    group: &str,
    storage: Storage,
    version: i16,
    offsets: &[(TopicPartition, StoredOffset)],
) -> Result<BTreeMap<TopicPartition, Result<(), Error>>, MigrateError> {
    let version = match storage {
        Storage::ZooKeeper => 0,
        Storage::Kafka => version,
    };
    let options = CommitOptions::default().version(VersionChoice::Exact(version));
    let commits = offsets.iter().map(|(tp, o)| {
        let mut c = CommitOffset::new(o.offset);
        if let Some(m) = &o.metadata {
            c = c.metadata(m.clone());
        }
        (tp.clone(), c)
    });
    let mut got = match admin.commit_offsets(group, commits, &options).await {
        Ok(got) => got,
        Err(e) => offsets
            .iter()
            .map(|(tp, _)| (tp.clone(), Err(e.clone())))
            .collect(),
    };
    let mut out = BTreeMap::new();
    for (tp, _) in offsets {
        let result = got.remove(tp).unwrap_or_else(|| {
            Err(Error::InvalidArgument(format!(
                "the OffsetCommit response did not answer for {tp}"
            )))
        });
        if let Err(e) = &result {
            if let Some(err) = storage_error(e) {
                return Err(err);
            }
        }
        out.insert(tp.clone(), result);
    }
    Ok(out)
}
