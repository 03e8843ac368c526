//! The retry policy's backoff and the retry loop, on tokio's paused clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkaex_net::retry::{retry, retry_if, RetryPolicy};
use kafkaex_net::NetError;
use kafkaex_protocol::{ApiKey, ErrorCode};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn kafka(code: ErrorCode) -> NetError {
    NetError::from_broker(
        ApiKey::Produce,
        code,
        None,
        "b:9092",
        kafkaex_net::ErrorScope::Response,
    )
}

#[test]
fn defaults_are_the_documented_ones() {
    let p = RetryPolicy::default();
    assert_eq!(p.initial_backoff, ms(100));
    assert_eq!(p.max_backoff, ms(1000));
    assert_eq!(p.multiplier, 2.0);
    assert_eq!(p.jitter, 0.2);
    assert_eq!(p.deadline, Duration::from_secs(30));
}

#[test]
fn backoff_grows_exponentially_and_is_capped() {
    let p = RetryPolicy::default();
    let waits: Vec<Duration> = (0..7).map(|a| p.base_backoff(a)).collect();
    assert_eq!(
        waits,
        [
            ms(100),
            ms(200),
            ms(400),
            ms(800),
            ms(1000),
            ms(1000),
            ms(1000)
        ]
    );
    // Huge attempt numbers neither overflow nor panic.
    assert_eq!(p.base_backoff(u32::MAX), ms(1000));
    assert!(p.backoff(u32::MAX) <= ms(1000));
}

#[test]
fn jitter_stays_within_its_bounds() {
    let p = RetryPolicy::default();
    // The extremes of the sample give exactly base * (1 -+ jitter), capped at max_backoff.
    assert_eq!(p.backoff_with_sample(0, 0.0), ms(80));
    assert_eq!(p.backoff_with_sample(0, 0.5), ms(100));
    assert_eq!(p.backoff_with_sample(0, 1.0), ms(120));
    assert_eq!(p.backoff_with_sample(3, 0.0), ms(640));
    assert_eq!(p.backoff_with_sample(3, 1.0), ms(960));
    assert_eq!(p.backoff_with_sample(4, 0.0), ms(800));
    assert_eq!(
        p.backoff_with_sample(4, 1.0),
        ms(1000),
        "never above max_backoff"
    );
    // Samples outside 0-1 are clamped.
    assert_eq!(p.backoff_with_sample(0, -5.0), ms(80));
    assert_eq!(p.backoff_with_sample(0, 7.0), ms(120));
    assert_eq!(p.backoff_with_sample(0, f64::NAN), ms(100));
    // Random draws land in the band, and are not all the same.
    let draws: Vec<Duration> = (0..500).map(|_| p.backoff(1)).collect();
    assert!(
        draws.iter().all(|d| (ms(160)..=ms(240)).contains(d)),
        "{draws:?}"
    );
    let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
    assert!(distinct.len() > 10, "jitter should vary: {distinct:?}");
}

#[test]
fn odd_policies_are_read_leniently() {
    let p = RetryPolicy::default()
        .with_multiplier(0.5)
        .with_jitter(7.0)
        .with_initial_backoff(ms(300))
        .with_max_backoff(ms(200));
    assert_eq!(p.base_backoff(5), ms(200), "initial above max is capped");
    assert_eq!(
        p.backoff_with_sample(0, 0.0),
        Duration::ZERO,
        "jitter clamped to 1"
    );
    let p = RetryPolicy::default()
        .with_multiplier(f64::NAN)
        .with_jitter(f64::NAN);
    assert_eq!(p.base_backoff(3), ms(100));
    assert_eq!(p.backoff_with_sample(3, 0.0), ms(100));
    let p = RetryPolicy::default().with_multiplier(f64::INFINITY);
    assert_eq!(p.base_backoff(2), ms(1000));
    let p = RetryPolicy::default()
        .with_max_backoff(Duration::MAX)
        .with_multiplier(1e300);
    assert!(p.base_backoff(10) > Duration::from_secs(1_000_000));
}

#[test]
fn retriable_errors_are_the_documented_ones() {
    let io = NetError::from(std::io::Error::other("boom"));
    let retriable = [
        io.clone(),
        NetError::PeerClosed,
        NetError::Closed {
            cause: Arc::new(io),
        },
        NetError::Connect {
            address: "a:1".into(),
            source: Arc::new(std::io::Error::other("refused")),
        },
        NetError::ConnectTimeout {
            address: "a:1".into(),
            timeout: ms(1),
        },
        NetError::Timeout {
            api_key: ApiKey::Produce,
            api_version: 0,
            correlation_id: Some(1),
            timeout: ms(1),
        },
        NetError::NoBrokerAvailable { tried: vec![] },
        kafka(ErrorCode::NotLeaderOrFollower),
        kafka(ErrorCode::NotCoordinator),
        kafka(ErrorCode::LeaderNotAvailable),
    ];
    for e in &retriable {
        assert!(e.is_retriable(), "{e:?} should be retriable");
    }
    let final_errors = [
        NetError::InvalidArgument("x".into()),
        NetError::UnknownBroker { node_id: 4 },
        NetError::ClosedByClient,
        kafka(ErrorCode::TopicAuthorizationFailed),
        kafka(ErrorCode::Unknown(9999)),
        NetError::UnsupportedVersion {
            api: ApiKey::Produce,
            asked: 99,
            broker: None,
            ours: kafkaex_protocol::VersionRange { min: 0, max: 1 },
            address: "a:1".into(),
        },
    ];
    for e in &final_errors {
        assert!(!e.is_retriable(), "{e:?} should not be retriable");
    }
}

#[tokio::test(start_paused = true)]
async fn succeeds_after_transient_errors() {
    let policy = RetryPolicy::default().with_jitter(0.0);
    let start = Instant::now();
    let result = retry(&policy, |attempt| async move {
        match attempt {
            0 => Err(NetError::PeerClosed),
            1 => Err(kafka(ErrorCode::NotLeaderOrFollower)),
            n => Ok(n),
        }
    })
    .await;
    assert_eq!(result.unwrap(), 2);
    // Two waits without jitter: 100 ms + 200 ms on the paused clock.
    assert_eq!(start.elapsed(), ms(300));
}

#[tokio::test(start_paused = true)]
async fn stops_at_once_on_a_non_retriable_error() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    let result: Result<(), NetError> = retry(&RetryPolicy::default(), |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err(kafka(ErrorCode::TopicAuthorizationFailed)) }
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        result.unwrap_err().kafka_code(),
        Some(ErrorCode::TopicAuthorizationFailed)
    );
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no backoff before giving up"
    );
}

#[tokio::test(start_paused = true)]
async fn at_the_deadline_the_last_error_is_returned_without_sleeping_past_it() {
    let policy = RetryPolicy::default()
        .with_deadline(Duration::from_secs(3))
        .with_jitter(0.0);
    let start = Instant::now();
    let result: Result<(), NetError> = retry(&policy, |attempt| async move {
        // Each attempt fails differently, so we can tell which error comes back.
        Err(NetError::Timeout {
            api_key: ApiKey::Metadata,
            api_version: 12,
            correlation_id: Some(i32::try_from(attempt).unwrap()),
            timeout: ms(1),
        })
    })
    .await;
    // Waits 100, 200, 400, 800, 1000 (sum 2500 ms) then the next 1000 ms wait would end at
    // 3500 ms, past the deadline: attempt 5 (the sixth) was the last.
    match result.unwrap_err() {
        NetError::Timeout { correlation_id, .. } => assert_eq!(correlation_id, Some(5)),
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(start.elapsed(), ms(2500));
    assert!(start.elapsed() <= policy.deadline);
}

#[tokio::test(start_paused = true)]
async fn a_zero_deadline_makes_one_attempt() {
    let calls = AtomicU32::new(0);
    let result: Result<(), NetError> = retry(&RetryPolicy::no_retries(), |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err(NetError::PeerClosed) }
    })
    .await;
    assert!(matches!(result, Err(NetError::PeerClosed)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_if_takes_any_error_type_and_predicate() {
    let policy = RetryPolicy::default();
    let result: Result<u32, String> = retry_if(
        &policy,
        |e: &String| e.starts_with("again"),
        |attempt| async move {
            if attempt < 3 {
                Err(format!("again {attempt}"))
            } else {
                Err("final".to_owned())
            }
        },
    )
    .await;
    assert_eq!(result.unwrap_err(), "final");
}
