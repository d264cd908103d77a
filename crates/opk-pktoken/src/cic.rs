//! Client Instance Claims: the protected header of the user-key signature, and the commitment
//! (`nonce`) that binds an ID token to it.

use serde_json::{Map, Value};
use sha3::{Digest, Sha3_256};

use crate::{Alg, CicProblem, Error, Jwk, b64, canonical};

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
        let alg = upk.alg().ok_or(Error::Cic(CicProblem::UpkWithoutAlg))?;
        let mut header = Map::new();
        header.insert("alg".into(), Value::String(alg.as_str().into()));
        header.insert(
            "rz".into(),
            Value::String(base16ct::lower::encode_string(&rz)),
        );
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
            return Err(Error::Cic(CicProblem::Rz));
        }
        let alg_name = match header.get("alg") {
            Some(Value::String(a)) => a,
            _ => return Err(Error::Cic(CicProblem::MissingAlg)),
        };
        let alg: Alg = alg_name.parse()?;
        let upk = Jwk::from_json(
            header
                .get("upk")
                .ok_or(Error::Cic(CicProblem::MissingUpk))?,
        )?;
        if upk.alg() != Some(alg) {
            return Err(Error::Cic(CicProblem::UpkAlgMismatch));
        }
        if !matches!(alg, Alg::Es256 | Alg::EdDsa | Alg::Rs256) {
            return Err(Error::Cic(CicProblem::Alg));
        }
        Ok(Self { header, upk, alg })
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

    /// The header members (test harnesses build PK Tokens with claims `PkToken::issue` refuses).
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }
}
