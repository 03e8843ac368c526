//! `Connection` over `tokio::io::duplex` against a scripted broker: header bytes, pipelining,
//! correlation, poisoning, cancellation and timeouts. The scripted peer is sequenced with
//! channels, never sleeps.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafkaex_net::raw::connection::{RequestHeaderVersion, ResponseHeaderVersion};
use kafkaex_net::raw::frame::{read_frame, write_frame};
use kafkaex_net::raw::{Connection, ConnectionConfig, RawRequest};
use kafkaex_net::NetError;
use kafkaex_protocol::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::oneshot;

const LONG: Duration = Duration::from_secs(3600);

/// The broker's end of the stream.
struct Peer {
    io: DuplexStream,
}

/// A request as the peer read it.
#[derive(Debug)]
struct SeenRequest {
    /// The whole frame after the size prefix.
    frame: Bytes,
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
}

impl Peer {
    async fn read_request(&mut self) -> SeenRequest {
        let frame = read_frame(&mut self.io, 1 << 20)
            .await
            .unwrap()
            .expect("a request frame")
            .freeze();
        SeenRequest {
            api_key: i16::from_be_bytes([frame[0], frame[1]]),
            api_version: i16::from_be_bytes([frame[2], frame[3]]),
            correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
            frame,
        }
    }

    /// Answers with response header v0.
    async fn respond(&mut self, correlation_id: i32, body: &[u8]) {
        let mut payload = BytesMut::new();
        payload.put_i32(correlation_id);
        payload.put_slice(body);
        write_frame(&mut self.io, &payload).await.unwrap();
    }

    async fn write_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }
}

fn connect(config: ConnectionConfig) -> (Arc<Connection>, Peer) {
    let (client, broker) = tokio::io::duplex(64 * 1024);
    (
        Arc::new(Connection::new(client, config)),
        Peer { io: broker },
    )
}

fn connect_default() -> (Arc<Connection>, Peer) {
    connect(ConnectionConfig::new("scripted-broker"))
}

/// A request with header v0 (no client id) whose body is `body`.
fn request(api_key: i16, body: &[u8]) -> RawRequest {
    let api = ApiKey::from_i16(api_key).expect("a known API key");
    RawRequest::new(api, 1, Bytes::copy_from_slice(body))
        .with_header_versions(RequestHeaderVersion::V0, ResponseHeaderVersion::V0)
}

/// Polls `fut` once, so it gets as far as it can without waiting.
async fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let mut fut = fut;
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

// ------------------------------------------------------------------------------------------------
// Header bytes (protocol.txt: `Size => int32`, then the request header, then the body)
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn request_header_v0_is_key_version_correlation_id() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move {
            conn.call(
                RawRequest::new(
                    ApiKey::from_i16(3).unwrap(),
                    5,
                    Bytes::from_static(&[0xAA, 0xBB]),
                )
                .with_header_versions(RequestHeaderVersion::V0, ResponseHeaderVersion::V0)
                .with_client_id("ignored-in-v0"),
                LONG,
            )
            .await
        }
    });
    let seen = peer.read_request().await;
    let id = seen.correlation_id.to_be_bytes();
    assert_eq!(
        &seen.frame[..],
        &[0, 3, 0, 5, id[0], id[1], id[2], id[3], 0xAA, 0xBB]
    );
    peer.respond(seen.correlation_id, b"ok").await;
    assert_eq!(&call.await.unwrap().unwrap()[..], b"ok");
}

#[tokio::test]
async fn request_header_v1_adds_client_id_as_int16_string() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move {
            // ListPartitionReassignments, key 46 = 0x2e.
            let req = RawRequest::new(
                ApiKey::ListPartitionReassignments,
                0x0304,
                Bytes::from_static(&[9]),
            )
            .with_header_versions(RequestHeaderVersion::V1, ResponseHeaderVersion::V0)
            .with_client_id("abc");
            conn.call(req, LONG).await
        }
    });
    let seen = peer.read_request().await;
    let id = seen.correlation_id.to_be_bytes();
    #[rustfmt::skip]
    let expected = [
        0, 0x2e, 3, 4, id[0], id[1], id[2], id[3],
        0, 3, b'a', b'b', b'c',
        9,
    ];
    assert_eq!(&seen.frame[..], &expected);
    peer.respond(seen.correlation_id, b"").await;
    assert!(call.await.unwrap().unwrap().is_empty());
}

#[tokio::test]
async fn request_header_v1_sends_no_client_id_as_null() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move {
            let req = RawRequest::new(ApiKey::from_i16(1).unwrap(), 0, Bytes::new());
            conn.call(req, LONG).await
        }
    });
    let seen = peer.read_request().await;
    assert_eq!(&seen.frame[8..], &[0xFF, 0xFF]);
    peer.respond(seen.correlation_id, b"").await;
    call.await.unwrap().unwrap();
}

#[tokio::test]
async fn request_header_v2_adds_an_empty_tagged_field_section() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move {
            let req = RawRequest::new(
                ApiKey::from_i16(18).unwrap(),
                3,
                Bytes::from_static(&[7, 7]),
            )
            .with_header_versions(RequestHeaderVersion::V2, ResponseHeaderVersion::V0)
            .with_client_id("kx");
            conn.call(req, LONG).await
        }
    });
    // Read raw, to check the size prefix too.
    let mut prefix = [0; 4];
    peer.io.read_exact(&mut prefix).await.unwrap();
    assert_eq!(i32::from_be_bytes(prefix), 8 + 4 + 1 + 2);
    let mut frame = [0; 15];
    peer.io.read_exact(&mut frame).await.unwrap();
    let id = &frame[4..8];
    #[rustfmt::skip]
    let expected = [
        0, 18, 0, 3, id[0], id[1], id[2], id[3],
        0, 2, b'k', b'x',
        0,
        7, 7,
    ];
    assert_eq!(frame, expected);
    let id = i32::from_be_bytes(id.try_into().unwrap());
    peer.respond(id, b"body").await;
    assert_eq!(&call.await.unwrap().unwrap()[..], b"body");
}

#[tokio::test]
async fn response_header_v1_tagged_fields_are_skipped() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move {
            let req = RawRequest::new(ApiKey::from_i16(3).unwrap(), 12, Bytes::new())
                .with_header_versions(RequestHeaderVersion::V2, ResponseHeaderVersion::V1);
            conn.call(req, LONG).await
        }
    });
    let seen = peer.read_request().await;
    let mut payload = BytesMut::new();
    payload.put_i32(seen.correlation_id);
    // Two tagged fields: tag 0 with 3 bytes, tag 300 (a two-byte uvarint) with none.
    payload.put_slice(&[2, 0, 3, b'x', b'y', b'z', 0xAC, 0x02, 0]);
    payload.put_slice(b"the body");
    write_frame(&mut peer.io, &payload).await.unwrap();
    assert_eq!(&call.await.unwrap().unwrap()[..], b"the body");
}

#[tokio::test]
async fn response_header_v1_with_no_tagged_fields() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move {
            let req = RawRequest::new(ApiKey::from_i16(3).unwrap(), 12, Bytes::new())
                .with_header_versions(RequestHeaderVersion::V2, ResponseHeaderVersion::V1);
            conn.call(req, LONG).await
        }
    });
    let seen = peer.read_request().await;
    peer.respond(seen.correlation_id, &[0, 1, 2]).await;
    assert_eq!(&call.await.unwrap().unwrap()[..], &[1, 2]);
}

#[tokio::test]
async fn malformed_response_header_tagged_fields_poison_the_connection() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move {
            let req = RawRequest::new(ApiKey::from_i16(3).unwrap(), 12, Bytes::new())
                .with_header_versions(RequestHeaderVersion::V2, ResponseHeaderVersion::V1);
            conn.call(req, LONG).await
        }
    });
    let seen = peer.read_request().await;
    // One field of 50 bytes, with 1 byte left in the frame.
    peer.respond(seen.correlation_id, &[1, 0, 50, 0]).await;
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, NetError::Decode(_)), "{err:?}");
    assert!(conn.is_closed());
}

// ------------------------------------------------------------------------------------------------
// Pipelining and correlation
// ------------------------------------------------------------------------------------------------

async fn pipelined_calls_each_get_their_own_answer(order: fn(&mut Vec<SeenRequest>)) {
    const N: u32 = 50;
    let (conn, mut peer) = connect_default();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..N {
        let conn = Arc::clone(&conn);
        calls.spawn(async move {
            let body = conn.call(request(1, &i.to_be_bytes()), LONG).await;
            (i, body)
        });
    }
    let mut seen = Vec::new();
    for _ in 0..N {
        seen.push(peer.read_request().await);
    }
    assert_eq!(conn.in_flight(), N as usize);
    let mut ids: Vec<i32> = seen.iter().map(|s| s.correlation_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N as usize, "correlation ids are unique");

    order(&mut seen);
    for s in &seen {
        // The answer is the request body (after the 8-byte v0 header), reversed.
        let mut answer = s.frame[8..].to_vec();
        answer.reverse();
        peer.respond(s.correlation_id, &answer).await;
    }
    while let Some(joined) = calls.join_next().await {
        let (i, body) = joined.unwrap();
        let mut expected = i.to_be_bytes();
        expected.reverse();
        assert_eq!(&body.unwrap()[..], &expected, "call {i}");
    }
    assert_eq!(conn.in_flight(), 0);
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn pipelined_calls_answered_in_reverse_order() {
    pipelined_calls_each_get_their_own_answer(|seen| seen.reverse()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_calls_answered_shuffled_on_a_multi_threaded_runtime() {
    pipelined_calls_each_get_their_own_answer(|seen| {
        // A fixed pseudo-random permutation (Fisher-Yates over a small LCG).
        let mut x: u32 = 0x2545_F491;
        for i in (1..seen.len()).rev() {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seen.swap(i, (x as usize) % (i + 1));
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_correlation_id_poisons_and_fails_every_waiter() {
    let (conn, mut peer) = connect_default();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..3u8 {
        let conn = Arc::clone(&conn);
        calls.spawn(async move { conn.call(request(1, &[i]), LONG).await });
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(peer.read_request().await.correlation_id);
    }
    let stray = ids.iter().max().unwrap() + 1000;
    peer.respond(stray, b"who?").await;
    while let Some(joined) = calls.join_next().await {
        let err = joined.unwrap().unwrap_err();
        assert!(
            matches!(err, NetError::CorrelationMismatch { got } if got == stray),
            "{err:?}"
        );
    }
    assert!(conn.is_closed());
    assert!(matches!(
        conn.close_cause().as_deref(),
        Some(NetError::CorrelationMismatch { .. })
    ));

    // Later calls fail at once, without writing anything, naming the cause.
    let err = conn.call(request(1, b"later"), LONG).await.unwrap_err();
    assert!(matches!(err, NetError::Closed { .. }), "{err:?}");
    assert!(
        matches!(err.root_cause(), NetError::CorrelationMismatch { got } if *got == stray),
        "{err:?}"
    );
    let source = std::error::Error::source(&err).expect("the cause is the source");
    assert!(source.to_string().contains(&stray.to_string()), "{source}");
    // The connection hung up on the peer.
    assert!(read_frame(&mut peer.io, 1024).await.unwrap().is_none());
}

#[tokio::test]
async fn a_response_answered_twice_is_a_mismatch() {
    let (conn, mut peer) = connect_default();
    let first = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.call(request(1, b"a"), LONG).await }
    });
    let seen = peer.read_request().await;
    peer.respond(seen.correlation_id, b"once").await;
    assert_eq!(&first.await.unwrap().unwrap()[..], b"once");
    peer.respond(seen.correlation_id, b"twice").await;
    let err = conn.call(request(1, b"b"), LONG).await.unwrap_err();
    assert!(
        matches!(err.root_cause(), NetError::CorrelationMismatch { got } if *got == seen.correlation_id),
        "{err:?}"
    );
}

// ------------------------------------------------------------------------------------------------
// Connection failures
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn peer_closing_mid_response_fails_every_waiter_and_later_calls_fail_fast() {
    let (conn, mut peer) = connect_default();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..3u8 {
        let conn = Arc::clone(&conn);
        calls.spawn(async move { conn.call(request(1, &[i]), LONG).await });
    }
    let mut first = None;
    for _ in 0..3 {
        first.get_or_insert(peer.read_request().await.correlation_id);
    }
    // A frame announcing 100 bytes, of which only the correlation id and 6 more arrive.
    peer.write_raw(&100i32.to_be_bytes()).await;
    peer.write_raw(&first.unwrap().to_be_bytes()).await;
    peer.write_raw(b"partia").await;
    drop(peer);
    while let Some(joined) = calls.join_next().await {
        let err = joined.unwrap().unwrap_err();
        assert!(
            matches!(err, NetError::TruncatedFrame { size: 100 }),
            "{err:?}"
        );
        assert!(err.to_string().contains("middle of a 100-byte"), "{err}");
    }
    assert!(conn.is_closed());
    let err = conn.call(request(1, b"later"), LONG).await.unwrap_err();
    assert!(
        matches!(&err, NetError::Closed { cause } if matches!(**cause, NetError::TruncatedFrame { .. })),
        "{err:?}"
    );
    let err = conn
        .send_no_response(request(0, b"later"))
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::Closed { .. }), "{err:?}");
}

#[tokio::test]
async fn peer_closing_between_frames_fails_waiters_with_peer_closed() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.call(request(1, b"x"), LONG).await }
    });
    peer.read_request().await;
    drop(peer);
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, NetError::PeerClosed), "{err:?}");
    assert!(conn.is_closed());
}

#[tokio::test]
async fn oversized_response_is_rejected_and_closes_the_connection() {
    let (conn, mut peer) = connect(ConnectionConfig::new("small").with_max_response_size(1024));
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.call(request(1, b"x"), LONG).await }
    });
    let seen = peer.read_request().await;
    // Announce 1 GiB and send nothing more, keeping the stream open: the error can only come
    // from the size check, made before the payload is read or allocated.
    peer.write_raw(&(1i32 << 30).to_be_bytes()).await;
    peer.write_raw(&seen.correlation_id.to_be_bytes()).await;
    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            NetError::FrameTooLarge {
                size: 1_073_741_824,
                max: 1024
            }
        ),
        "{err:?}"
    );
    assert!(conn.is_closed());
    let err = conn.call(request(1, b"y"), LONG).await.unwrap_err();
    assert!(
        matches!(err.root_cause(), NetError::FrameTooLarge { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_response_too_short_for_a_correlation_id_poisons() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.call(request(1, b"x"), LONG).await }
    });
    peer.read_request().await;
    write_frame(&mut peer.io, &[0, 0]).await.unwrap();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, NetError::Decode(_)), "{err:?}");
    assert!(conn.is_closed());
}

#[tokio::test]
async fn close_fails_waiters_and_hangs_up() {
    let (conn, mut peer) = connect_default();
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.call(request(1, b"x"), LONG).await }
    });
    peer.read_request().await;
    conn.close();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, NetError::ClosedByClient), "{err:?}");
    assert!(conn.is_closed());
    assert!(read_frame(&mut peer.io, 1024).await.unwrap().is_none());
}

#[tokio::test]
async fn dropping_the_connection_writes_queued_frames_then_hangs_up() {
    let (conn, mut peer) = connect_default();
    let conn = Arc::into_inner(conn).unwrap();
    {
        let mut send = pin!(conn.send_no_response(request(0, b"fire and forget")));
        assert!(poll_once(send.as_mut()).await.is_pending());
    }
    drop(conn);
    let seen = peer.read_request().await;
    assert_eq!(seen.api_key, 0);
    assert_eq!(&seen.frame[8..], b"fire and forget");
    assert!(read_frame(&mut peer.io, 1024).await.unwrap().is_none());
}

// ------------------------------------------------------------------------------------------------
// Cancellation and timeouts
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn dropped_calls_leave_the_stream_in_step() {
    let (conn, mut peer) = connect_default();

    // Dropped before its first poll: nothing is sent.
    drop(conn.call(request(1, b"never"), LONG));

    // Dropped after being sent, before its response.
    {
        let mut dropped = pin!(conn.call(request(1, b"dropped"), LONG));
        assert!(poll_once(dropped.as_mut()).await.is_pending());
    }
    let dropped = peer.read_request().await;
    assert_eq!(&dropped.frame[8..], b"dropped");
    assert_eq!(conn.in_flight(), 1, "the dropped request stays in flight");

    let (got_second, second_seen) = oneshot::channel();
    let peer_task = tokio::spawn(async move {
        let second = peer.read_request().await;
        got_second.send(()).unwrap();
        // The dropped request's response arrives first and is discarded, not a mismatch.
        peer.respond(dropped.correlation_id, b"for nobody").await;
        peer.respond(second.correlation_id, b"for second").await;
        peer
    });
    let second = conn.call(request(1, b"second"), LONG).await.unwrap();
    second_seen.await.unwrap();
    assert_eq!(&second[..], b"for second");
    assert!(!conn.is_closed());
    assert_eq!(conn.in_flight(), 0);
    drop(peer_task.await.unwrap());
}

#[tokio::test]
async fn a_call_dropped_mid_write_still_writes_its_whole_frame() {
    // A pipe far smaller than the frame, so the frame is still being written when the caller
    // gives up.
    let (client, broker) = tokio::io::duplex(16);
    let conn = Connection::new(client, ConnectionConfig::new("tiny-pipe"));
    let mut peer = Peer { io: broker };
    let big = vec![0x5A; 100_000];
    {
        let mut call = pin!(conn.call(request(1, &big), LONG));
        assert!(poll_once(call.as_mut()).await.is_pending());
        // The writer has started: part of the frame is in the pipe.
        let mut first = [0u8; 4];
        peer.io.read_exact(&mut first).await.unwrap();
        assert_eq!(i32::from_be_bytes(first), 8 + 100_000);
        // The call future is dropped here, mid-frame.
    }
    let mut rest = vec![0u8; 8 + 100_000];
    peer.io.read_exact(&mut rest).await.unwrap();
    assert!(rest[8..].iter().all(|&b| b == 0x5A));
    let dropped_id = i32::from_be_bytes(rest[4..8].try_into().unwrap());

    let (next_tx, next_rx) = oneshot::channel();
    let peer_task = tokio::spawn(async move {
        let next = peer.read_request().await;
        assert_eq!(&next.frame[8..], b"next");
        peer.respond(dropped_id, b"late").await;
        peer.respond(next.correlation_id, b"in step").await;
        next_tx.send(()).unwrap();
        peer
    });
    let body = conn.call(request(1, b"next"), LONG).await.unwrap();
    assert_eq!(&body[..], b"in step");
    next_rx.await.unwrap();
    drop(peer_task.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn timeout_is_typed_and_the_late_response_is_discarded() {
    let (conn, mut peer) = connect_default();
    let (answer_late, late) = oneshot::channel::<()>();
    let peer_task = tokio::spawn(async move {
        let slow = peer.read_request().await;
        late.await.unwrap();
        let next = peer.read_request().await;
        peer.respond(slow.correlation_id, b"too late").await;
        peer.respond(next.correlation_id, b"on time").await;
        (peer, slow)
    });
    let err = conn
        .call(request(19, b"slow"), Duration::from_millis(250))
        .await
        .unwrap_err();
    let err_text = err.to_string();
    let NetError::Timeout {
        api_key,
        api_version,
        correlation_id,
        timeout,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (api_key.as_i16(), api_version, timeout),
        (19, 1, Duration::from_millis(250))
    );
    assert!(!conn.is_closed());
    assert_eq!(conn.in_flight(), 1);
    assert!(
        err_text.contains("api key 19, v1, correlation id"),
        "{err_text}"
    );

    answer_late.send(()).unwrap();
    let body = conn.call(request(1, b"next"), LONG).await.unwrap();
    assert_eq!(&body[..], b"on time");
    let (_peer, slow) = peer_task.await.unwrap();
    assert_eq!(Some(slow.correlation_id), correlation_id);
    assert!(!conn.is_closed());
    assert_eq!(conn.in_flight(), 0);
}

#[tokio::test]
async fn send_no_response_registers_no_waiter() {
    let (conn, mut peer) = connect_default();
    conn.send_no_response(request(0, b"acks=0")).await.unwrap();
    assert_eq!(conn.in_flight(), 0);
    let seen = peer.read_request().await;
    assert_eq!((seen.api_key, seen.api_version), (0, 1));
    assert_eq!(&seen.frame[8..], b"acks=0");

    // The next request gets a different id and its own answer.
    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.call(request(3, b"m"), LONG).await }
    });
    let next = peer.read_request().await;
    assert_ne!(next.correlation_id, seen.correlation_id);
    peer.respond(next.correlation_id, b"meta").await;
    assert_eq!(&call.await.unwrap().unwrap()[..], b"meta");
}

#[tokio::test]
async fn an_unencodable_request_fails_alone() {
    let (conn, mut peer) = connect_default();
    let req = RawRequest::new(ApiKey::from_i16(3).unwrap(), 1, Bytes::new())
        .with_client_id("x".repeat(40_000));
    let err = conn.call(req, LONG).await.unwrap_err();
    assert!(matches!(err, NetError::Encode(_)), "{err:?}");
    assert!(!err.is_connection_failure());
    assert!(!conn.is_closed());
    assert_eq!(conn.in_flight(), 0);

    let call = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.call(request(3, b"fine"), LONG).await }
    });
    let seen = peer.read_request().await;
    assert_eq!(&seen.frame[8..], b"fine");
    peer.respond(seen.correlation_id, b"ok").await;
    assert_eq!(&call.await.unwrap().unwrap()[..], b"ok");
}

#[tokio::test(start_paused = true)]
async fn the_timeout_covers_waiting_for_room_in_the_write_queue() {
    // A one-frame queue in front of a pipe the peer does not read: the first frame blocks the
    // writer, the second fills the queue, the third cannot even be queued.
    let (client, broker) = tokio::io::duplex(16);
    let conn = Arc::new(Connection::new(
        client,
        ConnectionConfig::new("stalled").with_write_queue_capacity(1),
    ));
    let big = vec![1u8; 1000];
    let mut first = pin!(conn.call(request(1, &big), LONG));
    assert!(poll_once(first.as_mut()).await.is_pending());
    tokio::task::yield_now().await;
    let mut second = pin!(conn.call(request(1, &big), LONG));
    assert!(poll_once(second.as_mut()).await.is_pending());

    let err = conn
        .call(request(1, b"third"), Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NetError::Timeout {
                correlation_id: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("never sent"), "{err}");
    assert!(!conn.is_closed());
    assert_eq!(conn.in_flight(), 2);
    drop(broker);
}
