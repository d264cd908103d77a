//! PK Token issue → compact → parse → verify, and every way a token can be wrong.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use opk_pktoken::{
    Cic, CicProblem, Error, ExpiryPolicy, Jwks, Malformed, Part, PkToken, ProviderCheck,
    RefreshedProblem, SignatureKind, UserSigner,
};
use serde_json::{Value, json};
use sha3::Digest as _;

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).expect("base64url")
}

const ISS: &str = "https://op.example";
const CLIENT: &str = "opk-client";
const NOW: i64 = 1_800_000_000;

/// An in-process OP that signs ES256 ID tokens with a fixed key.
struct FakeOp {
    key: UserSigner,
    kid: &'static str,
}

impl FakeOp {
    fn new() -> Self {
        Self {
            key: UserSigner::from_p256_scalar(&[7u8; 32]).expect("scalar"),
            kid: "op-key-1",
        }
    }

    fn jwks(&self) -> Jwks {
        let mut jwk = self.key.public_jwk().expect("jwk").to_json();
        jwk["kid"] = json!(self.kid);
        Jwks::from_json(&json!({"keys": [jwk]})).expect("jwks")
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let h = b64(header.to_string().as_bytes());
        let p = b64(claims.to_string().as_bytes());
        let s = b64(&self.key.sign(format!("{h}.{p}").as_bytes()));
        format!("{h}.{p}.{s}")
    }

    fn id_token(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}),
            claims,
        )
    }
}

fn claims(nonce: &str) -> Value {
    json!({"iss": ISS, "aud": CLIENT, "sub": "1234", "email": "alice@example.com", "nonce": nonce,
           "iat": NOW - 60, "exp": NOW + 3600})
}

fn user(ed25519: bool) -> UserSigner {
    if ed25519 {
        UserSigner::from_ed25519_seed(&[9u8; 32])
    } else {
        UserSigner::from_p256_scalar(&[3u8; 32]).expect("k")
    }
}

fn issue_with(op: &FakeOp, edit: impl FnOnce(&mut Value)) -> PkToken {
    let signer = user(false);
    let cic = Cic::new(&signer.public_jwk().expect("jwk"), [5u8; 32]).expect("cic");
    let mut c = claims(&cic.hash());
    edit(&mut c);
    PkToken::issue(&op.id_token(&c), &cic, &signer).expect("issue")
}

/// A fresh OP and a PK Token it issued with the default claims.
fn issued() -> (FakeOp, PkToken) {
    let op = FakeOp::new();
    let pkt = issue_with(&op, |_| {});
    (op, pkt)
}

fn check(expiry: ExpiryPolicy) -> ProviderCheck<'static> {
    ProviderCheck {
        issuer: ISS,
        client_id: CLIENT,
        expiry,
    }
}

#[test]
fn issue_and_verify_both_user_key_types() {
    let op = FakeOp::new();
    for ed in [false, true] {
        let signer = user(ed);
        let cic = Cic::new(&signer.public_jwk().expect("jwk"), [1u8; 32]).expect("cic");
        let pkt = PkToken::issue(&op.id_token(&claims(&cic.hash())), &cic, &signer).expect("issue");
        let reparsed = PkToken::from_compact(&pkt.to_compact()).expect("parse");
        assert_eq!(reparsed.to_compact(), pkt.to_compact());
        reparsed
            .verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW)
            .expect("verifies");
        assert_eq!(reparsed.cic().upk(), &signer.public_jwk().expect("jwk"));
    }
}

#[test]
fn cic_hash_is_sha3_of_sorted_compact_json() {
    let signer = user(false);
    let upk = signer.public_jwk().expect("jwk");
    let cic = Cic::new(&upk, [0xab; 32]).expect("cic");
    let upk_json = upk.to_json();
    // The exact canonical CIC header openpubkey hashes, built by hand: sorted keys, no spaces.
    let expected_input = format!(
        r#"{{"alg":"ES256","rz":"{}","typ":"CIC","upk":{{"alg":"ES256","crv":"P-256","kty":"EC","x":"{}","y":"{}"}}}}"#,
        "ab".repeat(32),
        upk_json["x"].as_str().expect("x"),
        upk_json["y"].as_str().expect("y")
    );
    assert_eq!(
        cic.hash(),
        b64(&sha3::Sha3_256::digest(expected_input.as_bytes()))
    );
    assert_eq!(cic.hash().len(), 43);
}

#[test]
fn commitment_is_required() {
    let op = FakeOp::new();
    let pkt = issue_with(&op, |c| c["nonce"] = json!("not-the-cic-hash"));
    assert_eq!(
        pkt.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW),
        Err(Error::Commitment)
    );
    let pkt = issue_with(&op, |c| {
        c.as_object_mut().expect("obj").remove("nonce");
    });
    assert_eq!(
        pkt.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW),
        Err(Error::Commitment)
    );
}

#[test]
fn issuer_and_audience_are_exact() {
    let op = FakeOp::new();
    let pkt = issue_with(&op, |c| c["iss"] = json!("https://op.example/"));
    assert!(matches!(
        pkt.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW),
        Err(Error::IssuerMismatch { .. })
    ));
    let pkt = issue_with(&op, |c| c["aud"] = json!("other"));
    assert_eq!(
        pkt.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW),
        Err(Error::Audience(CLIENT.into()))
    );
    // Hazard O-4 (docs/hazards.md): openpubkey splits a string aud on ','; we require equality.
    let pkt = issue_with(&op, |c| c["aud"] = json!(format!("x,{CLIENT}")));
    assert!(
        pkt.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW)
            .is_err()
    );
    let pkt = issue_with(&op, |c| c["aud"] = json!(["x", CLIENT]));
    pkt.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW)
        .expect("array aud containing the client id");
}

#[test]
fn expiry_policies() {
    let (op, pkt) = issued();
    let iat = NOW - 60;
    let jwks = op.jwks();
    for (policy, max) in [
        (ExpiryPolicy::Hours12, 43_200),
        (ExpiryPolicy::Hours24, 86_400),
        (ExpiryPolicy::Hours48, 172_800),
        (ExpiryPolicy::Week, 604_800),
    ] {
        pkt.verify(&check(policy), &jwks, iat + max)
            .expect("at the limit");
        assert!(
            matches!(
                pkt.verify(&check(policy), &jwks, iat + max + 1),
                Err(Error::Expired { .. })
            ),
            "{policy}"
        );
    }
    pkt.verify(&check(ExpiryPolicy::Oidc), &jwks, NOW + 3600)
        .expect("at exp");
    assert!(matches!(
        pkt.verify(&check(ExpiryPolicy::Oidc), &jwks, NOW + 3601),
        Err(Error::Expired { .. })
    ));
    pkt.verify(&check(ExpiryPolicy::Never), &jwks, NOW + 10_000_000)
        .expect("never");
    // O-9: an iat far in the future is refused even under max-age policies.
    let future = issue_with(&op, |c| c["iat"] = json!(NOW + 3600));
    assert!(matches!(
        future.verify(&check(ExpiryPolicy::Hours24), &jwks, NOW),
        Err(Error::IssuedInFuture { .. })
    ));
    // Missing or non-integer iat/exp.
    let no_iat = issue_with(&op, |c| {
        c.as_object_mut().expect("obj").remove("iat");
    });
    assert_eq!(
        no_iat.verify(&check(ExpiryPolicy::Hours24), &jwks, NOW),
        Err(Error::MissingClaim("iat"))
    );
}

#[test]
fn oidc_refreshed_demands_a_signed_matching_refreshed_token() {
    let (op, pkt) = issued();
    let jwks = op.jwks();
    let later = NOW + 7200;
    let refreshed = |edit: &dyn Fn(&mut Value)| {
        let mut c =
            json!({"iss": ISS, "aud": CLIENT, "sub": "1234", "iat": NOW + 3000, "exp": NOW + 9000});
        edit(&mut c);
        PkToken::from_compact(&format!("{}.{}", pkt.to_compact(), op.id_token(&c))).expect("parse")
    };
    assert!(matches!(
        pkt.verify(&check(ExpiryPolicy::OidcRefreshed), &jwks, later),
        Err(Error::Expired { .. })
    ));
    refreshed(&|_| {})
        .verify(&check(ExpiryPolicy::OidcRefreshed), &jwks, later)
        .expect("valid refresh");
    // What a refreshing client builds: the same compact form, checked whatever the time.
    let fresh = op.id_token(
        &json!({"iss": ISS, "aud": CLIENT, "sub": "1234", "iat": NOW + 3000, "exp": NOW + 9000}),
    );
    let appended = pkt.with_refreshed(&fresh).expect("append");
    assert_eq!(
        appended.to_compact(),
        format!("{}.{fresh}", pkt.to_compact())
    );
    assert_eq!(
        appended
            .verify_refreshed_token(&check(ExpiryPolicy::OidcRefreshed), &jwks)
            .expect("signed by the OP"),
        NOW + 9000
    );
    assert!(matches!(
        pkt.with_refreshed("a.b"),
        Err(Error::Refreshed(RefreshedProblem::NotJwt))
    ));
    assert!(
        pkt.verify_refreshed_token(&check(ExpiryPolicy::OidcRefreshed), &jwks)
            .is_err()
    );
    // O-1: a forged (re-signed by another key) refreshed token must not extend access.
    let forger = UserSigner::from_p256_scalar(&[8u8; 32]).expect("k");
    let c = json!({"iss": ISS, "aud": CLIENT, "sub": "1234", "iat": NOW + 3000, "exp": NOW + 9000});
    let h = b64(json!({"alg": "ES256", "kid": "op-key-1"})
        .to_string()
        .as_bytes());
    let p = b64(c.to_string().as_bytes());
    let forged = format!(
        "{h}.{p}.{}",
        b64(&forger.sign(format!("{h}.{p}").as_bytes()))
    );
    let pkt_forged =
        PkToken::from_compact(&format!("{}.{forged}", pkt.to_compact())).expect("parse");
    assert!(matches!(
        pkt_forged.verify(&check(ExpiryPolicy::OidcRefreshed), &jwks, later),
        Err(Error::Refreshed(RefreshedProblem::BadSignature))
    ));
    assert!(matches!(
        refreshed(&|c| c["sub"] = json!("someone-else")).verify(
            &check(ExpiryPolicy::OidcRefreshed),
            &jwks,
            later
        ),
        Err(Error::Refreshed(RefreshedProblem::Subject))
    ));
    assert!(matches!(
        refreshed(&|c| c["iat"] = json!(NOW - 1000)).verify(
            &check(ExpiryPolicy::OidcRefreshed),
            &jwks,
            later
        ),
        Err(Error::Refreshed(RefreshedProblem::IssuedEarlier))
    ));
}

fn segments(pkt: &PkToken) -> Vec<String> {
    pkt.to_compact().split(':').map(str::to_owned).collect()
}

#[test]
fn tampering_is_detected() {
    let (op, pkt) = issued();
    let jwks = op.jwks();
    let seg = segments(&pkt);
    // Payload swapped for another (email changed): both signatures break.
    let mut claims_v: Value = serde_json::from_slice(&unb64(&seg[0])).expect("json");
    claims_v["email"] = json!("mallory@example.com");
    let mut s = seg.clone();
    s[0] = b64(claims_v.to_string().as_bytes());
    let t = PkToken::from_compact(&s.join(":")).expect("parse");
    assert_eq!(
        t.verify(&check(ExpiryPolicy::Hours24), &jwks, NOW),
        Err(Error::BadSignature)
    );
    // CIC signature flipped.
    let mut s = seg.clone();
    let mut sig = unb64(&s[4]);
    sig[10] ^= 0x40;
    s[4] = b64(&sig);
    let t = PkToken::from_compact(&s.join(":")).expect("parse");
    assert_eq!(
        t.verify(&check(ExpiryPolicy::Hours24), &jwks, NOW),
        Err(Error::BadSignature)
    );
    // OP signature by another key.
    let other = FakeOp {
        key: UserSigner::from_p256_scalar(&[6u8; 32]).expect("k"),
        kid: "op-key-1",
    };
    assert_eq!(
        pkt.verify(&check(ExpiryPolicy::Hours24), &other.jwks(), NOW),
        Err(Error::BadSignature)
    );
    // Unknown kid.
    let renamed = FakeOp {
        key: UserSigner::from_p256_scalar(&[7u8; 32]).expect("k"),
        kid: "rotated",
    };
    assert!(matches!(
        pkt.verify(&check(ExpiryPolicy::Hours24), &renamed.jwks(), NOW),
        Err(Error::UnknownKid(_))
    ));
}

#[test]
fn structural_attacks_are_rejected() {
    let (op, pkt) = issued();
    let seg = segments(&pkt);
    // O-5: missing CIC, duplicated CIC, duplicated OP.
    let repeat = |sig: usize| [seg.clone(), vec![seg[sig].clone(), seg[sig + 1].clone()]].concat();
    for (segments, kind, count) in [
        (seg[..3].to_vec(), SignatureKind::Cic, 0),
        (repeat(3), SignatureKind::Cic, 2),
        (repeat(1), SignatureKind::Op, 2),
    ] {
        assert_eq!(
            PkToken::from_compact(&segments.join(":")).err(),
            Some(Error::SignatureCount(kind, count)),
            "{kind:?} x{count}"
        );
    }
    // Even number of segments, padding, junk typ, crit, alg none.
    assert!(matches!(
        PkToken::from_compact(&seg[..4].join(":")),
        Err(Error::Malformed(Malformed::Segments))
    ));
    let mut padded = seg.clone();
    padded[2].push('=');
    assert!(matches!(
        PkToken::from_compact(&padded.join(":")),
        Err(Error::Base64(Part::Signature))
    ));
    let hdr = |h: Value| b64(h.to_string().as_bytes());
    for (bad, want) in [
        (json!({"alg": "ES256", "typ": "jwt"}), "UnknownTyp"),
        (json!({"alg": "ES256", "crit": ["b64"]}), "Critical"),
        (json!({"alg": "ES256", "kid": 5}), "ClaimType"),
    ] {
        let mut s = seg.clone();
        s[1] = hdr(bad);
        let err = PkToken::from_compact(&s.join(":")).expect_err("must fail");
        assert!(format!("{err:?}").starts_with(want), "{err:?}");
    }
    let mut s = seg.clone();
    s[1] = hdr(json!({"alg": "none", "kid": "op-key-1"}));
    let t = PkToken::from_compact(&s.join(":")).expect("parses");
    assert_eq!(
        t.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW),
        Err(Error::UnsupportedAlg("none".into()))
    );
    // Duplicate JSON members in a header.
    let mut s = seg.clone();
    s[1] = b64(br#"{"alg":"ES256","alg":"none"}"#);
    assert_eq!(
        PkToken::from_compact(&s.join(":")).err(),
        Some(Error::DuplicateMember(Part::ProtectedHeader, "alg".into()))
    );
    // … also inside a nested object (the CIC's upk), and spelled with an escape.
    let mut cic: Value = serde_json::from_slice(&unb64(&seg[3])).expect("json");
    cic["upk"]["zz"] = json!(1);
    let mut s = seg.clone();
    s[3] = b64(cic
        .to_string()
        .replace("\"zz\":1", "\"zz\":1,\"z\\u007a\":2")
        .as_bytes());
    assert_eq!(
        PkToken::from_compact(&s.join(":")).err(),
        Some(Error::DuplicateMember(Part::ProtectedHeader, "zz".into()))
    );
    // Key-bound OP tokens are refused at verify.
    let mut s = seg.clone();
    s[1] = hdr(json!({"alg": "ES256", "kid": "op-key-1", "typ": "dpop+id_token"}));
    let t = PkToken::from_compact(&s.join(":")).expect("parses");
    assert_eq!(
        t.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW),
        Err(Error::KeyBound)
    );
    // Wrong claim types (H-11).
    for (name, v) in [
        ("exp", json!("soon")),
        ("email", json!(5)),
        ("groups", json!("admins")),
        ("aud", json!(1)),
    ] {
        let mut c: Value = serde_json::from_slice(&unb64(&seg[0])).expect("json");
        c[name] = v;
        let mut s = seg.clone();
        s[0] = b64(c.to_string().as_bytes());
        assert!(
            matches!(
                PkToken::from_compact(&s.join(":")),
                Err(Error::ClaimType(_))
            ),
            "{name}"
        );
    }
    // Oversized input.
    assert!(matches!(
        PkToken::from_compact(&"a".repeat(opk_pktoken::MAX_COMPACT_LEN + 1)),
        Err(Error::TooLarge(_))
    ));
}

#[test]
fn cic_upk_alg_must_match_header_alg() {
    let (_, pkt) = issued();
    let seg = segments(&pkt);
    let mut cic: Value = serde_json::from_slice(&unb64(&seg[3])).expect("json");
    cic["alg"] = json!("EdDSA");
    let mut s = seg.clone();
    s[3] = b64(cic.to_string().as_bytes());
    assert!(matches!(
        PkToken::from_compact(&s.join(":")),
        Err(Error::Cic(CicProblem::UpkAlgMismatch))
    ));
}

#[test]
fn garbage_never_panics() {
    let op = FakeOp::new();
    let good = issue_with(&op, |_| {}).to_compact();
    for cut in 0..good.len() {
        opk_pktoken::fuzzing::fuzz_compact(&good.as_bytes()[..cut]);
    }
    // A seeded (reproducible) stream: random bytes, and random edits of a valid token.
    let mut rng = opk_testkit::rng::seeded(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let bytes = opk_testkit::rng::garbage(&mut rng, 300);
        opk_pktoken::fuzzing::fuzz_compact(&bytes);
        opk_pktoken::fuzzing::fuzz_jwks(&bytes);
        let mut edited = good.clone().into_bytes();
        let at = rng.usize(..edited.len());
        edited[at] = b":.=A_-0"[rng.usize(..7)];
        opk_pktoken::fuzzing::fuzz_compact(&edited);
    }
}

#[test]
fn h10_h14_gq_signed_tokens_are_refused() {
    // GQ256 (CI providers) is not implemented: such tokens must fail, never be half-checked.
    let (op, pkt) = issued();
    let mut seg = segments(&pkt);
    seg[1] = b64(json!({"alg": "GQ256", "typ": "JWT", "kid": seg[1].clone()})
        .to_string()
        .as_bytes());
    let t = PkToken::from_compact(&seg.join(":")).expect("parses");
    assert_eq!(
        t.verify(&check(ExpiryPolicy::Hours24), &op.jwks(), NOW),
        Err(Error::UnsupportedAlg("GQ256".into()))
    );
}
