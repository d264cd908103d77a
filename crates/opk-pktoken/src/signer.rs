//! The user's ephemeral key as a JWS signer (ES256 or EdDSA): signs the CIC.

use ed25519_dalek::Signer as _;
use p256::elliptic_curve::point::AffineCoordinates as _;

use crate::{Alg, Error, Jwk, KeyError};

/// Signs CICs with the ephemeral key that also certifies the SSH key.
pub enum UserSigner {
    /// ECDSA P-256 (ES256).
    Es256(p256::ecdsa::SigningKey),
    /// Ed25519 (EdDSA).
    EdDsa(ed25519_dalek::SigningKey),
}

impl UserSigner {
    /// From a big-endian P-256 scalar.
    pub fn from_p256_scalar(scalar: &[u8; 32]) -> Result<Self, Error> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(Self::Es256)
            .map_err(|_| KeyError::InvalidEcPoint.into())
    }

    /// From a 32-byte Ed25519 seed.
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        Self::EdDsa(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The JOSE algorithm.
    pub fn alg(&self) -> Alg {
        match self {
            Self::Es256(_) => Alg::Es256,
            Self::EdDsa(_) => Alg::EdDsa,
        }
    }

    /// The public JWK, with `alg` set (the CIC `upk` must carry it).
    pub fn public_jwk(&self) -> Result<Jwk, Error> {
        match self {
            Self::Es256(k) => {
                let point = k.verifying_key().as_affine();
                Jwk::ec_p256(point.x().into(), point.y().into())
            }
            Self::EdDsa(k) => Jwk::ed25519(k.verifying_key().to_bytes()),
        }
    }

    /// A JWS signature over `input`: raw `r‖s` for ES256, 64 bytes for EdDSA.
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            Self::EdDsa(k) => k.sign(input).to_bytes().to_vec(),
        }
    }
}
