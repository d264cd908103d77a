//! The ephemeral key pair and its public half.

use core::fmt;
use core::str::FromStr;

use base64ct::{Base64, Encoding as _};
use p256::elliptic_curve::point::AffineCoordinates as _;
use ssh_key::encoding::Encode as _;
use ssh_key::private::{EcdsaKeypair, Ed25519Keypair, KeypairData};
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData};
use ssh_key::{Algorithm, EcdsaCurve, LineEnding, PrivateKey};
use zeroize::Zeroizing;

use crate::{Error, Input, KeyProblem, KeyRole};

/// Largest OpenSSH private key PEM we parse; an opk key is well under 1 KiB.
pub const MAX_PEM_LEN: usize = 16 * 1024;

/// The key types opk (and opkssh) generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256: SSH type `ecdsa-sha2-nistp256`, JOSE alg `ES256` (opkssh's default).
    EcdsaP256,
    /// Ed25519: SSH type `ssh-ed25519`, JOSE alg `EdDSA`.
    Ed25519,
}

impl KeyAlgorithm {
    /// The SSH public key type name.
    pub fn ssh_key_type(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-sha2-nistp256",
            Self::Ed25519 => "ssh-ed25519",
        }
    }

    /// The SSH certificate type name for this key type.
    pub fn ssh_cert_type(self) -> &'static str {
        match self {
            Self::EcdsaP256 => crate::CERT_TYPE_ECDSA_P256,
            Self::Ed25519 => crate::CERT_TYPE_ED25519,
        }
    }
}

impl FromStr for KeyAlgorithm {
    type Err = Error;

    /// Accepts `ecdsa` or `ed25519` in any letter case, as opkssh's `-t` flag does.
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.eq_ignore_ascii_case("ecdsa") {
            Ok(Self::EcdsaP256)
        } else if s.eq_ignore_ascii_case("ed25519") {
            Ok(Self::Ed25519)
        } else {
            Err(Error::UnknownAlgorithm(s.to_owned()))
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EcdsaP256 => "ecdsa",
            Self::Ed25519 => "ed25519",
        })
    }
}

/// A public key of one of the two supported types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// ECDSA P-256 point, affine coordinates, big-endian.
    EcdsaP256 {
        /// X coordinate.
        x: [u8; 32],
        /// Y coordinate.
        y: [u8; 32],
    },
    /// Ed25519 public key bytes.
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::EcdsaP256 { .. } => KeyAlgorithm::EcdsaP256,
            Self::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The SSH key type: `ecdsa-sha2-nistp256` or `ssh-ed25519`.
    pub fn ssh_key_type(&self) -> &'static str {
        self.algorithm().ssh_key_type()
    }

    /// The SSH wire encoding of the public key (RFC 4253 / RFC 5656 / RFC 8709 blob).
    pub fn to_ssh_blob(&self) -> Result<Vec<u8>, Error> {
        let data = match self {
            Self::Ed25519(k) => KeyData::Ed25519(Ed25519PublicKey(*k)),
            Self::EcdsaP256 { x, y } => {
                let mut sec1 = [0x04; 65];
                sec1[1..33].copy_from_slice(x);
                sec1[33..].copy_from_slice(y);
                KeyData::Ecdsa(EcdsaPublicKey::from_sec1_bytes(&sec1).map_err(Error::EncodeKey)?)
            }
        };
        data.encode_vec().map_err(|e| Error::EncodeKey(e.into()))
    }

    /// Standard base64 of [`Self::to_ssh_blob`], as in an `authorized_keys` line.
    pub fn to_ssh_blob_b64(&self) -> Result<String, Error> {
        Ok(Base64::encode_string(&self.to_ssh_blob()?))
    }

    /// `"<type> <base64>"`, an OpenSSH public key line without comment.
    pub fn to_openssh_line(&self) -> Result<String, Error> {
        Ok(format!(
            "{} {}",
            self.ssh_key_type(),
            self.to_ssh_blob_b64()?
        ))
    }

    /// Converts ssh-key's key data, rejecting every type other than P-256 and Ed25519.
    /// `role` names the key in the error.
    pub(crate) fn from_key_data(data: &KeyData, role: KeyRole) -> Result<Self, Error> {
        let unsupported = |problem| Error::UnsupportedKey { role, problem };
        match data {
            KeyData::Ed25519(Ed25519PublicKey(k)) => Ok(Self::Ed25519(*k)),
            KeyData::Ecdsa(EcdsaPublicKey::NistP256(point)) => {
                let bytes = point.as_bytes();
                // OpenSSH only accepts uncompressed points; so do we.
                if bytes.len() != 65 || bytes[0] != 0x04 {
                    return Err(unsupported(KeyProblem::CompressedPoint));
                }
                if p256::PublicKey::from_sec1_bytes(bytes).is_err() {
                    return Err(unsupported(KeyProblem::NotOnCurve));
                }
                let mut x = [0u8; 32];
                let mut y = [0u8; 32];
                x.copy_from_slice(&bytes[1..33]);
                y.copy_from_slice(&bytes[33..65]);
                Ok(Self::EcdsaP256 { x, y })
            }
            other => Err(unsupported(KeyProblem::Algorithm(
                other.algorithm().as_str().to_owned(),
            ))),
        }
    }
}

/// The secret of an [`EphemeralKey`]: only the two types opk uses can be held at all.
#[derive(Clone)]
enum Secret {
    /// Zeroized on drop by `p256`.
    EcdsaP256(p256::SecretKey),
    /// The 32-byte seed.
    Ed25519(Zeroizing<[u8; 32]>),
}

/// The user's freshly generated key pair: OpenPubkey user key, SSH certificate key and CA key at once.
///
/// The secret is zeroized when this value is dropped.
#[derive(Clone)]
pub struct EphemeralKey {
    secret: Secret,
    public: PublicKey,
}

impl fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("EphemeralKey")
            .field("public_key", &self.public)
            .finish_non_exhaustive()
    }
}

impl EphemeralKey {
    /// Generates a new key pair with randomness from the operating system.
    pub fn generate(alg: KeyAlgorithm) -> Result<Self, Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        match alg {
            KeyAlgorithm::Ed25519 => {
                getrandom::fill(seed.as_mut()).map_err(Error::Random)?;
                Ok(Self::from_ed25519_seed(&seed))
            }
            KeyAlgorithm::EcdsaP256 => loop {
                getrandom::fill(seed.as_mut()).map_err(Error::Random)?;
                // Zero or >= n is not a scalar; the chance is ~2^-32, so just draw again.
                if let Ok(sk) = p256::SecretKey::from_slice(seed.as_ref()) {
                    return Ok(Self::from_p256_secret(sk));
                }
            },
        }
    }

    /// Builds a key pair from a known secret (P-256 big-endian scalar or Ed25519 seed).
    ///
    /// Fails for a P-256 scalar that is zero or not below the group order.
    #[cfg(test)]
    fn from_secret_bytes(alg: KeyAlgorithm, secret: &[u8; 32]) -> Result<Self, Error> {
        match alg {
            KeyAlgorithm::Ed25519 => Ok(Self::from_ed25519_seed(secret)),
            KeyAlgorithm::EcdsaP256 => p256::SecretKey::from_slice(secret)
                .map(Self::from_p256_secret)
                .map_err(|_| Error::InvalidScalar),
        }
    }

    fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        let public = PublicKey::Ed25519(Ed25519Keypair::from_seed(seed).public.0);
        Self {
            secret: Secret::Ed25519(Zeroizing::new(*seed)),
            public,
        }
    }

    fn from_p256_secret(sk: p256::SecretKey) -> Self {
        let point = sk.public_key();
        let public = PublicKey::EcdsaP256 {
            x: point.as_affine().x().into(),
            y: point.as_affine().y().into(),
        };
        Self {
            secret: Secret::EcdsaP256(sk),
            public,
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }

    /// The secret: P-256 scalar (32 bytes big-endian) or Ed25519 seed. Used to build JWS signers.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        match &self.secret {
            Secret::EcdsaP256(sk) => Zeroizing::new(sk.to_bytes().into()),
            Secret::Ed25519(seed) => seed.clone(),
        }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`, LF line ends).
    ///
    /// opkssh uses the comment `openpubkey cert`.
    pub fn to_openssh_pem(&self, comment: &str) -> Result<Zeroizing<String>, Error> {
        let mut key = self.ssh_private_key();
        key.set_comment(comment);
        key.to_openssh(LineEnding::LF)
            .map_err(Error::EncodePrivateKey)
    }

    /// Reads an unencrypted OpenSSH private key of type ecdsa-sha2-nistp256 or ssh-ed25519.
    ///
    /// The comment is ignored. The public key stored in the file must match the secret.
    pub fn from_openssh_pem(pem: &str) -> Result<Self, Error> {
        if pem.len() > MAX_PEM_LEN {
            return Err(Error::TooLarge {
                what: Input::PrivateKey,
                len: pem.len(),
                max: MAX_PEM_LEN,
            });
        }
        let key = PrivateKey::from_openssh(pem).map_err(Error::PrivateKey)?;
        if key.is_encrypted() {
            return Err(Error::EncryptedPrivateKey);
        }
        // Rebuild from the secret alone, then insist that both stored public keys (the outer
        // section and the one next to the secret) equal the derived one.
        let fresh = match key.key_data() {
            KeypairData::Ed25519(kp) => Self::from_ed25519_seed(kp.private.as_ref()),
            KeypairData::Ecdsa(kp) if kp.curve() == EcdsaCurve::NistP256 => {
                let sk = p256::SecretKey::from_slice(kp.private_key_bytes())
                    .map_err(|_| Error::InvalidScalar)?;
                Self::from_p256_secret(sk)
            }
            other => {
                let name = match other.algorithm() {
                    Ok(Algorithm::Ecdsa { curve }) => format!("ecdsa-sha2-{}", curve.as_str()),
                    Ok(a) => a.as_str().to_owned(),
                    Err(_) => "unknown".to_owned(),
                };
                return Err(Error::UnsupportedPrivateKey(name));
            }
        };
        let derived = fresh.ssh_private_key();
        let derived = derived.public_key().key_data();
        let inner = KeyData::try_from(key.key_data()).map_err(|_| Error::PrivateKeyMismatch)?;
        if &inner != derived || key.public_key().key_data() != derived {
            return Err(Error::PrivateKeyMismatch);
        }
        Ok(fresh)
    }

    /// The ssh-key private key, for signing certificates and writing the key file.
    pub(crate) fn ssh_private_key(&self) -> PrivateKey {
        match &self.secret {
            Secret::Ed25519(seed) => PrivateKey::from(Ed25519Keypair::from_seed(seed)),
            Secret::EcdsaP256(sk) => PrivateKey::from(EcdsaKeypair::NistP256 {
                public: sk.public_key().into(),
                private: sk.clone().into(),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names() {
        for (s, alg) in [
            ("ecdsa", KeyAlgorithm::EcdsaP256),
            ("ECDSA", KeyAlgorithm::EcdsaP256),
            ("Ed25519", KeyAlgorithm::Ed25519),
            ("ed25519", KeyAlgorithm::Ed25519),
        ] {
            assert_eq!(s.parse::<KeyAlgorithm>().unwrap(), alg);
            assert_eq!(alg.to_string().parse::<KeyAlgorithm>().unwrap(), alg);
        }
        for bad in ["", "rsa", "ecdsa-sha2-nistp256", "ed25519 ", "p256"] {
            assert!(matches!(
                bad.parse::<KeyAlgorithm>(),
                Err(Error::UnknownAlgorithm(_))
            ));
        }
        assert_eq!(KeyAlgorithm::EcdsaP256.to_string(), "ecdsa");
        assert_eq!(KeyAlgorithm::Ed25519.to_string(), "ed25519");
    }

    #[test]
    fn from_secret_bytes_is_deterministic() {
        let secret = [7u8; 32];
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
            let a = EphemeralKey::from_secret_bytes(alg, &secret).unwrap();
            let b = EphemeralKey::from_secret_bytes(alg, &secret).unwrap();
            assert_eq!(a.public_key(), b.public_key());
            assert_eq!(*a.secret_bytes(), secret);
            assert_eq!(a.public_key().algorithm(), alg);
        }
        // Zero and the group order are not P-256 scalars.
        for bad in [[0; 32], [0xff; 32]] {
            assert!(matches!(
                EphemeralKey::from_secret_bytes(KeyAlgorithm::EcdsaP256, &bad),
                Err(Error::InvalidScalar)
            ));
        }
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        let k = EphemeralKey::from_secret_bytes(KeyAlgorithm::Ed25519, &[0xab; 32]).unwrap();
        let s = format!("{k:?}");
        assert!(
            !s.contains("171, 171") && !s.to_lowercase().contains("abab"),
            "{s}"
        );
    }

    #[test]
    fn generated_keys_differ() {
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
            let a = EphemeralKey::generate(alg).unwrap();
            let b = EphemeralKey::generate(alg).unwrap();
            assert_ne!(a.public_key(), b.public_key());
            assert_eq!(a.algorithm(), alg);
        }
    }

    #[test]
    fn unsupported_private_key_type() {
        // An RSA key from ssh-keygen is not something opk writes.
        let rsa = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAFwAAAAdzc2gtcn\n-----END OPENSSH PRIVATE KEY-----\n";
        assert!(EphemeralKey::from_openssh_pem(rsa).is_err());
        assert!(EphemeralKey::from_openssh_pem("").is_err());
    }
}
