//! JWS algorithms opk accepts.

use std::fmt;

/// A JWS signature algorithm. `none`, HMAC and anything else are not representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (OP signatures only).
    Rs256,
    /// RSASSA-PSS with SHA-256 (OP signatures only).
    Ps256,
    /// ECDSA P-256 with SHA-256, signature `r‖s` (64 bytes).
    Es256,
    /// Ed25519 (RFC 8037). RFC 9864's fully specified `Ed25519` name parses to this too.
    EdDsa,
}

impl Alg {
    /// Parses a JOSE `alg` value; `None` for unsupported or dangerous ones (`none`, `HS256`, …).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "RS256" => Self::Rs256,
            "PS256" => Self::Ps256,
            "ES256" => Self::Es256,
            "EdDSA" | "Ed25519" => Self::EdDsa,
            _ => return None,
        })
    }

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
