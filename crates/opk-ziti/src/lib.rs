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
//! - [`Identity`]: an enrolled identity file; [`Controller`]: the controller's edge client REST
//!   API (authenticate, services, Dial sessions, refresh), blocking, over mutual TLS;
//!   [`enroll_to_file`]: one-time-token enrolment; [`mfa_enable`]: TOTP enrolment.
//! - [`idp_token`]: zssh's browser sign-in (`-o`) for an OIDC token the controller accepts.
//! - [`OverlayTransport`]: the overlay as `opk ssh`'s transport (`opk zssh`, `opk zscp`), its API
//!   session refreshed while it lives; [`host`]: a service hosted as an addressable terminator
//!   and forwarded to a local port (`opk ziti host`).
//!
//! The protocol modules are pure (no network, no disk); the controller client is the adapter.
//! Known-answer tests against vectors made with the OpenZiti Go SDK's own packages are in
//! `tests/vectors.rs`.

mod controller;
mod der;
mod e2e;
pub mod edge;
mod enroll;
mod error;
mod frame;
mod host;
mod hosting;
mod identity;
mod idp;
mod mfa;
mod overlay;
mod router;

pub use controller::{ApiSession, Controller, EdgeRouter, Service, ServiceSession};
pub use e2e::{KeyPair, Opener, Sealer, SessionKeys, StreamHeader};
pub use enroll::{Enrolled, EnrollmentToken, enroll, enroll_to_file};
pub use error::{Error, ProtocolError};
pub use frame::{Frame, MAX_BODY, MAX_HEADERS};
pub use host::{HostOptions, host};
pub use hosting::identity_secret;
pub use identity::Identity;
pub use idp::{IdpLogin, ZSSH_CALLBACK_PORT, ZSSH_CLIENT_ID, idp_token};
pub use mfa::{MfaEnrollment, Totp, enable as mfa_enable};
pub use overlay::{
    Credential, OverlayOptions, OverlayTransport, TotpSource, authenticate, id_token_from_opk_cert,
    refresh_after,
};
pub use router::{Incoming, Listener, RouterChannel, ZitiStream, tls_config};

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
