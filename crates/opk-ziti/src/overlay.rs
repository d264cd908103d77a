//! The overlay as an SSH transport (`opk zssh`): on first use it authenticates to the controller
//! with the identity's certificate (answering a TOTP query when the auth policy asks for one),
//! finds the service, gets a Dial session, says hello to an edge router, and then dials the
//! target identity's addressable terminator for each connection the SSH client opens.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use opk_ssh::{BoxStream, ConnectFuture, Transport};
use tokio::sync::OnceCell;

use crate::{ApiSession, Controller, Error, Identity, RouterChannel, Service};

/// Where a TOTP code comes from when the controller asks for one.
#[derive(Debug, Clone)]
pub enum TotpSource {
    /// Ask on the terminal (`/dev/tty`), never on stdout.
    Prompt,
    /// Run this shell command; its first line of output is the code (for scripts and CI).
    Command(String),
}

/// How the overlay is authenticated to.
#[derive(Clone)]
pub enum Credential {
    /// An enrolled identity file (its certificate), and an OIDC token to present as the
    /// external-JWT secondary factor when given.
    IdentityFile {
        /// The identity file.
        path: PathBuf,
        /// The OIDC token, sent with every controller request.
        ext_jwt: Option<String>,
    },
    /// No identity file (zssh's `--oidcOnly`): the OIDC token is the primary factor at the
    /// controller, and an API-session certificate stands in for the identity certificate with
    /// the edge routers.
    OidcOnly {
        /// The controller (`host:port` or an https URL).
        controller: String,
        /// The OIDC token.
        jwt: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::IdentityFile { path, ext_jwt } => f
                .debug_struct("IdentityFile")
                .field("path", path)
                .field("ext_jwt", &ext_jwt.as_ref().map(|_| "<redacted>"))
                .finish(),
            Self::OidcOnly { controller, .. } => f
                .debug_struct("OidcOnly")
                .field("controller", controller)
                .finish_non_exhaustive(),
        }
    }
}

/// How to reach services over the overlay.
#[derive(Debug, Clone)]
pub struct OverlayOptions {
    /// How to authenticate.
    pub credential: Credential,
    /// The service whose terminators are the SSH servers.
    pub service: String,
    /// Where TOTP codes come from.
    pub totp: TotpSource,
    /// Bound on each controller request.
    pub timeout: Duration,
    /// Say each API-session refresh on stderr (zssh's `-d`).
    pub debug: bool,
}

struct Ready {
    // Keeps the API session alive while connections are open; aborted with the transport.
    _refresh: AbortOnDrop,
    channel: RouterChannel,
    session_token: String,
    caller: String,
    encrypted: bool,
}

/// An [`opk_ssh::Transport`] whose `connect(host, _)` dials terminator identity `host`.
pub struct OverlayTransport {
    options: OverlayOptions,
    ready: OnceCell<Arc<Ready>>,
}

impl std::fmt::Debug for OverlayTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverlayTransport")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl OverlayTransport {
    /// Nothing happens until the first connect.
    pub fn new(options: OverlayOptions) -> Self {
        Self {
            options,
            ready: OnceCell::new(),
        }
    }

    async fn ready(&self) -> Result<Arc<Ready>, Error> {
        self.ready
            .get_or_try_init(|| async {
                let options = self.options.clone();
                // The controller client is blocking (and may prompt for a code): off the runtime.
                let (identity, ctrl, api, service, token, routers) =
                    tokio::task::spawn_blocking(move || login(&options))
                        .await
                        .map_err(|_| Error::ConnectionClosed)??;
                let refresh = AbortOnDrop(tokio::spawn(keep_alive(
                    ctrl,
                    api.clone(),
                    self.options.debug,
                )));
                let tls = crate::tls_config(&identity)?;
                let channel = connect_first(&routers, &tls, &api, &service.name).await?;
                Ok(Arc::new(Ready {
                    _refresh: refresh,
                    channel,
                    session_token: token,
                    caller: api.identity_name.clone(),
                    encrypted: service.encryption_required,
                }))
            })
            .await
            .cloned()
    }
}

type LoggedIn = (
    Identity,
    Arc<Controller>,
    ApiSession,
    Service,
    String,
    Vec<String>,
);

/// Authenticates as `credential` says and answers the controller's TOTP query from `totp` when
/// the identity has MFA: an API session ready for use, and the identity to present to edge
/// routers (the identity file, or in OIDC-only mode a fresh key with an API-session
/// certificate, made once the session is complete).
pub fn authenticate(
    credential: &Credential,
    totp: &TotpSource,
    timeout: Duration,
) -> Result<(Identity, Controller, ApiSession), Error> {
    match credential {
        Credential::IdentityFile { path, ext_jwt } => {
            let identity = Identity::load(path)?;
            let mut ctrl = Controller::new(&identity, timeout)?;
            if let Some(jwt) = ext_jwt {
                ctrl = ctrl.with_bearer(jwt);
            }
            let api = ctrl.authenticate_cert()?;
            let api = complete(&ctrl, api, totp)?;
            Ok((identity, ctrl, api))
        }
        Credential::OidcOnly { controller, jwt } => {
            check_token_time(jwt, now())?;
            let ctrl = Controller::without_identity(controller, timeout)?.with_bearer(jwt);
            let api = match ctrl.authenticate_ext_jwt() {
                Ok(api) => api,
                Err(Error::Controller {
                    status: 400..=499,
                    message,
                    ..
                }) => {
                    return Err(Error::OidcTokenRefused {
                        controller: controller.clone(),
                        message,
                    });
                }
                Err(Error::ControllerRequest { url, source })
                    if opk_http::tls_problem(&source).is_some() =>
                {
                    return Err(Error::ControllerCertificate {
                        problem: opk_http::tls_problem(&source)
                            .unwrap_or(opk_http::TlsProblem::Other),
                        url,
                    });
                }
                Err(e) => return Err(e),
            };
            let api = complete(&ctrl, api, totp)?;
            let ca_pem = ctrl.ca_bundle()?;
            let (key_pem, csr) =
                crate::enroll::key_and_request(&format!("opk-{}", api.identity_id))?;
            let cert_pem = ctrl.api_session_certificate(&api, &csr)?;
            let identity = Identity::from_pems(
                &format!("the API-session certificate of {}", api.identity_name),
                ctrl.base().to_owned(),
                cert_pem,
                key_pem,
                ca_pem,
            )?;
            Ok((identity, ctrl, api))
        }
    }
}

/// The session once the controller's further queries are answered: TOTP from `totp`; an
/// external-JWT query still open means no (or no accepted) OIDC token came with it.
fn complete(
    ctrl: &Controller,
    mut api: ApiSession,
    totp: &TotpSource,
) -> Result<ApiSession, Error> {
    if api.ext_jwt_required {
        return Err(Error::ExtJwtRequired {
            identity: api.identity_name,
        });
    }
    if api.mfa_required {
        let code = totp_code(totp, &api.identity_name)?;
        ctrl.answer_mfa(&mut api, &code)?;
    }
    Ok(api)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Refuses a token that is not a JWT or whose `exp` is past at `now`, before it is sent: the
/// controller's refusal would not say why.
fn check_token_time(jwt: &str, now: u64) -> Result<(), Error> {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    let bad = |problem| Error::OidcTokenMalformed { problem };
    let mut parts = jwt.trim().split('.');
    let (Some(_), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not three base64url parts"));
    };
    let claims = Base64UrlUnpadded::decode_vec(claims).map_err(|_| bad("claims not base64url"))?;
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&claims).map_err(|_| bad("claims not a JSON object"))?;
    match claims.get("exp").and_then(serde_json::Value::as_u64) {
        Some(exp) if exp <= now => Err(Error::OidcTokenExpired { seconds: now - exp }),
        _ => Ok(()),
    }
}

fn login(options: &OverlayOptions) -> Result<LoggedIn, Error> {
    let (identity, ctrl, api) = authenticate(&options.credential, &options.totp, options.timeout)?;
    let service = ctrl
        .service(&api, &options.service)?
        .ok_or_else(|| Error::NoService {
            service: options.service.clone(),
            identity: api.identity_name.clone(),
        })?;
    let session = ctrl.dial_session(&api, &service)?;
    let routers = session.tls_routers();
    Ok((
        identity,
        Arc::new(ctrl),
        api,
        service,
        session.token,
        routers,
    ))
}

/// The OP's ID token inside an opk certificate (`opk login`'s `KEY-cert.pub`, whose PK Token
/// carries it): one browser sign-in serves both the SSH certificate and the overlay's
/// external-JWT factor. The controller checks its signature, issuer, audience and expiry.
pub fn id_token_from_opk_cert(path: &Path) -> Result<String, Error> {
    let bad = |problem| Error::OidcCert {
        path: path.to_owned(),
        problem,
    };
    let line = std::fs::read_to_string(path).map_err(|_| bad("cannot be read"))?;
    let cert = opk_sshcert::OpkCert::from_line(line.lines().next().unwrap_or_default())
        .map_err(|_| bad("is not an SSH certificate line"))?;
    let pkt = cert
        .pk_token()
        .ok_or(bad("carries no PK Token (not made by `opk login`)"))?;
    let pkt =
        opk_pktoken::PkToken::from_compact(pkt).map_err(|_| bad("holds a malformed PK Token"))?;
    Ok(pkt.id_token())
}

/// A channel to the first of `routers` that accepts our hello.
pub(crate) async fn connect_first(
    routers: &[String],
    tls: &Arc<tokio_rustls::rustls::ClientConfig>,
    api: &ApiSession,
    service: &str,
) -> Result<RouterChannel, Error> {
    let mut last = None;
    for router in routers {
        match RouterChannel::connect(router, tls.clone(), &api.identity_name, &api.token).await {
            Ok(channel) => return Ok(channel),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(Error::NoRouter {
        service: service.to_owned(),
    }))
}

/// Aborts its task when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When to refresh a session that lasts `seconds` more: 10 s before it ends (as the Go SDK), or
/// halfway for short ones; never busier than once a second.
pub fn refresh_after(seconds: u64) -> Duration {
    let wait = if seconds > 20 {
        seconds - 10
    } else {
        seconds / 2
    };
    Duration::from_secs(wait.max(1))
}

/// Refreshes the API session before it expires, for as long as the transport lives: the
/// controller ends an expired session's circuits, which would cut a long SSH session. A failed
/// refresh is said on stderr and retried soon after.
pub(crate) async fn keep_alive(ctrl: Arc<Controller>, api: ApiSession, debug: bool) {
    let mut wait = refresh_after(api.expiration_seconds.unwrap_or(1800));
    loop {
        tokio::time::sleep(wait).await;
        let (ctrl2, api2) = (ctrl.clone(), api.clone());
        match tokio::task::spawn_blocking(move || ctrl2.refresh(&api2)).await {
            Ok(Ok(left)) => {
                if debug {
                    eprintln!(
                        "opk: refreshed the OpenZiti API session of {} (timeout {} s)",
                        api.identity_name,
                        left.map_or_else(|| "unknown".to_owned(), |s| s.to_string())
                    );
                }
                wait = refresh_after(left.unwrap_or(1800));
            }
            Ok(Err(e)) => {
                eprintln!("opk: refreshing the OpenZiti API session failed (retrying in 5 s): {e}");
                wait = Duration::from_secs(5);
            }
            Err(_) => return,
        }
    }
}

fn totp_code(source: &TotpSource, identity: &str) -> Result<String, Error> {
    let code = match source {
        TotpSource::Command(cmd) => {
            let out = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .output()
                .map_err(|_| Error::TotpCommand {
                    command: cmd.clone(),
                })?;
            if !out.status.success() {
                return Err(Error::TotpCommand {
                    command: cmd.clone(),
                });
            }
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        }
        TotpSource::Prompt => prompt(&format!("TOTP code for {identity}: "))?,
    };
    let code = code.trim().to_owned();
    if code.is_empty() {
        return Err(Error::TotpMissing);
    }
    Ok(code)
}

/// Asks on the controlling terminal, so that stdin and stdout stay the SSH session's.
fn prompt(question: &str) -> Result<String, Error> {
    use std::io::{BufRead as _, Write as _};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| Error::TotpMissing)?;
    let mut out = &tty;
    let _ = out.write_all(question.as_bytes());
    let _ = out.flush();
    let mut line = String::new();
    std::io::BufReader::new(&tty)
        .read_line(&mut line)
        .map_err(|_| Error::TotpMissing)?;
    Ok(line)
}

impl Transport for OverlayTransport {
    fn connect<'a>(&'a self, host: &'a str, _port: u16) -> ConnectFuture<'a> {
        Box::pin(async move {
            let ready = self.ready().await.map_err(std::io::Error::other)?;
            let stream = ready
                .channel
                .dial(
                    &ready.session_token,
                    Some(host),
                    Some(&ready.caller),
                    ready.encrypted,
                )
                .await
                .map_err(std::io::Error::other)?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding as _};

    fn token(claims: &str) -> String {
        format!(
            "e30.{}.c2ln",
            Base64UrlUnpadded::encode_string(claims.as_bytes())
        )
    }

    #[test]
    fn expired_or_malformed_tokens_are_refused_before_sending() {
        assert!(check_token_time(&token(r#"{"exp":1000}"#), 999).is_ok());
        let e = check_token_time(&token(r#"{"exp":1000}"#), 1060).expect_err("expired");
        assert!(e.to_string().contains("expired 60 s ago"), "{e}");
        assert!(
            check_token_time(&token("{}"), 5).is_ok(),
            "no exp: the controller decides"
        );
        for bad in ["", "a.b", "a.!!.c", &token("[1]")] {
            let e = check_token_time(bad, 0).expect_err(bad);
            assert!(e.to_string().contains("not a JWT"), "{e}");
        }
    }
}
