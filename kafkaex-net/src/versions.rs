//! ApiVersions negotiation: per-broker version ranges and the choice of version for a request.
//!
//! Every broker answers `ApiVersions` with the range of versions it implements for each API it
//! serves. Those ranges differ between brokers of one cluster during a rolling upgrade and differ
//! a lot between Kafka releases: Kafka 4 removed the oldest versions of many APIs (KIP-896,
//! Produce v0-v2, Fetch v0-v3, ...) and no longer serves the ZooKeeper-era inter-broker APIs,
//! while a 3.x ZooKeeper broker still accepts Metadata v0. So the ranges are kept per broker
//! ([`ApiVersionRanges`], cached in each [`BrokerConnection`](crate::broker::BrokerConnection)),
//! and every request picks its version against the broker it goes to ([`VersionChoice`]).
//!
//! ```
//! use kafkaex_net::versions::{ApiVersionRanges, VersionChoice};
//! use kafkaex_protocol::{ApiKey, VersionRange};
//!
//! let broker: ApiVersionRanges = [(ApiKey::Metadata.as_i16(), VersionRange { min: 0, max: 9 })]
//!     .into_iter()
//!     .collect();
//! let ours = VersionRange { min: 0, max: 13 };
//! let version = broker.choose(ApiKey::Metadata, ours, VersionChoice::Newest, "b1:9092").unwrap();
//! assert_eq!(version, 9);
//! assert!(broker.choose(ApiKey::Metadata, ours, VersionChoice::Exact(12), "b1:9092").is_err());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use kafkaex_protocol::messages::ApiVersionsResponse;
use kafkaex_protocol::{ApiKey, Request, VersionRange};

use crate::error::NetError;

/// Which version of an API to send a request at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum VersionChoice {
    /// The newest version both this client and the broker support (what clients normally
    /// want: newer versions carry more fields and fewer quirks).
    #[default]
    Newest,
    /// Exactly this version; a broker that does not support it fails the request with
    /// [`NetError::UnsupportedVersion`] before anything is sent. For tests, for interop with a
    /// peer that expects one version, and for features tied to a version.
    Exact(i16),
}

impl fmt::Display for VersionChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Newest => f.write_str("newest"),
            Self::Exact(v) => write!(f, "v{v}"),
        }
    }
}

/// The API version ranges one broker announced in its `ApiVersions` response, by API key.
///
/// Keys this client does not know (APIs newer than its generated code) are kept as numbers, so
/// [`ApiVersionRanges::iter`] shows everything the broker listed. Entries whose minimum is
/// negative or above their maximum are malformed and dropped when the ranges are built from a
/// response: no version could be chosen in them anyway.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiVersionRanges {
    ranges: BTreeMap<i16, VersionRange>,
}

impl ApiVersionRanges {
    /// No API at all (a broker that listed nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// The ranges in a successful `ApiVersions` response (its error code is not looked at). For
    /// an API listed twice, the last entry wins.
    ///
    /// One range is corrected: Kafka 4 lists Produce from v0 although it closes the connection
    /// on a Produce v0-v2 request (those versions were removed by KIP-896, but librdkafka stops
    /// compressing unless the broker lists v0, so the listing was kept: KAFKA-18659). A broker
    /// that lists Fetch from v4 up is a Kafka 4 broker (KIP-896 removed Fetch v0-v3 in the same
    /// release), and its Produce range is taken to start at v3, so that asking for an older
    /// version fails with [`NetError::UnsupportedVersion`] instead of a dropped connection.
    pub fn from_response(response: &ApiVersionsResponse) -> Self {
        let mut ranges: Self = response
            .api_keys
            .iter()
            .map(|api| {
                (
                    api.api_key,
                    VersionRange {
                        min: api.min_version,
                        max: api.max_version,
                    },
                )
            })
            .collect();
        ranges.correct_kafka_4_produce();
        ranges
    }

    /// See [`ApiVersionRanges::from_response`].
    fn correct_kafka_4_produce(&mut self) {
        /// The oldest Produce version Kafka 4 accepts.
        const KAFKA_4_PRODUCE_MIN: i16 = 3;
        let kafka_4 = matches!(self.get(ApiKey::Fetch), Some(fetch) if fetch.min >= 4);
        if !kafka_4 {
            return;
        }
        if let Some(produce) = self.ranges.get_mut(&ApiKey::Produce.as_i16()) {
            if produce.min < KAFKA_4_PRODUCE_MIN {
                produce.min = KAFKA_4_PRODUCE_MIN;
                if produce.max < produce.min {
                    self.ranges.remove(&ApiKey::Produce.as_i16());
                }
            }
        }
    }

    /// The broker's range for `api`, `None` when it does not list the API.
    pub fn get(&self, api: ApiKey) -> Option<VersionRange> {
        self.get_key(api.as_i16())
    }

    /// The broker's range for the API with key `api_key` (which this client may not know).
    pub fn get_key(&self, api_key: i16) -> Option<VersionRange> {
        self.ranges.get(&api_key).copied()
    }

    /// Whether the broker lists `api`.
    pub fn supports(&self, api: ApiKey) -> bool {
        self.ranges.contains_key(&api.as_i16())
    }

    /// Every API key the broker listed with its range, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (i16, VersionRange)> + '_ {
        self.ranges.iter().map(|(&key, &range)| (key, range))
    }

    /// How many APIs the broker listed.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the broker listed no API.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The version to send `api` at, given the versions this client implements (`ours`),
    /// the caller's `choice` and these broker ranges; `address` only names the broker in the
    /// error.
    ///
    /// - [`VersionChoice::Newest`]: the newest version in both ranges; when they do not overlap,
    ///   [`NetError::UnsupportedVersion`] with `asked` = the newest version this client
    ///   implements.
    /// - [`VersionChoice::Exact`]: that version if both ranges contain it, else
    ///   [`NetError::UnsupportedVersion`] with `asked` = that version.
    ///
    /// An API the broker does not list fails with `broker: None`.
    pub fn choose(
        &self,
        api: ApiKey,
        ours: VersionRange,
        choice: VersionChoice,
        address: &str,
    ) -> Result<i16, NetError> {
        let broker = self.get(api);
        let unsupported = |asked: i16| NetError::UnsupportedVersion {
            api,
            asked,
            broker,
            ours,
            address: address.to_owned(),
        };
        let Some(theirs) = broker else {
            let asked = match choice {
                VersionChoice::Newest => ours.max,
                VersionChoice::Exact(v) => v,
            };
            return Err(unsupported(asked));
        };
        match choice {
            VersionChoice::Newest => {
                let newest = ours.max.min(theirs.max);
                if newest >= ours.min.max(theirs.min) {
                    Ok(newest)
                } else {
                    Err(unsupported(ours.max))
                }
            }
            VersionChoice::Exact(v) if ours.contains(v) && theirs.contains(v) => Ok(v),
            VersionChoice::Exact(v) => Err(unsupported(v)),
        }
    }

    /// [`ApiVersionRanges::choose`] for request type `R`: its API and the versions its generated
    /// code implements.
    pub fn choose_for<R: Request>(
        &self,
        choice: VersionChoice,
        address: &str,
    ) -> Result<i16, NetError> {
        self.choose(R::API_KEY, R::VERSIONS, choice, address)
    }
}

impl FromIterator<(i16, VersionRange)> for ApiVersionRanges {
    /// Ranges from `(api key, range)` pairs; malformed ranges (negative minimum, minimum above
    /// maximum) are dropped, and for a key given twice the last pair wins.
    fn from_iter<I: IntoIterator<Item = (i16, VersionRange)>>(iter: I) -> Self {
        let mut ranges = BTreeMap::new();
        for (key, range) in iter {
            if range.min < 0 || range.min > range.max {
                tracing::warn!(
                    api_key = key,
                    min = range.min,
                    max = range.max,
                    "ignoring a malformed ApiVersions range"
                );
                continue;
            }
            ranges.insert(key, range);
        }
        Self { ranges }
    }
}

#[cfg(test)]
mod tests {
    use kafkaex_protocol::messages::api_versions_response::ApiVersion;
    use kafkaex_protocol::messages::{MetadataRequest, ProduceRequest};
    use kafkaex_protocol::Message;

    use super::*;

    const ADDRESS: &str = "broker-1:9092";

    fn range(min: i16, max: i16) -> VersionRange {
        VersionRange { min, max }
    }

    fn broker(ranges: &[(ApiKey, i16, i16)]) -> ApiVersionRanges {
        ranges
            .iter()
            .map(|&(api, min, max)| (api.as_i16(), range(min, max)))
            .collect()
    }

    #[test]
    fn newest_is_the_lower_of_the_two_maxima() {
        let ranges = broker(&[(ApiKey::Metadata, 0, 9), (ApiKey::Fetch, 4, 17)]);
        let newest = VersionChoice::Newest;
        assert_eq!(
            ranges
                .choose(ApiKey::Metadata, range(0, 13), newest, ADDRESS)
                .unwrap(),
            9
        );
        assert_eq!(
            ranges
                .choose(ApiKey::Fetch, range(0, 12), newest, ADDRESS)
                .unwrap(),
            12
        );
    }

    #[test]
    fn newest_with_no_overlap_names_everything() {
        // A Kafka 4 broker (Produce v3+) and a client that only speaks v0-v2.
        let ranges = broker(&[(ApiKey::Produce, 3, 12)]);
        let err = ranges
            .choose(ApiKey::Produce, range(0, 2), VersionChoice::Newest, ADDRESS)
            .unwrap_err();
        match &err {
            NetError::UnsupportedVersion {
                api,
                asked,
                broker,
                ours,
                address,
            } => {
                assert_eq!(*api, ApiKey::Produce);
                assert_eq!(*asked, 2);
                assert_eq!(*broker, Some(range(3, 12)));
                assert_eq!(*ours, range(0, 2));
                assert_eq!(address, ADDRESS);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "Produce v2 is not supported by broker broker-1:9092 \
             (broker supports v3-v12; this client supports v0-v2)"
        );
    }

    #[test]
    fn exact_inside_both_ranges_is_used() {
        let ranges = broker(&[(ApiKey::Metadata, 0, 12)]);
        for v in [0, 5, 12] {
            assert_eq!(
                ranges
                    .choose(
                        ApiKey::Metadata,
                        range(0, 13),
                        VersionChoice::Exact(v),
                        ADDRESS
                    )
                    .unwrap(),
                v
            );
        }
    }

    #[test]
    fn exact_outside_the_broker_range_fails_naming_api_version_and_range() {
        let ranges = broker(&[(ApiKey::Produce, 3, 12)]);
        for asked in [0, 2, 13] {
            let err = ranges
                .choose(
                    ApiKey::Produce,
                    range(0, 13),
                    VersionChoice::Exact(asked),
                    ADDRESS,
                )
                .unwrap_err();
            assert!(
                matches!(
                    &err,
                    NetError::UnsupportedVersion { api: ApiKey::Produce, asked: a, broker: Some(b), .. }
                        if *a == asked && *b == range(3, 12)
                ),
                "{err:?}"
            );
            let shown = err.to_string();
            assert!(shown.contains("Produce"), "{shown}");
            assert!(shown.contains(&format!("v{asked} ")), "{shown}");
            assert!(shown.contains("v3-v12"), "{shown}");
            assert!(!err.is_connection_failure());
        }
    }

    #[test]
    fn exact_outside_our_range_fails_too() {
        let ranges = broker(&[(ApiKey::Metadata, 0, 20)]);
        let err = ranges
            .choose(
                ApiKey::Metadata,
                range(0, 13),
                VersionChoice::Exact(15),
                ADDRESS,
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                NetError::UnsupportedVersion {
                    asked: 15,
                    ours: VersionRange { min: 0, max: 13 },
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_api_the_broker_does_not_list_fails_with_no_broker_range() {
        let ranges = broker(&[(ApiKey::Metadata, 0, 12)]);
        for choice in [VersionChoice::Newest, VersionChoice::Exact(1)] {
            let err = ranges
                .choose(ApiKey::LeaderAndIsr, range(0, 7), choice, ADDRESS)
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    NetError::UnsupportedVersion {
                        api: ApiKey::LeaderAndIsr,
                        broker: None,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("no version of it"), "{err}");
        }
    }

    #[test]
    fn choose_for_uses_the_request_type() {
        let ranges = broker(&[(ApiKey::Metadata, 0, 9), (ApiKey::Produce, 3, 100)]);
        assert_eq!(
            ranges
                .choose_for::<MetadataRequest>(VersionChoice::Newest, ADDRESS)
                .unwrap(),
            9
        );
        assert_eq!(
            ranges
                .choose_for::<ProduceRequest>(VersionChoice::Newest, ADDRESS)
                .unwrap(),
            ProduceRequest::VERSIONS.max
        );
    }

    #[test]
    fn from_response_keeps_unknown_keys_and_drops_malformed_ranges() {
        let response = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(3)
                .with_min_version(0)
                .with_max_version(12),
            ApiVersion::default()
                .with_api_key(9999)
                .with_min_version(0)
                .with_max_version(1),
            ApiVersion::default()
                .with_api_key(0)
                .with_min_version(5)
                .with_max_version(2),
            ApiVersion::default()
                .with_api_key(1)
                .with_min_version(-1)
                .with_max_version(2),
        ]);
        let ranges = ApiVersionRanges::from_response(&response);
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges.get(ApiKey::Metadata), Some(range(0, 12)));
        assert_eq!(ranges.get_key(9999), Some(range(0, 1)));
        assert!(!ranges.supports(ApiKey::Produce));
        assert!(!ranges.supports(ApiKey::Fetch));
        assert_eq!(
            ranges.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            vec![3, 9999]
        );
    }

    fn response(apis: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
        ApiVersionsResponse::default().with_api_keys(
            apis.iter()
                .map(|&(api, min, max)| {
                    ApiVersion::default()
                        .with_api_key(api.as_i16())
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect(),
        )
    }

    #[test]
    fn kafka_4_produce_starts_at_v3_whatever_it_lists() {
        // Kafka 4.x: Fetch from v4, Produce listed from v0 (KAFKA-18659).
        let kafka_4 = ApiVersionRanges::from_response(&response(&[
            (ApiKey::Fetch, 4, 18),
            (ApiKey::Produce, 0, 13),
        ]));
        assert_eq!(kafka_4.get(ApiKey::Produce), Some(range(3, 13)));
        let err = kafka_4
            .choose(
                ApiKey::Produce,
                range(0, 11),
                VersionChoice::Exact(2),
                ADDRESS,
            )
            .unwrap_err();
        assert!(
            matches!(err, NetError::UnsupportedVersion { asked: 2, broker: Some(r), .. } if r == range(3, 13)),
            "{err:?}"
        );
        // Kafka 3.x: every version from 0 is real.
        let kafka_3 = ApiVersionRanges::from_response(&response(&[
            (ApiKey::Fetch, 0, 17),
            (ApiKey::Produce, 0, 11),
        ]));
        assert_eq!(kafka_3.get(ApiKey::Produce), Some(range(0, 11)));
        // No Fetch listed: nothing to go by, nothing changed.
        let unknown = ApiVersionRanges::from_response(&response(&[(ApiKey::Produce, 0, 2)]));
        assert_eq!(unknown.get(ApiKey::Produce), Some(range(0, 2)));
        // A (hypothetical) Kafka 4 listing only Produce v0-v2 serves no Produce at all.
        let none = ApiVersionRanges::from_response(&response(&[
            (ApiKey::Fetch, 4, 18),
            (ApiKey::Produce, 0, 2),
        ]));
        assert!(!none.supports(ApiKey::Produce));
    }

    #[test]
    fn empty_ranges_support_nothing() {
        let ranges = ApiVersionRanges::new();
        assert!(ranges.is_empty());
        assert!(ranges
            .choose(
                ApiKey::ApiVersions,
                range(0, 4),
                VersionChoice::Newest,
                ADDRESS
            )
            .is_err());
    }

    #[test]
    fn choice_display() {
        assert_eq!(VersionChoice::Newest.to_string(), "newest");
        assert_eq!(VersionChoice::Exact(3).to_string(), "v3");
    }
}
