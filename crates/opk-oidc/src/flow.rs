//! Authorization code + PKCE (S256) login over a loopback redirect (RFC 6749, 7636, 8252, OIDC).

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use opk_jwks::{Discovery, Endpoint};
use rustix::event::{PollFd, PollFlags, poll};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{IdTokenProblem, TokenResponseProblem};
use crate::pct;
use crate::provider::ProviderSpec;
use crate::request::{ReadError, Request, Response, read_request};
use crate::{Error, OidcHttp};
use opk_http::sanitize;

/// The redirect ports opkssh registers with every OP, tried in this order.
pub(crate) const DEFAULT_REDIRECT_PORTS: &[u16] = &[3000, 10001, 11110];
/// The callback path of the loopback redirect URI.
pub(crate) const CALLBACK_PATH: &str = "/login-callback";
/// A convenience path that redirects to the OP's authorize URL.
pub(crate) const LOGIN_PATH: &str = "/login";

/// Connections being read at once; more are dropped (only local processes can connect, but one
/// should not be able to exhaust our threads).
const MAX_INFLIGHT: usize = 32;
/// How long the acceptor backs off after an unexpected `poll(2)` failure.
const POLL: Duration = Duration::from_millis(20);
/// Longest OP-provided text placed into messages.
const MAX_OP_TEXT: usize = 300;

/// How to run the browser login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOptions {
    /// Launch the system browser (the URL goes to `show_url` either way).
    pub open_browser: bool,
    /// Loopback ports to try, in order; the first free one becomes
    /// `http://localhost:{port}/login-callback`.
    pub redirect_ports: Vec<u16>,
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
    /// The OIDC `prompt` parameter (opkssh's config default is `consent`).
    pub prompt: Option<String>,
    /// Google's `access_type` parameter (opkssh's config default is `offline`).
    pub access_type: Option<String>,
    /// The redirect URI's path (opkssh's `/login-callback`; zssh registers `/auth/callback`).
    pub callback_path: String,
    /// More parameters for the authorize request (zssh's `-l param=value`), after opk's own.
    pub extra_params: Vec<(String, String)>,
    /// opkssh's `--remote-redirect-uri`: the `redirect_uri` sent to the OP (authorize request and
    /// code exchange) instead of the loopback one, for a browser on another machine whose
    /// redirect a server there forwards to the loopback listener (`code` and `state` in the
    /// query of `GET /login-callback`), which still runs.
    pub remote_redirect_uri: Option<String>,
}

impl Default for LoginOptions {
    fn default() -> Self {
        LoginOptions {
            open_browser: true,
            redirect_ports: DEFAULT_REDIRECT_PORTS.to_vec(),
            timeout: Duration::from_secs(300),
            prompt: None,
            access_type: None,
            callback_path: CALLBACK_PATH.to_owned(),
            extra_params: Vec::new(),
            remote_redirect_uri: None,
        }
    }
}

/// Tokens from the token endpoint. `Debug` redacts them.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The ID token (compact JWT). Its signature is NOT verified here; the caller verifies it as
    /// part of the PK Token.
    pub id_token: String,
    /// The OAuth access token, if returned.
    pub access_token: Option<String>,
    /// The refresh token, if returned.
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("Tokens")
            .field("id_token", &"<redacted>")
            .field("access_token", &r(&self.access_token))
            .field("refresh_token", &r(&self.refresh_token))
            .finish()
    }
}

/// The two endpoints used from the discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoints {
    authorization: String,
    token: String,
}

/// Discovery through `http`, with the rules `opk verify` applies ([`opk_jwks::Discovery`]).
pub(crate) fn discovery(http: &dyn OidcHttp, issuer: &str) -> Result<Discovery, Error> {
    let url = opk_jwks::discovery_url(issuer);
    let doc = http.get_json(&url)?;
    Ok(Discovery::from_document(issuer, &url, &doc)?)
}

/// The two endpoints of the code flow.
fn discover(http: &dyn OidcHttp, issuer: &str) -> Result<Endpoints, Error> {
    let discovery = discovery(http, issuer)?;
    Ok(Endpoints {
        authorization: discovery.endpoint(Endpoint::Authorization)?.to_owned(),
        token: discovery.endpoint(Endpoint::Token)?.to_owned(),
    })
}

/// Binds the first port from `ports` that is free on 127.0.0.1 (and on [::1], when IPv6 exists).
///
/// A port whose [::1] side is taken by someone else is skipped: browsers often resolve `localhost`
/// to ::1 first, and the code would then be delivered to that other program.
fn bind_loopback(ports: &[u16]) -> Result<(u16, Vec<TcpListener>), Error> {
    if ports.is_empty() {
        return Err(Error::NoRedirectPorts);
    }
    for &port in ports {
        let v4 = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
            Ok(l) => l,
            Err(_) => continue,
        };
        let mut listeners = vec![v4];
        match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
            Ok(v6) => listeners.push(v6),
            // Someone else serves [::1]:port: a browser preferring ::1 would hand them the code.
            Err(e) if e.kind() == ErrorKind::AddrInUse => continue,
            // Any other failure means no usable IPv6 loopback here; 127.0.0.1 alone is fine.
            Err(_) => {}
        }
        for l in &listeners {
            // Non-blocking: the acceptor drains each listener after `poll(2)` says it is ready.
            l.set_nonblocking(true).map_err(Error::Listener)?;
        }
        return Ok((port, listeners));
    }
    Err(Error::PortsInUse {
        ports: ports.to_vec(),
    })
}

/// A remote redirect URI must be an absolute http(s) URL with a host and no fragment (RFC 6749
/// section 3.1.2). Any host is allowed, as in opkssh: PKCE keeps a code that reaches it useless
/// without the verifier, which never leaves this process.
pub(crate) fn check_remote_redirect_uri(uri: &str) -> Result<(), Error> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"));
    let problem = match rest {
        None => Some("it must start with https:// or http://"),
        Some(r) if r.split(['/', '?']).next().is_none_or(str::is_empty) => Some("it has no host"),
        Some(_) if uri.contains('#') => Some("it has a fragment"),
        Some(_) if uri.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Some("it contains spaces or control characters")
        }
        Some(_) => None,
    };
    match problem {
        Some(reason) => Err(Error::RemoteRedirectUri {
            uri: sanitize(uri, MAX_OP_TEXT),
            reason,
        }),
        None => Ok(()),
    }
}

/// `n` random bytes from the OS, base64url without padding.
fn random_b64(n: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(Error::Random)?;
    Ok(Base64UrlUnpadded::encode_string(&buf))
}

/// RFC 7636 S256 code challenge for `verifier`.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()))
}

/// Appends percent-encoded parameters to `endpoint`, keeping any query it already has.
pub(crate) fn build_url(endpoint: &str, params: &[(&str, &str)]) -> String {
    let mut url = endpoint.to_owned();
    let sep = if !url.contains('?') {
        "?"
    } else if url.ends_with('?') || url.ends_with('&') {
        ""
    } else {
        "&"
    };
    url.push_str(sep);
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", pct::encode(k), pct::encode(v)))
        .collect();
    url.push_str(&query.join("&"));
    url
}

/// Checks that `jwt` is a compact JWS whose payload carries `nonce` (the caller verifies the
/// signature later; this gives an early, clear error for a confused or replaying OP).
pub(crate) fn check_id_token(jwt: &str, nonce: &str) -> Result<(), Error> {
    let segs: Vec<&str> = jwt.split('.').collect();
    if segs.len() != 3 {
        return Err(Error::IdToken(IdTokenProblem::Segments(segs.len())));
    }
    for (i, s) in segs.iter().enumerate() {
        // The signature may not be empty either: `alg: none` tokens are never acceptable.
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::IdToken(IdTokenProblem::SegmentNotBase64url(i + 1)));
        }
    }
    let payload = Base64UrlUnpadded::decode_vec(segs[1])
        .map_err(|_| Error::IdToken(IdTokenProblem::PayloadNotBase64url))?;
    let claims: Value = serde_json::from_slice(&payload)
        .map_err(|_| Error::IdToken(IdTokenProblem::PayloadNotJson))?;
    match claims.get("nonce") {
        Some(Value::String(n)) if n == nonce => Ok(()),
        Some(Value::String(_)) => Err(Error::NonceMismatch),
        Some(_) => Err(Error::IdToken(IdTokenProblem::NonceNotString)),
        None => Err(Error::IdToken(IdTokenProblem::NoNonce)),
    }
}

/// A client's POST to one of the OP's endpoints, with the client secret in the form when the
/// client has one (RFC 6749 section 2.3.1); a non-200 answer is the OP's refusal, which
/// `refused(status, error, description)` makes into the caller's error.
pub(crate) fn client_post<'a>(
    http: &dyn OidcHttp,
    url: &str,
    provider: &'a ProviderSpec,
    mut form: Vec<(&'a str, &'a str)>,
    refused: fn(u16, String, Option<String>) -> Error,
) -> Result<Value, Error> {
    if let Some(secret) = &provider.client_secret {
        form.push(("client_secret", secret));
    }
    let (status, body) = http.post_form(url, &form)?;
    if status != 200 {
        let (error, description) = oauth_error(&body);
        return Err(refused(status, error, description));
    }
    Ok(body)
}

/// Extracts the OAuth `error` and `error_description` from a JSON body.
pub(crate) fn oauth_error(body: &Value) -> (String, Option<String>) {
    let error = body
        .get("error")
        .and_then(Value::as_str)
        .map(|s| sanitize(s, MAX_OP_TEXT))
        .unwrap_or_else(|| "unknown_error".to_owned());
    let desc = body
        .get("error_description")
        .and_then(Value::as_str)
        .map(|s| sanitize(s, MAX_OP_TEXT));
    (error, desc)
}

/// Everything the serve loop needs to answer requests.
struct Session<'a> {
    http: &'a dyn OidcHttp,
    provider: &'a ProviderSpec,
    endpoints: Endpoints,
    nonce: &'a str,
    state: String,
    verifier: String,
    redirect_uri: String,
    authorize_url: String,
    callback_path: &'a str,
}

/// What happened with one request.
enum Outcome {
    /// Keep serving.
    Continue,
    /// The login finished (either way).
    Done(Result<Tokens, Error>),
}

const SUCCESS_TEXT: &str =
    "Login successful. You may now close this window and return to your terminal.";
const FAILED_TAIL: &str = " — you may close this window";

fn failure_page(what: &str) -> Response {
    Response::page(
        200,
        "OK",
        "Login failed",
        &format!("Login failed: {what}{FAILED_TAIL}"),
    )
}

impl Session<'_> {
    /// Answers one request; returns `Done` once a callback with the right state arrived.
    fn handle(&self, req: &Request) -> (Response, Outcome) {
        if req.method != "GET" {
            let r = Response::page(405, "Method Not Allowed", "Method not allowed", "Use GET.");
            return (r, Outcome::Continue);
        }
        match req.path.as_str() {
            LOGIN_PATH => (
                Response::redirect(self.authorize_url.clone()),
                Outcome::Continue,
            ),
            p if p == self.callback_path => self.callback(req.query.as_deref().unwrap_or("")),
            _ => (
                Response::page(404, "Not Found", "Not found", "Nothing here."),
                Outcome::Continue,
            ),
        }
    }

    fn callback(&self, query: &str) -> (Response, Outcome) {
        let stray = || {
            // Could be a stale tab or another local program: refuse, keep waiting, log nothing.
            let r = Response::page(
                400,
                "Bad Request",
                "Invalid login callback",
                "This callback does not belong to the login in progress (missing or wrong state). \
                 Use the link printed in your terminal.",
            );
            (r, Outcome::Continue)
        };
        let Some(params) = pct::parse_query(query) else {
            return stray();
        };
        if pct::get(&params, "state") != Some(self.state.as_str()) {
            return stray();
        }
        if let Some(error) = pct::get(&params, "error") {
            let error = sanitize(error, MAX_OP_TEXT);
            let description = pct::get(&params, "error_description")
                .filter(|d| !d.is_empty())
                .map(|d| sanitize(d, MAX_OP_TEXT));
            let shown = match &description {
                Some(d) => format!("{error}: {d}"),
                None => error.clone(),
            };
            let err = Error::Op { error, description };
            return (failure_page(&shown), Outcome::Done(Err(err)));
        }
        let Some(code) = pct::get(&params, "code").filter(|c| !c.is_empty()) else {
            let r = Response::page(
                400,
                "Bad Request",
                "Invalid login callback",
                "The callback carries neither a code nor an error.",
            );
            return (r, Outcome::Continue);
        };
        match self.exchange(code) {
            Ok(tokens) => (
                Response::page(200, "OK", "Login successful", SUCCESS_TEXT),
                Outcome::Done(Ok(tokens)),
            ),
            Err(e) => {
                let shown = match &e {
                    Error::TokenEndpoint {
                        error, description, ..
                    } => match description {
                        Some(d) => format!("{error}: {d}"),
                        None => error.clone(),
                    },
                    other => other.to_string(),
                };
                (failure_page(&shown), Outcome::Done(Err(e)))
            }
        }
    }

    /// RFC 6749 section 4.1.3 and RFC 7636 section 4.5: trade the code for tokens.
    fn exchange(&self, code: &str) -> Result<Tokens, Error> {
        let form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("client_id", &self.provider.client_id),
            ("code_verifier", &self.verifier),
        ];
        let body = client_post(
            self.http,
            &self.endpoints.token,
            self.provider,
            form,
            |status, error, description| Error::TokenEndpoint {
                status,
                error,
                description,
            },
        )?;
        let tokens = tokens_from(&body)?;
        check_id_token(&tokens.id_token, self.nonce)?;
        Ok(tokens)
    }
}

/// The tokens of a successful token response (RFC 6749 section 5.1); the ID token's nonce is
/// the caller's to check.
pub(crate) fn tokens_from(body: &Value) -> Result<Tokens, Error> {
    let opt = |name: &'static str| -> Result<Option<String>, Error> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::TokenResponse(TokenResponseProblem::NotAString(name))),
        }
    };
    let id_token = opt("id_token")?.ok_or(Error::TokenResponse(TokenResponseProblem::NoIdToken))?;
    Ok(Tokens {
        id_token,
        access_token: opt("access_token")?,
        refresh_token: opt("refresh_token")?,
    })
}

/// OAuth refresh (RFC 6749 section 6, OIDC Core section 12): fresh tokens for `refresh_token`,
/// with the provider's scopes, as openpubkey refreshes. The refreshed ID token carries no nonce
/// (none can be sent); its signature is the caller's to check. An OP that does not rotate the
/// refresh token (Google) keeps the old one working, so it is returned again.
pub fn refresh_tokens(
    http: &dyn OidcHttp,
    provider: &ProviderSpec,
    refresh_token: &str,
) -> Result<Tokens, Error> {
    let endpoints = discover(http, &provider.issuer)?;
    let scope = provider.scopes.join(" ");
    let form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", &provider.client_id),
        ("scope", &scope),
    ];
    let body = client_post(
        http,
        &endpoints.token,
        provider,
        form,
        |status, error, description| Error::RefreshRefused {
            status,
            error,
            description,
        },
    )?;
    let mut tokens = tokens_from(&body)?;
    if tokens.refresh_token.is_none() {
        tokens.refresh_token = Some(refresh_token.to_owned());
    }
    Ok(tokens)
}

/// Runs the browser login against `provider` with `nonce` (opkssh: the CIC hash) and returns the
/// tokens.
///
/// Steps: discovery (issuer must match byte-exactly); bind the first free loopback port;
/// random `state` and PKCE S256 verifier; build the authorize URL; open the browser (or hand the
/// URL to `show_url`); serve `GET /login` (redirect to the OP) and `GET /login-callback` until a
/// callback with the right `state` arrives or `opts.timeout` passes; exchange the code. The
/// listeners are closed when this returns.
///
/// `show_url` always receives the authorize URL (after the browser was launched, if asked).
pub fn login_with_browser(
    http: &dyn OidcHttp,
    provider: &ProviderSpec,
    nonce: &str,
    opts: &LoginOptions,
    show_url: &mut dyn FnMut(&str),
) -> Result<Tokens, Error> {
    provider.validate()?;
    if let Some(uri) = &opts.remote_redirect_uri {
        check_remote_redirect_uri(uri)?;
    }
    let started = Instant::now();
    let endpoints = discover(http, &provider.issuer)?;
    let (port, listeners) = bind_loopback(&opts.redirect_ports)?;
    let redirect_uri = match &opts.remote_redirect_uri {
        Some(remote) => remote.clone(),
        None => format!("http://localhost:{port}{}", opts.callback_path),
    };
    let state = random_b64(32)?;
    let verifier = random_b64(32)?;
    let challenge = pkce_challenge(&verifier);
    let scope = provider.scopes.join(" ");
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &provider.client_id),
        ("redirect_uri", &redirect_uri),
        ("scope", &scope),
        ("state", &state),
        ("nonce", nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(p) = &opts.prompt {
        params.push(("prompt", p));
    }
    if let Some(a) = &opts.access_type {
        params.push(("access_type", a));
    }
    for (k, v) in &opts.extra_params {
        params.push((k, v));
    }
    let authorize_url = build_url(&endpoints.authorization, &params);
    let session = Session {
        http,
        provider,
        endpoints,
        nonce,
        state,
        verifier,
        redirect_uri,
        authorize_url,
        callback_path: &opts.callback_path,
    };

    // The URL is always shown too: on a headless box a browser launch can "succeed" with nothing
    // on screen, and a user may want to finish the login on another device's browser.
    if opts.open_browser {
        let _ = webbrowser::open(&session.authorize_url);
    }
    show_url(&session.authorize_url);

    // The timeout counts from the start, so a slow discovery does not extend it.
    let deadline = started + opts.timeout;
    serve(&session, &listeners, deadline, opts.timeout.as_secs())
}

/// A connection whose request head has been read (or failed to be).
type Incoming = (TcpStream, Result<Request, ReadError>);

/// Accepts connections until a callback finishes the login or `deadline` passes.
///
/// An acceptor thread sleeps in `poll(2)` on the listeners, so a callback is picked up the moment
/// it connects; heads are read on short-lived threads (a browser's idle pre-connect must not block
/// the real request); all decisions and the code exchange happen on this thread, so the exchange
/// runs once.
fn serve(
    session: &Session<'_>,
    listeners: &[TcpListener],
    deadline: Instant,
    timeout_secs: u64,
) -> Result<Tokens, Error> {
    let (tx, rx) = mpsc::channel::<Incoming>();
    // Writing to the pipe wakes the acceptor to end it.
    let (wake_rx, wake_tx) = rustix::pipe::pipe().map_err(|e| Error::Listener(e.into()))?;
    thread::scope(|scope| {
        scope.spawn(move || accept_until_woken(listeners, &wake_rx, &tx));
        let result = answer_requests(session, &rx, deadline, timeout_secs);
        let _ = rustix::io::write(&wake_tx, &[1]);
        result
    })
}

/// Hands every accepted connection to a reader thread until `wake` becomes readable.
fn accept_until_woken(listeners: &[TcpListener], wake: &OwnedFd, tx: &mpsc::Sender<Incoming>) {
    let inflight = Arc::new(AtomicUsize::new(0));
    loop {
        let mut fds: Vec<PollFd<'_>> = listeners
            .iter()
            .map(|l| PollFd::new(l, PollFlags::IN))
            .chain([PollFd::new(wake, PollFlags::IN)])
            .collect();
        if let Err(e) = poll(&mut fds, None) {
            if e != rustix::io::Errno::INTR {
                // Not expected on valid descriptors; do not spin if it happens.
                thread::sleep(POLL);
            }
            continue;
        }
        if fds.last().is_some_and(|w| !w.revents().is_empty()) {
            return;
        }
        for l in listeners {
            loop {
                match l.accept() {
                    Ok((stream, _)) => spawn_reader(stream, tx, &inflight),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // ECONNABORTED, EMFILE and friends are transient: try again next round.
                    Err(_) => break,
                }
            }
        }
    }
}

/// Answers each request head the readers deliver until one finishes the login.
fn answer_requests(
    session: &Session<'_>,
    rx: &mpsc::Receiver<Incoming>,
    deadline: Instant,
    timeout_secs: u64,
) -> Result<Tokens, Error> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout { secs: timeout_secs });
        }
        let (mut stream, req) = match rx.recv_timeout(left) {
            Ok(msg) => msg,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // The acceptor only ends when woken, after this loop: not reachable, but never spin.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                thread::sleep(left);
                continue;
            }
        };
        let resp = match req {
            Ok(req) => {
                let (resp, outcome) = session.handle(&req);
                if let Outcome::Done(result) = outcome {
                    resp.send(&mut stream);
                    linger_close(stream);
                    return result;
                }
                resp
            }
            Err(ReadError::TooLarge) => Response::page(
                431,
                "Request Header Fields Too Large",
                "Request too large",
                "The request head exceeds 16 KiB.",
            ),
            Err(ReadError::Malformed(why)) => {
                Response::page(400, "Bad Request", "Bad request", why)
            }
            Err(ReadError::Gone) => continue,
        };
        resp.send(&mut stream);
        linger_close(stream);
    }
}

fn spawn_reader(mut stream: TcpStream, tx: &mpsc::Sender<Incoming>, inflight: &Arc<AtomicUsize>) {
    if inflight.fetch_add(1, Ordering::SeqCst) >= MAX_INFLIGHT {
        inflight.fetch_sub(1, Ordering::SeqCst);
        return; // dropping the stream closes it
    }
    // Accepted sockets may inherit non-blocking mode on some platforms.
    if stream.set_nonblocking(false).is_err() {
        inflight.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let tx = tx.clone();
    let counter = Arc::clone(inflight);
    let spawned = thread::Builder::new()
        .name("opk-oidc-conn".into())
        .spawn(move || {
            let req = read_request(&mut stream);
            counter.fetch_sub(1, Ordering::SeqCst);
            // The receiver is gone once the login finished; the stream is then simply closed.
            let _ = tx.send((stream, req));
        });
    if spawned.is_err() {
        // The closure never ran, so undo its slot here.
        inflight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Gives a response time to reach the client: closing with unread input would send a RST that
/// can make the client discard the response.
fn linger_close(mut stream: TcpStream) {
    let _ = thread::Builder::new()
        .name("opk-oidc-linger".into())
        .spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut sink = [0u8; 4096];
            let mut drained = 0usize;
            // Bounded so a client that keeps sending cannot keep this thread alive.
            while drained < 64 * 1024 {
                match std::io::Read::read(&mut stream, &mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            Base64UrlUnpadded::encode_string(br#"{"alg":"RS256"}"#),
            Base64UrlUnpadded::encode_string(payload.as_bytes())
        )
    }

    #[test]
    fn pkce_rfc7636_appendix_b() {
        // The worked example from RFC 7636 Appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_values_have_expected_shape() {
        let a = random_b64(32).expect("random");
        let b = random_b64(32).expect("random");
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn build_url_query_handling() {
        let p = [("a", "1 2"), ("b", "x&y")];
        for (endpoint, url) in [
            ("https://op/auth", "https://op/auth?a=1%202&b=x%26y"),
            (
                "https://op/auth?tenant=t",
                "https://op/auth?tenant=t&a=1%202&b=x%26y",
            ),
            ("https://op/auth?", "https://op/auth?a=1%202&b=x%26y"),
            (
                "https://op/auth?t=1&",
                "https://op/auth?t=1&a=1%202&b=x%26y",
            ),
        ] {
            assert_eq!(build_url(endpoint, &p), url, "{endpoint}");
        }
    }

    #[test]
    fn id_token_checks() {
        assert!(check_id_token(&jwt(r#"{"nonce":"n1"}"#), "n1").is_ok());
        assert!(matches!(
            check_id_token(&jwt(r#"{"nonce":"n2"}"#), "n1"),
            Err(Error::NonceMismatch)
        ));
        assert!(matches!(
            check_id_token(&jwt(r#"{}"#), "n1"),
            Err(Error::IdToken(_))
        ));
        assert!(matches!(
            check_id_token(&jwt(r#"{"nonce":1}"#), "1"),
            Err(Error::IdToken(_))
        ));
        assert!(matches!(
            check_id_token(&jwt("not json"), "n"),
            Err(Error::IdToken(_))
        ));
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a..c",
            "a.b.",
            "a+b.c.d",
            "YQ.!!.c2ln",
        ] {
            assert!(
                matches!(check_id_token(bad, "n"), Err(Error::IdToken(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn bind_skips_taken_port() {
        let _g = crate::test_ports_lock();
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let taken_port = taken.local_addr().expect("addr").port();
        let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let free_port = free.local_addr().expect("addr").port();
        drop(free);
        let (port, ls) = bind_loopback(&[taken_port, free_port]).expect("bind");
        assert_eq!(port, free_port);
        assert!(
            ls.iter()
                .all(|l| l.local_addr().expect("addr").ip().is_loopback())
        );
        drop(ls);
        // Released again after drop.
        let (port2, _ls) = bind_loopback(&[free_port]).expect("rebind");
        assert_eq!(port2, free_port);
        assert!(matches!(
            bind_loopback(&[taken_port]),
            Err(Error::PortsInUse { .. })
        ));
        assert!(matches!(bind_loopback(&[]), Err(Error::NoRedirectPorts)));
    }

    #[test]
    fn bind_skips_port_taken_on_ipv6_only() {
        let _g = crate::test_ports_lock();
        // Someone holds [::1]:p but not 127.0.0.1:p. Another process may grab 127.0.0.1:p (or
        // the "free" port) between our checks, so a few fresh tries are allowed.
        for attempt in 1..=5 {
            let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap_or_else(|e| {
                panic!(
                    "this test needs an IPv6 loopback ([::1]): {e}; enable IPv6 on lo (sysctl net.ipv6.conf.lo.disable_ipv6=0)"
                )
            });
            let v6_port = v6.local_addr().expect("addr").port();
            if let Err(e) = TcpListener::bind((Ipv4Addr::LOCALHOST, v6_port)) {
                eprintln!("attempt {attempt}: 127.0.0.1:{v6_port} busy ({e}); retrying");
                continue;
            }
            let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
            let free_port = free.local_addr().expect("addr").port();
            drop(free);
            let (port, ls) = match bind_loopback(&[v6_port, free_port]) {
                Ok(bound) => bound,
                Err(e @ Error::PortsInUse { .. }) => {
                    eprintln!("attempt {attempt}: {e}; retrying");
                    continue;
                }
                Err(e) => panic!("bind: {e}"),
            };
            assert_eq!(port, free_port, "bound a port whose [::1] side is taken");
            // Both loopbacks, on the chosen port.
            let mut addrs: Vec<SocketAddr> =
                ls.iter().map(|l| l.local_addr().expect("addr")).collect();
            addrs.sort();
            assert_eq!(
                addrs,
                [
                    SocketAddr::from((Ipv4Addr::LOCALHOST, free_port)),
                    SocketAddr::from((Ipv6Addr::LOCALHOST, free_port)),
                ]
            );
            drop(v6);
            return;
        }
        panic!("no port free on 127.0.0.1 whose [::1] side we hold, after 5 tries");
    }

    #[test]
    fn remote_redirect_uris_must_be_absolute_http_urls() {
        for ok in [
            "https://termix.example/opk/callback",
            "http://10.0.0.5:8080/cb?x=1",
            "https://h",
        ] {
            assert!(check_remote_redirect_uri(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("termix.example/cb", "https://"),
            ("ftp://h/cb", "https://"),
            ("https:///cb", "no host"),
            ("https://?x", "no host"),
            ("https://h/cb#frag", "fragment"),
            ("https://h/c b", "spaces"),
        ] {
            let e = check_remote_redirect_uri(bad).expect_err(bad);
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn tokens_debug_redacts() {
        let t = Tokens {
            id_token: "eyJsecret".into(),
            access_token: Some("at-secret".into()),
            refresh_token: None,
        };
        let d = format!("{t:?}");
        assert!(!d.contains("secret"), "{d}");
    }
}
