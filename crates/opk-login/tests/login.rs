//! The whole login in-process: an in-memory OP (discovery, token endpoint, JWKS, ES256 ID
//! tokens), a fake browser that follows the loopback redirect, and a fixed clock. The written
//! certificate must pass `opk verify` at that clock's time.

use std::cell::Cell;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use opk_login::{
    Error, JwksFetcher, LoginOptions, LoginRequest, OidcHttp, ProviderEntry, ProviderSpec,
};
use opk_pktoken::{Jwks, UserSigner};
use opk_sshcert::{EphemeralKey, KeyAlgorithm, OpkCert, WILDCARD_PRINCIPAL};
use serde_json::{Value, json};

const ISS: &str = "https://op.example";
const CLIENT: &str = "client-1";
/// When the fake OP issues its tokens (2023-11-14): far from the real clock, so a login that
/// read the system clock instead of the one it was given would fail the 24h self-check.
const ISSUED_AT: u64 = 1_700_000_000;

struct FakeOp {
    key: UserSigner,
    /// The nonce of the authorize request the fake browser saw.
    nonce: Mutex<Option<String>>,
    token_calls: AtomicU32,
    jwks_calls: AtomicU32,
    /// The kid of the OP key in the first JWKS answer ("k1" signs; another one is a key the OP
    /// rotated away from during the login).
    first_kid: &'static str,
    /// The answers to refresh requests, in order: an HTTP status (200 = fresh tokens). The code
    /// exchange returns a refresh token only when this is not empty.
    refreshes: Mutex<Vec<u16>>,
    /// The refresh token issued last.
    issued_refresh: Mutex<String>,
}

impl FakeOp {
    fn new() -> Self {
        let secret = EphemeralKey::generate(KeyAlgorithm::EcdsaP256)
            .expect("op key")
            .secret_bytes();
        FakeOp {
            key: UserSigner::from_p256_scalar(&secret).expect("signer"),
            nonce: Mutex::new(None),
            token_calls: AtomicU32::new(0),
            jwks_calls: AtomicU32::new(0),
            first_kid: "k1",
            refreshes: Mutex::new(Vec::new()),
            issued_refresh: Mutex::new("rt-1".into()),
        }
    }

    fn id_token(&self, nonce: &str) -> String {
        self.sign(json!({
            "iss": ISS, "aud": CLIENT, "sub": "user-1", "email": "alice@example.com",
            "email_verified": true, "nonce": nonce,
            "iat": ISSUED_AT, "exp": ISSUED_AT + 3600,
        }))
    }

    fn sign(&self, claims: Value) -> String {
        let h = Base64UrlUnpadded::encode_string(
            json!({"alg": "ES256", "kid": "k1", "typ": "JWT"})
                .to_string()
                .as_bytes(),
        );
        let p = Base64UrlUnpadded::encode_string(claims.to_string().as_bytes());
        let s = Base64UrlUnpadded::encode_string(&self.key.sign(format!("{h}.{p}").as_bytes()));
        format!("{h}.{p}.{s}")
    }
}

impl OidcHttp for FakeOp {
    fn get_json(&self, url: &str) -> Result<Value, opk_oidc::Error> {
        assert_eq!(url, format!("{ISS}/.well-known/openid-configuration"));
        Ok(json!({
            "issuer": ISS,
            "authorization_endpoint": format!("{ISS}/authorize"),
            "token_endpoint": format!("{ISS}/token"),
            "jwks_uri": format!("{ISS}/jwks"),
        }))
    }

    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), opk_oidc::Error> {
        assert_eq!(url, format!("{ISS}/token"));
        self.token_calls.fetch_add(1, Ordering::SeqCst);
        let field = |name: &str| form.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        if field("grant_type") == Some("refresh_token") {
            assert_eq!(field("client_id"), Some(CLIENT));
            let n = self.token_calls.load(Ordering::SeqCst) as u64;
            let mut issued = self.issued_refresh.lock().expect("lock");
            assert_eq!(field("refresh_token"), Some(issued.as_str()));
            let status = self.refreshes.lock().expect("lock").remove(0);
            if status != 200 {
                return Ok((status, json!({"error": "invalid_grant"})));
            }
            let fresh = self.sign(json!({
                "iss": ISS, "aud": CLIENT, "sub": "user-1", "email": "alice@example.com",
                "iat": ISSUED_AT + 3000 * n, "exp": ISSUED_AT + 3000 * n + 3600,
            }));
            // A rotating OP: each answer carries the next refresh token.
            *issued = format!("rt-{n}");
            return Ok((200, json!({"id_token": fresh, "refresh_token": *issued})));
        }
        assert_eq!(field("code"), Some("code-1"));
        assert_eq!(field("client_id"), Some(CLIENT));
        let nonce = self
            .nonce
            .lock()
            .expect("lock")
            .clone()
            .expect("authorize seen");
        let mut body = json!({"id_token": self.id_token(&nonce), "access_token": "at-1", "token_type": "Bearer"});
        if !self.refreshes.lock().expect("lock").is_empty() {
            body["refresh_token"] = json!("rt-1");
        }
        Ok((200, body))
    }
}

impl JwksFetcher for FakeOp {
    fn fetch(&self, issuer: &str) -> Result<Jwks, opk_jwks::Error> {
        assert_eq!(issuer, ISS);
        let first = self.jwks_calls.fetch_add(1, Ordering::SeqCst) == 0;
        let mut jwk = self.key.public_jwk().expect("jwk").to_json();
        jwk["kid"] = json!(if first { self.first_kid } else { "k1" });
        Ok(Jwks::from_json(&json!({"keys": [jwk]})).expect("jwks"))
    }
}

fn pct_decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                out.push(u8::from_str_radix(&hex, 16).expect("hex"));
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).expect("utf8")
}

/// The query parameter `name` of `url`.
fn param(url: &str, name: &str) -> String {
    let query = url.split_once('?').expect("query").1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .map(pct_decode)
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// What a browser does after the OP approved: follow the redirect to the loopback callback.
fn browser_returns(authorize_url: &str) -> thread::JoinHandle<String> {
    let redirect = param(authorize_url, "redirect_uri");
    let state = param(authorize_url, "state");
    thread::spawn(move || {
        let rest = redirect
            .strip_prefix("http://localhost:")
            .expect("loopback redirect");
        let (port, path) = rest.split_at(rest.find('/').expect("path"));
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port.parse::<u16>().expect("port")))
            .expect("connect");
        write!(
            s,
            "GET {path}?code=code-1&state={state} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut page = String::new();
        s.read_to_string(&mut page).expect("read");
        page
    })
}

/// Three loopback ports free right now, for the redirect listener.
fn free_ports() -> Vec<u16> {
    let held: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Runs `opk_login::login` against `op` with the clock fixed at `clock`; returns the result and
/// how often the clock was read.
fn run(
    op: &FakeOp,
    clock: SystemTime,
    alg: KeyAlgorithm,
    principals: Option<Vec<String>>,
    send_access_token: bool,
) -> (Result<opk_login::Login, Error>, u32) {
    let provider = ProviderSpec {
        issuer: ISS.into(),
        client_id: CLIENT.into(),
        client_secret: None,
        scopes: vec!["openid".into(), "email".into()],
    };
    let oidc = LoginOptions {
        redirect_ports: free_ports(),
        ..opk_login::oidc_options(
            &ProviderEntry::with_defaults(provider.clone()),
            false,
            Duration::from_secs(30),
        )
    };
    let req = LoginRequest {
        provider: &provider,
        key_algorithm: alg,
        oidc: &oidc,
        principals,
        send_access_token,
    };
    let reads = Cell::new(0);
    let now = || {
        reads.set(reads.get() + 1);
        clock
    };
    let mut browser = None;
    let mut show_url = |url: &str| {
        assert_eq!(param(url, "prompt"), "consent");
        *op.nonce.lock().expect("lock") = Some(param(url, "nonce"));
        browser = Some(browser_returns(url));
    };
    let result = opk_login::login(&req, op, op, &now, &mut show_url);
    let page = browser.expect("URL shown").join().expect("browser");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    (result, reads.get())
}

/// (token endpoint calls, JWKS fetches) so far.
fn calls(op: &FakeOp) -> (u32, u32) {
    let count = |c: &AtomicU32| c.load(Ordering::SeqCst);
    (count(&op.token_calls), count(&op.jwks_calls))
}

#[test]
fn keys_fetched_during_the_browser_step_are_fetched_again_when_they_lack_the_token_kid() {
    let op = FakeOp {
        first_kid: "rotated-away",
        ..FakeOp::new()
    };
    let (login, _) = run(
        &op,
        at(ISSUED_AT + 60),
        KeyAlgorithm::EcdsaP256,
        None,
        false,
    );
    login.expect("login after the OP rotated its keys");
    assert_eq!(calls(&op), (1, 2));
}

/// A server host in a temp dir that trusts the fake OP and lets alice in as `alice`.
fn verify_at(
    dir: &std::path::Path,
    op: &FakeOp,
    cert: &OpkCert,
    now: SystemTime,
) -> Result<String, opk_verify::Error> {
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        p
    };
    let paths = opk_verify::ServerPaths {
        providers: write("providers", &format!("{ISS} {CLIENT} 24h\n")),
        auth_id: write("auth_id", &format!("alice alice@example.com {ISS}\n")),
        home_policy: false,
        home_via_sudo: None,
        passwd: dir.join("passwd"),
        jwks_cache: None,
        log: None,
        config: Some(dir.join("config.yml")),
        plugins: None,
        plugin_timeout: Duration::from_secs(5),
        plugins_until: None,
    };
    let req = opk_verify::Request {
        principal: "alice",
        key_b64: &cert.to_b64(),
        key_type: cert.cert_type(),
        extra_args: &[],
    };
    let mut log = opk_verify::Log::open(None);
    opk_verify::verify(&paths, &req, now, op, &mut log).map(|a| a.line)
}

#[test]
fn written_certificate_verifies_at_the_given_clock() {
    let op = FakeOp::new();
    let clock = at(ISSUED_AT + 60);
    let (login, reads) = run(&op, clock, KeyAlgorithm::EcdsaP256, None, false);
    let login = login.expect("login");
    assert!(reads >= 1, "the self-check must read the given clock");
    assert_eq!(calls(&op), (1, 1));

    // --print-id-token: opkssh's `id_token:` line, then every claim of the token, pretty.
    let text = login.id_token_text();
    let json = text.strip_prefix("id_token:\n").expect("id_token: line");
    let shown: Value = serde_json::from_str(json).expect("JSON");
    assert_eq!(&shown, &Value::Object(login.pk_token.claims().clone()));
    assert_eq!(shown["aud"], CLIENT);
    assert!(
        json.contains("\n  \"email\": \"alice@example.com\""),
        "{json}"
    );

    let home = tempfile::tempdir().expect("home");
    let provider = ProviderSpec {
        issuer: ISS.into(),
        client_id: CLIENT.into(),
        client_secret: None,
        scopes: vec!["openid".into()],
    };
    let loc = opk_login::key_location(home.path(), None, KeyAlgorithm::EcdsaP256, &provider)
        .expect("location");
    opk_login::check_location(&loc, false, false).expect("writable");
    assert_eq!(loc.key, home.path().join(".ssh/id_ecdsa"));
    login.write(&loc).expect("write");

    let line = std::fs::read_to_string(&loc.cert).expect("cert file");
    let cert = OpkCert::from_line(line.trim_end()).expect("cert line");
    assert_eq!(cert.principals(), [WILDCARD_PRINCIPAL]);
    assert_eq!(cert.key_id(), "alice@example.com");
    let pem = std::fs::read_to_string(&loc.key).expect("key file");
    let key = EphemeralKey::from_openssh_pem(&pem).expect("key");
    assert_eq!(key.public_key(), cert.public_key());

    let host = tempfile::tempdir().expect("host");
    let allowed = verify_at(host.path(), &op, &cert, clock).expect("verify accepts the login");
    assert!(
        allowed.starts_with("cert-authority,principals=\"opkssh-wildcard\" "),
        "{allowed}"
    );
    // The same certificate a day later is refused: the token's age is judged by the clock.
    let later = verify_at(host.path(), &op, &cert, at(ISSUED_AT + 2 * 86_400));
    assert!(later.is_err(), "{later:?}");
}

#[test]
fn self_check_uses_the_given_clock() {
    let op = FakeOp::new();
    // Two days after the token was issued: the 24h self-check must refuse it.
    let (login, reads) = run(
        &op,
        at(ISSUED_AT + 2 * 86_400),
        KeyAlgorithm::Ed25519,
        None,
        false,
    );
    assert!(reads >= 1);
    match login {
        Err(e @ Error::PkToken(_)) => {
            let cause = std::error::Error::source(&e).expect("cause").to_string();
            assert!(!e.to_string().contains(&cause), "cause said twice: {e}");
        }
        other => panic!(
            "expected an expired PK Token, got {:?}",
            other.map(|l| l.identity())
        ),
    }
}

#[test]
fn bad_principals_fail_before_the_op_is_asked() {
    let op = FakeOp::new();
    let provider = ProviderSpec {
        issuer: ISS.into(),
        client_id: CLIENT.into(),
        client_secret: None,
        scopes: vec!["openid".into()],
    };
    let oidc = opk_login::oidc_options(
        &ProviderEntry::with_defaults(provider.clone()),
        false,
        Duration::from_secs(1),
    );
    let req = LoginRequest {
        provider: &provider,
        key_algorithm: KeyAlgorithm::EcdsaP256,
        oidc: &oidc,
        principals: Some(vec!["alice".into(), "guest root".into()]),
        send_access_token: false,
    };
    let never = || -> SystemTime { panic!("no clock needed") };
    let mut no_url = |_: &str| panic!("no browser for a refused principal");
    let err = opk_login::login(&req, &op, &op, &never, &mut no_url)
        .err()
        .expect("refused");
    assert!(matches!(err, Error::Principal(_)), "{err}");
    assert_eq!(op.token_calls.load(Ordering::SeqCst), 0);
}

#[test]
fn principals_and_access_token_reach_the_certificate() {
    let op = FakeOp::new();
    // `--principals alice,,dev`: the empty entry is dropped, as opkssh does.
    let principals = Some(vec!["alice".into(), String::new(), "dev".into()]);
    let (login, _) = run(
        &op,
        at(ISSUED_AT + 60),
        KeyAlgorithm::Ed25519,
        principals,
        true,
    );
    let login = login.expect("login");
    assert_eq!(login.cert.principals(), ["alice", "dev"]);
    assert_eq!(login.cert.access_token(), Some("at-1"));
    assert_eq!(login.key.algorithm(), KeyAlgorithm::Ed25519);
}

/// `--auto-refresh`'s loop against the fake OP: each refresh appends a signed refreshed ID token
/// to the same PK Token and certifies the same key; HTTP 503 answers are retried with a doubling
/// pause; a refusal (400 invalid_grant) ends the loop at once; a run of failures ends it after
/// the allowed retries; no refresh token at all is refused before any wait. Fails if the loop
/// spins, retries a refusal, never gives up, or builds a certificate for another key.
#[test]
fn auto_refresh_appends_refreshed_tokens_and_gives_up_boundedly() {
    let provider = ProviderSpec {
        issuer: ISS.into(),
        client_id: CLIENT.into(),
        client_secret: None,
        scopes: vec!["openid".into(), "email".into()],
    };
    let settings = opk_login::RefreshSettings::default();
    let clock = at(ISSUED_AT + 60);
    let go = |answers: Vec<u16>| {
        let op = FakeOp::new();
        *op.refreshes.lock().expect("lock") = answers;
        let (login, _) = run(&op, clock, KeyAlgorithm::EcdsaP256, None, false);
        let login = login.expect("login");
        let original = login.pk_token.to_compact();
        let key = login.key.public_key();
        let mut slept = Vec::new();
        let mut seen: Vec<(String, i64)> = Vec::new();
        let stopped = opk_login::keep_refreshed(
            login,
            &op,
            &op,
            &provider,
            false,
            &settings,
            &|| clock,
            &mut |d| slept.push(d.as_secs()),
            &mut |r| {
                assert_eq!(r.login.cert.public_key(), key, "another key certified");
                seen.push((r.login.pk_token.to_compact(), r.expires));
                Ok(())
            },
        )
        .expect_err("the loop only ends with a reason");
        (stopped, original, slept, seen)
    };

    let (stopped, original, slept, seen) = go(vec![200, 503, 503, 200, 400]);
    assert!(
        matches!(&stopped, Error::RefreshFailed { attempts: 1, source } if source.is_final_refusal()),
        "{stopped}"
    );
    // The first wait: a minute before exp; 1 s and 2 s between the 503s; then a minute before
    // each refreshed token's exp (the fixed clock makes those long).
    assert_eq!(slept[..4], [3600 - 60 - 60, 3600 + 6000 - 60 - 60, 1, 2]);
    assert_eq!(seen.len(), 2);
    for (i, (compact, expires)) in seen.iter().enumerate() {
        let (head, fresh) = compact.split_once('.').expect("refreshed part");
        assert_eq!(head, original, "the original PK Token must stay");
        assert_eq!(fresh.split('.').count(), 3);
        let n = [2, 5][i];
        assert_eq!(*expires, (ISSUED_AT + 3000 * n + 3600) as i64);
    }

    let (stopped, _, slept, seen) = go(vec![503; 6]);
    assert!(
        matches!(stopped, Error::RefreshFailed { attempts: 5, .. }),
        "{stopped}"
    );
    assert_eq!(slept[1..], [1, 2, 4, 8]);
    assert!(seen.is_empty());

    // No refresh token from the code exchange: refused before any wait.
    let (e, _, slept, seen) = go(Vec::new());
    assert!(slept.is_empty() && seen.is_empty());
    assert!(matches!(e, Error::NoRefreshToken), "{e}");
}
