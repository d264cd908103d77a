//! JSON Web Keys (RFC 7517/7518/8037) for verification, RFC 7638 thumbprints, and JWK Sets.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::{Alg, Error, KeyError, Part, b64};

/// RSA moduli below this are refused: no OP in use signs with less.
const MIN_RSA_BITS: usize = 2048;
/// Upper bound on keys read from one JWKS (a JWKS is attacker-influenced input when the OP is).
const MAX_JWKS_KEYS: usize = 64;

/// Public key material of a JWK. RSA and P-256 signatures are checked with ring (about ten times
/// faster than the pure-Rust P-256 here, and this runs on every SSH attempt); Ed25519 with
/// ed25519-dalek's `verify_strict`, which also refuses weak keys.
#[derive(Clone, Debug)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { sec1: [u8; 65] },
    Ed25519 { key: ed25519_dalek::VerifyingKey },
}

/// A public JWK usable for verification.
#[derive(Clone, Debug)]
pub struct Jwk {
    material: Material,
    alg: Option<Alg>,
    kid: Option<String>,
}

impl PartialEq for Jwk {
    /// Keys are equal when their RFC 7638 thumbprints are (jwx's `jwk.Equal`, used by opkssh).
    fn eq(&self, other: &Self) -> bool {
        self.thumbprint() == other.thumbprint()
    }
}

impl Jwk {
    /// A P-256 key from its affine coordinates, with `alg` ES256 (what a CIC `upk` carries).
    pub fn ec_p256(x: [u8; 32], y: [u8; 32]) -> Result<Self, Error> {
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        // Validates that the point is on the curve; the key object itself is not kept.
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| KeyError::InvalidEcPoint)?;
        Ok(Self {
            material: Material::P256 { sec1 },
            alg: Some(Alg::Es256),
            kid: None,
        })
    }

    /// An Ed25519 key, with `alg` EdDSA.
    pub fn ed25519(x: [u8; 32]) -> Result<Self, Error> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| KeyError::InvalidEd25519)?;
        Ok(Self {
            material: Material::Ed25519 { key },
            alg: Some(Alg::EdDsa),
            kid: None,
        })
    }

    /// Parses a public JWK. Private members are ignored; unknown `kty`/`crv` are errors.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let obj = value.as_object().ok_or(KeyError::NotAnObject)?;
        let alg = match obj.get("alg") {
            None => None,
            Some(Value::String(a)) => Some(
                a.parse::<Alg>()
                    .map_err(|_| KeyError::UnsupportedAlg(a.clone()))?,
            ),
            Some(_) => return Err(KeyError::MemberType("alg").into()),
        };
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(KeyError::MemberType("kid").into()),
        };
        let kty = str_member(obj, "kty")?;
        let material = match kty {
            "RSA" => {
                let n = strip_leading_zeros(b64::decode(str_member(obj, "n")?, Part::JwkN)?);
                let e = strip_leading_zeros(b64::decode(str_member(obj, "e")?, Part::JwkE)?);
                // ring accepts 2048..8192-bit moduli and odd exponents >= 3; refuse others up front.
                let e_odd_at_least_3 =
                    e.last().is_some_and(|last| last & 1 == 1) && !(e.len() == 1 && e[0] < 3);
                if n.len() * 8 < MIN_RSA_BITS || n.len() > 1024 || e.len() > 4 || !e_odd_at_least_3
                {
                    return Err(KeyError::RsaSize.into());
                }
                Material::Rsa { n, e }
            }
            "EC" => {
                let crv = str_member(obj, "crv")?;
                if crv != "P-256" {
                    return Err(KeyError::UnsupportedCurve(crv.to_owned()).into());
                }
                let x = fixed32(b64::decode(str_member(obj, "x")?, Part::JwkX)?)?;
                let y = fixed32(b64::decode(str_member(obj, "y")?, Part::JwkY)?)?;
                return Self::ec_p256(x, y).map(|k| Self { alg, kid, ..k });
            }
            "OKP" => {
                let crv = str_member(obj, "crv")?;
                if crv != "Ed25519" {
                    return Err(KeyError::UnsupportedCurve(crv.to_owned()).into());
                }
                let x = fixed32(b64::decode(str_member(obj, "x")?, Part::JwkX)?)?;
                return Self::ed25519(x).map(|k| Self { alg, kid, ..k });
            }
            other => return Err(KeyError::UnsupportedKty(other.to_owned()).into()),
        };
        Ok(Self { material, alg, kid })
    }

    /// The JWK's `alg` member, if it had one.
    pub fn alg(&self) -> Option<Alg> {
        self.alg
    }

    /// The JWK's `kid` member, if it had one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public JWK as JSON, with `alg` (a CIC `upk` must carry it) and `kid` when known.
    pub fn to_json(&self) -> Value {
        let mut v = self.required_members();
        if let Some(obj) = v.as_object_mut() {
            if let Some(alg) = self.alg {
                obj.insert("alg".into(), Value::String(alg.as_str().into()));
            }
            if let Some(kid) = &self.kid {
                obj.insert("kid".into(), Value::String(kid.clone()));
            }
        }
        v
    }

    /// RFC 7638 SHA-256 thumbprint: the hash of the required members in sorted order.
    pub fn thumbprint(&self) -> [u8; 32] {
        let canonical = crate::canonical::to_string(&self.required_members());
        Sha256::digest(canonical.as_bytes()).into()
    }

    fn required_members(&self) -> Value {
        match &self.material {
            Material::Rsa { n, e, .. } => {
                json!({"e": b64::encode(e), "kty": "RSA", "n": b64::encode(n)})
            }
            Material::P256 { sec1 } => {
                json!({"crv": "P-256", "kty": "EC", "x": b64::encode(&sec1[1..33]), "y": b64::encode(&sec1[33..])})
            }
            Material::Ed25519 { key } => {
                json!({"crv": "Ed25519", "kty": "OKP", "x": b64::encode(key.as_bytes())})
            }
        }
    }

    /// Whether this key may verify a signature made with `alg`: the key type must fit, and a key
    /// that names its own `alg` allows only that one. Never decided from the token header alone.
    pub fn allows(&self, alg: Alg) -> bool {
        let type_fits = matches!(
            (&self.material, alg),
            (Material::Rsa { .. }, Alg::Rs256 | Alg::Ps256)
                | (Material::P256 { .. }, Alg::Es256)
                | (Material::Ed25519 { .. }, Alg::EdDsa)
        );
        type_fits && self.alg.is_none_or(|own| own == alg)
    }

    /// Verifies a JWS signature over `signing_input` (`B64(header) "." B64(payload)`).
    pub fn verify(&self, alg: Alg, signing_input: &[u8], signature: &[u8]) -> Result<(), Error> {
        if !self.allows(alg) {
            return Err(Error::KeyAlgMismatch(alg));
        }
        let ok = match &self.material {
            Material::Rsa { n, e } => {
                let params = match alg {
                    Alg::Rs256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    _ => &ring::signature::RSA_PSS_2048_8192_SHA256,
                };
                ring::signature::RsaPublicKeyComponents { n, e }
                    .verify(params, signing_input, signature)
                    .is_ok()
            }
            Material::P256 { sec1 } => ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                sec1,
            )
            .verify(signing_input, signature)
            .is_ok(),
            Material::Ed25519 { key } => {
                let bytes: [u8; 64] = signature.try_into().map_err(|_| Error::BadSignature)?;
                key.verify_strict(signing_input, &ed25519_dalek::Signature::from_bytes(&bytes))
                    .is_ok()
            }
        };
        if ok { Ok(()) } else { Err(Error::BadSignature) }
    }
}

/// A JWK Set as published at an OP's `jwks_uri`, reduced to the keys opk can verify with.
///
/// It is the one form a JWKS takes in opk: fetched, cached (through serde, as
/// [`Jwks::to_json`]'s document) and used for verification.
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

impl PartialEq for Jwks {
    /// The same keys in the same order, with the same `kid` and `alg` members.
    fn eq(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self
                .keys
                .iter()
                .zip(&other.keys)
                .all(|(a, b)| a == b && a.kid == b.kid && a.alg == b.alg)
    }
}

impl serde::Serialize for Jwks {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Jwks {
    /// Reads a JWKS document as [`Jwks::from_json`] does.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

impl Jwks {
    /// Reads `{"keys": [...]}`. Keys opk cannot use (encryption keys, other curves, `oct`) are
    /// skipped, not fatal: OPs publish mixed sets.
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(KeyError::NotAJwks)?;
        let keys = keys
            .iter()
            .take(MAX_JWKS_KEYS)
            .filter(|k| {
                k.get("use")
                    .and_then(Value::as_str)
                    .is_none_or(|u| u == "sig")
            })
            .filter_map(|k| Jwk::from_json(k).ok())
            .collect();
        Ok(Self { keys })
    }

    /// The key for a token: the one with this `kid`, or, for a token without `kid`, the only key.
    pub fn select(&self, kid: Option<&str>) -> Option<&Jwk> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    /// Whether some key has this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// All usable keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The set as a JWKS document: `{"keys": [...]}` with each key's public members, `alg` and
    /// `kid`. [`Jwks::from_json`] reads it back to an equal set.
    pub fn to_json(&self) -> Value {
        json!({"keys": self.keys.iter().map(Jwk::to_json).collect::<Vec<_>>()})
    }
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, Error> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(KeyError::MemberType(name).into()),
        None => Err(KeyError::MissingMember(name).into()),
    }
}

fn fixed32(bytes: Vec<u8>) -> Result<[u8; 32], Error> {
    bytes
        .try_into()
        .map_err(|_| KeyError::CoordinateLength.into())
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}
