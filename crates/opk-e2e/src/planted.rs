//! An OP that verify never reaches: its issuer is `https://127.0.0.1:1/planted` (nothing listens
//! on port 1, so a fetch is refused at once) and its JWKS is planted in verify's JWKS cache, which
//! verify trusts as it trusts any fresh copy it fetched itself. Tokens signed by it stay valid
//! forever under the providers policy `never`, so certificates made once can be committed as data
//! (the hostile-input catalog, `crates/opk-cli/tests/hostile/`).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::OpKey;

/// The planted OP's issuer.
pub const PLANTED_ISSUER: &str = "https://127.0.0.1:1/planted";
/// The client id of its tokens.
pub const PLANTED_CLIENT: &str = "opk-hostile";
/// The `kid` it signs with.
pub const PLANTED_KID: &str = "planted-1";

/// The planted OP's key: the P-256 scalar `[42; 32]`, so the committed certificates verify
/// against a JWKS the tests rebuild.
pub struct PlantedOp {
    /// Its signing key.
    pub key: OpKey,
}

impl Default for PlantedOp {
    fn default() -> Self {
        Self {
            key: OpKey::from_p256_scalar(&[42; 32], PLANTED_KID),
        }
    }
}

impl PlantedOp {
    /// Its JWKS, as an OP would serve it.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.key.public_jwk()] })
    }

    /// Baseline claims: alice@example.com (verified), `sub` `planted-alice`, issued at `iat`
    /// and expiring an hour later.
    pub fn claims(&self, iat: i64) -> Map<String, Value> {
        json!({
            "iss": PLANTED_ISSUER, "aud": PLANTED_CLIENT, "sub": "planted-alice",
            "email": "alice@example.com", "email_verified": true,
            "iat": iat, "exp": iat + 3600,
        })
        .as_object()
        .cloned()
        .expect("an object literal")
    }

    /// The providers row for this OP with expiry policy `expiry`.
    pub fn providers_row(expiry: &str) -> String {
        format!("{PLANTED_ISSUER} {PLANTED_CLIENT} {expiry}\n")
    }

    /// Writes `jwks` as a fresh cache record for this OP in the JWKS cache directory `dir`
    /// (created 0755), so verify uses it without a fetch.
    pub fn plant(dir: &Path, jwks: &Value) {
        std::fs::create_dir_all(dir).expect("mkdir jwks cache");
        let cache = opk_jwks::JwksCache::new(opk_jwks::CacheOptions {
            dir: Some(dir.to_owned()),
            ..Default::default()
        });
        let path = cache.cache_path(PLANTED_ISSUER).expect("cache path");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let record = json!({"issuer": PLANTED_ISSUER, "fetched_at": now, "jwks": jwks});
        std::fs::write(&path, record.to_string()).expect("plant JWKS");
    }
}
