//! End-to-end: a fake OP (opk-testkit's stub HTTP server on 127.0.0.1) and a fake browser drive
//! `login_with_browser` through discovery, authorize, the loopback callback and the token exchange.
//! HTTP to the OP goes through the real `opk_http::HttpClient`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use opk_jwks::JwksFetcher as _;
use opk_oidc::{Error, LoginOptions, OidcHttp, ProviderSpec, Tokens, login_with_browser};
use opk_testkit::{Request, Response, StubServer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Serialises tests that bind fixed loopback ports.
fn ports_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------- tiny HTTP helpers (test only)

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).expect("utf8")
}

fn pct_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn parse_params(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

/// Splits `http://host:port/path?query` into (connect address, host header, path+query).
fn split_url(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // The redirect URI says "localhost"; the listener is on 127.0.0.1 (and maybe ::1).
    let connect = authority.replace("localhost", "127.0.0.1");
    (connect, authority.to_owned(), path.to_owned())
}

struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

fn parse_headers(head: &str) -> HashMap<String, String> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// A browser-like GET: one request per connection, read until close.
fn get(url: &str) -> Resp {
    let (connect, host, path) = split_url(url);
    let mut s = TcpStream::connect(&connect).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fake-browser\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read");
    let text = String::from_utf8(all).expect("utf8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    let status = head
        .split(' ')
        .nth(1)
        .expect("status")
        .parse()
        .expect("num");
    Resp {
        status,
        headers: parse_headers(head),
        body: body.to_owned(),
    }
}

// ---------------------------------------------------------------- fake OP

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// The authorize endpoint redirects back with `error=access_denied`.
    Deny,
    /// The ID token carries a different nonce.
    WrongNonce,
    /// Discovery claims an issuer with a trailing slash.
    IssuerSlash,
    /// Discovery claims an issuer with two trailing slashes.
    IssuerDoubleSlash,
    /// Discovery claims someone else's issuer.
    IssuerOther,
}

struct Grant {
    challenge: String,
    redirect_uri: String,
    nonce: String,
}

struct OpState {
    mode: Mode,
    issuer: String,
    client_id: String,
    secret: Option<String>,
    grants: HashMap<String, Grant>,
    next_code: u32,
    token_calls: u32,
    last_authorize: HashMap<String, String>,
}

struct FakeOp {
    issuer: String,
    state: Arc<Mutex<OpState>>,
    _server: StubServer,
}

fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        Base64UrlUnpadded::encode_string(br#"{"alg":"RS256","kid":"k1"}"#),
        Base64UrlUnpadded::encode_string(claims.to_string().as_bytes()),
        Base64UrlUnpadded::encode_string(b"not-a-real-signature")
    )
}

impl FakeOp {
    fn start(mode: Mode, client_id: &str, secret: Option<&str>) -> FakeOp {
        let state = Arc::new(Mutex::new(OpState {
            mode,
            issuer: String::new(),
            client_id: client_id.to_owned(),
            secret: secret.map(str::to_owned),
            grants: HashMap::new(),
            next_code: 0,
            token_calls: 0,
            last_authorize: HashMap::new(),
        }));
        let st = Arc::clone(&state);
        let server = StubServer::start_at(move |base| {
            st.lock().expect("lock").issuer = base.to_owned();
            move |req: &Request| serve_op(req, &st)
        });
        FakeOp {
            issuer: server.base().to_owned(),
            state,
            _server: server,
        }
    }

    fn provider(&self) -> ProviderSpec {
        let st = self.state.lock().expect("lock");
        ProviderSpec {
            issuer: self.issuer.clone(),
            client_id: st.client_id.clone(),
            client_secret: st.secret.clone(),
            scopes: vec!["openid".into(), "email".into()],
        }
    }

    fn token_calls(&self) -> u32 {
        self.state.lock().expect("lock").token_calls
    }

    /// The last authorize request as the OP received it, after checking that it carried each
    /// parameter of `want` with that value.
    fn authorized_with(&self, want: &[(&str, &str)]) -> HashMap<String, String> {
        let a = self.state.lock().expect("lock").last_authorize.clone();
        for (name, value) in want {
            assert_eq!(
                a.get(*name).map(String::as_str),
                Some(*value),
                "{name}: {a:?}"
            );
        }
        a
    }
}

fn serve_op(req: &Request, st: &Mutex<OpState>) -> Response {
    let (method, path, query) = (req.method.as_str(), req.path(), req.query());
    let body = &req.body;
    let mut st = st.lock().expect("lock");
    match (method, path) {
        ("GET", "/.well-known/openid-configuration") => {
            let issuer = match st.mode {
                Mode::IssuerSlash => format!("{}/", st.issuer),
                Mode::IssuerDoubleSlash => format!("{}//", st.issuer),
                Mode::IssuerOther => "https://accounts.google.com".to_owned(),
                _ => st.issuer.clone(),
            };
            let doc = json!({
                "issuer": issuer,
                // An existing query must survive: real OPs (Azure B2C) use one.
                "authorization_endpoint": format!("{}/authorize?tenant=t1", st.issuer),
                "token_endpoint": format!("{}/token", st.issuer),
                "jwks_uri": format!("{}/jwks", st.issuer),
            });
            Response::json(200, &doc.to_string())
        }
        ("GET", "/authorize") => {
            let p = parse_params(query);
            st.last_authorize = p.clone();
            let ok = p.get("tenant").map(String::as_str) == Some("t1")
                && p.get("response_type").map(String::as_str) == Some("code")
                && p.get("client_id") == Some(&st.client_id)
                && p.get("code_challenge_method").map(String::as_str) == Some("S256")
                && p.get("redirect_uri").is_some_and(|r| {
                    r.starts_with("http://localhost:") || r.starts_with("https://relay.example/")
                });
            if !ok {
                return Response::new(400).body("bad authorize request");
            }
            let redirect = &p["redirect_uri"];
            let state = pct_encode(&p["state"]);
            let location = if st.mode == Mode::Deny {
                format!(
                    "{redirect}?error=access_denied&error_description={}&state={state}",
                    pct_encode("The user <b>denied</b> the request")
                )
            } else {
                st.next_code += 1;
                let code = format!("code-{}", st.next_code);
                st.grants.insert(
                    code.clone(),
                    Grant {
                        challenge: p["code_challenge"].clone(),
                        redirect_uri: redirect.clone(),
                        nonce: p["nonce"].clone(),
                    },
                );
                format!("{redirect}?code={code}&state={state}")
            };
            Response::redirect(&location)
        }
        ("POST", "/token") => {
            st.token_calls += 1;
            let form = parse_params(std::str::from_utf8(body).expect("form utf8"));
            let err = |desc: &str| {
                let b = json!({"error": "invalid_grant", "error_description": desc});
                Response::json(400, &b.to_string())
            };
            // Codes are single use.
            let Some(grant) = form.get("code").and_then(|c| st.grants.remove(c)) else {
                return err("unknown code");
            };
            if form.get("grant_type").map(String::as_str) != Some("authorization_code")
                || form.get("client_id") != Some(&st.client_id)
                || form.get("redirect_uri") != Some(&grant.redirect_uri)
                || form.get("client_secret") != st.secret.as_ref()
            {
                return err("client or redirect_uri mismatch");
            }
            let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
            let computed = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
            if verifier.len() < 43 || computed != grant.challenge {
                return err("PKCE verification failed");
            }
            let nonce = if st.mode == Mode::WrongNonce {
                "someone-elses-nonce".to_owned()
            } else {
                grant.nonce
            };
            let id_token = jwt(&json!({
                "iss": st.issuer, "aud": st.client_id, "sub": "user-1",
                "email": "alice@example.com", "nonce": nonce,
            }));
            let b = json!({
                "id_token": id_token, "access_token": "at-1", "refresh_token": "rt-1",
                "token_type": "Bearer", "expires_in": 3600,
            });
            Response::json(200, &b.to_string())
        }
        ("GET", "/jwks") => Response::json(200, r#"{"keys":[]}"#),
        _ => Response::new(404).body("not found"),
    }
}

// ---------------------------------------------------------------- harness

/// The loopback ports, an OP started with `(mode, client_id, secret)`, and a client for it:
/// what every login test here begins with.
fn start(
    mode: Mode,
    client_id: &str,
    secret: Option<&str>,
) -> (MutexGuard<'static, ()>, FakeOp, opk_http::HttpClient) {
    let ports = ports_lock();
    (ports, FakeOp::start(mode, client_id, secret), client())
}

fn client() -> opk_http::HttpClient {
    opk_http::HttpClient::with_roots(opk_http::HttpOptions::default(), &[], None).expect("client")
}

/// Wraps an `OidcHttp` and replaces the PKCE verifier sent to the token endpoint.
struct TamperVerifier<'a>(&'a dyn OidcHttp);

impl OidcHttp for TamperVerifier<'_> {
    fn get_json(&self, url: &str) -> Result<Value, Error> {
        self.0.get_json(url)
    }
    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), Error> {
        let forged = "A".repeat(43);
        let form: Vec<(&str, &str)> = form
            .iter()
            .map(|&(k, v)| {
                if k == "code_verifier" {
                    (k, forged.as_str())
                } else {
                    (k, v)
                }
            })
            .collect();
        self.0.post_form(url, &form)
    }
}

fn opts(ports: &[u16]) -> LoginOptions {
    LoginOptions {
        open_browser: false,
        redirect_ports: ports.to_vec(),
        timeout: Duration::from_secs(20),
        prompt: Some("consent".into()),
        access_type: Some("offline".into()),
        ..LoginOptions::default()
    }
}

/// What the fake browser saw.
struct BrowserLog {
    authorize_url: String,
    login_redirect: Resp,
    not_found: Resp,
    stray: Option<Resp>,
    final_page: Resp,
}

/// Runs the login with a fake browser that: hits `/login` (expects a redirect to the authorize
/// URL), an unknown path, the OP's authorize endpoint, optionally a callback with a wrong state,
/// and finally the real callback.
fn run(
    http: &dyn OidcHttp,
    provider: &ProviderSpec,
    nonce: &str,
    opts: &LoginOptions,
    send_wrong_state_first: bool,
) -> (Result<Tokens, Error>, BrowserLog) {
    let (tx, rx) = mpsc::channel::<String>();
    let browser = thread::spawn(move || {
        let authorize_url = rx.recv().expect("url");
        let p = parse_params(authorize_url.split_once('?').expect("query").1);
        let redirect_uri = p["redirect_uri"].clone();
        let after_scheme = redirect_uri.strip_prefix("http://").expect("loopback http");
        let authority = after_scheme.split('/').next().expect("authority");
        let base = format!("http://{authority}");
        let login_redirect = get(&format!("{base}/login"));
        let not_found = get(&format!("{base}/favicon.ico"));
        let at_op = get(&login_redirect.headers["location"]);
        assert_eq!(at_op.status, 302, "OP authorize failed: {}", at_op.body);
        let callback = at_op.headers["location"].clone();
        let stray = send_wrong_state_first.then(|| {
            let q = parse_params(callback.split_once('?').expect("q").1);
            let mut wrong = format!("{redirect_uri}?state=wrong-state");
            if let Some(code) = q.get("code") {
                wrong.push_str(&format!("&code={code}"));
            }
            let r = get(&wrong);
            let r2 = get(&format!("{redirect_uri}?code=x")); // no state at all
            assert_eq!(r2.status, 400);
            r
        });
        let final_page = get(&callback);
        BrowserLog {
            authorize_url,
            login_redirect,
            not_found,
            stray,
            final_page,
        }
    });
    let result = login_with_browser(http, provider, nonce, opts, &mut |u: &str| {
        tx.send(u.to_owned()).expect("send url")
    });
    let log = browser.join().expect("browser thread");
    (result, log)
}

fn payload_nonce(id_token: &str) -> String {
    let seg = id_token.split('.').nth(1).expect("payload");
    let v: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(seg).expect("b64")).expect("json");
    v["nonce"].as_str().expect("nonce").to_owned()
}

// ---------------------------------------------------------------- tests

#[test]
fn success() {
    let (_g, op, http) = start(Mode::Normal, "client-1", None);
    let (res, log) = run(
        &http,
        &op.provider(),
        "cic-hash-nonce",
        &opts(&[18100, 18101]),
        false,
    );
    let tokens = res.expect("login succeeds");
    assert_eq!(payload_nonce(&tokens.id_token), "cic-hash-nonce");
    assert_eq!(tokens.access_token.as_deref(), Some("at-1"));
    assert_eq!(tokens.refresh_token.as_deref(), Some("rt-1"));
    assert_eq!(op.token_calls(), 1);

    assert_eq!(log.final_page.status, 200);
    assert!(
        log.final_page
            .body
            .contains("You may now close this window")
    );
    assert_eq!(log.login_redirect.status, 302);
    assert_eq!(log.login_redirect.headers["location"], log.authorize_url);
    assert_eq!(log.not_found.status, 404);

    // The authorize request as the OP received it.
    let a = op.authorized_with(&[
        ("redirect_uri", "http://localhost:18100/login-callback"),
        ("scope", "openid email"),
        ("nonce", "cic-hash-nonce"),
        ("prompt", "consent"),
        ("access_type", "offline"),
    ]);
    assert_eq!(a["state"].len(), 43);
    assert_eq!(a["code_challenge"].len(), 43);
    assert!(
        log.authorize_url
            .starts_with(&format!("{}/authorize?tenant=t1&", op.issuer))
    );
    assert!(log.authorize_url.contains("scope=openid%20email"));

    // The listener is closed: the port can be bound again.
    TcpListener::bind((Ipv4Addr::LOCALHOST, 18100)).expect("port released");
}

/// zssh's redirect (`/auth/callback`) and its `-l param=value` extras reach the OP; the
/// default path is then not served.
#[test]
fn callback_path_and_extra_authorize_params() {
    let (_g, op, http) = start(Mode::Normal, "client-1", None);
    let o = LoginOptions {
        callback_path: "/auth/callback".into(),
        extra_params: vec![
            ("audience".into(), "openziti".into()),
            ("login_hint".into(), "a b&c".into()),
        ],
        ..opts(&[18220])
    };
    let (res, log) = run(&http, &op.provider(), "n-1", &o, false);
    res.expect("login succeeds");
    assert_eq!(log.final_page.status, 200);
    op.authorized_with(&[
        ("redirect_uri", "http://localhost:18220/auth/callback"),
        ("audience", "openziti"),
        ("login_hint", "a b&c"),
        ("nonce", "n-1"),
    ]);
}

/// `--remote-redirect-uri`: the OP gets the remote URI in the authorize request and in the code
/// exchange (the fake OP refuses an exchange whose redirect_uri differs from the authorize
/// request's), while the loopback listener still takes the callback a relay forwards to it.
#[test]
fn remote_redirect_uri_goes_to_the_op_and_the_listener_still_answers() {
    let (_g, op, http) = start(Mode::Normal, "client-1", None);
    let remote = "https://relay.example/opk/callback";
    let o = LoginOptions {
        remote_redirect_uri: Some(remote.into()),
        ..opts(&[18240])
    };
    let (tx, rx) = mpsc::channel::<String>();
    let relay = thread::spawn(move || {
        let authorize_url = rx.recv().expect("url");
        let at_op = get(&authorize_url);
        assert_eq!(at_op.status, 302, "OP authorize failed: {}", at_op.body);
        let location = at_op.headers["location"].clone();
        let query = location
            .strip_prefix(&format!("{remote}?"))
            .unwrap_or_else(|| panic!("the OP redirected elsewhere: {location}"));
        // What the remote host does: hand code and state to the loopback listener.
        get(&format!("http://localhost:18240/login-callback?{query}"))
    });
    let tokens = login_with_browser(&http, &op.provider(), "n-remote", &o, &mut |u: &str| {
        tx.send(u.to_owned()).expect("send url")
    })
    .expect("login through the relay");
    let page = relay.join().expect("relay thread");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("You may now close this window"));
    assert_eq!(payload_nonce(&tokens.id_token), "n-remote");
    assert_eq!(op.token_calls(), 1);
    op.authorized_with(&[("redirect_uri", remote)]);

    // Not a URL: refused before the OP is asked or a port is bound.
    let bad = LoginOptions {
        remote_redirect_uri: Some("relay.example/cb".into()),
        ..opts(&[18240])
    };
    let e = login_with_browser(&http, &op.provider(), "n", &bad, &mut |_: &str| {})
        .expect_err("not a URL");
    assert!(matches!(e, Error::RemoteRedirectUri { .. }), "{e}");
    assert_eq!(op.token_calls(), 1);
}

#[test]
fn success_with_client_secret_and_nonce_needing_encoding() {
    let (_g, op, http) = start(Mode::Normal, "client 2&x", Some("s3cr=t+/"));
    let nonce = "n+/= &?#é";
    let (res, log) = run(&http, &op.provider(), nonce, &opts(&[18110]), false);
    let tokens = res.expect("login succeeds");
    assert_eq!(payload_nonce(&tokens.id_token), nonce);
    assert_eq!(log.final_page.status, 200);
}

#[test]
fn op_denies() {
    let (_g, op, http) = start(Mode::Deny, "client-1", None);
    let (res, log) = run(&http, &op.provider(), "n", &opts(&[18120]), false);
    match res {
        Err(Error::Op { error, description }) => {
            assert_eq!(error, "access_denied");
            assert_eq!(
                description.as_deref(),
                Some("The user <b>denied</b> the request")
            );
        }
        other => panic!("expected Op error, got {other:?}"),
    }
    assert!(log.final_page.body.contains("Login failed: access_denied"));
    // Escaped, not rendered.
    assert!(log.final_page.body.contains("&lt;b&gt;denied&lt;/b&gt;"));
    assert!(!log.final_page.body.contains("<b>denied"));
    assert_eq!(op.token_calls(), 0);
}

#[test]
fn wrong_state_then_right_state() {
    let (_g, op, http) = start(Mode::Normal, "client-1", None);
    let (res, log) = run(&http, &op.provider(), "n", &opts(&[18130]), true);
    let stray = log.stray.expect("stray response");
    assert_eq!(stray.status, 400);
    // A stray callback must not burn the code: exactly one exchange, and it succeeded.
    res.expect("login succeeds after a stray callback");
    assert_eq!(op.token_calls(), 1);
    assert_eq!(log.final_page.status, 200);
}

#[test]
fn pkce_mismatch_is_rejected_by_token_endpoint() {
    let (_g, op, http) = start(Mode::Normal, "client-1", None);
    let tamper = TamperVerifier(&http);
    let (res, log) = run(&tamper, &op.provider(), "n", &opts(&[18140]), false);
    match res {
        Err(Error::TokenEndpoint {
            status,
            error,
            description,
        }) => {
            assert_eq!(status, 400);
            assert_eq!(error, "invalid_grant");
            assert_eq!(description.as_deref(), Some("PKCE verification failed"));
        }
        other => panic!("expected TokenEndpoint error, got {other:?}"),
    }
    assert!(log.final_page.body.contains("Login failed"));
    assert!(log.final_page.body.contains("PKCE verification failed"));
}

#[test]
fn nonce_mismatch_is_rejected() {
    let (_g, op, http) = start(Mode::WrongNonce, "client-1", None);
    let (res, log) = run(&http, &op.provider(), "my-nonce", &opts(&[18150]), false);
    assert!(matches!(res, Err(Error::NonceMismatch)), "{res:?}");
    assert!(log.final_page.body.contains("Login failed"));
}

#[test]
fn port_in_use_moves_to_next() {
    let _g = ports_lock();
    let _occupied = TcpListener::bind((Ipv4Addr::LOCALHOST, 18160)).expect("occupy");
    let op = FakeOp::start(Mode::Normal, "client-1", None);
    let http = client();
    let (res, log) = run(&http, &op.provider(), "n", &opts(&[18160, 18161]), false);
    res.expect("login succeeds on the second port");
    let a = parse_params(log.authorize_url.split_once('?').expect("q").1);
    assert_eq!(a["redirect_uri"], "http://localhost:18161/login-callback");
}

#[test]
fn all_ports_in_use() {
    let _g = ports_lock();
    let _a = TcpListener::bind((Ipv4Addr::LOCALHOST, 18170)).expect("occupy");
    let _b = TcpListener::bind((Ipv4Addr::LOCALHOST, 18171)).expect("occupy");
    let op = FakeOp::start(Mode::Normal, "client-1", None);
    let err = login_with_browser(
        &client(),
        &op.provider(),
        "n",
        &opts(&[18170, 18171]),
        &mut |_| panic!("no URL expected"),
    )
    .expect_err("must fail");
    assert!(matches!(err, Error::PortsInUse { .. }), "{err:?}");
    assert!(err.to_string().contains("18170, 18171"), "{err}");
}

#[test]
fn timeout_releases_port() {
    let _g = ports_lock();
    let op = FakeOp::start(Mode::Normal, "client-1", None);
    let mut o = opts(&[18180]);
    o.timeout = Duration::from_millis(600);
    let mut shown = Vec::new();
    let err = login_with_browser(&client(), &op.provider(), "n", &o, &mut |u: &str| {
        shown.push(u.to_owned())
    })
    .expect_err("must time out");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("--disable-browser-open"));
    assert_eq!(shown.len(), 1, "the URL is shown exactly once");
    TcpListener::bind((Ipv4Addr::LOCALHOST, 18180)).expect("port released");
}

#[test]
fn issuer_mismatch_in_discovery() {
    let _g = ports_lock();
    let op = FakeOp::start(Mode::IssuerSlash, "client-1", None);
    let err = login_with_browser(&client(), &op.provider(), "n", &opts(&[18190]), &mut |_| {
        panic!("no URL expected")
    })
    .expect_err("must fail");
    assert!(
        matches!(
            err,
            Error::Discovery(opk_jwks::Error::IssuerMismatch { .. })
        ),
        "{err:?}"
    );
}

/// Login and verify share one discovery: for each spelling of the configured issuer and each
/// issuer the OP declares, both sides accept, or both refuse with the same error. (They once
/// disagreed on `https://x//`: one side stripped every trailing '/', the other only one.)
#[test]
fn login_and_verify_agree_on_the_discovered_issuer() {
    let _g = ports_lock();
    // (what the OP declares, what is appended to its base URL in the config, how both end)
    for (mode, suffix, refusal) in [
        (Mode::Normal, "", None),
        (Mode::Normal, "/", Some("declares issuer")),
        (Mode::IssuerSlash, "/", None),
        (Mode::IssuerSlash, "", Some("declares issuer")),
        (Mode::IssuerOther, "", Some("declares issuer")),
        // Discovery URL <base>//.well-known/…, which this OP does not serve.
        (Mode::IssuerDoubleSlash, "//", Some("HTTP 404")),
    ] {
        let op = FakeOp::start(mode, "client-1", None);
        let mut provider = op.provider();
        provider.issuer.push_str(suffix);
        let case = format!("{} configured, {mode:?} OP", provider.issuer);
        let verify = opk_jwks::HttpJwksFetcher::new(opk_http::HttpOptions::default())
            .fetch(&provider.issuer);
        let login = if refusal.is_none() {
            run(&client(), &provider, "n", &opts(&[18210]), false).0
        } else {
            login_with_browser(&client(), &provider, "n", &opts(&[18210]), &mut |_| {
                panic!("{case}: discovery should have failed")
            })
        };
        match (verify, login, refusal) {
            (Ok(jwks), Ok(_), None) => assert!(jwks.keys().is_empty(), "{case}"),
            (Err(v), Err(l), Some(why)) => {
                assert_eq!(v.to_string(), l.to_string(), "{case}");
                assert!(v.to_string().contains(why), "{case}: {v}");
            }
            (v, l, _) => panic!("{case}: verify gave {v:?}, login gave {l:?}"),
        }
    }
}

#[test]
fn slow_and_garbage_connections_do_not_block_the_callback() {
    let (_g, op, http) = start(Mode::Normal, "client-1", None);
    let (tx, rx) = mpsc::channel::<String>();
    let browser = thread::spawn(move || {
        let url = rx.recv().expect("url");
        let p = parse_params(url.split_once('?').expect("q").1);
        let (connect, _, _) = split_url(&p["redirect_uri"]);
        // An idle pre-connect that never sends anything, and a garbage request.
        let _idle = TcpStream::connect(&connect).expect("idle");
        let mut junk = TcpStream::connect(&connect).expect("junk");
        junk.write_all(b"\x16\x03\x01garbage\r\n\r\n")
            .expect("write");
        let mut answer = String::new();
        let _ = junk.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        // An oversized head.
        let mut big = TcpStream::connect(&connect).expect("big");
        let _ = big.write_all(format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(20_000)).as_bytes());
        let mut answer = String::new();
        let _ = big.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        let at_op = get(&url);
        get(&at_op.headers["location"])
    });
    let res = login_with_browser(
        &http,
        &op.provider(),
        "n",
        &opts(&[18200]),
        &mut |u: &str| tx.send(u.to_owned()).expect("send"),
    );
    let page = browser.join().expect("browser");
    res.expect("login succeeds");
    assert_eq!(page.status, 200);
}
