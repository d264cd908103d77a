//! TOTP (RFC 6238) for OpenZiti's multi-factor authentication: the controller gives an
//! `otpauth://totp/…?secret=…` provisioning URL when MFA is enrolled; authenticator apps (and
//! tests, and `--totp-command` set-ups) compute 6-digit codes from it.

use std::io::Write;

use crate::{ApiSession, Controller, Error};

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

impl MfaEnrollment {
    /// The base32 secret in the provisioning URL (for typing into an app by hand).
    pub fn secret(&self) -> Option<&str> {
        let query = self.provisioning_url.split_once('?')?.1;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix("secret="))
            .filter(|s| !s.is_empty())
    }

    /// The provisioning URL as a QR code of Unicode half blocks, light on dark as terminals
    /// show best and phone cameras read.
    pub fn qr_text(&self) -> Option<String> {
        let code = qrcode::QrCode::new(self.provisioning_url.as_bytes()).ok()?;
        Some(
            code.render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build(),
        )
    }
}

/// How many codes `enable` asks for before giving up (a mistyped code is common).
const TRIES: usize = 3;

/// `opk zssh mfa enable`: starts TOTP enrolment for the session's identity, writes the secret,
/// the provisioning URL and (if `qr`) its QR code to `out`, asks `read_code` for a current code
/// until the controller accepts one (three tries), then writes the recovery codes.
pub fn enable(
    ctrl: &Controller,
    api: &ApiSession,
    out: &mut dyn Write,
    qr: bool,
    read_code: &mut dyn FnMut(&str) -> Result<String, Error>,
) -> Result<MfaEnrollment, Error> {
    let enrollment = match ctrl.start_mfa_enrollment(api) {
        Err(Error::Controller { code, .. }) if code == "MFA_EXISTS" => {
            return Err(Error::MfaExists {
                identity: api.identity_name.clone(),
            });
        }
        other => other?,
    };
    let put =
        |out: &mut dyn Write, text: &str| out.write_all(text.as_bytes()).map_err(Error::Output);
    let secret = enrollment.secret().ok_or(Error::ProvisioningUrl)?;
    put(
        out,
        &format!(
            "TOTP secret for {}: {secret}\nProvisioning URL: {}\n",
            api.identity_name, enrollment.provisioning_url
        ),
    )?;
    if qr && let Some(code) = enrollment.qr_text() {
        put(out, &format!("{code}\n"))?;
    }
    out.flush().map_err(Error::Output)?;
    let mut tries = 0;
    loop {
        tries += 1;
        let code = read_code("Code from the authenticator app: ")?;
        match ctrl.verify_mfa(api, code.trim()) {
            Ok(()) => break,
            Err(Error::Controller { status, .. })
                if (400..500).contains(&status) && tries < TRIES =>
            {
                put(out, "That code was refused; try the next one.\n")?;
            }
            Err(e) => return Err(e),
        }
    }
    let mut text =
        String::from("MFA is on. Recovery codes (each works once instead of a TOTP code):\n");
    for row in enrollment.recovery_codes.chunks(5) {
        text.push_str("  ");
        text.push_str(&row.join("  "));
        text.push('\n');
    }
    put(out, &text)?;
    Ok(MfaEnrollment {
        is_verified: true,
        ..enrollment
    })
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

    #[test]
    fn secret_and_qr_of_a_provisioning_url() {
        let e = MfaEnrollment {
            provisioning_url: "otpauth://totp/ziti:laptop?issuer=ziti&secret=ABCDEF234567".into(),
            recovery_codes: vec![],
            is_verified: false,
        };
        assert_eq!(e.secret(), Some("ABCDEF234567"));
        let qr = e.qr_text().expect("qr");
        assert!(qr.lines().count() > 10, "{qr}");
        assert!(
            qr.contains('\u{2580}') || qr.contains('\u{2584}'),
            "half blocks"
        );
    }
}
