//! JWS algorithms opk accepts.

use std::fmt;
use std::str::FromStr;

use crate::Error;

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

impl FromStr for Alg {
    type Err = Error;

    /// Parses a JOSE `alg` value, case-sensitively; unsupported and dangerous ones (`none`,
    /// `HS256`, …) are [`Error::UnsupportedAlg`].
    fn from_str(name: &str) -> Result<Self, Error> {
        match name {
            "Ed25519" => Some(Self::EdDsa),
            _ => Self::ALL.into_iter().find(|alg| alg.as_str() == name),
        }
        .ok_or_else(|| Error::UnsupportedAlg(name.to_owned()))
    }
}

impl Alg {
    /// Every algorithm; parsing looks its name up here, so each name is written once, in
    /// [`Alg::as_str`].
    const ALL: [Self; 4] = [Self::Rs256, Self::Ps256, Self::Es256, Self::EdDsa];

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in [Alg::Rs256, Alg::Ps256, Alg::Es256, Alg::EdDsa] {
            assert_eq!(alg.as_str().parse::<Alg>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
        }
        // RFC 9864's fully specified name for the same algorithm.
        assert_eq!("Ed25519".parse::<Alg>().unwrap(), Alg::EdDsa);
    }

    #[test]
    fn unsupported_and_dangerous_names_are_refused() {
        for bad in [
            "", "none", "None", "HS256", "es256", "RS384", "GQ256", "ES256 ", "EDDSA",
        ] {
            assert_eq!(
                bad.parse::<Alg>(),
                Err(Error::UnsupportedAlg(bad.to_owned())),
                "{bad:?}"
            );
        }
    }
}
