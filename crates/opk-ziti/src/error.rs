//! Errors of the OpenZiti client pieces.

/// What went wrong decoding a frame or in end-to-end encryption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than the frame's own lengths announce.
    #[error("channel frame is truncated: {need} bytes needed, {have} available")]
    Truncated {
        /// Bytes the frame needs.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The first four bytes are not the channel v2 magic.
    #[error("not a channel v2 frame (magic {0:02x?})")]
    BadMagic([u8; 4]),
    /// The peer answered that it does not speak channel v2.
    #[error("the edge router does not speak channel v2; it offers versions {0:?}")]
    UnsupportedVersion(Vec<u32>),
    /// Headers or body over the caps.
    #[error(
        "channel frame too large: {headers} header bytes (max {}), {body} body bytes (max {})",
        crate::MAX_HEADERS,
        crate::MAX_BODY
    )]
    TooLarge {
        /// Announced header bytes.
        headers: usize,
        /// Announced body bytes.
        body: usize,
    },
    /// The header section does not parse into (key, length, value) entries.
    #[error("channel frame has a malformed header section at offset {0}")]
    MalformedHeaders(usize),
    /// The same header key appears twice (the Go SDK would silently keep the last).
    #[error("channel frame repeats header {0}")]
    DuplicateHeader(i32),
    /// A header has the wrong length for its type.
    #[error("header {key} has {len} bytes, expected {expected}")]
    HeaderLength {
        /// Header id.
        key: i32,
        /// Its length.
        len: usize,
        /// The length its type needs.
        expected: usize,
    },
    /// The peer's X25519 public key is not 32 bytes.
    #[error("the peer's end-to-end public key has {0} bytes, expected 32")]
    PublicKeyLength(usize),
    /// The shared secret is all zeros (a low-order peer key).
    #[error("the peer's end-to-end public key is a low-order point; refusing it")]
    WeakPublicKey,
    /// The operating system's random source failed.
    #[error("cannot read random bytes from the operating system")]
    Random,
    /// The stream header is not 24 bytes.
    #[error("end-to-end stream header has {0} bytes, expected 24")]
    StreamHeaderLength(usize),
    /// A message failed authentication (tampered, reordered, or the wrong key).
    #[error("end-to-end decryption failed: the data was altered or is out of order")]
    Decrypt,
    /// A message arrived after the peer's final message.
    #[error("end-to-end stream already finished")]
    StreamFinished,
    /// A frame arrived that is not the answer we wait for.
    #[error(
        "unexpected message of type {content_type} from the edge router while waiting for {expected}"
    )]
    Unexpected {
        /// What we were waiting for.
        expected: &'static str,
        /// What came instead.
        content_type: i32,
    },
    /// The edge router refused our hello (usually an expired or unknown API session).
    #[error("the edge router refused the connection: {message}")]
    RouterRefused {
        /// The router's reason, sanitised.
        message: String,
    },
    /// The host wants an end-to-end method other than kx + secretstream.
    #[error("the host asks for an end-to-end encryption method opk does not speak (only method 0)")]
    UnsupportedCryptoMethod,
    /// A multipart body whose part lengths do not add up.
    #[error("malformed multipart data message")]
    MalformedMultipart,
}
