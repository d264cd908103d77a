//! The OpenSSH user certificate that carries the PK Token in extension `openpubkey-pkt`, laid out
//! as opkssh issues it, and the strict parser for what sshd passes to verify.

use base64ct::{Base64, Encoding as _};
use ssh_key::Certificate;
use ssh_key::certificate::{Builder, CertType};

use ssh_key::encoding::Reader as _;

use crate::{EphemeralKey, Error, Input, KeyAlgorithm, KeyRole, PublicKey, RequestProblem};

/// Certificate type of an ECDSA P-256 opk certificate.
pub const CERT_TYPE_ECDSA_P256: &str = "ecdsa-sha2-nistp256-cert-v01@openssh.com";
/// Certificate type of an Ed25519 opk certificate.
pub const CERT_TYPE_ED25519: &str = "ssh-ed25519-cert-v01@openssh.com";
/// Extension holding the compact PK Token; verify looks up exactly this name.
pub const EXT_PK_TOKEN: &str = "openpubkey-pkt";
/// Extension holding the OP access token (only with `--send-access-token`).
pub const EXT_ACCESS_TOKEN: &str = "openpubkey-act";
/// The principal opkssh puts in a certificate by default; verify's policy decides the real user.
pub const WILDCARD_PRINCIPAL: &str = "opkssh-wildcard";
/// The flag extensions every opk certificate carries, with empty values (as OpenSSH's defaults).
pub const PERMIT_EXTENSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];
/// Largest base64 certificate accepted. A PK Token cert is a few KiB; this leaves ample room
/// for refreshed ID tokens and access tokens while bounding work on hostile input.
pub const MAX_CERT_B64_LEN: usize = 256 * 1024;

/// Longest key-type string we read from a blob before judging it; real ones are under 50 bytes.
const MAX_TYPE_LEN: usize = 64;
const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// What opk puts into a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRequest {
    /// Key ID: the ID token's `email` claim, or `""`.
    pub key_id: String,
    /// Valid principals; opkssh's default is `["opkssh-wildcard"]`. May be empty.
    pub principals: Vec<String>,
    /// Compact PK Token, stored in extension `openpubkey-pkt`.
    pub pk_token: String,
    /// Access token for extension `openpubkey-act`, if the user asked to send it.
    pub access_token: Option<String>,
}

/// An OpenSSH user certificate in opk's layout, issued by us or parsed from sshd/a `-cert.pub` file.
///
/// Parsing guarantees: certified key and signature key are ECDSA P-256 or Ed25519, the encoding is
/// canonical (re-encoding gives the same bytes). It does *not* check the signature; call
/// [`OpkCert::verify_self_signature`] for that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpkCert {
    cert: Certificate,
    blob: Vec<u8>,
    alg: KeyAlgorithm,
    public_key: PublicKey,
    signature_key: PublicKey,
    comment: Option<String>,
}

impl OpkCert {
    /// Issues a self-signed user certificate for `key` exactly as opkssh does: random
    /// 32-byte nonce, serial 0, valid from 0 to forever, no critical options, extensions
    /// `openpubkey-act` (if given), `openpubkey-pkt` and the five `permit-*` flags.
    pub fn issue(req: &CertRequest, key: &EphemeralKey) -> Result<Self, Error> {
        if req.pk_token.is_empty() {
            return Err(Error::InvalidRequest(RequestProblem::EmptyPkToken));
        }
        if req.access_token.as_deref() == Some("") {
            return Err(Error::InvalidRequest(RequestProblem::EmptyAccessToken));
        }
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(Error::Random)?;

        let private = &key.ssh_private_key();
        let mut b = Builder::new(
            nonce.to_vec(),
            private.public_key().key_data().clone(),
            0,
            u64::MAX,
        )
        .map_err(Error::Sign)?;
        b.serial(0).map_err(Error::Sign)?;
        b.cert_type(CertType::User).map_err(Error::Sign)?;
        b.key_id(req.key_id.clone()).map_err(Error::Sign)?;
        if req.principals.is_empty() {
            // opkssh allows an empty list (`--principals=`); ssh-key wants it spelled out.
            b.all_principals_valid().map_err(Error::Sign)?;
        }
        for p in &req.principals {
            b.valid_principal(p.clone()).map_err(Error::Sign)?;
        }
        if let Some(act) = &req.access_token {
            b.extension(EXT_ACCESS_TOKEN, act.clone())
                .map_err(Error::Sign)?;
        }
        b.extension(EXT_PK_TOKEN, req.pk_token.clone())
            .map_err(Error::Sign)?;
        for name in PERMIT_EXTENSIONS {
            b.extension(name, "").map_err(Error::Sign)?;
        }
        // ssh-key keeps extensions in a BTreeMap, so they are written sorted by name, byte-wise,
        // which is what OpenSSH and x/crypto require.
        let cert = b.sign(private).map_err(Error::Sign)?;
        let blob = cert.to_bytes().map_err(Error::Sign)?;
        Self::from_parts(cert, blob, None)
    }

    /// Parses sshd's `%t` (declared key type) and `%k` (base64 blob) strictly.
    ///
    /// Rejects: input over [`MAX_CERT_B64_LEN`], non-base64, plain keys, a declared type that
    /// differs from the blob's, types other than the two opk cert types, non-canonical
    /// encodings, and signature keys other than ECDSA P-256 / Ed25519.
    pub fn parse(key_type: &str, b64: &str) -> Result<Self, Error> {
        Self::parse_with_comment(key_type, b64, None)
    }

    /// Parses one `-cert.pub` line: `"<type> <base64> [comment]"` (trailing newline allowed).
    pub fn from_line(line: &str) -> Result<Self, Error> {
        let max = MAX_CERT_B64_LEN + 4096;
        if line.len() > max {
            return Err(Error::TooLarge {
                what: Input::CertificateLine,
                len: line.len(),
                max,
            });
        }
        let line = line.trim();
        let (key_type, rest) = line
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or(Error::MalformedLine)?;
        let rest = rest.trim_start();
        let (b64, comment) = match rest.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((b64, comment)) => (b64, Some(comment.trim_start())),
            None => (rest, None),
        };
        if b64.is_empty() {
            return Err(Error::MalformedLine);
        }
        let comment = comment.filter(|c| !c.is_empty()).map(str::to_owned);
        Self::parse_with_comment(key_type, b64, comment)
    }

    fn parse_with_comment(
        key_type: &str,
        b64: &str,
        comment: Option<String>,
    ) -> Result<Self, Error> {
        if b64.len() > MAX_CERT_B64_LEN {
            return Err(Error::TooLarge {
                what: Input::Certificate,
                len: b64.len(),
                max: MAX_CERT_B64_LEN,
            });
        }
        let blob = Base64::decode_vec(b64).map_err(|_| Error::Base64)?;
        Self::from_blob(key_type, blob, comment)
    }

    /// Parses a certificate blob as an ssh-agent lists it, with the same checks as [`Self::parse`].
    pub fn from_agent_blob(blob: &[u8]) -> Result<Self, Error> {
        if blob.len() > MAX_CERT_B64_LEN / 4 * 3 {
            return Err(Error::TooLarge {
                what: Input::Certificate,
                len: blob.len(),
                max: MAX_CERT_B64_LEN / 4 * 3,
            });
        }
        let key_type = read_blob_type(blob)?.to_owned();
        Self::from_blob(&key_type, blob.to_vec(), None)
    }

    fn from_blob(key_type: &str, blob: Vec<u8>, comment: Option<String>) -> Result<Self, Error> {
        let blob_type = read_blob_type(&blob)?;
        if blob_type != key_type {
            if !blob_type.ends_with(CERT_SUFFIX) {
                return Err(Error::NotACertificate(blob_type.to_owned()));
            }
            return Err(Error::TypeMismatch {
                declared: key_type.to_owned(),
                actual: blob_type.to_owned(),
            });
        }
        if key_type != CERT_TYPE_ECDSA_P256 && key_type != CERT_TYPE_ED25519 {
            if !key_type.ends_with(CERT_SUFFIX) {
                return Err(Error::NotACertificate(key_type.to_owned()));
            }
            return Err(Error::UnsupportedKeyType(key_type.to_owned()));
        }
        let cert = Certificate::from_bytes(&blob).map_err(Error::Malformed)?;
        // Refuse anything ssh-key would re-encode differently: what we read and verify must be
        // exactly the bytes sshd sees.
        match cert.to_bytes() {
            Ok(again) if again == blob => {}
            _ => return Err(Error::NonCanonical),
        }
        Self::from_parts(cert, blob, comment)
    }

    fn from_parts(
        cert: Certificate,
        blob: Vec<u8>,
        comment: Option<String>,
    ) -> Result<Self, Error> {
        let public_key = PublicKey::from_key_data(cert.public_key(), KeyRole::PublicKey)?;
        let signature_key = PublicKey::from_key_data(cert.signature_key(), KeyRole::SignatureKey)?;
        Ok(Self {
            alg: public_key.algorithm(),
            cert,
            blob,
            public_key,
            signature_key,
            comment,
        })
    }

    /// `"<type> <base64>"`, or `"<type> <base64> <comment>"`; no trailing newline (as opkssh writes).
    pub fn to_line(&self, comment: Option<&str>) -> String {
        match comment {
            Some(c) => format!("{} {} {}", self.cert_type(), self.to_b64(), c),
            None => format!("{} {}", self.cert_type(), self.to_b64()),
        }
    }

    /// Standard base64 of the certificate blob (what sshd passes as `%k`).
    pub fn to_b64(&self) -> String {
        Base64::encode_string(&self.blob)
    }

    /// The certificate's wire encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.blob
    }

    /// The certificate type, e.g. `ecdsa-sha2-nistp256-cert-v01@openssh.com`.
    pub fn cert_type(&self) -> &str {
        self.alg.ssh_cert_type()
    }

    /// The certified (user's) key.
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// The CA key that signed the certificate; for opk certs it equals [`Self::public_key`].
    /// verify prints this one in its `cert-authority` line.
    pub fn signature_key(&self) -> PublicKey {
        self.signature_key
    }

    /// True when the signature key is the certified key itself (opk's layout).
    pub fn is_self_signed(&self) -> bool {
        self.signature_key == self.public_key
    }

    /// True for a user certificate (type 1), false for a host certificate.
    pub fn is_user_cert(&self) -> bool {
        self.cert.cert_type() == CertType::User
    }

    /// The key ID (the email claim for opk certs, possibly empty).
    pub fn key_id(&self) -> &str {
        self.cert.key_id()
    }

    /// The valid principals (possibly empty).
    pub fn principals(&self) -> &[String] {
        self.cert.valid_principals()
    }

    /// The serial number.
    pub fn serial(&self) -> u64 {
        self.cert.serial()
    }

    /// The nonce.
    pub fn nonce(&self) -> &[u8] {
        self.cert.nonce()
    }

    /// Start of validity, Unix seconds.
    pub fn valid_after(&self) -> u64 {
        self.cert.valid_after()
    }

    /// End of validity, Unix seconds; `u64::MAX` means forever.
    pub fn valid_before(&self) -> u64 {
        self.cert.valid_before()
    }

    /// Critical options as (name, value), sorted by name.
    pub fn critical_options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.cert
            .critical_options()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Extensions as (name, value), sorted by name (the wire order).
    pub fn extensions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.cert
            .extensions()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The compact PK Token from extension `openpubkey-pkt`.
    pub fn pk_token(&self) -> Option<&str> {
        self.cert.extensions().get(EXT_PK_TOKEN).map(String::as_str)
    }

    /// The access token from extension `openpubkey-act`.
    pub fn access_token(&self) -> Option<&str> {
        self.cert
            .extensions()
            .get(EXT_ACCESS_TOKEN)
            .map(String::as_str)
    }

    /// The comment of the line this cert was read from by [`Self::from_line`], leading and
    /// trailing whitespace removed; `None` when absent (and for [`Self::parse`] / [`Self::issue`]).
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// Checks the signature over the certificate with [`Self::signature_key`].
    ///
    /// This does not say the key is trusted; it only says the certificate is intact.
    pub fn verify_self_signature(&self) -> Result<(), Error> {
        self.cert
            .verify_signature()
            .map_err(|_| Error::BadSignature)
    }

    /// The underlying ssh-key certificate (e.g. for an SSH client library).
    pub fn as_ssh_certificate(&self) -> &Certificate {
        &self.cert
    }
}

/// Reads the leading SSH string (the key type) of a blob; its length is checked against the blob
/// before anything is read.
fn read_blob_type(blob: &[u8]) -> Result<&str, Error> {
    let malformed = || Error::Malformed(ssh_key::Error::FormatEncoding);
    let mut reader = blob;
    let raw = reader
        .read_prefixed(|field: &mut &[u8]| Ok::<_, ssh_key::encoding::Error>(*field))
        .map_err(|_| malformed())?;
    if raw.len() > MAX_TYPE_LEN {
        return Err(malformed());
    }
    // Key type names are printable ASCII; anything else cannot match and must not reach messages raw.
    if !raw.iter().all(|b| b.is_ascii_graphic()) {
        return Err(malformed());
    }
    core::str::from_utf8(raw).map_err(|_| malformed())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn blob_with_type(t: &str, tail: &[u8]) -> String {
        let mut b = (t.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(t.as_bytes());
        b.extend_from_slice(tail);
        Base64::encode_string(&b)
    }

    #[test]
    fn other_cert_types_are_unsupported() {
        let t = "ssh-rsa-cert-v01@openssh.com";
        let r = OpkCert::parse(t, &blob_with_type(t, &[0; 40]));
        assert!(
            matches!(r, Err(Error::UnsupportedKeyType(ref s)) if s == t),
            "{r:?}"
        );
        let t = "ssh-rsa";
        let r = OpkCert::parse(t, &blob_with_type(t, &[0; 40]));
        assert!(
            matches!(r, Err(Error::NotACertificate(ref s)) if s == t),
            "{r:?}"
        );
    }

    #[test]
    fn blob_type_reader() {
        assert!(read_blob_type(&[]).is_err());
        assert!(read_blob_type(&[0, 0, 0]).is_err());
        assert!(read_blob_type(&[0, 0, 0, 5, b'a']).is_err());
        assert!(read_blob_type(&[0, 0, 0, 1, 0]).is_err(), "control byte");
        assert!(read_blob_type(&[0xff, 0xff, 0xff, 0xff]).is_err());
        let long = vec![b'a'; MAX_TYPE_LEN + 1];
        let mut b = (long.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(&long);
        assert!(read_blob_type(&b).is_err());
        assert_eq!(read_blob_type(&[0, 0, 0, 2, b'o', b'k', 9]).unwrap(), "ok");
    }

    #[test]
    fn bad_base64() {
        for s in ["!!!!", "AAA", "AAAA=", "AA AA", "AAAA\n"] {
            let r = OpkCert::parse(CERT_TYPE_ED25519, s);
            assert!(r.is_err(), "{s:?}");
        }
        assert!(matches!(
            OpkCert::parse(CERT_TYPE_ED25519, "!!!!"),
            Err(Error::Base64)
        ));
    }

    #[test]
    fn error_messages_are_one_line() {
        let errs = [
            OpkCert::parse(CERT_TYPE_ED25519, "!!!!").unwrap_err(),
            OpkCert::parse("x", &blob_with_type("ssh-ed25519", &[])).unwrap_err(),
            OpkCert::from_line("nope").unwrap_err(),
            OpkCert::parse(CERT_TYPE_ED25519, &blob_with_type(CERT_TYPE_ED25519, &[1]))
                .unwrap_err(),
        ];
        for e in errs {
            let m = e.to_string();
            assert!(!m.is_empty() && !m.contains('\n'), "{m:?}");
        }
    }
}
