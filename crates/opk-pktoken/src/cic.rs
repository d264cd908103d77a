//! Client Instance Claims: the protected header of the user-key signature, and the commitment
//! (`nonce`) that binds an ID token to it.

use serde_json::{Map, Value};
use sha3::{Digest, Sha3_256};

use crate::{Alg, Error, Jwk, b64, canonical};

/// CIC members whose meaning is fixed; extra claims may not reuse them.
const RESERVED: [&str; 4] = ["alg", "typ", "rz", "upk"];

/// A CIC protected header.
#[derive(Clone, Debug)]
pub struct Cic {
    header: Map<String, Value>,
    upk: Jwk,
    alg: Alg,
}

impl Cic {
    /// A fresh CIC for `upk` (which must carry `alg`) and 32 random bytes `rz`.
    pub fn new(upk: &Jwk, rz: [u8; 32]) -> Result<Self, Error> {
        let alg = upk.alg().ok_or(Error::Cic("upk has no alg"))?;
        let mut header = Map::new();
        header.insert("alg".into(), Value::String(alg.as_str().into()));
        header.insert("rz".into(), Value::String(hex_lower(&rz)));
        header.insert("typ".into(), Value::String("CIC".into()));
        header.insert("upk".into(), upk.to_json());
        Ok(Self {
            header,
            upk: upk.clone(),
            alg,
        })
    }

    /// Reads a received CIC header; checks what openpubkey checks (rz, upk with alg == alg).
    pub fn from_header(header: Map<String, Value>) -> Result<Self, Error> {
        if !matches!(header.get("rz"), Some(Value::String(_))) {
            return Err(Error::Cic("rz is missing or not a string"));
        }
        let alg_name = match header.get("alg") {
            Some(Value::String(a)) => a,
            _ => return Err(Error::Cic("alg is missing")),
        };
        let alg = Alg::parse(alg_name).ok_or_else(|| Error::UnsupportedAlg(alg_name.clone()))?;
        let upk = Jwk::from_json(header.get("upk").ok_or(Error::Cic("upk is missing"))?)?;
        if upk.alg() != Some(alg) {
            return Err(Error::Cic("upk alg differs from the CIC alg"));
        }
        if !matches!(alg, Alg::Es256 | Alg::EdDsa | Alg::Rs256) {
            return Err(Error::Cic("alg must be ES256, EdDSA or RS256"));
        }
        Ok(Self { header, upk, alg })
    }

    /// Adds an extra claim (names in [`RESERVED`] are refused).
    pub fn with_claim(mut self, name: &str, value: Value) -> Result<Self, Error> {
        if RESERVED.contains(&name) {
            return Err(Error::Cic("extra claim reuses a reserved name"));
        }
        self.header.insert(name.to_owned(), value);
        Ok(self)
    }

    /// The commitment: base64url(SHA3-256(canonical JSON of the whole header)), 43 characters.
    /// Hashes the parsed members, not the transmitted bytes, exactly as openpubkey does.
    pub fn hash(&self) -> String {
        let canonical = canonical::to_string(&Value::Object(self.header.clone()));
        b64::encode(&Sha3_256::digest(canonical.as_bytes()))
    }

    /// The user's public key.
    pub fn upk(&self) -> &Jwk {
        &self.upk
    }

    /// The CIC signature algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The header members.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| {
            [
                DIGITS[usize::from(b >> 4)] as char,
                DIGITS[usize::from(b & 15)] as char,
            ]
        })
        .collect()
}
