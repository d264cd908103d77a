//! Conformance against external vectors: RFC 7638, RFC 8037 and OpenSSL-made RSA signatures.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use opk_pktoken::{Alg, Jwk, Jwks};

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).expect("base64url")
}
use serde_json::json;

#[test]
fn rfc7638_rsa_thumbprint() {
    // RFC 7638 section 3.1.
    let jwk = Jwk::from_json(&json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .expect("RFC 7638 key parses");
    assert_eq!(
        b64(&jwk.thumbprint()),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn rfc8037_ed25519_thumbprint_and_signature() {
    // RFC 8037 A.3 (thumbprint) and A.4 (signature).
    let jwk = Jwk::from_json(&json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}))
        .expect("RFC 8037 key parses");
    assert_eq!(
        b64(&jwk.thumbprint()),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let sig = unb64(
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    );
    jwk.verify(Alg::EdDsa, input.as_bytes(), &sig)
        .expect("RFC 8037 A.4 verifies");
    let mut bad = sig.clone();
    bad[0] ^= 1;
    assert!(jwk.verify(Alg::EdDsa, input.as_bytes(), &bad).is_err());
}

fn rsa_vector(name: &str) -> (Jwks, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/");
    let jwk: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}rsa-jwk.json")).expect("read jwk"),
    )
    .expect("json");
    let jwt = std::fs::read_to_string(format!("{dir}{name}"))
        .expect("read jwt")
        .trim()
        .to_owned();
    (Jwks::from_json(&json!({"keys": [jwk]})).expect("jwks"), jwt)
}

#[test]
fn openssl_rs256_and_ps256_verify() {
    for (file, alg) in [("rs256.jwt", Alg::Rs256), ("ps256.jwt", Alg::Ps256)] {
        let (jwks, jwt) = rsa_vector(file);
        let key = jwks.select(Some("rsa-vector")).expect("kid");
        let (input, sig) = jwt.rsplit_once('.').expect("jwt");
        let sig = unb64(sig);
        key.verify(alg, input.as_bytes(), &sig)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        // The other RSA scheme must not accept it.
        let other = if alg == Alg::Rs256 {
            Alg::Ps256
        } else {
            Alg::Rs256
        };
        assert!(
            key.verify(other, input.as_bytes(), &sig).is_err(),
            "{file} under {other}"
        );
        // Nor a changed message.
        assert!(
            key.verify(alg, format!("{input}x").as_bytes(), &sig)
                .is_err()
        );
    }
}

#[test]
fn rsa_key_never_verifies_ec_or_ed_algs() {
    let (jwks, _) = rsa_vector("rs256.jwt");
    let key = jwks.select(Some("rsa-vector")).expect("kid");
    for alg in [Alg::Es256, Alg::EdDsa] {
        assert!(!key.allows(alg));
    }
}

#[test]
fn jwks_skips_unusable_keys_and_selects_by_kid() {
    let jwks = Jwks::from_json(&json!({"keys": [
        {"kty": "oct", "k": "AAAA", "kid": "sym"},
        {"kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "x"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed", "use": "enc"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed2"}
    ]}))
    .expect("jwks");
    assert_eq!(jwks.keys().len(), 1);
    assert!(jwks.select(Some("ed2")).is_some());
    assert!(jwks.select(Some("ed")).is_none());
    // No kid: only a single-key set yields a key.
    assert!(jwks.select(None).is_some());
}

#[test]
fn jwks_document_round_trips_through_to_json_and_serde() {
    let (rsa, _) = rsa_vector("rs256.jwt");
    let rsa_key = rsa.keys()[0].to_json();
    let jwks = Jwks::from_json(&json!({"keys": [
        rsa_key,
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed", "alg": "EdDSA"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "oct", "k": "AAAA", "kid": "sym"}
    ]}))
    .expect("jwks");
    assert_eq!(jwks.keys().len(), 3);
    let doc = jwks.to_json();
    assert_eq!(doc["keys"][0]["kid"], "rsa-vector");
    assert_eq!(doc["keys"][1]["kid"], "ed");
    assert_eq!(doc["keys"][1]["alg"], "EdDSA");
    assert!(doc["keys"][2].get("kid").is_none() && doc["keys"][2].get("alg").is_none());
    assert_eq!(Jwks::from_json(&doc).expect("again"), jwks);

    let text = serde_json::to_string(&jwks).expect("serialize");
    let back: Jwks = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(back, jwks);
    assert!(back.has_kid("ed") && back.has_kid("rsa-vector"));
    assert!(!back.has_kid("sym") && !back.has_kid(""));
    // What is not a JWKS does not deserialize.
    for bad in [r#"{"kes":[]}"#, r#"{"keys":{}}"#, "[]", "null"] {
        assert!(serde_json::from_str::<Jwks>(bad).is_err(), "{bad}");
    }
    // A different kid makes a different set, even with the same key material.
    let renamed = Jwks::from_json(&json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "other"}
    ]}))
    .expect("jwks");
    let original = Jwks::from_json(&json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed"}
    ]}))
    .expect("jwks");
    assert_ne!(renamed, original);
}
