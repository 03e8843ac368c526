//! TCP peers on 127.0.0.1 that are not Kafka brokers, for bootstrap and routing tests: an HTTP
//! server answering a Kafka client, a peer that answers with a wrong correlation id, one that
//! sends bytes that are no ApiVersions response, one that accepts and never reads or answers.
//!
//! Each serves every connection it accepts the same way until dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How a [`Peer`] answers what a client sends.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Reads the first request frame, then writes an HTTP/1.1 400 response and closes, as an
    /// HTTP server does (the client reads `HTTP` as a frame size of 1.2 GB).
    Http,
    /// Answers the first request with a frame whose correlation id is the request's plus one.
    WrongCorrelationId,
    /// Answers the first request with a well-formed frame with the right correlation id whose
    /// body is these bytes (garbage for any API).
    Body(Vec<u8>),
    /// Accepts and reads, and never writes anything (a frozen broker, or a half-open socket).
    Silent,
    /// Accepts and never reads: the client's writes fill the socket buffers and then block.
    NeverReads,
    /// Accepts and closes at once.
    Close,
}

/// A listener serving one [`Behaviour`]. Stops when dropped.
#[derive(Debug)]
pub struct Peer {
    address: String,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Peer {
    /// Starts a peer on an ephemeral port of 127.0.0.1.
    ///
    /// # Panics
    ///
    /// When no port can be bound (a broken test machine).
    pub async fn start(behaviour: Behaviour) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let address = listener.local_addr().expect("local address").to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            // Dropped (aborting every connection's task) when the peer is.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                connections.spawn(serve(stream, behaviour.clone()));
            }
        });
        Peer {
            address,
            accepted,
            task,
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// How many connections it accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address where nothing listens: a port bound and released at once.
pub async fn closed_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local address").to_string()
}

/// Reads one request frame and returns its correlation id.
async fn read_request(stream: &mut TcpStream) -> Option<i32> {
    let size = stream.read_i32().await.ok()?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s >= 8 && *s <= 1 << 26)?;
    let mut frame = vec![0; size];
    stream.read_exact(&mut frame).await.ok()?;
    Some(i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]))
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    match behaviour {
        Behaviour::Http => {
            let _ = read_request(&mut stream).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
        Behaviour::WrongCorrelationId => {
            if let Some(id) = read_request(&mut stream).await {
                let mut out = BytesMut::new();
                out.put_i32(6);
                out.put_i32(id.wrapping_add(1));
                out.put_i16(0);
                let _ = stream.write_all(&out).await;
            }
            hold(stream).await;
        }
        Behaviour::Body(body) => {
            if let Some(id) = read_request(&mut stream).await {
                let mut out = BytesMut::new();
                out.put_i32(4 + body.len() as i32);
                out.put_i32(id);
                out.put_slice(&body);
                let _ = stream.write_all(&out).await;
            }
            hold(stream).await;
        }
        Behaviour::Silent => drain(stream).await,
        Behaviour::NeverReads => {
            // Keep the socket open without reading (the task is aborted with the peer).
            std::future::pending::<()>().await;
        }
        Behaviour::Close => {}
    }
}

/// Keeps the connection open, reading and discarding, until the client closes it.
async fn hold(stream: TcpStream) {
    drain(stream).await;
}

/// Reads and discards whatever arrives until the peer closes.
#[allow(clippy::disallowed_methods)] // A partial read is all a drain wants.
async fn drain(mut stream: TcpStream) {
    let mut sink = vec![0; 64 * 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}
