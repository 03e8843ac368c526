//! The traits every generated message implements, and the typed request trait.

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::primitives::VersionRange;

/// A value that can be written at a given protocol version.
pub trait Encodable {
    /// Appends this value, encoded at `version`, to `buf`.
    ///
    /// Fails when `version` is outside the valid range, or when a field that `version` cannot
    /// carry holds a non-default value and the spec does not mark it ignorable.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;

    /// The exact number of bytes [`Encodable::encode`] writes at `version`.
    fn encoded_len(&self, version: i16) -> Result<usize, EncodeError>;
}

/// A value that can be read at a given protocol version.
pub trait Decodable: Sized {
    /// Reads one value encoded at `version` from the front of `buf`, advancing it. `bytes` and
    /// `records` fields are zero-copy slices of `buf`.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError>;
}

/// A top-level Kafka message (request, response, header or data message) from the JSON specs.
pub trait Message:
    Encodable + Decodable + Default + Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static
{
    /// The spec's name, e.g. `ProduceRequest`.
    const NAME: &'static str;
    /// The versions the spec defines.
    const VERSIONS: VersionRange;
    /// The lowest flexible version (`None` when no version is flexible).
    const FLEXIBLE_MIN: Option<i16>;

    /// Whether `version` uses the flexible (compact, tagged) encoding.
    fn is_flexible(version: i16) -> bool {
        matches!(Self::FLEXIBLE_MIN, Some(min) if version >= min)
    }

    /// Encodes into a fresh buffer sized exactly for the result.
    fn to_bytes(&self, version: i16) -> Result<BytesMut, EncodeError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len(version)?);
        self.encode(&mut buf, version)?;
        Ok(buf)
    }

    /// Decodes from `bytes`, failing if any bytes are left over.
    fn from_bytes(mut bytes: Bytes, version: i16) -> Result<Self, DecodeError> {
        let value = Self::decode(&mut bytes, version)?;
        if !bytes.is_empty() {
            return Err(DecodeError::TrailingBytes {
                message: Self::NAME,
                version,
                remaining: bytes.len(),
            });
        }
        Ok(value)
    }
}

/// A request message: its API key, its valid versions and its response type, known at compile
/// time so that sending it is typed (`client.send(req) -> R::Response`).
pub trait Request: Message {
    /// The response message for this request.
    type Response: Message;
    /// The API key.
    const API_KEY: crate::ApiKey;
}
