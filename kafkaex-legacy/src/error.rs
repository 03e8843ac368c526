//! The facade's errors: KafkaEx's `{:error, reason}` results and raises, typed.

use kafkaex_net::NetError;
use kafkaex_protocol::ApiKey;

use crate::error_names::ErrorAtom;

/// The result of a facade call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a facade call can fail with. The cause (the client's error) is in
/// [`std::error::Error::source`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker does not support the version a request asked for. KafkaEx sends the user's
    /// `api_version` as given, and so does this facade: it is never lowered or raised.
    #[error("{api:?} v{asked} is not supported by the broker at {address} ({range}){advice}",
        range = broker_range(*broker),
        advice = advice(*api, *asked))]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version asked.
        asked: i16,
        /// The broker's `(min, max)` for it, `None` when it has none.
        broker: Option<(i16, i16)>,
        /// The broker.
        address: String,
        /// The client's error.
        #[source]
        source: Box<kafkaex_client::Error>,
    },
    /// A message has a timestamp and the Produce version cannot carry one (KafkaEx's
    /// `TimestampNotSupportedError`).
    #[error("produce api_version {api_version} writes message format 0, which has no timestamps: use api_version 1 or more (3 for record batches)")]
    TimestampNotSupported {
        /// The Produce version asked.
        api_version: i16,
    },
    /// A message has headers and the Produce version cannot carry them.
    #[error("produce api_version {api_version} writes a message set, which has no headers: use api_version 3 or more")]
    HeadersNotSupported {
        /// The Produce version asked.
        api_version: i16,
    },
    /// A consumer group that is neither a non-empty name nor `NoConsumerGroup`.
    #[error("invalid consumer group: a consumer group is a non-empty name or NoConsumerGroup")]
    InvalidConsumerGroup,
    /// A call needs a consumer group and the worker has none (KafkaEx's
    /// `ConsumerGroupRequiredError`).
    #[error("{0} needs a consumer group, and the worker was started with NoConsumerGroup")]
    ConsumerGroupRequired(&'static str),
    /// No worker is registered under the name.
    #[error("no worker named {0:?}")]
    WorkerNotFound(String),
    /// A worker is already registered under the name (`{:error, {:already_started, pid}}`).
    #[error("a worker named {0:?} is already started")]
    AlreadyStarted(String),
    /// The worker's `kafka_version` has no such call (KafkaEx's 0.8 servers raise).
    #[error("{function} is not supported with kafka_version {kafka_version}")]
    NotSupported {
        /// The call.
        function: &'static str,
        /// The worker's `kafka_version`.
        kafka_version: String,
    },
    /// The broker answered with an error code (`{:error, atom}`).
    #[error("the broker answered {atom} ({api:?})")]
    Kafka {
        /// The API.
        api: ApiKey,
        /// The code, named as KafkaEx names it.
        atom: ErrorAtom,
    },
    /// An argument that cannot work (an empty topic, a version out of range, a bad broker
    /// address).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A configuration key has a value it cannot take.
    #[error("configuration {key}: {reason}")]
    Config {
        /// The key (`brokers`, `KAFKA_EX_BROKERS`, ...).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The call did not finish within its timeout (KafkaEx's GenServer call timeout).
    #[error("the call did not finish within {0:?}")]
    Timeout(std::time::Duration),
    /// The client failed.
    #[error("the client failed")]
    Client(#[source] Box<kafkaex_client::Error>),
}

fn broker_range(broker: Option<(i16, i16)>) -> String {
    match broker {
        Some((min, max)) => format!("it supports v{min} to v{max}"),
        None => "it does not support the API at all".into(),
    }
}

/// The advice that goes with an unsupported version.
fn advice(api: ApiKey, asked: i16) -> &'static str {
    match (api, asked) {
        (ApiKey::OffsetCommit | ApiKey::OffsetFetch, 0) => {
            ". Version 0 keeps offsets in ZooKeeper, which Kafka 4 removed; versions 1 and up \
             keep them in Kafka, where offsets committed with v0 are not found: copy them first \
             with `kafkaex offsets migrate --bootstrap HOST:PORT --group GROUP --apply` against \
             the old (3.x or older) cluster (see MIGRATING.md), then use api_version 3"
        }
        (ApiKey::OffsetCommit | ApiKey::OffsetFetch, _) => {
            ". Versions 1 and up keep offsets in Kafka storage; use api_version 3 or more"
        }
        (ApiKey::Produce | ApiKey::Fetch, _) => {
            ". Old message formats (api_version 0-2 for produce, 0-3 for fetch) are gone from \
             Kafka 4; use api_version 3 for produce and 4 or more for fetch (record batches)"
        }
        (ApiKey::ListOffsets, _) => ". Use api_version 1 or more",
        _ => "",
    }
}

impl Error {
    /// The client's error as the facade's: an unsupported version becomes
    /// [`Error::UnsupportedVersion`], a Kafka code [`Error::Kafka`] (named with Kayrock's
    /// table), the rest [`Error::Client`].
    pub fn from_client(err: kafkaex_client::Error) -> Self {
        if let kafkaex_client::Error::Request { source, .. } = &err {
            match &**source {
                NetError::UnsupportedVersion {
                    api,
                    asked,
                    broker,
                    address,
                    ..
                } => {
                    return Error::UnsupportedVersion {
                        api: *api,
                        asked: *asked,
                        broker: broker.map(|r| (r.min, r.max)),
                        address: address.clone(),
                        source: Box::new(err.clone()),
                    }
                }
                NetError::Kafka { api, code, .. } => {
                    return Error::Kafka {
                        api: *api,
                        atom: ErrorAtom::kayrock(code.code()),
                    }
                }
                _ => {}
            }
        }
        if let kafkaex_client::Error::Broker { code, .. } = &err {
            return Error::Kafka {
                api: ApiKey::Produce,
                atom: ErrorAtom::kayrock(code.code()),
            };
        }
        Error::Client(Box::new(err))
    }

    /// The API and version of an [`Error::UnsupportedVersion`].
    pub fn unsupported_version(&self) -> Option<(ApiKey, i16)> {
        match self {
            Error::UnsupportedVersion { api, asked, .. } => Some((*api, *asked)),
            _ => None,
        }
    }
}

impl From<kafkaex_client::Error> for Error {
    fn from(err: kafkaex_client::Error) -> Self {
        Error::from_client(err)
    }
}

/// The client error inside an `Arc`'d net error, for callers that hold one.
pub(crate) fn net(api: ApiKey, err: NetError) -> Error {
    Error::from_client(kafkaex_client::Error::request(
        kafkaex_client::RequestContext::api(api),
        err,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkaex_protocol::VersionRange;

    fn unsupported(api: ApiKey, asked: i16) -> Error {
        Error::from_client(kafkaex_client::Error::request(
            kafkaex_client::RequestContext::api(api),
            NetError::UnsupportedVersion {
                api,
                asked,
                broker: Some(VersionRange { min: 2, max: 9 }),
                ours: VersionRange { min: 0, max: 9 },
                address: "b:9092".into(),
            },
        ))
    }

    #[test]
    fn unsupported_versions_name_the_api_the_version_the_range_and_what_to_do() {
        let e = unsupported(ApiKey::OffsetCommit, 0);
        assert_eq!(e.unsupported_version(), Some((ApiKey::OffsetCommit, 0)));
        let text = e.to_string();
        assert!(text.contains("OffsetCommit v0"), "{text}");
        assert!(text.contains("supports v2 to v9"), "{text}");
        assert!(text.contains("ZooKeeper"), "{text}");
        assert!(text.contains("kafkaex offsets migrate"), "{text}");
        assert!(std::error::Error::source(&e).is_some());
        let text = unsupported(ApiKey::Produce, 1).to_string();
        assert!(
            text.contains("Produce v1") && text.contains("api_version 3"),
            "{text}"
        );
        let text = unsupported(ApiKey::JoinGroup, 0).to_string();
        assert!(text.ends_with("(it supports v2 to v9)"), "{text}");
    }

    #[test]
    fn kafka_codes_become_kayrock_atoms() {
        let e = Error::from_client(kafkaex_client::Error::request(
            kafkaex_client::RequestContext::api(ApiKey::Heartbeat),
            NetError::from_broker(
                ApiKey::Heartbeat,
                kafkaex_protocol::ErrorCode::NotCoordinator,
                None,
                "b:1",
                kafkaex_net::ErrorScope::Response,
            ),
        ));
        assert!(
            matches!(e, Error::Kafka { api: ApiKey::Heartbeat, atom } if atom == "not_coordinator"),
            "{e:?}"
        );
        let other = Error::from_client(kafkaex_client::Error::Closed);
        assert!(matches!(other, Error::Client(_)));
    }
}
