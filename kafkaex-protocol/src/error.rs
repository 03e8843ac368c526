//! Errors of the protocol layer: encoding, decoding, and compression.

/// An error while encoding a message, a header, or records.
///
/// Every variant that concerns a message names the message (or API) and the version, so a caller
/// that asked for an impossible combination can see which one.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The version is outside the message's valid range.
    #[error("{message} v{version} is not a valid version (valid: {min}-{max})")]
    UnsupportedVersion {
        /// Message or API name, e.g. `ProduceRequest`.
        message: &'static str,
        /// The version asked for.
        version: i16,
        /// Lowest valid version.
        min: i16,
        /// Highest valid version.
        max: i16,
    },
    /// A field that the chosen version cannot carry holds a non-default value, and the spec does
    /// not mark it ignorable: encoding would silently lose it.
    #[error("{message} v{version}: field {field} is not in this version but is set to a non-default value")]
    FieldNotInVersion {
        /// Message or struct name.
        message: &'static str,
        /// Field name as in the spec.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// A field is `None` but is not nullable at this version.
    #[error("{message} v{version}: field {field} is null but not nullable in this version")]
    NullNotAllowed {
        /// Message or struct name.
        message: &'static str,
        /// Field name as in the spec.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// A string, bytes or array is longer than its length prefix can express.
    #[error("{what} is too long to encode ({len} items/bytes)")]
    TooLong {
        /// What was being encoded.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// Compressing records failed.
    #[error("compression failed")]
    Compression(#[from] CompressionError),
    /// An unknown tagged field uses the tag of a field the struct knows, so both would be
    /// written under one tag.
    #[error("{message}: an unknown tagged field uses tag {tag}, which is a known field's")]
    TaggedFieldConflict {
        /// Message or struct name.
        message: &'static str,
        /// The tag.
        tag: u32,
    },
    /// Invalid records input (for example a batch with no records where one is required).
    #[error("invalid records: {0}")]
    InvalidRecords(&'static str),
}

/// An error while decoding bytes received from a peer.
///
/// Decoding never panics and never allocates from an untrusted length without checking it against
/// the bytes actually present; any inconsistency ends in one of these.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} remaining")]
    UnexpectedEof {
        /// Bytes needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length prefix is negative (where null is not allowed) or larger than the input left.
    #[error("invalid length {len} for {what} ({remaining} bytes remaining)")]
    InvalidLength {
        /// What the length was for.
        what: &'static str,
        /// The length read.
        len: i64,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A null where the field is not nullable at this version.
    #[error("null {what} where it is not nullable")]
    UnexpectedNull {
        /// What was null.
        what: &'static str,
    },
    /// A string is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A varint is longer than its type allows.
    #[error("varint is too long")]
    VarintOverflow,
    /// A boolean byte other than 0 or 1 (Kafka reads any non-zero as true; kept for strictness
    /// where it matters).
    #[error("invalid value {value} for {what}")]
    InvalidValue {
        /// What field or type.
        what: &'static str,
        /// The value read.
        value: i64,
    },
    /// The version is outside the message's valid range.
    #[error("{message} v{version} is not a valid version (valid: {min}-{max})")]
    UnsupportedVersion {
        /// Message or API name.
        message: &'static str,
        /// The version asked for.
        version: i16,
        /// Lowest valid version.
        min: i16,
        /// Highest valid version.
        max: i16,
    },
    /// Bytes were left over after a message that should have consumed the whole frame.
    #[error("{message} v{version}: {remaining} trailing bytes after the message")]
    TrailingBytes {
        /// Message name.
        message: &'static str,
        /// Version decoded.
        version: i16,
        /// Bytes left.
        remaining: usize,
    },
    /// A record batch or message failed its checksum.
    #[error("corrupt {what}: CRC mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    CrcMismatch {
        /// `record batch` or `message`.
        what: &'static str,
        /// CRC stored in the data.
        stored: u32,
        /// CRC computed over the data.
        computed: u32,
    },
    /// Records use a magic byte this crate does not know.
    #[error("unknown record magic {0}")]
    UnknownMagic(i8),
    /// Records are malformed in a way other than a CRC mismatch.
    #[error("corrupt records: {0}")]
    CorruptRecords(&'static str),
    /// Decompressing records failed.
    #[error("decompression failed")]
    Compression(#[from] CompressionError),
    /// Materializing the records would take more memory than
    /// `DecodeOptions::max_record_memory` allows; `RecordBatchView` reads them without
    /// materializing.
    #[error("{records} records would take more than the limit of {limit} bytes as owned records (DecodeOptions::max_record_memory; RecordBatchView reads them in place)")]
    RecordMemoryLimit {
        /// Records in the batch that went over.
        records: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// Context: the error happened inside this message at this version; `source` says what.
    #[error("could not decode {message} v{version}")]
    InMessage {
        /// Message name.
        message: &'static str,
        /// Version being decoded.
        version: i16,
        /// The underlying error.
        #[source]
        source: Box<DecodeError>,
    },
}

impl DecodeError {
    /// Wraps this error with the message and version being decoded (once: an error that already
    /// carries a context keeps the innermost one, which is the most precise).
    pub fn in_message(self, message: &'static str, version: i16) -> Self {
        match self {
            e @ DecodeError::InMessage { .. } => e,
            e => DecodeError::InMessage {
                message,
                version,
                source: Box::new(e),
            },
        }
    }

    /// The error without any message context.
    pub fn root(&self) -> &DecodeError {
        match self {
            DecodeError::InMessage { source, .. } => source.root(),
            e => e,
        }
    }
}

/// An error from a compression codec.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressionError {
    /// The compression attribute names a codec Kafka does not define.
    #[error("unknown compression codec id {0}")]
    UnknownCodec(u8),
    /// Decompressed data would exceed the configured cap.
    #[error("decompressed size exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The configured cap in bytes.
        limit: usize,
    },
    /// A compression level the codec does not have (see
    /// [`level_range`](crate::records::compression::level_range)).
    #[error("{codec:?} compression has no level {level}")]
    InvalidLevel {
        /// The codec.
        codec: crate::records::Compression,
        /// The level asked for.
        level: i32,
    },
    /// The codec rejected the data; `source` is the codec's own error.
    #[error("the {codec} codec failed")]
    Codec {
        /// Codec name.
        codec: &'static str,
        /// What the codec said.
        #[source]
        source: CodecError,
    },
}

/// A codec library's error (or a framing problem found around it), shared so that
/// [`CompressionError`] stays `Clone`. Two are equal when they print the same.
#[derive(Clone)]
pub struct CodecError(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl CodecError {
    /// Wraps a codec's error, or a message (`&str`, `String`).
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(std::sync::Arc::from(error.into()))
    }
}

impl std::fmt::Debug for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for CodecError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for CodecError {}
