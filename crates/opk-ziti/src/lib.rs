//! A native OpenZiti client for opk, without FFI: what `opk zssh` needs to reach an SSH server
//! that is reachable only through an OpenZiti overlay.
//!
//! - [`Frame`]: the channel v2 wire format spoken with edge routers (header and body caps, strict
//!   decoding, one value type per header encoding);
//! - [`edge`]: the edge protocol's content types, header ids and flags, and builders for the
//!   messages a dialer sends (hello, connect, data, close);
//! - [`KeyPair`], [`SessionKeys`], [`Sealer`], [`Opener`]: end-to-end encryption between the
//!   dialer and the hosting identity (X25519 key exchange as libsodium's `crypto_kx`, then
//!   XChaCha20-Poly1305 `secretstream`), which edge routers cannot read.
//!
//! Pure: no network and no disk; the controller REST client and router connections build on it.
//! Known-answer tests against vectors made with the OpenZiti Go SDK's own packages are in
//! `tests/vectors.rs`.

mod e2e;
pub mod edge;
mod error;
mod frame;

pub use e2e::{KeyPair, Opener, Sealer, SessionKeys, StreamHeader};
pub use error::Error;
pub use frame::{Frame, MAX_BODY, MAX_HEADERS};

/// Entry points for fuzz targets (fuzz/); not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    /// Decodes arbitrary bytes as a frame and, when that works, re-encodes and decodes it again.
    pub fn fuzz_frame(data: &[u8]) {
        if let Ok((frame, used)) = crate::Frame::decode(data) {
            assert!(used <= data.len());
            let again = crate::Frame::decode(&frame.encode()).expect("re-decode");
            assert_eq!(again.0, frame);
        }
    }
}
