//! [`Cluster::request`]: route, version, timeout, retries and invalidation derived from the
//! request itself (see the [module documentation](super)).

use std::borrow::Cow;

use kafkaex_protocol::{ErrorCode, VersionRange};
use tracing::Instrument as _;

use super::invalidate::stale_coordinator;
use super::{broker_ref, retry_allowed, Cluster, Route};
use crate::broker::BrokerConnection;
use crate::error::NetError;
use crate::request::{Response, ResponseError, RoutedRequest};
use crate::retry::retry_if;
use crate::versions::VersionChoice;

/// Where the request of a call comes from: given whole, or built for the version chosen.
enum Source<'a, R> {
    Given(&'a R),
    Built(&'a (dyn Fn(i16) -> R + Sync)),
}

impl<R: RoutedRequest> Source<'_, R> {
    /// The request to read the route and the idempotence from: the given one, or the one built
    /// for the newest version this client knows.
    fn probe(&self) -> Cow<'_, R> {
        match self {
            Source::Given(request) => Cow::Borrowed(*request),
            Source::Built(build) => Cow::Owned(build(R::VERSIONS.max)),
        }
    }

    /// The request to send at `version`.
    fn at(&self, version: i16) -> Cow<'_, R> {
        match self {
            Source::Given(request) => Cow::Borrowed(*request),
            Source::Built(build) => Cow::Owned(build(version)),
        }
    }
}

/// The version choice of one call: the caller's, or the newest both sides support up to the
/// request's own limit ([`RoutedRequest::max_version`]).
#[derive(Clone, Copy, Debug)]
enum Choice {
    Given(VersionChoice),
    AtMost(i16),
}

/// `choice`, limited to `max` when it asks for the newest version.
fn capped(choice: VersionChoice, max: Option<i16>) -> Choice {
    match (choice, max) {
        (VersionChoice::Newest, Some(max)) => Choice::AtMost(max),
        (choice, _) => Choice::Given(choice),
    }
}

impl Cluster {
    /// Sends `request` where it goes, at the newest version both sides support (and the
    /// request's own fields allow: [`RoutedRequest::max_version`], a topic without its id keeps
    /// a Produce at v12), retrying what is safe to retry, and returns the response: see the
    /// [module documentation](super).
    ///
    /// # Errors
    ///
    /// - [`NetError::Kafka`] (origin [`Broker`](crate::error::ErrorOrigin::Broker)): an error
    ///   code that settles the request as a whole ([`ResponseError::whole_request`]) and is not
    ///   retriable, or still retriable when the retry deadline came; its `scope` says what it
    ///   was about;
    /// - [`NetError::MaybeApplied`]: the request may have reached the broker and is not safe to
    ///   repeat, or ran out of retries after such a failure;
    /// - [`NetError::UnsupportedVersion`]: the broker supports no version this client knows;
    /// - [`NetError::EncodeRequest`]: the request cannot be encoded at the version chosen (a
    ///   field that version cannot carry is set: see [`Cluster::request_with`]);
    /// - the routing errors of [`Cluster::broker_for`], and connection errors once retries are
    ///   spent.
    pub async fn request<R: RoutedRequest>(
        &self,
        request: &R,
    ) -> Result<Response<R::Response>, NetError> {
        self.run(Source::Given(request), VersionChoice::Newest)
            .await
    }

    /// [`Cluster::request`] at the version `choice` selects: [`VersionChoice::Exact`] pins one,
    /// and a broker without it is a [`NetError::UnsupportedVersion`] naming the API, the version
    /// asked and the broker's range.
    pub async fn request_at<R: RoutedRequest>(
        &self,
        request: &R,
        choice: VersionChoice,
    ) -> Result<Response<R::Response>, NetError> {
        self.run(Source::Given(request), choice).await
    }

    /// [`Cluster::request`] for a request whose shape depends on the version: `build` is called
    /// with the version chosen against the broker (and once, with the newest version this
    /// client knows, to learn the route and whether the request may be repeated: the route must
    /// not depend on the version).
    ///
    /// ```no_run
    /// use kafkaex_net::Cluster;
    /// use kafkaex_protocol::messages::offset_fetch_request::{
    ///     OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    /// };
    /// use kafkaex_protocol::messages::OffsetFetchRequest;
    ///
    /// # async fn example(cluster: Cluster) -> Result<(), kafkaex_net::NetError> {
    /// // v8+ batches groups; older brokers (Kafka before 3.0) only know the single-group form.
    /// let response = cluster
    ///     .request_with(|version| {
    ///         if version >= 8 {
    ///             OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
    ///                 .with_group_id("billing".into())
    ///                 .with_topics(Some(vec![OffsetFetchRequestTopics::default()
    ///                     .with_name("events".into())
    ///                     .with_partition_indexes(vec![0])]))])
    ///         } else {
    ///             OffsetFetchRequest::default()
    ///                 .with_group_id("billing".into())
    ///                 .with_topics(Some(vec![OffsetFetchRequestTopic::default()
    ///                     .with_name("events".into())
    ///                     .with_partition_indexes(vec![0])]))
    ///         }
    ///     })
    ///     .await?;
    /// println!("OffsetFetch v{}", response.version);
    /// # Ok(()) }
    /// ```
    pub async fn request_with<R, F>(&self, build: F) -> Result<Response<R::Response>, NetError>
    where
        R: RoutedRequest,
        F: Fn(i16) -> R + Sync,
    {
        self.run(Source::Built(&build), VersionChoice::Newest).await
    }

    /// [`Cluster::request_with`] at the version `choice` selects.
    pub async fn request_with_at<R, F>(
        &self,
        build: F,
        choice: VersionChoice,
    ) -> Result<Response<R::Response>, NetError>
    where
        R: RoutedRequest,
        F: Fn(i16) -> R + Sync,
    {
        self.run(Source::Built(&build), choice).await
    }

    async fn run<R: RoutedRequest>(
        &self,
        source: Source<'_, R>,
        choice: VersionChoice,
    ) -> Result<Response<R::Response>, NetError> {
        let probe = source.probe();
        let route = probe.route();
        let idempotent = probe.is_idempotent();
        let choice = capped(choice, probe.max_version());
        drop(probe);
        let span = tracing::debug_span!(
            "routed_request",
            api = R::API_KEY.name(),
            route = %route,
            idempotent
        );
        let route = &route;
        let source = &source;
        retry_if(
            &self.inner.config.retry,
            |err: &NetError| retry_allowed(err, idempotent),
            |attempt| async move {
                let result = if let Route::Any = route {
                    self.try_any(idempotent, |conn, node_id| {
                        self.attempt(conn, node_id, route, source, choice)
                    })
                    .await
                } else {
                    match self.resolve(route).await {
                        Ok((conn, node_id)) => {
                            self.attempt(conn, node_id, route, source, choice).await
                        }
                        Err(err) => Err(err),
                    }
                };
                if let Err(err) = &result {
                    tracing::debug!(attempt, error = %err, "attempt failed");
                    self.after_failure(route, err);
                }
                result
            },
        )
        .instrument(span)
        .await
    }

    /// One attempt on `conn`: version, request, send, then the error codes of the response.
    async fn attempt<R: RoutedRequest>(
        &self,
        conn: BrokerConnection,
        node_id: Option<i32>,
        route: &Route,
        source: &Source<'_, R>,
        choice: Choice,
    ) -> Result<Response<R::Response>, NetError> {
        let version = match choice {
            Choice::Given(choice) => conn.versions().choose_for::<R>(choice, conn.address())?,
            Choice::AtMost(max) => {
                let ours = VersionRange {
                    max: max.min(R::VERSIONS.max),
                    ..R::VERSIONS
                };
                conn.versions()
                    .choose(R::API_KEY, ours, VersionChoice::Newest, conn.address())?
            }
        };
        let request = source.at(version);
        if let Source::Built(_) = source {
            let built = request.route();
            if built != *route {
                return Err(NetError::InvalidArgument(format!(
                    "the {} request built for v{version} goes to {built}, the one built for v{} to {route}: a request's route may not depend on the version",
                    R::API_KEY,
                    R::VERSIONS.max
                )));
            }
        }
        let timeout = request
            .broker_wait()
            .map_or(self.inner.config.request_timeout, |wait| {
                wait.max(self.inner.config.request_timeout)
            });
        let body = if request.expects_response() {
            conn.send_at(&*request, version, timeout).await?
        } else {
            conn.send_no_response_at(&*request, version, timeout)
                .await?;
            R::Response::default()
        };
        let errors = request.errors(&body);
        drop(request);
        self.after_errors(route, &errors);
        let settles = |e: &ResponseError| {
            e.whole_request
                || (stale_coordinator(e.code) && route.coordinator().is_some())
                || (e.code == ErrorCode::NotController && *route == Route::Controller)
        };
        let (whole, items): (Vec<ResponseError>, Vec<ResponseError>) =
            errors.into_iter().partition(settles);
        // A code that cannot be retried decides; else the first.
        if let Some(e) = whole
            .iter()
            .find(|e| !e.code.is_retriable())
            .or_else(|| whole.first())
        {
            return Err(NetError::from_broker(
                R::API_KEY,
                e.code,
                e.message.clone(),
                conn.address(),
                e.scope.clone(),
            ));
        }
        let mut response = Response::new(body, version, broker_ref(&conn, node_id));
        response.errors = items;
        Ok(response)
    }
}
