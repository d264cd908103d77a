//! Certificates whose ID token carries any claims a test needs (groups arrays, URI-named claims,
//! an `iat` a day ago), signed with the real test OP's own ES256 key, so the OP's discovery and
//! JWKS endpoints vouch for them to `opk verify` and `opkssh verify` alike. The OP (`op.mjs
//! --keys FILE`) writes its generated private keys to FILE; [`OpKey::from_keys_file`] takes the
//! P-256 one. Unlike `PkToken::issue`, claims are not type-checked here: a table case may give
//! `groups` as a string to see what each verifier does with it.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::{Map, Value, json};
use std::path::Path;

use opk_pktoken::{Cic, UserSigner};
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert};

/// The OP's ES256 signing key and its `kid`.
pub struct OpKey {
    signer: UserSigner,
    kid: String,
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

impl OpKey {
    /// The P-256 key of an `op.mjs --keys` file (a private JWKS).
    pub fn from_keys_file(path: &Path) -> Self {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let jwks: Value = serde_json::from_str(&text).expect("keys file is JSON");
        let key = jwks["keys"]
            .as_array()
            .expect("keys array")
            .iter()
            .find(|k| k["kty"] == "EC" && k["crv"] == "P-256")
            .expect("the OP has a P-256 key");
        let d = Base64UrlUnpadded::decode_vec(key["d"].as_str().expect("d")).expect("d is b64url");
        let scalar: [u8; 32] = d.as_slice().try_into().expect("32-byte scalar");
        Self {
            signer: UserSigner::from_p256_scalar(&scalar).expect("P-256 scalar"),
            kid: key["kid"].as_str().expect("kid").to_owned(),
        }
    }

    /// The key whose P-256 scalar is `scalar`, published as `kid`: an OP of the test's own
    /// ([`crate::PlantedOp`]) rather than the test OP's.
    pub fn from_p256_scalar(scalar: &[u8; 32], kid: &str) -> Self {
        Self {
            signer: UserSigner::from_p256_scalar(scalar).expect("P-256 scalar"),
            kid: kid.to_owned(),
        }
    }

    /// The public JWK as the OP's JWKS lists it (`kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.signer.public_jwk().expect("jwk").to_json();
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!("ES256");
        jwk["use"] = json!("sig");
        jwk
    }

    /// The `kid` the OP signs with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The OP's ES256 signature over `signing_input` (`header.payload`), base64url.
    pub fn signature(&self, signing_input: &str) -> String {
        b64(&self.signer.sign(signing_input.as_bytes()))
    }

    /// A compact ES256 JWS over `claims`, as the OP would sign it.
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let header = b64(json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"})
            .to_string()
            .as_bytes());
        let payload = b64(Value::Object(claims.clone()).to_string().as_bytes());
        let sig = self.signature(&format!("{header}.{payload}"));
        format!("{header}.{payload}.{sig}")
    }

    /// A fresh P-256 user key and its certificate (key id = `email` or `""`), whose PK Token
    /// carries `claims` plus the `nonce` committing to the CIC.
    pub fn certificate(
        &self,
        mut claims: Map<String, Value>,
        principals: Vec<String>,
    ) -> (EphemeralKey, OpkCert) {
        let key = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        let user = UserSigner::from_p256_scalar(&key.secret_bytes()).expect("signer");
        let cic = Cic::new(&user.public_jwk().expect("jwk"), [7; 32]).expect("cic");
        claims.insert("nonce".into(), Value::String(cic.hash()));
        let id_token = self.sign(&claims);
        let mut parts = id_token.split('.');
        let (op_header, payload, op_sig) = (
            parts.next().expect("header"),
            parts.next().expect("payload"),
            parts.next().expect("signature"),
        );
        let cic_header = b64(Value::Object(cic.header().clone()).to_string().as_bytes());
        let cic_sig = b64(&user.sign(format!("{cic_header}.{payload}").as_bytes()));
        let req = CertRequest {
            key_id: claims
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            principals,
            pk_token: format!("{payload}:{op_header}:{op_sig}:{cic_header}:{cic_sig}"),
            access_token: None,
        };
        let cert = OpkCert::issue(&req, &key).expect("cert");
        (key, cert)
    }
}
