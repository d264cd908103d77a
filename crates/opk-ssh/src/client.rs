//! Connecting (through `-J` hops), the russh event handler, and the authenticated [`Session`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::client::{self, Handle, Msg};
use russh::keys::PublicKeyOrCertificate;
use russh::{Channel, ChannelStream};
use tokio::io::copy_bidirectional;

use crate::auth::{Identities, authenticate};
use crate::error::Error;
use crate::hostkey::{self, HostKeyPolicy};
use crate::transport::{BoxStream, Transport, with_timeout};

/// One SSH server to authenticate to: the target or a `-J` hop.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host name or address to connect to (after `HostName`).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Account.
    pub user: String,
    /// What to authenticate with.
    pub identities: Identities,
    /// How to check the host key.
    pub host_keys: HostKeyPolicy,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The server the session is for.
    pub target: Endpoint,
    /// `-J` hops in order (the first is reached through the transport, each next one through a
    /// direct-tcpip channel of the one before, the target through the last).
    pub jumps: Vec<Endpoint>,
    /// For TCP connect + handshake + authentication of each hop.
    pub connect_timeout: Duration,
    /// Keepalive interval (`ServerAliveInterval`); `None` for none.
    pub keepalive: Option<Duration>,
    /// Keepalives without answer before giving up (`ServerAliveCountMax`).
    pub keepalive_max: usize,
    /// Serve `auth-agent@openssh.com` channels from this socket (`-A`); `None` refuses them.
    pub forward_agent: Option<PathBuf>,
}

/// State shared between the handler (which russh owns) and the [`Session`].
#[derive(Default)]
pub(crate) struct Shared {
    /// Remote forwards by the port the server listens on → local target.
    pub(crate) remote_forwards: Mutex<HashMap<u32, (String, u16)>>,
    /// The host-key problem found during the handshake, reported instead of russh's generic error.
    host_key_error: Mutex<Option<Error>>,
    /// ssh-agent socket for `-A`.
    agent: Option<PathBuf>,
}

/// russh's event handler for one connection.
pub(crate) struct Client {
    host: String,
    port: u16,
    policy: HostKeyPolicy,
    shared: Arc<Shared>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match hostkey::check(&self.policy, &self.host, self.port, key) {
            Ok(()) => Ok(true),
            Err(e) => {
                *self
                    .shared
                    .host_key_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e);
                Ok(false)
            }
        }
    }

    async fn auth_banner(
        &mut self,
        banner: &str,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        eprint!("{banner}");
        Ok(())
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<Msg>,
        _connected_address: &str,
        connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let target = self
            .shared
            .remote_forwards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&connected_port)
            .cloned();
        // Only ports we asked for: a server opening others gets a refusal (dropping `reply`).
        let Some((host, port)) = target else {
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            match tokio::net::TcpStream::connect((host.as_str(), port)).await {
                Ok(mut local) => {
                    let mut remote = channel.into_stream();
                    let _ = copy_bidirectional(&mut local, &mut remote).await;
                }
                Err(e) => {
                    crate::auth::warn(&format!(
                        "-R: cannot connect to {host}:{port}: {e}; closing the forwarded connection"
                    ));
                    let _ = channel.close().await;
                }
            }
        });
        Ok(())
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: Channel<Msg>,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        // Refused unless -A: a server must not reach the agent uninvited.
        let Some(sock) = self.shared.agent.clone() else {
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            match tokio::net::UnixStream::connect(&sock).await {
                Ok(mut agent) => {
                    let mut remote = channel.into_stream();
                    let _ = copy_bidirectional(&mut agent, &mut remote).await;
                }
                Err(_) => {
                    let _ = channel.close().await;
                }
            }
        });
        Ok(())
    }
}

/// An authenticated SSH connection. Cheap to share: channel opens take `&self`.
pub struct Session {
    pub(crate) handle: Arc<Handle<Client>>,
    pub(crate) shared: Arc<Shared>,
    /// Earlier hops; kept alive as long as this session (their channels carry it).
    _jumps: Vec<Arc<Handle<Client>>>,
    /// The target's name for messages.
    pub(crate) host: String,
    pub(crate) forward_agent: bool,
}

/// A channel's byte stream (for SFTP, forwarded connections).
pub type ChannelIo = ChannelStream<Msg>;

/// Connects to `opts.target` through `transport` and the jump hosts, checking host keys and
/// authenticating at every hop.
pub async fn connect(opts: &ConnectOptions, transport: &dyn Transport) -> Result<Session, Error> {
    let mut hops: Vec<&Endpoint> = opts.jumps.iter().collect();
    hops.push(&opts.target);
    let mut previous: Option<Arc<Handle<Client>>> = None;
    let mut jumps = Vec::new();
    let last = hops.len() - 1;
    let mut result = None;
    for (i, ep) in hops.into_iter().enumerate() {
        let stream: BoxStream = match &previous {
            None => {
                with_timeout(
                    opts.connect_timeout,
                    async {
                        transport
                            .connect(&ep.host, ep.port)
                            .await
                            .map_err(|source| Error::Connect {
                                host: ep.host.clone(),
                                port: ep.port,
                                source,
                            })
                    },
                    || timeout(ep, opts.connect_timeout),
                )
                .await?
            }
            Some(hop) => {
                let ch = hop
                    .channel_open_direct_tcpip(ep.host.clone(), u32::from(ep.port), "127.0.0.1", 0)
                    .await
                    .map_err(|source| Error::JumpChannel {
                        host: ep.host.clone(),
                        port: ep.port,
                        source,
                    })?;
                Box::new(ch.into_stream())
            }
        };
        let agent = if i == last {
            opts.forward_agent.clone()
        } else {
            None
        };
        let shared = Arc::new(Shared {
            agent,
            ..Shared::default()
        });
        let handle = with_timeout(
            opts.connect_timeout,
            handshake(opts, ep, stream, shared.clone()),
            || timeout(ep, opts.connect_timeout),
        )
        .await?;
        let handle = Arc::new(handle);
        if let Some(p) = previous.take() {
            jumps.push(p);
        }
        if i == last {
            result = Some((handle, shared));
        } else {
            previous = Some(handle);
        }
    }
    let Some((handle, shared)) = result else {
        unreachable!("hops always holds the target")
    };
    Ok(Session {
        handle,
        shared,
        _jumps: jumps,
        host: opts.target.host.clone(),
        forward_agent: opts.forward_agent.is_some(),
    })
}

fn timeout(ep: &Endpoint, limit: Duration) -> Error {
    Error::Timeout {
        host: ep.host.clone(),
        port: ep.port,
        secs: limit.as_secs(),
    }
}

async fn handshake(
    opts: &ConnectOptions,
    ep: &Endpoint,
    stream: BoxStream,
    shared: Arc<Shared>,
) -> Result<Handle<Client>, Error> {
    let mut preferred = russh::Preferred::DEFAULT;
    if hostkey::wants_certificates(&ep.host_keys, &ep.host, ep.port) {
        preferred.host_key_certificates = preferred.key.clone();
    }
    let config = client::Config {
        preferred,
        keepalive_interval: opts.keepalive,
        keepalive_max: opts.keepalive_max,
        nodelay: true,
        ..client::Config::default()
    };
    let handler = Client {
        host: ep.host.clone(),
        port: ep.port,
        policy: ep.host_keys.clone(),
        shared: shared.clone(),
    };
    let mut handle = match client::connect_stream(Arc::new(config), stream, handler).await {
        Ok(h) => h,
        Err(source) => {
            let found = shared
                .host_key_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            return Err(found.unwrap_or(Error::Handshake {
                host: ep.host.clone(),
                port: ep.port,
                source,
            }));
        }
    };
    authenticate(&mut handle, &ep.user, &ep.host, &ep.identities).await?;
    Ok(handle)
}

impl Session {
    /// Opens a session channel (for exec, shell or a subsystem).
    pub(crate) async fn open_session(&self) -> Result<Channel<Msg>, Error> {
        self.handle
            .channel_open_session()
            .await
            .map_err(Error::Session)
    }

    /// Starts `subsystem` (e.g. `"sftp"`) and returns its byte stream: what russh-sftp's
    /// `SftpSession::new` takes.
    pub async fn subsystem(&self, subsystem: &str) -> Result<ChannelIo, Error> {
        let ch = self.open_session().await?;
        ch.request_subsystem(true, subsystem)
            .await
            .map_err(Error::Session)?;
        Ok(ch.into_stream())
    }

    /// Opens a direct-tcpip channel to `host:port` as seen from the server (what `-L` uses).
    pub async fn direct_tcpip(&self, host: &str, port: u16) -> Result<ChannelIo, Error> {
        self.handle
            .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
            .await
            .map(Channel::into_stream)
            .map_err(|source| Error::DirectTcpip {
                host: host.to_owned(),
                port,
                source,
            })
    }

    /// Ends the connection politely.
    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}
