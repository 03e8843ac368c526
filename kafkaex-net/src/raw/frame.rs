//! Kafka's framing: every request and response is an `int32` big-endian size followed by that
//! many bytes.
//!
//! Reading checks the announced size against a maximum *before* allocating, so a corrupt or
//! hostile size (a TLS alert or an HTTP reply read as a Kafka frame announces hundreds of
//! megabytes) fails with [`NetError::FrameTooLarge`] instead of exhausting memory.
//!
//! Neither function is cancellation-safe: dropping one mid-frame leaves the stream in the
//! middle of a frame. [`Connection`](crate::connection::Connection) only ever runs them to
//! completion in its own reader and writer tasks.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::NetError;

/// The length of the size prefix.
pub const SIZE_PREFIX_LEN: usize = 4;

/// The default maximum response frame size: 100 MiB, the broker's own default limit on request
/// frames (`socket.request.max.bytes`). Fetch responses are bounded by `fetch.max.bytes`
/// (50 MiB by default), so a larger frame is far more likely a desynchronised stream than data.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 100 * 1024 * 1024;

/// The 4-byte big-endian size prefix for a frame of `payload_len` bytes.
///
/// Fails when the length does not fit an `int32`.
pub fn size_prefix(payload_len: usize) -> Result<[u8; SIZE_PREFIX_LEN], NetError> {
    let size = i32::try_from(payload_len).map_err(|_| {
        NetError::Encode(kafkaex_protocol::EncodeError::TooLong {
            what: "request frame",
            len: payload_len,
        })
    })?;
    Ok(size.to_be_bytes())
}

/// Reads one frame and returns its payload (without the size prefix).
///
/// Returns `Ok(None)` when the stream ends cleanly before the first byte of a frame; a stream
/// that ends anywhere inside a frame is [`NetError::TruncatedFrame`] (or [`NetError::Io`] when
/// it ends inside the size prefix). A size above `max_size` is [`NetError::FrameTooLarge`],
/// returned before the payload is read or any buffer for it allocated.
pub async fn read_frame<R>(reader: &mut R, max_size: usize) -> Result<Option<BytesMut>, NetError>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut prefix = [0u8; SIZE_PREFIX_LEN];
    // The first byte alone, to tell a clean end of stream (the peer closed between frames) from
    // one inside a frame; `read_exact` cannot say how many bytes it got before failing.
    match reader.read_exact(&mut prefix[..1]).await {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err.into()),
    }
    reader.read_exact(&mut prefix[1..]).await?;
    let size = i32::from_be_bytes(prefix);
    let size = usize::try_from(size).map_err(|_| NetError::NegativeFrameSize { size })?;
    if size > max_size {
        return Err(NetError::FrameTooLarge {
            size,
            max: max_size,
        });
    }
    let mut payload = BytesMut::zeroed(size);
    match reader.read_exact(&mut payload).await {
        Ok(_) => Ok(Some(payload)),
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(NetError::TruncatedFrame { size })
        }
        Err(err) => Err(err.into()),
    }
}

/// Writes one frame: the size prefix, then `payload`. Does not flush.
pub async fn write_frame<W>(writer: &mut W, payload: &[u8]) -> Result<(), NetError>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    writer.write_all(&size_prefix(payload.len())?).await?;
    writer.write_all(payload).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip() {
        let (mut a, mut b) = tokio::io::duplex(64);
        write_frame(&mut a, b"hello").await.unwrap();
        write_frame(&mut a, b"").await.unwrap();
        drop(a);
        assert_eq!(
            &read_frame(&mut b, 16).await.unwrap().unwrap()[..],
            b"hello"
        );
        assert_eq!(&read_frame(&mut b, 16).await.unwrap().unwrap()[..], b"");
        assert!(read_frame(&mut b, 16).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn size_is_big_endian() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        write_frame(&mut a, &[7; 258]).await.unwrap();
        let mut prefix = [0; 4];
        b.read_exact(&mut prefix).await.unwrap();
        assert_eq!(prefix, [0, 0, 1, 2]);
    }

    #[tokio::test]
    async fn oversized_frame_is_rejected_before_its_payload_is_read() {
        // Only the prefix is ever sent and the writer stays open: reading the payload would
        // hang, so getting the error back proves the size was checked first.
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&i32::MAX.to_be_bytes()).await.unwrap();
        let err = read_frame(&mut b, 1024).await.unwrap_err();
        assert!(
            matches!(
                err,
                NetError::FrameTooLarge {
                    size: 2_147_483_647,
                    max: 1024
                }
            ),
            "{err:?}"
        );
        drop(a);
    }

    #[tokio::test]
    async fn negative_size_is_rejected() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&(-1i32).to_be_bytes()).await.unwrap();
        let err = read_frame(&mut b, 1024).await.unwrap_err();
        assert!(
            matches!(err, NetError::NegativeFrameSize { size: -1 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn end_of_stream_inside_a_frame_is_truncation() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[0, 0, 0, 10, 1, 2, 3]).await.unwrap();
        drop(a);
        let err = read_frame(&mut b, 1024).await.unwrap_err();
        assert!(
            matches!(err, NetError::TruncatedFrame { size: 10 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn end_of_stream_inside_the_prefix_is_an_io_error() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[0, 0]).await.unwrap();
        drop(a);
        let err = read_frame(&mut b, 1024).await.unwrap_err();
        assert!(matches!(err, NetError::Io(_)), "{err:?}");
    }
}
