//! Fixtures shared by the verify tests and benchmarks: an in-process OP that signs ES256 ID
//! tokens, a fake JWKS fetcher that counts fetches, opk's login steps, and a host with real
//! policy files in a temp dir.
#![allow(dead_code, unreachable_pub)]

use base64ct::{Base64UrlUnpadded, Encoding as _};
use std::cell::{Cell, RefCell};
use std::os::unix::fs::PermissionsExt as _;
use std::time::{SystemTime, UNIX_EPOCH};

use opk_jwks::JwksFetcher;
use opk_pktoken::{Cic, Jwks, PkToken, UserSigner};
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert};
use opk_verify::{Error, Log, Request, ServerPaths, verify};
use serde_json::json;

pub const ISS: &str = "https://op.example";

/// The `sub` of every token [`login`] issues.
pub const SUB: &str = "s-1";

/// The system policy row that lets alice@example.com in as `alice`.
pub const ALICE_ROW: &str = "alice alice@example.com https://op.example\n";

pub struct Op {
    pub key: UserSigner,
    pub fetches: Cell<u32>,
    /// What verify passed to [`JwksFetcher::set_env`].
    pub env: RefCell<Vec<(String, String)>>,
    /// What [`JwksFetcher::userinfo`] answers (`None`: it fails), and the tokens it was asked for.
    pub userinfo: RefCell<Option<serde_json::Value>>,
    pub userinfo_tokens: RefCell<Vec<String>>,
}

impl JwksFetcher for Op {
    fn fetch(&self, issuer: &str) -> Result<Jwks, opk_jwks::Error> {
        assert_eq!(issuer, ISS);
        self.fetches.set(self.fetches.get() + 1);
        let mut jwk = self.key.public_jwk().expect("jwk").to_json();
        jwk["kid"] = json!("k1");
        Ok(Jwks::from_json(&json!({"keys": [jwk]})).expect("jwks"))
    }

    fn set_env(&self, vars: &[(String, String)]) {
        *self.env.borrow_mut() = vars.to_vec();
    }

    fn userinfo(
        &self,
        issuer: &str,
        _endpoint: Option<&str>,
        access_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, opk_jwks::Error> {
        self.userinfo_tokens
            .borrow_mut()
            .push(access_token.to_owned());
        match self.userinfo.borrow().clone() {
            Some(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(opk_jwks::Error::NoUserinfo {
                issuer: issuer.to_owned(),
            }),
        }
    }
}

pub fn now() -> SystemTime {
    SystemTime::now()
}

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// A login as opk performs it, against the in-process OP. `email: None` issues a token without
/// `email` (and without `email_verified`).
pub fn login(
    op: &Op,
    alg: KeyAlgorithm,
    principals: Vec<String>,
    email: Option<&str>,
) -> (EphemeralKey, OpkCert) {
    login_with_access_token(op, alg, principals, email, None)
}

/// [`login`] with an access token in the certificate (`openpubkey-act`).
pub fn login_with_access_token(
    op: &Op,
    alg: KeyAlgorithm,
    principals: Vec<String>,
    email: Option<&str>,
    access_token: Option<&str>,
) -> (EphemeralKey, OpkCert) {
    login_patched(op, alg, principals, email, access_token, &json!({}))
}

/// [`login_with_access_token`] with `patch`'s members set over the ID token's claims (`null`
/// removes one).
pub fn login_patched(
    op: &Op,
    alg: KeyAlgorithm,
    principals: Vec<String>,
    email: Option<&str>,
    access_token: Option<&str>,
    patch: &serde_json::Value,
) -> (EphemeralKey, OpkCert) {
    let key = EphemeralKey::generate(alg).expect("key");
    let signer = match alg {
        KeyAlgorithm::EcdsaP256 => {
            UserSigner::from_p256_scalar(&key.secret_bytes()).expect("signer")
        }
        KeyAlgorithm::Ed25519 => UserSigner::from_ed25519_seed(&key.secret_bytes()),
    };
    let cic = Cic::new(&signer.public_jwk().expect("jwk"), [1; 32]).expect("cic");
    let mut claims = json!({"iss": ISS, "aud": "client", "sub": SUB,
                            "nonce": cic.hash(), "iat": unix(now()) - 10, "exp": unix(now()) + 3600});
    if let Some(email) = email {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(true);
    }
    for (name, value) in patch.as_object().expect("patch is an object") {
        match value {
            serde_json::Value::Null => claims.as_object_mut().expect("claims").remove(name),
            v => claims
                .as_object_mut()
                .expect("claims")
                .insert(name.clone(), v.clone()),
        };
    }
    let h = Base64UrlUnpadded::encode_string(
        json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
            .to_string()
            .as_bytes(),
    );
    let p = Base64UrlUnpadded::encode_string(claims.to_string().as_bytes());
    let s = Base64UrlUnpadded::encode_string(&op.key.sign(format!("{h}.{p}").as_bytes()));
    let pkt = PkToken::issue(&format!("{h}.{p}.{s}"), &cic, &signer).expect("pkt");
    let req = CertRequest {
        key_id: email.unwrap_or(SUB).into(),
        principals,
        pk_token: pkt.to_compact(),
        access_token: access_token.map(str::to_owned),
    };
    let cert = OpkCert::issue(&req, &key).expect("cert");
    (key, cert)
}

pub struct Host {
    pub dir: tempfile::TempDir,
    pub paths: ServerPaths,
    /// The audit record [`Host::run_logged`] appends to.
    pub audit: std::path::PathBuf,
}

impl Host {
    pub fn new(auth_id: &str) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
            p
        };
        let paths = ServerPaths {
            providers: write("providers", &format!("{ISS} client 24h\n")),
            auth_id: write("auth_id", auth_id),
            home_policy: false,
            home_via_sudo: None,
            passwd: dir.path().join("passwd"),
            jwks_cache: Some(dir.path().join("jwks")),
            log: Some(dir.path().join("opk.log")),
            config: Some(dir.path().join("config.yml")),
            plugins: None,
            plugin_timeout: std::time::Duration::from_secs(5),
            plugins_until: None,
        };
        let audit = dir.path().join("audit.jsonl");
        Self { dir, paths, audit }
    }

    pub fn run(&self, op: &Op, principal: &str, cert: &OpkCert) -> Result<String, Error> {
        self.run_typed(op, principal, cert, cert.cert_type())
    }

    pub fn run_typed(
        &self,
        op: &Op,
        principal: &str,
        cert: &OpkCert,
        key_type: &str,
    ) -> Result<String, Error> {
        let mut log = Log::open(self.paths.log.as_deref());
        let req = Request {
            principal,
            key_b64: &cert.to_b64(),
            key_type,
            extra_args: &[],
        };
        verify(&self.paths, &req, now(), op, &mut log).map(|a| a.line)
    }

    /// Like [`Host::run`], logging the outcome the way `opk verify` (opk-cli's main) does:
    /// the summary when allowed, `denied: <reason>` otherwise, and the audit record.
    pub fn run_logged(&self, op: &Op, principal: &str, cert: &OpkCert) -> Result<String, Error> {
        self.run_logged_typed(principal, &cert.to_b64(), cert.cert_type(), op)
    }

    /// [`Host::run_logged`] for any offered `%k %t`.
    pub fn run_logged_typed(
        &self,
        principal: &str,
        key_b64: &str,
        key_type: &str,
        op: &Op,
    ) -> Result<String, Error> {
        let mut log = Log::open(self.paths.log.as_deref());
        log.audit_to(&self.audit);
        let req = Request {
            principal,
            key_b64,
            key_type,
            extra_args: &[],
        };
        match verify(&self.paths, &req, now(), op, &mut log) {
            Ok(allowed) => {
                log.line(&allowed.summary);
                log.decision(principal, Ok(&allowed.rule));
                Ok(allowed.line)
            }
            Err(e) => {
                log.line(&format!("denied: {e}"));
                log.decision(principal, Err(&e.to_string()));
                Err(e)
            }
        }
    }

    /// The audit records so far.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
    }

    /// Everything logged so far (empty when nothing was).
    pub fn log(&self) -> String {
        match std::fs::read_to_string(self.paths.log.as_ref().expect("log path")) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => panic!("read log: {e}"),
        }
    }
}

/// alice@example.com logs in with a fresh `alg` key; the certificate has the principal
/// `opkssh-wildcard`.
pub fn alice(op: &Op, alg: KeyAlgorithm) -> (EphemeralKey, OpkCert) {
    login(
        op,
        alg,
        vec!["opkssh-wildcard".into()],
        Some("alice@example.com"),
    )
}

/// The OP whose JWKS the fetcher serves.
pub fn op() -> Op {
    op_with_seed(42)
}

/// An OP signing with the P-256 key whose scalar is `[seed; 32]`. Its fetcher serves its own
/// JWKS, so an `op_with_seed(43)` token checked against `op()` is signed by an impostor.
pub fn op_with_seed(seed: u8) -> Op {
    Op {
        key: UserSigner::from_p256_scalar(&[seed; 32]).expect("op key"),
        fetches: Cell::new(0),
        env: RefCell::new(Vec::new()),
        userinfo: RefCell::new(None),
        userinfo_tokens: RefCell::new(Vec::new()),
    }
}
