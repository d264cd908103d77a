//! The crate's single error type and the typed details it carries.

use core::fmt;

/// Everything that can go wrong while generating keys, issuing, parsing or verifying certificates.
///
/// Messages are one line and say what to do where that is useful; they are shown to users.
/// Errors of the libraries underneath are said in the message, not exposed as a source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key algorithm name other than `ecdsa` or `ed25519` was given.
    #[error("unsupported key algorithm {0:?}: use \"ecdsa\" or \"ed25519\"")]
    UnknownAlgorithm(String),

    /// The operating system's random number generator failed.
    #[error("could not get random bytes from the operating system: {0}")]
    Random(getrandom::Error),

    /// An input exceeded the size this crate is willing to parse.
    #[error("{what} is too large ({len} bytes, at most {max} allowed)")]
    TooLarge {
        /// Which input.
        what: Input,
        /// Its length in bytes.
        len: usize,
        /// The cap.
        max: usize,
    },

    /// The declared key type is not one of the two certificate types opk uses.
    #[error(
        "unsupported key type {0:?}: expected ecdsa-sha2-nistp256-cert-v01@openssh.com or ssh-ed25519-cert-v01@openssh.com"
    )]
    UnsupportedKeyType(String),

    /// The blob is a plain public key, not a certificate.
    #[error(
        "key of type {0:?} is a plain public key, not an SSH certificate; log in with opk to get one"
    )]
    NotACertificate(String),

    /// The type sshd (or the file) declares differs from the type inside the blob.
    #[error("declared key type {declared:?} does not match the certificate's type {actual:?}")]
    TypeMismatch {
        /// The type given alongside the blob (`%t`, or the first field of the line).
        declared: String,
        /// The type encoded inside the blob.
        actual: String,
    },

    /// The base64 text is not valid standard (padded) base64.
    #[error("certificate is not valid base64")]
    Base64,

    /// The certificate blob does not decode.
    #[error("malformed SSH certificate: {0}")]
    Malformed(ssh_key::Error),

    /// The blob decodes but is not in the canonical encoding (e.g. unsorted or oddly encoded
    /// extensions, trailing bytes); we refuse it so that what we read is exactly what sshd signs over.
    #[error("SSH certificate is not canonically encoded")]
    NonCanonical,

    /// A key inside the certificate (certified key or CA key) is not ECDSA P-256 or Ed25519,
    /// or is not a valid point.
    #[error("unsupported or invalid {role} in certificate: {problem}")]
    UnsupportedKey {
        /// Which key.
        role: KeyRole,
        /// What is wrong with it.
        problem: KeyProblem,
    },

    /// A certificate line lacks its type or base64 field.
    #[error("certificate line must be \"<type> <base64> [comment]\"")]
    MalformedLine,

    /// The certificate request cannot produce a usable certificate.
    #[error("invalid certificate request: {0}")]
    InvalidRequest(RequestProblem),

    /// Building or signing the certificate failed inside the SSH library.
    #[error("could not sign the SSH certificate: {0}")]
    Sign(ssh_key::Error),

    /// The certificate's signature does not verify under its signature key.
    #[error("SSH certificate signature is invalid")]
    BadSignature,

    /// The private key file does not decode.
    #[error("malformed OpenSSH private key: {0}")]
    PrivateKey(ssh_key::Error),

    /// The private key is passphrase-protected; opk only writes and reads unencrypted keys.
    #[error(
        "OpenSSH private key is encrypted; opk keys are unencrypted, log in again to get a new one"
    )]
    EncryptedPrivateKey,

    /// The private key is of an algorithm opk does not use.
    #[error("unsupported private key algorithm {0:?}: opk uses ecdsa-sha2-nistp256 or ssh-ed25519")]
    UnsupportedPrivateKey(String),

    /// A P-256 secret is zero or not below the group order.
    #[error("P-256 secret key is out of range (zero or not below the group order); log in again")]
    InvalidScalar,

    /// The private key's public half does not belong to its secret.
    #[error("OpenSSH private key is corrupt: public key does not match secret key")]
    PrivateKeyMismatch,

    /// Encoding a private key failed inside the SSH library.
    #[error("could not encode the OpenSSH private key: {0}")]
    EncodePrivateKey(ssh_key::Error),

    /// Encoding a public key failed inside the SSH library (e.g. a point given by its caller
    /// is not a SEC1 point).
    #[error("could not encode the SSH public key: {0}")]
    EncodeKey(ssh_key::Error),

    /// An ssh-agent reply that is not a well-formed answer to what was asked.
    #[error("malformed reply from ssh-agent")]
    AgentReply,
}

/// Which input an [`Error::TooLarge`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// An OpenSSH private key file.
    PrivateKey,
    /// A `-cert.pub` line.
    CertificateLine,
    /// A base64 certificate.
    Certificate,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PrivateKey => "OpenSSH private key",
            Self::CertificateLine => "certificate line",
            Self::Certificate => "certificate",
        })
    }
}

/// Which key of a certificate an [`Error::UnsupportedKey`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRole {
    /// The certified (user's) key.
    PublicKey,
    /// The CA key that signed the certificate.
    SignatureKey,
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PublicKey => "public key",
            Self::SignatureKey => "signature key",
        })
    }
}

/// What is wrong with a key in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// Neither ECDSA P-256 nor Ed25519; holds the SSH algorithm name.
    #[error("{0}")]
    Algorithm(String),
    /// A compressed (or otherwise non-uncompressed) ECDSA point, which OpenSSH refuses.
    #[error("ECDSA point is not uncompressed")]
    CompressedPoint,
    /// The ECDSA point is not on the P-256 curve.
    #[error("ECDSA point is not on the P-256 curve")]
    NotOnCurve,
}

/// Why a [`crate::CertRequest`] cannot be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestProblem {
    /// The PK Token is empty.
    #[error("the PK Token is empty; log in again")]
    EmptyPkToken,
    /// An access token was given but is empty.
    #[error("the access token is empty; log in again or do not send it")]
    EmptyAccessToken,
}
