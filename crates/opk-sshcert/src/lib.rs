//! OpenSSH artifacts of opk, wire- and file-compatible with opkssh:
//!
//! - [`EphemeralKey`]: the fresh ECDSA P-256 or Ed25519 key pair, and its unencrypted OpenSSH
//!   private key file;
//! - [`OpkCert`]: the self-signed OpenSSH user certificate carrying the PK Token in extension
//!   `openpubkey-pkt`, and the strict parser for sshd's `%t %k` and for `-cert.pub` lines.
//!
//! Pure: no disk, no network. Randomness comes from the operating system via `getrandom`.
#![forbid(unsafe_code)]

pub mod agent;
mod cert;
mod error;
mod key;

pub use cert::{
    CERT_TYPE_ECDSA_P256, CERT_TYPE_ED25519, CertRequest, EXT_ACCESS_TOKEN, EXT_PK_TOKEN,
    MAX_CERT_B64_LEN, OpkCert, PERMIT_EXTENSIONS, WILDCARD_PRINCIPAL,
};
pub use error::{Error, Input, KeyProblem, KeyRole, RequestProblem};
pub use key::{EphemeralKey, KeyAlgorithm, MAX_PEM_LEN, PublicKey};

/// Entry points for fuzzers and fuzz-style tests: feed arbitrary bytes, never panic.
#[doc(hidden)]
pub mod fuzzing {
    use base64ct::{Base64, Encoding as _};

    use crate::{CERT_TYPE_ECDSA_P256, CERT_TYPE_ED25519, EphemeralKey, OpkCert};

    /// Exercises [`OpkCert::parse`] three ways: `data` as text `"<type> <b64>"`, `data` as the
    /// base64 text for both cert types, and `data` as the raw blob (base64-encoded first, so the
    /// certificate decoder itself sees the bytes). Accessors run on anything that parses.
    pub fn fuzz_parse(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        if let Some((t, b)) = text.split_once(' ') {
            exercise(OpkCert::parse(t, b));
        }
        let raw_b64 = Base64::encode_string(data);
        for t in [CERT_TYPE_ECDSA_P256, CERT_TYPE_ED25519] {
            exercise(OpkCert::parse(t, &text));
            exercise(OpkCert::parse(t, &raw_b64));
        }
    }

    /// Exercises [`OpkCert::from_line`] on `data` as text.
    pub fn fuzz_from_line(data: &[u8]) {
        exercise(OpkCert::from_line(&String::from_utf8_lossy(data)));
    }

    /// Exercises [`EphemeralKey::from_openssh_pem`] on `data` as text.
    pub fn fuzz_private_key(data: &[u8]) {
        if let Ok(k) = EphemeralKey::from_openssh_pem(&String::from_utf8_lossy(data)) {
            let _ = k.public_key().to_ssh_blob_b64();
            let _ = k.to_openssh_pem("fuzz");
        }
    }

    fn exercise(r: Result<OpkCert, crate::Error>) {
        let Ok(c) = r else { return };
        let _ = c.verify_self_signature();
        let _ = (
            c.public_key().to_ssh_blob_b64(),
            c.signature_key().to_ssh_blob_b64(),
        );
        let _ = (
            c.key_id(),
            c.principals(),
            c.pk_token(),
            c.access_token(),
            c.comment(),
        );
        let _ = (c.is_user_cert(), c.is_self_signed(), c.extensions().count());
        // Whatever parses must survive its own round trip unchanged.
        let again = OpkCert::parse(c.cert_type(), &c.to_b64());
        assert!(matches!(again, Ok(ref a) if a.as_bytes() == c.as_bytes()));
    }
}
