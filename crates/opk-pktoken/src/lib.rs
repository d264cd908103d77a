//! OpenPubkey PK Tokens: the OP's ID token plus a client-instance-claims (CIC) signature by the
//! user's ephemeral key, in the compact form opkssh puts into the `openpubkey-pkt` certificate
//! extension. Pure: no network, no disk.
//!
//! The pieces: [`Jwk`]/[`Jwks`] (keys and RFC 7638 thumbprints), [`Cic`] (commitment),
//! [`PkToken`] (compact form, issue, verify) and [`UserSigner`] (the ephemeral key as a JWS
//! signer). Base64url is decoded strictly and the commitment is hashed over Go-compatible
//! canonical JSON; both are internal.
//!
//! Hazard ids in the docs (O-1, O-4, …) are explained in `docs/hazards.md`.
#![forbid(unsafe_code)]

mod alg;
mod b64;
mod canonical;
mod cic;
mod error;
mod expiry;
mod json;
mod jwk;
mod pktoken;
mod signer;

pub use alg::Alg;
pub use cic::Cic;
pub use error::{CicProblem, Error, KeyError, Malformed, Part, RefreshedProblem, SignatureKind};
pub use expiry::{ExpiryPolicy, civil_from_days, log_timestamp, utc_fields};
pub use jwk::{Jwk, Jwks};
pub use pktoken::{MAX_COMPACT_LEN, MAX_FUTURE_IAT_SECS, PkToken, ProviderCheck};
pub use signer::UserSigner;

/// Entry points for fuzzers: parse arbitrary bytes, must never panic.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as a compact PK Token; on success, re-serialising must give the same text.
    pub fn fuzz_compact(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok(pkt) = crate::PkToken::from_compact(text)
        {
            assert_eq!(pkt.to_compact(), text);
        }
    }

    /// Parses `data` as a JWKS document.
    pub fn fuzz_jwks(data: &[u8]) {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
            let _ = crate::Jwks::from_json(&value);
        }
    }
}
