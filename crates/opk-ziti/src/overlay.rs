//! The overlay as an SSH transport (`opk zssh`): on first use it authenticates to the controller
//! with the identity's certificate (answering a TOTP query when the auth policy asks for one),
//! finds the service, gets a Dial session, says hello to an edge router, and then dials the
//! target identity's addressable terminator for each connection the SSH client opens.

use std::path::PathBuf;
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

/// How to reach services over the overlay.
#[derive(Debug, Clone)]
pub struct OverlayOptions {
    /// The enrolled identity file.
    pub identity: PathBuf,
    /// The service whose terminators are the SSH servers.
    pub service: String,
    /// Where TOTP codes come from.
    pub totp: TotpSource,
    /// Bound on each controller request.
    pub timeout: Duration,
}

struct Ready {
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
                let (identity, api, service, token, routers) =
                    tokio::task::spawn_blocking(move || login(&options))
                        .await
                        .map_err(|_| Error::ConnectionClosed)??;
                let tls = crate::tls_config(&identity)?;
                let mut last = None;
                for router in routers {
                    match RouterChannel::connect(
                        &router,
                        tls.clone(),
                        &api.identity_name,
                        &api.token,
                    )
                    .await
                    {
                        Ok(channel) => {
                            return Ok(Arc::new(Ready {
                                channel,
                                session_token: token,
                                caller: api.identity_name.clone(),
                                encrypted: service.encryption_required,
                            }));
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or(Error::NoRouter {
                    service: service.name,
                }))
            })
            .await
            .cloned()
    }
}

type LoggedIn = (Identity, ApiSession, Service, String, Vec<String>);

fn login(options: &OverlayOptions) -> Result<LoggedIn, Error> {
    let identity = Identity::load(&options.identity)?;
    let ctrl = Controller::new(&identity, options.timeout)?;
    let mut api = ctrl.authenticate_cert()?;
    if api.mfa_required {
        let code = totp_code(&options.totp, &api.identity_name)?;
        ctrl.answer_mfa(&mut api, &code)?;
    }
    let service = ctrl
        .service(&api, &options.service)?
        .ok_or_else(|| Error::NoService {
            service: options.service.clone(),
            identity: api.identity_name.clone(),
        })?;
    let session = ctrl.dial_session(&api, &service)?;
    let routers: Vec<String> = session
        .edge_routers
        .iter()
        .filter_map(|r| r.tls_address.clone())
        .collect();
    Ok((identity, api, service, session.token, routers))
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
