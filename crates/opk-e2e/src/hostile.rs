//! The hostile-input catalog's generator (issue 11): every case is a file under
//! `crates/opk-cli/tests/hostile/` holding the offered key, the server files it runs with and the
//! class of one-line reason `opk verify` must give. `crates/opk-cli/tests/hostile.rs` runs them.
//!
//! Regenerate (after a change to the token or certificate format) with
//! `cargo run -p opk-e2e --example hostile_gen -- crates/opk-cli/tests/hostile`. Certificates are
//! made with [`PlantedOp`]'s key and opk's own issuing code ([`mint`]), mutated at the layer the
//! case names (raw JSON, base64, signatures, the SSH wire blob), or by `ssh-keygen` where a real
//! peer makes the odd certificate (host, RSA, another CA). Tokens carry a fixed `iat` in the past
//! and run under the providers policy `never` unless the case is about expiry, so committed
//! cases stay valid; each case's `note` says how it was made.

use std::path::Path;
use std::process::Command;

use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use serde_json::{Map, Value, json};

use opk_pktoken::{Cic, UserSigner};
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert};

use crate::{OpKey, PLANTED_CLIENT, PLANTED_ISSUER, PlantedOp};

/// The `iat` of committed tokens (2026-09-21): in the past, and never checked under `never`.
pub const FIXED_IAT: i64 = 1_790_000_000;

fn b64u(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Flips one bit of the bytes a base64url segment encodes.
fn flip_bit(segment: &mut String) {
    let mut bytes = Base64UrlUnpadded::decode_vec(segment).expect("base64url segment");
    bytes[5] ^= 1;
    *segment = b64u(&bytes);
}

/// The five signed pieces of a compact PK Token (`payload:opH:opS:cicH:cicS`), which a case may
/// change after they are signed.
#[derive(Clone, Debug)]
pub struct Pieces {
    /// base64url payload.
    pub payload: String,
    /// base64url OP protected header.
    pub op_header: String,
    /// base64url OP signature.
    pub op_sig: String,
    /// base64url CIC protected header.
    pub cic_header: String,
    /// base64url CIC signature.
    pub cic_sig: String,
    /// Leave the CIC header and signature out (`payload:opH:opS`).
    pub drop_cic: bool,
}

impl Pieces {
    /// The compact form.
    pub fn compact(&self) -> String {
        if self.drop_cic {
            return format!("{}:{}:{}", self.payload, self.op_header, self.op_sig);
        }
        format!(
            "{}:{}:{}:{}:{}",
            self.payload, self.op_header, self.op_sig, self.cic_header, self.cic_sig
        )
    }
}

/// What [`mint`] signs. Every field has a default that makes a token [`PlantedOp`] vouches for.
pub struct Parts<'a> {
    /// The ID token's claims; `nonce` is set to the CIC's hash unless present.
    pub claims: Map<String, Value>,
    /// The payload's exact JSON instead of `claims` (`{nonce}` is replaced by the CIC's hash).
    pub raw_payload: Option<String>,
    /// The OP's protected header.
    pub op_header: Value,
    /// The key that signs as the OP (an impostor's, for one case).
    pub op_key: Option<&'a OpKey>,
    /// Members set over the CIC protected header (`null` removes one).
    pub cic_patch: Map<String, Value>,
    /// The CIC is signed by another key than its `upk`.
    pub cic_signed_by_other: bool,
    /// The certificate certifies (and is signed by) another key than the CIC's `upk`.
    pub cert_for_other_key: bool,
    /// The certificate's principals.
    pub principals: Vec<String>,
}

impl Default for Parts<'_> {
    fn default() -> Self {
        Self {
            claims: PlantedOp::default().claims(FIXED_IAT),
            raw_payload: None,
            op_header: json!({"alg": "ES256", "kid": crate::PLANTED_KID, "typ": "JWT"}),
            op_key: None,
            cic_patch: Map::new(),
            cic_signed_by_other: false,
            cert_for_other_key: false,
            principals: vec!["alice".into()],
        }
    }
}

fn p256_pair() -> (EphemeralKey, UserSigner) {
    let key = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let user = UserSigner::from_p256_scalar(&key.secret_bytes()).expect("signer");
    (key, user)
}

/// Signs `parts` as opk login would (with `op`'s key unless [`Parts::op_key`]), lets `tweak`
/// change the signed pieces, and issues the certificate carrying the result.
pub fn mint(op: &OpKey, parts: Parts<'_>, tweak: impl FnOnce(&mut Pieces)) -> OpkCert {
    let (key, user) = p256_pair();
    let cic = Cic::new(&user.public_jwk().expect("jwk"), [7; 32]).expect("cic");
    let mut claims = parts.claims;
    claims
        .entry("nonce")
        .or_insert_with(|| Value::String(cic.hash()));
    let payload_json = match &parts.raw_payload {
        Some(raw) => raw.replace("{nonce}", &cic.hash()),
        None => Value::Object(claims).to_string(),
    };
    let payload = b64u(payload_json.as_bytes());
    let op_header = b64u(parts.op_header.to_string().as_bytes());
    let op_sig = parts
        .op_key
        .unwrap_or(op)
        .signature(&format!("{op_header}.{payload}"));
    let mut cic_header = cic.header().clone();
    for (name, value) in parts.cic_patch {
        match value {
            Value::Null => cic_header.remove(&name),
            v => cic_header.insert(name, v),
        };
    }
    let cic_header = b64u(Value::Object(cic_header).to_string().as_bytes());
    let cic_input = format!("{cic_header}.{payload}");
    let cic_sig = if parts.cic_signed_by_other {
        b64u(&p256_pair().1.sign(cic_input.as_bytes()))
    } else {
        b64u(&user.sign(cic_input.as_bytes()))
    };
    let mut pieces = Pieces {
        payload,
        op_header,
        op_sig,
        cic_header,
        cic_sig,
        drop_cic: false,
    };
    tweak(&mut pieces);
    let key = if parts.cert_for_other_key {
        p256_pair().0
    } else {
        key
    };
    let req = CertRequest {
        key_id: "alice@example.com".into(),
        principals: parts.principals,
        pk_token: pieces.compact(),
        access_token: None,
    };
    OpkCert::issue(&req, &key).expect("issue")
}

/// A certificate for alice@example.com from `op` as `issuer`, as a real login would make it.
pub fn baseline_cert(op: &OpKey, issuer: &str, iat: i64) -> OpkCert {
    let mut claims = PlantedOp::default().claims(iat);
    claims.insert("iss".into(), Value::String(issuer.to_owned()));
    let header = json!({"alg": "ES256", "kid": op.kid(), "typ": "JWT"});
    mint(
        op,
        Parts {
            claims,
            op_header: header,
            ..Parts::default()
        },
        |_| {},
    )
}

/// One case file's content, built up by the generator.
pub struct Case {
    name: String,
    body: Map<String, Value>,
}

impl Case {
    fn new(name: &str, note: &str, class: &str, reason: &str) -> Self {
        let mut body = Map::new();
        body.insert("note".into(), json!(note));
        body.insert("class".into(), json!(class));
        body.insert("reason".into(), json!(reason));
        Self {
            name: name.to_owned(),
            body,
        }
    }

    fn set(mut self, key: &str, value: Value) -> Self {
        self.body.insert(key.to_owned(), value);
        self
    }

    /// The offered key: `%t` and `%k`.
    fn offer(self, key_type: &str, key_b64: Value) -> Self {
        self.set("key_type", json!(key_type)).set("key", key_b64)
    }

    fn cert(self, cert: &OpkCert) -> Self {
        self.offer(cert.cert_type(), json!(cert.to_b64()))
    }

    /// A server file's content (`providers`, `auth_id`, `config.yml`), or a special file.
    fn file(mut self, name: &str, content: Value) -> Self {
        let files = self
            .body
            .entry("files")
            .or_insert_with(|| Value::Object(Map::new()));
        files[name] = content;
        self
    }

    fn parser(self, hook: &str, input: &str, ok: bool) -> Self {
        self.set("parser", json!({"hook": hook, "input": input, "ok": ok}))
    }
}

/// `{"repeat": unit, "times": n}`, expanded by the runner so the committed file stays small.
fn repeat(unit: &str, times: usize) -> Value {
    json!({"repeat": unit, "times": times})
}

fn mode(content: &str, mode: &str) -> Value {
    json!({"text": content, "mode": mode})
}

fn alice_row() -> String {
    format!("alice alice@example.com {PLANTED_ISSUER}\n")
}

fn claims_with(patch: Value) -> Map<String, Value> {
    let mut claims = PlantedOp::default().claims(FIXED_IAT);
    for (k, v) in patch.as_object().expect("patch object") {
        match v {
            Value::Null => claims.remove(k),
            v => claims.insert(k.clone(), v.clone()),
        };
    }
    claims
}

fn with_claims(patch: Value) -> Parts<'static> {
    Parts {
        claims: claims_with(patch),
        ..Parts::default()
    }
}

/// A certificate made by `ssh-keygen` in `dir`: `user_key` type `key_type` (bits for RSA),
/// signed by itself or by a separate CA key, as a user or host (`-h`) certificate, with
/// `options` (`-O …`).
fn keygen_cert(
    dir: &Path,
    name: &str,
    key_type: &str,
    by_other_ca: bool,
    host: bool,
    options: &[String],
) -> (String, String) {
    let key = dir.join(name);
    let mut keygen = Command::new("ssh-keygen");
    keygen
        .args(["-q", "-N", "", "-t", key_type, "-f"])
        .arg(&key);
    if key_type == "rsa" {
        keygen.args(["-b", "1024"]);
    }
    assert!(keygen.status().expect("ssh-keygen").success());
    let ca = if by_other_ca {
        let ca = dir.join(format!("{name}-ca"));
        let status = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-f"])
            .arg(&ca)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        ca
    } else {
        key.clone()
    };
    let mut sign = Command::new("ssh-keygen");
    sign.args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "alice@example.com", "-n", "alice"]);
    if host {
        sign.arg("-h");
    }
    for o in options {
        sign.args(["-O", o]);
    }
    let public = dir.join(format!("{name}.pub"));
    assert!(sign.arg(&public).status().expect("ssh-keygen -s").success());
    let line = std::fs::read_to_string(dir.join(format!("{name}-cert.pub"))).expect("cert");
    let mut words = line.split_whitespace();
    (
        words.next().expect("type").to_owned(),
        words.next().expect("blob").to_owned(),
    )
}

/// Writes every case to `dir` as `NNN-name.json` (the old `*.json` files are removed first).
pub fn write_catalog(dir: &Path) -> usize {
    std::fs::create_dir_all(dir).expect("mkdir");
    for entry in std::fs::read_dir(dir).expect("ls") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(&path).expect("rm");
        }
    }
    let cases = catalog();
    for (i, case) in cases.iter().enumerate() {
        let path = dir.join(format!("{:03}-{}.json", i + 1, case.name));
        let text = serde_json::to_string_pretty(&Value::Object(case.body.clone())).expect("json");
        std::fs::write(path, text + "\n").expect("write case");
    }
    cases.len()
}

#[allow(clippy::too_many_lines)] // one table, read top to bottom
fn catalog() -> Vec<Case> {
    let planted = PlantedOp::default();
    let op = &planted.key;
    let impostor = OpKey::from_p256_scalar(&[43; 32], crate::PLANTED_KID);
    let tmp = tempfile::tempdir().expect("tmp");
    let good = mint(op, Parts::default(), |_| {});
    let good_b64 = good.to_b64();
    let blob = Base64::decode_vec(&good_b64).expect("b64");
    let cert_type = good.cert_type().to_owned();
    let mut out = Vec::new();
    let mut add = |c: Case| out.push(c);

    // --- the offered key (%k, %t) ---
    add(Case::new("key-not-base64", "%k is not base64", "cert", "")
        .offer(&cert_type, json!("!!!not base64!!!"))
        .parser("cert_parse", "key", false));
    add(Case::new("key-empty", "%k is empty", "cert", "")
        .offer(&cert_type, json!(""))
        .parser("cert_parse", "key", false));
    add(Case::new(
        "key-long",
        "%k is 120 000 'A's (valid base64 of zeros; argv caps one argument at 128 KiB, so sshd cannot pass more)",
        "cert",
        "",
    )
    .offer(&cert_type, repeat("A", 120_000))
    .parser("cert_parse", "key", false));
    add(Case::new(
        "key-truncated",
        "the baseline certificate's base64 cut in half (on a 4-character boundary)",
        "cert",
        "",
    )
    .offer(
        &cert_type,
        json!(good_b64[..good_b64.len() / 8 * 4].to_owned()),
    )
    .parser("cert_parse", "key", false));
    let mut trailing = blob.clone();
    trailing.extend_from_slice(b"trailing garbage");
    add(Case::new(
        "key-trailing-bytes",
        "the baseline blob with 16 bytes appended, re-encoded",
        "cert",
        "",
    )
    .offer(&cert_type, json!(Base64::encode_string(&trailing)))
    .parser("cert_parse", "key", false));
    let mut flipped = blob.clone();
    let last = flipped.len() - 40;
    flipped[8] ^= 0xff;
    flipped[last] ^= 0x01;
    add(Case::new(
        "key-bytes-flipped",
        "two bytes of the baseline blob flipped (in the type name and the signature)",
        "cert",
        "",
    )
    .offer(&cert_type, json!(Base64::encode_string(&flipped)))
    .parser("cert_parse", "key", false));
    add(Case::new(
        "key-type-mismatch",
        "%t says ed25519 cert, the blob is an ECDSA cert",
        "cert",
        "",
    )
    .offer("ssh-ed25519-cert-v01@openssh.com", json!(good_b64))
    .parser("cert_parse", "key", false));
    add(Case::new(
        "key-type-plain",
        "%t is the plain key type of the certified key",
        "cert",
        "",
    )
    .offer("ecdsa-sha2-nistp256", json!(good_b64)));
    add(Case::new(
        "key-type-control-characters",
        "%t carries CR and an ANSI escape (the reason must be escaped, one line)",
        "cert",
        "",
    )
    .offer("ecdsa\r\u{1b}[2Kforged", json!(good_b64)));
    add(Case::new(
        "key-base64-url-alphabet",
        "the baseline base64 with + and / written as - and _",
        "cert",
        "",
    )
    .offer(
        &cert_type,
        json!(good_b64.replace('+', "-").replace('/', "_")),
    )
    .parser("cert_parse", "key", false));
    let pubkey = {
        let key = tmp.path().join("plain");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-N", "", "-t", "ed25519", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        std::fs::read_to_string(key.with_extension("pub")).expect("pub")
    };
    let mut words = pubkey.split_whitespace();
    let (plain_type, plain_blob) = (words.next().expect("t"), words.next().expect("b"));
    add(Case::new(
        "plain-ed25519-key",
        "a plain ssh-ed25519 key from ssh-keygen (sshd asks about every offered key)",
        "cert",
        "",
    )
    .offer(plain_type, json!(plain_blob))
    .parser("cert_parse", "key", false));
    let pkt_option = format!("extension:openpubkey-pkt={}", good.pk_token().expect("pkt"));
    let (t, b) = keygen_cert(
        tmp.path(),
        "rsa",
        "rsa",
        false,
        false,
        std::slice::from_ref(&pkt_option),
    );
    add(Case::new(
        "rsa-1024-cert",
        "ssh-keygen: a self-signed RSA-1024 user certificate carrying the baseline PK Token",
        "cert",
        "",
    )
    .offer(&t, json!(b))
    .parser("cert_parse", "key", false));
    let (t, b) = keygen_cert(
        tmp.path(),
        "host",
        "ecdsa",
        false,
        true,
        std::slice::from_ref(&pkt_option),
    );
    add(Case::new(
        "host-cert",
        "ssh-keygen -h: a self-signed ECDSA host certificate carrying the baseline PK Token",
        "host-cert",
        "",
    )
    .offer(&t, json!(b)));
    let (t, b) = keygen_cert(
        tmp.path(),
        "other-ca",
        "ecdsa",
        true,
        false,
        std::slice::from_ref(&pkt_option),
    );
    add(Case::new(
        "signed-by-another-ca",
        "ssh-keygen: an ECDSA user certificate signed by a separate ed25519 CA key (O-11)",
        "not-self-signed",
        "",
    )
    .offer(&t, json!(b)));
    let (t, b) = keygen_cert(
        tmp.path(),
        "no-pkt",
        "ecdsa",
        false,
        false,
        &["clear".into(), "permit-pty".into()],
    );
    add(Case::new(
        "no-pk-token-extension",
        "ssh-keygen: a self-signed ECDSA user certificate without openpubkey-pkt",
        "no-pkt",
        "",
    )
    .offer(&t, json!(b)));

    // --- the PK Token's structure ---
    let tokened = |name: &str,
                   note: &str,
                   class: &str,
                   reason: &str,
                   parts: Parts<'_>,
                   tweak: &dyn Fn(&mut Pieces),
                   parse_ok: bool| {
        let cert = mint(op, parts, tweak);
        Case::new(name, note, class, reason)
            .cert(&cert)
            .parser("pktoken_compact", "pkt", parse_ok)
    };
    let pieces_case = |name: &str, note: &str, reason: &str, tweak: &dyn Fn(&mut Pieces)| {
        tokened(
            name,
            note,
            "pktoken",
            reason,
            Parts::default(),
            tweak,
            false,
        )
    };
    add(pieces_case(
        "pkt-not-compact",
        "the openpubkey-pkt value replaced by a word",
        "",
        &|p| {
            p.payload = "garbage".into();
            p.op_header.clear();
        },
    ));
    add(pieces_case(
        "pkt-three-segments",
        "payload:opH:opS only (no CIC signature: O-5)",
        "",
        &|p| {
            p.drop_cic = true;
        },
    ));
    add(pieces_case(
        "pkt-two-op-signatures",
        "the OP header and signature given twice, no CIC (O-5: a later one must not win)",
        "",
        &|p| {
            p.cic_header = format!("{}:{}:{}", p.op_header, p.op_sig, p.cic_header);
        },
    ));
    add(pieces_case(
        "pkt-payload-bad-base64",
        "the payload segment is '!!!!'",
        "",
        &|p| {
            p.payload = "!!!!".into();
        },
    ));
    add(pieces_case(
        "pkt-payload-padded-base64",
        "the payload segment with '=' padding",
        "",
        &|p| {
            p.payload.push_str("==");
        },
    ));
    add(pieces_case(
        "pkt-payload-not-json",
        "the payload is base64url of 'not json'",
        "",
        &|p| {
            p.payload = b64u(b"not json");
        },
    ));
    add(pieces_case(
        "pkt-payload-array",
        "the payload is base64url of [1,2]",
        "",
        &|p| {
            p.payload = b64u(b"[1,2]");
        },
    ));
    add(pieces_case(
        "pkt-op-header-not-json",
        "the OP header is base64url of '{'",
        "",
        &|p| {
            p.op_header = b64u(b"{");
        },
    ));
    add(pieces_case(
        "pkt-cic-header-not-json",
        "the CIC header is base64url of 'cic'",
        "",
        &|p| {
            p.cic_header = b64u(b"cic");
        },
    ));
    add(pieces_case(
        "pkt-signature-bad-base64",
        "the OP signature segment is '***'",
        "",
        &|p| {
            p.op_sig = "***".into();
        },
    ));
    add(pieces_case(
        "pkt-refreshed-not-a-jwt",
        "a refreshed-token suffix '.x.y' (two parts, not a JWT)",
        "",
        &|p| {
            p.cic_sig.push_str(".x.y");
        },
    ));
    add(tokened(
        "pkt-payload-duplicate-member",
        "raw payload JSON with iss twice (the second an attacker's issuer), signed by the OP",
        "pktoken",
        "",
        Parts {
            raw_payload: Some(format!(
                r#"{{"iss":"{PLANTED_ISSUER}","iss":"https://evil.example","aud":"{PLANTED_CLIENT}","sub":"planted-alice","email":"alice@example.com","email_verified":true,"iat":{FIXED_IAT},"exp":{},"nonce":"{{nonce}}"}}"#,
                FIXED_IAT + 3600
            )),
            ..Parts::default()
        },
        &|_| {},
        false,
    ));
    add(tokened(
        "pkt-payload-deep-nesting",
        "a claim nested 20 000 arrays deep, signed by the OP (stack depth)",
        "pktoken",
        "",
        Parts {
            raw_payload: Some(format!(
                r#"{{"iss":"{PLANTED_ISSUER}","aud":"{PLANTED_CLIENT}","sub":"planted-alice","iat":{FIXED_IAT},"nonce":"{{nonce}}","x":{}{}}}"#,
                "[".repeat(20_000),
                "]".repeat(20_000)
            )),
            ..Parts::default()
        },
        &|_| {},
        false,
    ));
    let header_case =
        |name: &str, note: &str, header: Value, tweak: &dyn Fn(&mut Pieces), parse_ok: bool| {
            tokened(
                name,
                note,
                "pktoken",
                "",
                Parts {
                    op_header: header,
                    ..Parts::default()
                },
                tweak,
                parse_ok,
            )
        };
    add(header_case(
        "pkt-alg-none",
        "OP header alg none and an empty signature",
        json!({"alg": "none", "kid": crate::PLANTED_KID, "typ": "JWT"}),
        &|p| p.op_sig.clear(),
        true,
    ));
    add(header_case(
        "pkt-alg-hs256-jwk-as-secret",
        "OP header HS256, signed with HMAC-SHA256 keyed by the OP's public JWK JSON (key confusion)",
        json!({"alg": "HS256", "kid": crate::PLANTED_KID, "typ": "JWT"}),
        &|p| {
            let secret = PlantedOp::default().key.public_jwk().to_string();
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
            let tag = ring::hmac::sign(&key, format!("{}.{}", p.op_header, p.payload).as_bytes());
            p.op_sig = b64u(tag.as_ref());
        },
        true,
    ));
    add(header_case(
        "pkt-alg-rs256-on-an-ec-key",
        "OP header RS256 naming the OP's EC kid, ES256 signature (alg/key-type mismatch)",
        json!({"alg": "RS256", "kid": crate::PLANTED_KID, "typ": "JWT"}),
        &|_| {},
        true,
    ));
    add(header_case(
        "pkt-alg-es384",
        "OP header ES384 (a P-256 key cannot make it)",
        json!({"alg": "ES384", "kid": crate::PLANTED_KID, "typ": "JWT"}),
        &|_| {},
        true,
    ));
    add(header_case(
        "pkt-alg-gq256",
        "OP header GQ256 (GQ signatures are refused: H-10)",
        json!({"alg": "GQ256", "kid": crate::PLANTED_KID, "typ": "JWT"}),
        &|_| {},
        true,
    ));
    add(header_case(
        "pkt-crit-unknown",
        "OP header with crit [\"exp\"]",
        json!({"alg": "ES256", "kid": crate::PLANTED_KID, "typ": "JWT", "crit": ["exp"], "exp": 1}),
        &|_| {},
        false,
    ));
    add(header_case(
        "pkt-typ-unknown",
        "OP header typ 'xyz'",
        json!({"alg": "ES256", "kid": crate::PLANTED_KID, "typ": "xyz"}),
        &|_| {},
        false,
    ));
    add(header_case(
        "pkt-kid-number",
        "OP header kid 7 (a number)",
        json!({"alg": "ES256", "kid": 7, "typ": "JWT"}),
        &|_| {},
        false,
    ));
    add(header_case(
        "pkt-kid-unknown",
        "OP header kid 'rotated-away': the planted JWKS lacks it and the OP (port 1) refuses the re-fetch",
        json!({"alg": "ES256", "kid": "rotated-away", "typ": "JWT"}),
        &|_| {},
        true,
    ));
    let sig_case = |name: &str, note: &str, tweak: &dyn Fn(&mut Pieces)| {
        tokened(name, note, "pktoken", "", Parts::default(), tweak, true)
    };
    add(sig_case(
        "pkt-op-signature-flipped",
        "one bit of the OP signature flipped",
        &|p| flip_bit(&mut p.op_sig),
    ));
    add(sig_case(
        "pkt-op-signature-empty",
        "the OP signature segment is empty",
        &|p| p.op_sig.clear(),
    ));
    add(sig_case(
        "pkt-payload-swapped-after-signing",
        "the payload replaced after signing by one naming another email",
        &|p| {
            let forged = claims_with(json!({"email": "root@example.com"}));
            p.payload = b64u(Value::Object(forged).to_string().as_bytes());
        },
    ));
    add(sig_case(
        "pkt-cic-signature-flipped",
        "one bit of the CIC signature flipped",
        &|p| flip_bit(&mut p.cic_sig),
    ));
    add(tokened(
        "pkt-op-signed-by-impostor",
        "signed by another P-256 key using the OP's kid",
        "pktoken",
        "",
        Parts {
            op_key: Some(&impostor),
            ..Parts::default()
        },
        &|_| {},
        true,
    ));
    add(tokened(
        "pkt-cic-signed-by-another-key",
        "the CIC signature made by a key other than its upk",
        "pktoken",
        "",
        Parts {
            cic_signed_by_other: true,
            ..Parts::default()
        },
        &|_| {},
        true,
    ));
    let cic_case = |name: &str, note: &str, patch: Value, parse_ok: bool| {
        tokened(
            name,
            note,
            "pktoken",
            "",
            Parts {
                cic_patch: patch.as_object().expect("patch").clone(),
                ..Parts::default()
            },
            &|_| {},
            parse_ok,
        )
    };
    add(cic_case(
        "pkt-cic-without-upk",
        "CIC header without upk",
        json!({"upk": null}),
        false,
    ));
    add(cic_case(
        "pkt-cic-without-rz",
        "CIC header without rz",
        json!({"rz": null}),
        false,
    ));
    add(cic_case(
        "pkt-cic-alg-none",
        "CIC header alg none",
        json!({"alg": "none"}),
        false,
    ));
    add(cic_case(
        "pkt-cic-upk-not-an-object",
        "CIC header upk is a string",
        json!({"upk": "key"}),
        false,
    ));
    add(cic_case(
        "pkt-cic-rz-changed",
        "CIC rz changed after the nonce was computed (nonce mismatch)",
        json!({"rz": "00"}),
        true,
    ));
    add(tokened(
        "pkt-nonce-mismatch",
        "the nonce claim is the hash of another CIC",
        "pktoken",
        "",
        with_claims(json!({"nonce": "bm90LXRoZS1jaWMtaGFzaA"})),
        &|_| {},
        true,
    ));
    add(tokened(
        "pkt-nonce-number",
        "the nonce claim is a number",
        "pktoken",
        "",
        with_claims(json!({"nonce": 12345})),
        &|_| {},
        false,
    ));
    add(Case::new(
        "cert-key-is-not-upk",
        "the certificate certifies (and is signed by) a fresh key, not the CIC's upk",
        "binding",
        "",
    )
    .cert(&mint(
        op,
        Parts {
            cert_for_other_key: true,
            ..Parts::default()
        },
        |_| {},
    )));

    // --- claims ---
    let claim_case = |name: &str, note: &str, class: &str, patch: Value, parse_ok: bool| {
        tokened(name, note, class, "", with_claims(patch), &|_| {}, parse_ok)
    };
    add(claim_case(
        "claim-iss-missing",
        "no iss claim (read as the empty issuer, which no providers row has)",
        "issuer",
        json!({"iss": null}),
        true,
    ));
    add(claim_case(
        "claim-iss-number",
        "iss is 42",
        "pktoken",
        json!({"iss": 42}),
        false,
    ));
    add(claim_case(
        "claim-iss-trailing-slash",
        "iss with a trailing slash (exact match only)",
        "issuer",
        json!({"iss": format!("{PLANTED_ISSUER}/")}),
        true,
    ));
    add(claim_case(
        "claim-iss-unknown",
        "iss of an OP not in providers",
        "issuer",
        json!({"iss": "https://evil.example"}),
        true,
    ));
    add(claim_case(
        "claim-iss-huge",
        "iss of 60 000 characters (unverified: the reason shows 200 of them, so an unauthenticated caller cannot write 60 KB log lines)",
        "issuer",
        json!({"iss": format!("https://{}", "a".repeat(60_000))}),
        true,
    ));
    add(claim_case(
        "claim-iss-upper-case",
        "iss with the scheme in upper case",
        "issuer",
        json!({"iss": PLANTED_ISSUER.replace("https", "HTTPS")}),
        true,
    ));
    add(claim_case(
        "claim-aud-wrong",
        "aud of another client",
        "pktoken",
        json!({"aud": "another-client"}),
        true,
    ));
    add(claim_case(
        "claim-aud-with-comma",
        "aud 'x,opk-hostile' (O-4)",
        "pktoken",
        json!({"aud": format!("x,{PLANTED_CLIENT}")}),
        true,
    ));
    add(claim_case(
        "claim-aud-array-without-client",
        "aud [\"a\", \"b\"]",
        "pktoken",
        json!({"aud": ["a", "b"]}),
        true,
    ));
    add(claim_case(
        "claim-aud-number",
        "aud 7",
        "pktoken",
        json!({"aud": 7}),
        false,
    ));
    add(claim_case(
        "claim-aud-missing",
        "no aud claim",
        "pktoken",
        json!({"aud": null}),
        true,
    ));
    add(claim_case(
        "claim-exp-string",
        "exp '9999999999' (a string)",
        "pktoken",
        json!({"exp": "9999999999"}),
        false,
    ));
    add(claim_case(
        "claim-iat-float",
        "iat 1790000000.5",
        "pktoken",
        json!({"iat": 1_790_000_000.5}),
        false,
    ));
    add(claim_case(
        "claim-iat-future",
        "iat in 2100 (O-9: more than 5 minutes ahead)",
        "pktoken",
        json!({"iat": 4_102_444_800_i64}),
        true,
    ));
    add(claim_case(
        "claim-email-not-a-string",
        "email is an array",
        "pktoken",
        json!({"email": ["alice@example.com"]}),
        false,
    ));
    let expiry_case = |name: &str, note: &str, policy: &str, patch: Value| {
        tokened(name, note, "pktoken", "", with_claims(patch), &|_| {}, true)
            .file("providers", json!(PlantedOp::providers_row(policy)))
    };
    add(expiry_case(
        "expiry-oidc-exp-past",
        "providers policy oidc; exp an hour after the fixed iat (long past)",
        "oidc",
        json!({}),
    ));
    add(expiry_case(
        "expiry-24h-old-iat",
        "providers policy 24h; iat in 2026-09",
        "24h",
        json!({}),
    ));
    add(expiry_case(
        "expiry-12h-no-iat",
        "providers policy 12h; no iat",
        "12h",
        json!({"iat": null}),
    ));
    add(expiry_case(
        "expiry-1week-negative-iat",
        "providers policy 1week; iat -5",
        "1week",
        json!({"iat": -5}),
    ));
    add(expiry_case(
        "expiry-oidc-no-exp",
        "providers policy oidc; no exp",
        "oidc",
        json!({"exp": null}),
    ));
    add(expiry_case(
        "expiry-refreshed-without-refresh",
        "providers policy oidc_refreshed; exp past and no refreshed token",
        "oidc_refreshed",
        json!({}),
    ));
    add(tokened(
        "expiry-refreshed-forged",
        "providers policy oidc_refreshed; a refreshed ID token appended that the OP never signed, exp 2100 (O-1)",
        "pktoken",
        "",
        Parts::default(),
        &|p| {
            let header = b64u(br#"{"alg":"ES256","kid":"planted-1","typ":"JWT"}"#);
            let claims = claims_with(json!({"exp": 4_102_444_800_i64}));
            let body = b64u(Value::Object(claims).to_string().as_bytes());
            p.cic_sig = format!("{}.{header}.{body}.{}", p.cic_sig, b64u(b"forged"));
        },
        true,
    )
    .file("providers", json!(PlantedOp::providers_row("oidc_refreshed"))));

    // --- emails and principals the policy must not be fooled by ---
    let email_case = |name: &str, note: &str, email: Value| {
        tokened(
            name,
            note,
            "policy",
            "",
            with_claims(json!({"email": email})),
            &|_| {},
            true,
        )
    };
    add(email_case(
        "email-dotless-i",
        "email alıce@example.com (U+0131: R-1)",
        json!("al\u{131}ce@example.com"),
    ));
    add(email_case(
        "email-dotted-capital-i",
        "email alİce@example.com (U+0130: R-1)",
        json!("al\u{130}ce@example.com"),
    ));
    add(email_case(
        "email-cyrillic-a",
        "email with a Cyrillic а (U+0430)",
        json!("\u{430}lice@example.com"),
    ));
    add(email_case(
        "email-trailing-nul",
        "email alice@example.com followed by NUL",
        json!("alice@example.com\u{0}"),
    ));
    add(email_case(
        "email-bidi-override",
        "email with U+202E (the reason and log must escape it)",
        json!("alice@example.com\u{202e}"),
    ));
    add(email_case(
        "email-newline-forged-line",
        "email with a newline and a forged log line",
        json!("x@example.com\n2026/01/01 00:00:00 allowed alice"),
    ));
    add(email_case(
        "email-zero-width-space",
        "email with U+200B inside",
        json!("ali\u{200b}ce@example.com"),
    ));
    add(email_case(
        "email-fullwidth-at",
        "email with a fullwidth ＠ (U+FF20)",
        json!("alice\u{ff20}example.com"),
    ));
    add(email_case(
        "email-forged-match-end-prefix",
        "email starting oidc-match-end:email: (never matches)",
        json!("oidc-match-end:email:@example.com"),
    ));
    add(tokened(
        "email-unverified",
        "email_verified false under the default email_verified: require (H-4)",
        "policy",
        "does not say the email is verified",
        with_claims(json!({"email_verified": false})),
        &|_| {},
        true,
    ));
    add(tokened(
        "email-verified-number",
        "email_verified 1 (neither a bool nor a string): not verified",
        "policy",
        "does not say the email is verified",
        with_claims(json!({"email_verified": 1})),
        &|_| {},
        true,
    ));
    let principal_case = |name: &str, note: &str, principal: &str| {
        Case::new(name, note, "principal", "").cert(&mint(
            op,
            Parts {
                principals: vec!["alice".into(), principal.into()],
                ..Parts::default()
            },
            |_| {},
        ))
    };
    add(principal_case(
        "principal-quote-injection",
        "cert principal alice\",command=\"/bin/sh (H-1)",
        "alice\",command=\"/bin/sh",
    ));
    add(principal_case(
        "principal-comma",
        "cert principal guest,root (H-1)",
        "guest,root",
    ));
    add(principal_case(
        "principal-newline",
        "cert principal with a newline and a second key line (H-1)",
        "x\nssh-ed25519 AAAA",
    ));
    add(principal_case(
        "principal-cyrillic",
        "cert principal with a Cyrillic а",
        "\u{430}lice",
    ));
    add(principal_case(
        "principal-too-long",
        "cert principal of 200 letters",
        &"a".repeat(200),
    ));
    add(principal_case(
        "principal-space",
        "cert principal 'alice root'",
        "alice root",
    ));
    add(principal_case(
        "principal-nul",
        "cert principal with a NUL",
        "alice\u{0}root",
    ));
    add(
        Case::new("target-root", "%u root: no row for it", "policy", "")
            .cert(&good)
            .set("principal", json!("root")),
    );
    add(
        Case::new("target-newline", "%u 'alice\\nroot'", "policy", "")
            .cert(&good)
            .set("principal", json!("alice\nroot")),
    );
    add(Case::new("target-empty", "%u ''", "policy", "")
        .cert(&good)
        .set("principal", json!("")));

    // --- server files ---
    let file_case = |name: &str, note: &str, class: &str, file: &str, content: Value| {
        Case::new(name, note, class, "")
            .cert(&good)
            .file(file, content)
    };
    let providers_row = PlantedOp::providers_row("never");
    add(file_case(
        "providers-over-cap",
        "providers: 3 MB of comment lines",
        "file:providers",
        "providers",
        repeat("# padding\n", 300_000),
    )
    .parser("providers", "file:providers", false));
    add(file_case(
        "providers-binary",
        "providers: NUL and invalid UTF-8 bytes",
        "file:providers",
        "providers",
        json!({"base64": Base64::encode_string(b"\x00\xff\xfe binary \x00\n")}),
    )
    .parser("providers", "file:providers", false));
    add(file_case(
        "providers-duplicate-issuer",
        "providers: the planted issuer twice (O-6)",
        "file:providers",
        "providers",
        json!(format!("{providers_row}{PLANTED_ISSUER} other 24h\n")),
    )
    .parser("providers", "file:providers", false));
    add(file_case(
        "providers-bad-expiry",
        "providers: expiry policy 'forever'",
        "file:providers",
        "providers",
        json!(format!("{PLANTED_ISSUER} {PLANTED_CLIENT} forever\n")),
    ));
    add(file_case(
        "providers-overlong-line",
        "providers: one row whose issuer is 200 000 'x's, no row for the planted issuer",
        "issuer",
        "providers",
        json!({"repeat": "x", "times": 200_000, "suffix": format!(" {PLANTED_CLIENT} never\n")}),
    ));
    add(file_case(
        "providers-world-writable",
        "providers: mode 0666",
        "file:providers",
        "providers",
        mode(&providers_row, "666"),
    ));
    add(file_case(
        "providers-fifo",
        "providers: a FIFO nobody writes to (R-3)",
        "file:providers",
        "providers",
        json!({"special": "fifo"}),
    ));
    add(file_case(
        "auth-id-over-cap",
        "auth_id: 3 MB of rows",
        "file:auth_id",
        "auth_id",
        repeat(&format!("bob bob@example.com {PLANTED_ISSUER}\n"), 60_000),
    )
    .parser("auth_id", "file:auth_id", false));
    add(file_case(
        "auth-id-binary",
        "auth_id: NUL bytes around alice's row",
        "policy",
        "auth_id",
        json!({"base64": Base64::encode_string(format!("\0\0\0{}\0", alice_row()).as_bytes())}),
    ));
    add(file_case(
        "auth-id-crlf-other-user",
        "auth_id: CRLF line ends, a row for bob only",
        "policy",
        "auth_id",
        json!(format!("bob bob@example.com {PLANTED_ISSUER}\r\n")),
    ));
    add(file_case(
        "auth-id-bare-prefix",
        "auth_id: alice oidc-match-end:email: (H-2)",
        "policy",
        "auth_id",
        json!(format!("alice oidc-match-end:email: {PLANTED_ISSUER}\n")),
    ));
    add(file_case(
        "auth-id-short-oidc",
        "auth_id: alice oidc: and oidc:: (H-3)",
        "policy",
        "auth_id",
        json!(format!(
            "alice oidc: {PLANTED_ISSUER}\nalice oidc:: {PLANTED_ISSUER}\n"
        )),
    ));
    add(file_case(
        "auth-id-empty-identity",
        "auth_id: alice '' (O-3)",
        "policy",
        "auth_id",
        json!(format!("alice '' {PLANTED_ISSUER}\n")),
    ));
    add(file_case(
        "auth-id-suffix-without-at",
        "auth_id: alice oidc-match-end:email:ample.com (O-8: not at a domain boundary)",
        "policy",
        "auth_id",
        json!(format!(
            "alice oidc-match-end:email:ample.com {PLANTED_ISSUER}\n"
        )),
    ));
    add(file_case(
        "auth-id-glob-star",
        "auth_id: alice repo:* (a glob on sub; the token's sub has no repo: prefix)",
        "policy",
        "auth_id",
        json!(format!("alice repo:* {PLANTED_ISSUER}\n")),
    ));
    add(file_case(
        "auth-id-age-multibyte",
        "auth_id: alice's row with auth_age=15 followed by U+FEFF (panicked the parser before: found by fuzzing auth_id)",
        "policy",
        "auth_id",
        json!(format!(
            "alice alice@example.com {PLANTED_ISSUER} amr=mfa,auth_age=15\u{feff}\n"
        )),
    )
    .parser("auth_id", "file:auth_id", true));
    add(file_case(
        "auth-id-group-writable",
        "auth_id: mode 0660",
        "file:auth_id",
        "auth_id",
        mode(&alice_row(), "660"),
    ));
    add(file_case(
        "auth-id-fifo",
        "auth_id: a FIFO nobody writes to (R-3)",
        "file:auth_id",
        "auth_id",
        json!({"special": "fifo"}),
    ));
    add(file_case(
        "auth-id-directory",
        "auth_id: a directory (R-3)",
        "file:auth_id",
        "auth_id",
        json!({"special": "directory"}),
    ));
    add(file_case(
        "auth-id-dev-zero",
        "auth_id: a symlink to /dev/zero (R-3)",
        "file:auth_id",
        "auth_id",
        json!({"special": "/dev/zero"}),
    ));
    let config_case = |name: &str, note: &str, class: &str, content: Value| {
        file_case(name, note, class, "config.yml", content)
    };
    add(config_case(
        "config-not-yaml",
        "config.yml: '[: x' (O-2: fails closed)",
        "config",
        json!("[: x\n"),
    ));
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            [prev.as_str(); 10].join(", ")
        ));
    }
    add(config_case(
        "config-alias-bomb",
        "config.yml: billion laughs, ten levels of ten aliases",
        "config",
        json!(bomb),
    ));
    add(config_case(
        "config-list",
        "config.yml: a list, not a mapping",
        "config",
        json!("- deny_users\n- root\n"),
    ));
    add(config_case(
        "config-scalar",
        "config.yml: a scalar",
        "config",
        json!("hello\n"),
    ));
    add(config_case(
        "config-merge-key",
        "config.yml: deny_users hidden behind a merge key",
        "config",
        json!("base: &b\n  deny_users: [alice]\n<<: *b\n"),
    ));
    add(config_case(
        "config-duplicate-key",
        "config.yml: deny_users twice, the second empty",
        "config",
        json!("deny_users: [alice]\n'deny_users': []\n"),
    ));
    add(config_case(
        "config-two-documents",
        "config.yml: two YAML documents",
        "config",
        json!("deny_users: []\n---\ndeny_users: [alice]\n"),
    ));
    add(config_case(
        "config-deep-nesting",
        "config.yml: 10 000 nested flow lists",
        "config",
        json!(format!("x: {}{}\n", "[".repeat(10_000), "]".repeat(10_000))),
    ));
    add(config_case(
        "config-binary",
        "config.yml: invalid UTF-8",
        "config",
        json!({"base64": Base64::encode_string(b"deny_users: [\xff\xfe]\n")}),
    ));
    add(config_case(
        "config-deny-list-wrong-type",
        "config.yml: deny_users: alice (a string, not a list)",
        "config",
        json!("deny_users: alice\n"),
    ));
    add(config_case(
        "config-email-verified-bad-value",
        "config.yml: email_verified for the issuer is 'yes'",
        "config",
        json!(format!("email_verified:\n  {PLANTED_ISSUER}: yes\n")),
    ));
    add(config_case(
        "config-deny-users",
        "config.yml: deny_users lists ALICE (case-insensitive)",
        "deny",
        json!("deny_users: [ALICE]\n"),
    ));
    add(config_case(
        "config-deny-emails",
        "config.yml: deny_emails lists the token's email",
        "deny",
        json!("deny_emails: [Alice@Example.COM]\n"),
    ));
    add(config_case(
        "config-fifo",
        "config.yml: a FIFO nobody writes to (R-3)",
        "file:config.yml",
        json!({"special": "fifo"}),
    ));

    // --- JWKS as planted in verify's cache (what an OP once served) ---
    let jwks_case = |name: &str, note: &str, jwks: Value| {
        Case::new(name, note, "pktoken", "")
            .cert(&good)
            .set("jwks", jwks.clone())
            .parser("jwks", "jwks", true)
    };
    let real = op.public_jwk();
    let mut oct = real.clone();
    oct["kty"] = json!("oct");
    oct["k"] = json!("c2VjcmV0");
    add(jwks_case(
        "jwks-empty",
        "the planted JWKS has no keys",
        json!({"keys": []}),
    ));
    add(jwks_case(
        "jwks-wrong-kty",
        "the OP's kid with kty oct and a secret",
        json!({"keys": [oct]}),
    ));
    let mut p384 = real.clone();
    p384["crv"] = json!("P-384");
    add(jwks_case(
        "jwks-wrong-curve",
        "the OP's kid with crv P-384",
        json!({"keys": [p384]}),
    ));
    let mut rs = real.clone();
    rs["alg"] = json!("RS256");
    add(jwks_case(
        "jwks-alg-mismatch",
        "the OP's key published with alg RS256",
        json!({"keys": [rs]}),
    ));
    add(jwks_case(
        "jwks-duplicate-kids-impostor-first",
        "two keys with the OP's kid, an impostor's first",
        json!({"keys": [impostor.public_jwk(), real.clone()]}),
    ));
    let mut enc = real.clone();
    enc["use"] = json!("enc");
    add(jwks_case(
        "jwks-use-enc",
        "the OP's key published with use enc",
        json!({"keys": [enc]}),
    ));

    // --- JWKS and discovery served over HTTP by a stub OP (the token is minted at run time
    // for the stub's issuer, which names its port) ---
    let stub_case = |name: &str, note: &str, discovery: Value, jwks: Value| {
        Case::new(name, note, "jwks", "").set("stub", json!({"discovery": discovery, "jwks": jwks}))
    };
    let ok_discovery =
        json!({"status": 200, "body": "{\"issuer\":\"{issuer}\",\"jwks_uri\":\"{issuer}/jwks\"}"});
    add(stub_case(
        "stub-jwks-over-cap",
        "the JWKS response is 2 MB of JSON (over the 1 MiB cap)",
        ok_discovery.clone(),
        json!({"status": 200, "body": {"repeat": " ", "times": 2_000_000, "prefix": "{\"keys\":[]", "suffix": "}"}}),
    ));
    add(stub_case(
        "stub-jwks-not-json",
        "the JWKS response is HTML",
        ok_discovery.clone(),
        json!({"status": 200, "body": "<html>oops</html>"}),
    ));
    add(stub_case(
        "stub-jwks-500",
        "the JWKS endpoint answers 500",
        ok_discovery.clone(),
        json!({"status": 500, "body": "{}"}),
    ));
    add(stub_case(
        "stub-jwks-keys-not-a-list",
        "the JWKS response is {\"keys\": {}}",
        ok_discovery.clone(),
        json!({"status": 200, "body": "{\"keys\":{}}"}),
    ));
    add(stub_case(
        "stub-discovery-issuer-mismatch",
        "discovery names another issuer",
        json!({"status": 200, "body": "{\"issuer\":\"https://evil.example\",\"jwks_uri\":\"{issuer}/jwks\"}"}),
        json!({"status": 200, "body": "{\"keys\":[]}"}),
    ));
    add(stub_case(
        "stub-discovery-jwks-uri-file",
        "discovery's jwks_uri is file:///etc/passwd",
        json!({"status": 200, "body": "{\"issuer\":\"{issuer}\",\"jwks_uri\":\"file:///etc/passwd\"}"}),
        json!({"status": 200, "body": "{}"}),
    ));
    add(stub_case(
        "stub-discovery-redirect-loop",
        "discovery redirects to itself",
        json!({"status": 302, "location": "{issuer}/.well-known/openid-configuration"}),
        json!({"status": 200, "body": "{}"}),
    ));
    out
}

/// Seeds for the fuzz targets in `fuzz/` (`dir/<target>/`), taken from the inputs of the catalog
/// in `catalog` (certificates, PK Tokens, ID tokens, server files, JWKS) and from small valid
/// examples of the other formats; seeds over 16 KiB are left out, and `seed-*` files from an
/// earlier run are removed first. Returns the number written.
pub fn write_fuzz_seeds(catalog: &Path, dir: &Path) -> usize {
    const MAX_SEED: usize = 16 * 1024;
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    let mut add = |target: &'static str, name: &str, data: Vec<u8>| {
        if data.len() <= MAX_SEED {
            seeds.push((target, name.to_owned(), data));
        }
    };
    let text = |v: &Value| -> Option<Vec<u8>> {
        match v {
            Value::String(s) => Some(s.clone().into_bytes()),
            Value::Object(o) => match (o.get("text"), o.get("base64")) {
                (Some(Value::String(s)), _) => Some(s.clone().into_bytes()),
                (_, Some(Value::String(b))) => Base64::decode_vec(b).ok(),
                _ => None,
            },
            _ => None,
        }
    };
    let mut cases: Vec<_> = std::fs::read_dir(catalog)
        .expect("catalog dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    for path in cases {
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let name = name.as_str();
        let b: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
            .expect("case JSON");
        if let (Some(Value::String(t)), Some(Value::String(k))) = (b.get("key_type"), b.get("key"))
        {
            add("cert_parse", name, format!("{t} {k}").into_bytes());
            add("cert_line", name, format!("{t} {k} {name}\n").into_bytes());
            if let Some(pkt) = OpkCert::parse(t, k)
                .ok()
                .and_then(|c| c.pk_token().map(str::to_owned))
            {
                add("pktoken_compact", name, pkt.clone().into_bytes());
                // payload:opH:opS → the ID token opH.payload.opS, with the CIC's nonce unknown.
                let parts: Vec<&str> = pkt.split(':').collect();
                if parts.len() >= 3 {
                    let jwt = format!("{}.{}.{}", parts[1], parts[0], parts[2]);
                    add("id_token", name, format!("{jwt}\nnonce").into_bytes());
                }
            }
        }
        for (file, targets) in [
            ("providers", &["providers", "parse_table"][..]),
            ("auth_id", &["auth_id", "parse_table", "add_row"][..]),
            ("config.yml", &["server_config"][..]),
        ] {
            if let Some(data) = b.get("files").and_then(|f| f.get(file)).and_then(text) {
                for target in targets {
                    add(target, name, data.clone());
                }
            }
        }
        if let Some(jwks) = b.get("jwks") {
            add("jwks", name, jwks.to_string().into_bytes());
            let record =
                json!({"issuer": "https://issuer.example", "fetched_at": FIXED_IAT, "jwks": jwks});
            add("jwks_cache_file", name, record.to_string().into_bytes());
        }
    }
    let planted = PlantedOp::default();
    let jwks = planted.jwks();
    add("jwks", "planted", jwks.to_string().into_bytes());
    let record = json!({"issuer": "https://issuer.example", "fetched_at": FIXED_IAT, "jwks": jwks})
        .to_string();
    add("jwks_cache_file", "planted", record.clone().into_bytes());
    add(
        "jwks_cache_file",
        "torn",
        record.as_bytes()[..record.len() / 2].to_vec(),
    );
    let rows = [
        alice_row(),
        format!("root oidc:groups:admins {PLANTED_ISSUER}\n"),
        format!("dev oidc-match-end:email:@example.com {PLANTED_ISSUER}\n"),
        format!("deploy repo:org/repo:ref:refs/heads/* {PLANTED_ISSUER}\n"),
        format!(
            "ro oidc:\\\"https://acme.com/groups\\\":ssh-users {PLANTED_ISSUER} amr=mfa,auth_age=15m\n"
        ),
        "# comment\n\n  alice   'quoted word'  https://op.example  \n".to_owned(),
    ];
    for (i, row) in rows.iter().enumerate() {
        add("auth_id", &format!("row-{i}"), row.clone().into_bytes());
        add("parse_table", &format!("row-{i}"), row.clone().into_bytes());
        add("add_row", &format!("row-{i}"), row.clone().into_bytes());
    }
    add(
        "providers",
        "planted",
        PlantedOp::providers_row("24h").into_bytes(),
    );
    add("providers", "installer-defaults", b"https://accounts.google.com 206584157355-7cbe4s640tvm7naoludob4ut1emii7sf.apps.googleusercontent.com 24h\nhttps://gitlab.com 8d8b7024572c7fd501f64374dec6bba37096783dfcd792b3988104be08cb6923 24h\n".to_vec());
    let claims = Value::Object(planted.claims(FIXED_IAT)).to_string();
    for identity in [
        "alice@example.com",
        "planted-alice",
        "oidc:groups:admins",
        "oidc-match-end:email:@example.com",
        "repo:planted-*",
        "oidc:",
        "",
    ] {
        add(
            "identity_matches",
            identity,
            format!("{identity}\n{claims}").into_bytes(),
        );
    }
    for principal in [
        "alice",
        "opkssh-wildcard",
        "a$",
        "alice\",command=\"x",
        "guest,root",
        "\u{430}lice",
    ] {
        add("check_principal", principal, principal.as_bytes().to_vec());
    }
    for (i, config) in [
        "deny_users: [root]\ndeny_emails: [mallory@example.com]\n",
        "env_vars:\n  HTTPS_PROXY: http://proxy:3128\n",
        "email_verified:\n  https://issuer.example: warn\n  '*': require\n",
        "a: &x [1, 2]\nb: *x\n",
    ]
    .iter()
    .enumerate()
    {
        add(
            "server_config",
            &format!("valid-{i}"),
            config.as_bytes().to_vec(),
        );
    }
    add(
        "plugin_config",
        "valid",
        b"name: match email\ncommand: /etc/opk/match.sh example.com\n".to_vec(),
    );
    add("plugin_config", "no-command", b"name: x\n".to_vec());
    add("plugin_config", "list", b"- name\n".to_vec());
    for (i, spec) in [
        "https://op.example,client",
        "https://op.example,client,secret,openid email,offline,consent",
        "google",
        "https://accounts.google.com,id",
        ",,,",
    ]
    .iter()
    .enumerate()
    {
        add(
            "provider_spec",
            &format!("spec-{i}"),
            spec.as_bytes().to_vec(),
        );
    }
    for (i, req) in [
        "GET /login-callback?code=abc&state=xyz HTTP/1.1\r\nHost: localhost:3000\r\n\r\n",
        "GET /login-callback?error=access_denied&state=xyz HTTP/1.1\r\n\r\n",
        "GET /favicon.ico HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
    ]
    .iter()
    .enumerate()
    {
        add(
            "callback_request",
            &format!("request-{i}"),
            req.as_bytes().to_vec(),
        );
    }
    let user_key = EphemeralKey::generate(KeyAlgorithm::Ed25519).expect("key");
    let public = user_key.public_key().to_openssh_line().expect("line");
    add(
        "known_hosts",
        "plain",
        format!("host.example,10.0.0.1 {public}\n").into_bytes(),
    );
    add("known_hosts", "hashed", format!("|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= {public}\n@cert-authority *.example {public}\n@revoked * {public}\n[host]:2222 {public}\n").into_bytes());
    add("ssh_config", "hosts", b"Host *.example !bad.example\n  User alice\n  Port 2222\n  IdentityFile ~/.ssh/id_ecdsa\nMatch host x exec \"true\"\n  ProxyJump a,b\nHost *\n  ServerAliveInterval 30\n".to_vec());
    add(
        "ssh_config",
        "include",
        b"Include ~/.ssh/config.d/*\nHostName %h.internal\nUserKnownHostsFile /dev/null\n".to_vec(),
    );
    add(
        "private_key",
        "ed25519",
        user_key
            .to_openssh_pem("seed")
            .expect("pem")
            .as_bytes()
            .to_vec(),
    );
    let p256 = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    add(
        "private_key",
        "p256",
        p256.to_openssh_pem("seed")
            .expect("pem")
            .as_bytes()
            .to_vec(),
    );
    // Ziti channel frames: magic, content type, sequence, header and body lengths (all LE),
    // headers as (key i32, len u32, value), body.
    let frame = |content_type: i32, headers: &[(i32, &[u8])], body: &[u8]| {
        let header_len: usize = headers.iter().map(|(_, v)| 8 + v.len()).sum();
        let mut out = vec![0x03, 0x06, 0x09, 0x0c];
        out.extend_from_slice(&content_type.to_le_bytes());
        out.extend_from_slice(&7i32.to_le_bytes());
        out.extend_from_slice(&(header_len as u32).to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        for (k, v) in headers {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        out.extend_from_slice(body);
        out
    };
    add(
        "ziti_frame",
        "hello",
        frame(0, &[(0, b"1"), (1, &5i32.to_le_bytes())], b"hello"),
    );
    add("ziti_frame", "empty", frame(60783, &[], b""));
    add(
        "ziti_frame",
        "unknown-version",
        vec![0x03, 0x06, 0x09, 0x0a, 1, 0, 0, 0, 2, 0, 0, 0],
    );

    std::fs::create_dir_all(dir).expect("mkdir corpus");
    // Earlier generated seeds go (case numbers shift); found crashes (`crash-*`) stay.
    for target in std::fs::read_dir(dir).expect("ls corpus") {
        for seed in std::fs::read_dir(target.expect("target").path()).expect("ls target") {
            let seed = seed.expect("seed").path();
            if seed
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            {
                std::fs::remove_file(&seed).expect("rm seed");
            }
        }
    }
    let mut written = 0;
    for (target, name, data) in seeds {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir).expect("mkdir target corpus");
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        std::fs::write(target_dir.join(format!("seed-{safe}")), data).expect("write seed");
        written += 1;
    }
    written
}
