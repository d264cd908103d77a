//! TOTP (RFC 6238) for OpenZiti's multi-factor authentication: the controller gives an
//! `otpauth://totp/…?secret=…` provisioning URL when MFA is enrolled; authenticator apps (and
//! tests, and `--totp-command` set-ups) compute 6-digit codes from it.

use crate::Error;

/// A TOTP generator from a provisioning URL.
pub struct Totp(totp_rs::Totp);

impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Totp { .. }")
    }
}

impl Totp {
    /// Parses `otpauth://totp/…?secret=…`. Unchecked on purpose: the controller chooses the
    /// secret's length, and a login must work with whatever it chose.
    pub fn from_provisioning_url(url: &str) -> Result<Self, Error> {
        totp_rs::Totp::from_url_unchecked(url)
            .map(Self)
            .map_err(|_| Error::ProvisioningUrl)
    }

    /// The code for Unix time `unix_seconds`.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.0.generate(unix_seconds).to_string()
    }

    /// The first second of the next code's period after `unix_seconds`.
    pub fn next_period(&self, unix_seconds: u64) -> u64 {
        self.0.next_step(unix_seconds)
    }
}

/// What `POST /current-identity/mfa` starts: scan the URL into an authenticator app, keep the
/// recovery codes, then verify one code to finish.
#[derive(Clone)]
pub struct MfaEnrollment {
    /// The `otpauth://` URL (also shown as a QR code).
    pub provisioning_url: String,
    /// One-time codes that replace a TOTP code if the authenticator is lost.
    pub recovery_codes: Vec<String>,
    /// Whether a code has been verified (MFA is then active).
    pub is_verified: bool,
}

impl std::fmt::Debug for MfaEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaEnrollment")
            .field("is_verified", &self.is_verified)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890" (base32 below), 6 digits.
        let t = Totp::from_provisioning_url(
            "otpauth://totp/opk:test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=opk&digits=6&period=30",
        )
        .expect("url");
        assert_eq!(t.code_at(59), "287082");
        assert_eq!(t.code_at(1_111_111_109), "081804");
        assert_eq!(t.code_at(2_000_000_000), "279037");
        assert_eq!(t.next_period(59), 60);
        assert!(Totp::from_provisioning_url("https://example.com").is_err());
    }
}
