//! A connection to one edge router (TLS with the identity's certificate, channel v2) and the
//! service connections dialed over it.
//!
//! One task reads frames and routes them: replies to their waiting request, Data and StateClosed
//! to their connection, latency probes answered on the spot. One task writes. Each dialed
//! connection is a [`ZitiStream`]: the application side of an in-memory duplex pipe, pumped to
//! and from the router by a task that seals and opens the end-to-end stream, so the byte stream
//! an SSH client sees is the plaintext and backpressure flows through bounded queues.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use crate::edge::{self, ConnectReply, content_type, header};
use crate::{Error, Frame, Identity, KeyPair, ProtocolError};

/// How long to wait for the router's answer to hello or connect.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest plaintext per Data message (the SDKs' message size).
const CHUNK: usize = 32 * 1024 - 17;
/// Frames queued towards the router before writers wait.
const OUTBOUND_QUEUE: usize = 64;
/// Data messages queued towards one connection before the reader waits.
const INBOUND_QUEUE: usize = 64;

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<Frame>>>>;
type Conns = Arc<Mutex<HashMap<u32, mpsc::Sender<Frame>>>>;

/// An open channel to one edge router.
pub struct RouterChannel {
    address: String,
    outbound: mpsc::Sender<Frame>,
    pending: Pending,
    conns: Conns,
    next_sequence: AtomicI32,
    next_conn: AtomicU32,
}

impl std::fmt::Debug for RouterChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterChannel")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A dialed service connection: plaintext bytes both ways.
pub type ZitiStream = DuplexStream;

/// TLS settings for routers: the network's CA only, and the identity's certificate.
pub fn tls_config(identity: &Identity) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in identity.ca_certificates()? {
        roots.add(ca).map_err(|_| Error::IdentityField {
            path: identity.path.clone(),
            field: "ca",
            problem: "holds a certificate TLS cannot use",
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::Tls { source })?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.certificate_chain()?, identity.private_key()?)
        .map_err(|source| Error::Tls { source })?;
    Ok(Arc::new(config))
}

impl RouterChannel {
    /// Connects to the router at `address` (`host:port`), says hello with the API session
    /// token, and starts the reader and writer tasks on the current tokio runtime.
    pub async fn connect(
        address: &str,
        tls: Arc<rustls::ClientConfig>,
        identity_name: &str,
        api_session_token: &str,
    ) -> Result<Self, Error> {
        let io = |source| Error::Router {
            address: address.to_owned(),
            source,
        };
        let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| Error::RouterAddress(address.to_owned()))?;
        let tcp = tokio::time::timeout(REPLY_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| io(std::io::ErrorKind::TimedOut.into()))?
            .map_err(io)?;
        tcp.set_nodelay(true).map_err(io)?;
        let mut tls = tokio::time::timeout(
            REPLY_TIMEOUT,
            TlsConnector::from(tls).connect(server_name, tcp),
        )
        .await
        .map_err(|_| io(std::io::ErrorKind::TimedOut.into()))?
        .map_err(io)?;

        tls.write_all(&edge::hello(identity_name, api_session_token).encode())
            .await
            .map_err(io)?;
        let mut buf = Vec::new();
        let reply = tokio::time::timeout(REPLY_TIMEOUT, read_frame(&mut tls, &mut buf, address))
            .await
            .map_err(|_| io(std::io::ErrorKind::TimedOut.into()))??;
        edge::check_hello_result(&reply)?;

        let (reader, writer) = tokio::io::split(tls);
        let (outbound, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let pending: Pending = Arc::default();
        let conns: Conns = Arc::default();
        tokio::spawn(write_loop(writer, rx));
        tokio::spawn(read_loop(
            reader,
            buf,
            address.to_owned(),
            outbound.clone(),
            Arc::clone(&pending),
            Arc::clone(&conns),
        ));
        Ok(Self {
            address: address.to_owned(),
            outbound,
            pending,
            conns,
            next_sequence: AtomicI32::new(1),
            // Dialers count up from 1 and stay in the lower half of the id space.
            next_conn: AtomicU32::new(1),
        })
    }

    /// Dials the service of Dial session `session_token` at `terminator_identity`'s terminator.
    /// `encrypted` (the service's `encryptionRequired`) turns end-to-end encryption on, and then
    /// a host that does not answer with its key is refused.
    pub async fn dial(
        &self,
        session_token: &str,
        terminator_identity: Option<&str>,
        caller_id: Option<&str>,
        encrypted: bool,
    ) -> Result<ZitiStream, Error> {
        let keys = if encrypted {
            Some(KeyPair::generate()?)
        } else {
            None
        };
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
        let (inbox_tx, inbox) = mpsc::channel(INBOUND_QUEUE);
        lock(&self.conns).insert(conn_id, inbox_tx);
        let connect = edge::Connect {
            session_token,
            conn_id,
            public_key: keys.as_ref().map(KeyPair::public),
            terminator_identity,
            caller_id,
        };
        let sequence = self.sequence();
        let reply = match self.request(connect.frame(sequence)).await {
            Ok(r) => r,
            Err(e) => {
                lock(&self.conns).remove(&conn_id);
                return Err(e);
            }
        };
        let host_key = match edge::connect_reply(&reply, sequence)? {
            ConnectReply::Connected {
                host_public_key, ..
            } => host_public_key,
            ConnectReply::Refused { reason } => {
                lock(&self.conns).remove(&conn_id);
                return Err(Error::DialRefused {
                    service: terminator_identity.unwrap_or("the service").to_owned(),
                    reason,
                });
            }
        };
        let session = match (keys, host_key) {
            (Some(pair), Some(host)) => Some(pair.client_session_keys(&host)?),
            (Some(_), None) => {
                let _ = self
                    .outbound
                    .send(edge::close(conn_id, self.sequence()))
                    .await;
                lock(&self.conns).remove(&conn_id);
                return Err(Error::NotEncrypted);
            }
            (None, _) => None,
        };
        let pump = Pump {
            conn_id,
            outbound: self.outbound.clone(),
            conns: Arc::clone(&self.conns),
            sequence: Arc::new(AtomicI32::new(0)),
        };
        pump.start(inbox, session).await
    }

    /// Hosts the service of Bind session `session_token`. With `addressable` = (name, proof),
    /// as an addressable terminator that dialers pick by name (the identity's own name, as
    /// `bindUsingEdgeIdentity` does), proven with [`crate::identity_secret`]; without, as a
    /// terminator any dial of the service may reach. Incoming dials arrive on the [`Listener`].
    pub async fn bind(
        &self,
        session_token: &str,
        addressable: Option<(&str, &[u8])>,
        encrypted: bool,
    ) -> Result<Listener, Error> {
        let keys = if encrypted {
            Some(Arc::new(KeyPair::generate()?))
        } else {
            None
        };
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
        let (inbox_tx, inbox) = mpsc::channel(INBOUND_QUEUE);
        lock(&self.conns).insert(conn_id, inbox_tx);
        let sequence = self.sequence();
        let mut bind =
            Frame::new(content_type::BIND, session_token.as_bytes()).with_sequence(sequence);
        bind.put_u32(header::CONN_ID, conn_id)
            .put_bool(header::SUPPORTS_INSPECT, false)
            .put_bool(header::SUPPORTS_BIND_SUCCESS, true)
            .put_bool(header::USE_XGRESS_TO_SDK, false)
            .put_bool(header::ROUTER_PROVIDED_CONN_ID, true);
        if let Some((name, proof)) = addressable {
            bind.put_str(header::TERMINATOR_IDENTITY, name)
                .put_bytes(header::TERMINATOR_IDENTITY_SECRET, proof);
        }
        if let Some(k) = &keys {
            bind.put_bytes(header::PUBLIC_KEY, k.public().as_slice())
                .put_u8(header::CRYPTO_METHOD, edge::CRYPTO_METHOD_KX_SECRETSTREAM);
        }
        let reply = self.request(bind).await?;
        if reply.content_type != content_type::STATE_CONNECTED {
            lock(&self.conns).remove(&conn_id);
            return Err(Error::BindRefused {
                terminator: addressable
                    .map_or("the service", |(name, _)| name)
                    .to_owned(),
                reason: edge::peer_text(&reply.body),
            });
        }
        Ok(Listener {
            conn_id,
            inbox,
            keys,
            outbound: self.outbound.clone(),
            conns: Arc::clone(&self.conns),
            address: self.address.clone(),
        })
    }

    fn sequence(&self) -> i32 {
        self.next_sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends `frame` and waits for the frame that names it in ReplyFor.
    async fn request(&self, frame: Frame) -> Result<Frame, Error> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(frame.sequence, tx);
        let sequence = frame.sequence;
        let closed = || Error::RouterClosed(self.address.clone());
        self.outbound.send(frame).await.map_err(|_| closed())?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(closed()),
            Err(_) => {
                lock(&self.pending).remove(&sequence);
                Err(Error::RouterTimeout(self.address.clone()))
            }
        }
    }
}

/// A hosted terminator: yields the connections dialed to it.
pub struct Listener {
    conn_id: u32,
    inbox: mpsc::Receiver<Frame>,
    keys: Option<Arc<KeyPair>>,
    outbound: mpsc::Sender<Frame>,
    conns: Conns,
    address: String,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("conn_id", &self.conn_id)
            .finish_non_exhaustive()
    }
}

/// One dial accepted by a [`Listener`].
#[derive(Debug)]
pub struct Incoming {
    /// The dialer's identity name, as the router reports it.
    pub caller: Option<String>,
    /// The plaintext stream to and from the dialer.
    pub stream: ZitiStream,
}

impl Listener {
    /// The next dial, accepted; `Ok(None)` when the router ends the binding.
    pub async fn accept(&mut self) -> Result<Option<Incoming>, Error> {
        while let Some(frame) = self.inbox.recv().await {
            match frame.content_type {
                content_type::DIAL => match self.answer(&frame).await {
                    Ok(incoming) => return Ok(Some(incoming)),
                    // One bad dial (say, an unencrypted one) must not stop the listener.
                    Err(Error::NotEncrypted | Error::Protocol(_)) => continue,
                    Err(e) => return Err(e),
                },
                content_type::STATE_CLOSED | content_type::STATE_SESSION_ENDED => return Ok(None),
                _ => {} // BindSuccess: the terminator exists; nothing to do.
            }
        }
        Ok(None)
    }

    async fn answer(&self, dial: &Frame) -> Result<Incoming, Error> {
        let refuse = |reason: &str| {
            let mut failed = Frame::new(content_type::DIAL_FAILED, reason.as_bytes());
            failed
                .put_u32(header::CONN_ID, self.conn_id)
                .set_reply_for(dial.sequence);
            failed
        };
        let Some(new_id) = dial.get_u32(header::ROUTER_PROVIDED_CONN_ID)? else {
            let _ = self
                .outbound
                .send(refuse("opk hosts need a router-provided connection id"))
                .await;
            return Err(ProtocolError::MissingHeader(header::ROUTER_PROVIDED_CONN_ID).into());
        };
        let session = match (&self.keys, dial.header(header::PUBLIC_KEY)) {
            (Some(pair), Some(dialer)) => Some(pair.server_session_keys(dialer)?),
            (Some(_), None) => {
                let _ = self
                    .outbound
                    .send(refuse("end-to-end encryption is required"))
                    .await;
                return Err(Error::NotEncrypted);
            }
            (None, _) => None,
        };
        let (inbox_tx, inbox) = mpsc::channel(INBOUND_QUEUE);
        lock(&self.conns).insert(new_id, inbox_tx);
        let mut ok = Frame::new(content_type::DIAL_SUCCESS, new_id.to_le_bytes().to_vec());
        ok.put_u32(header::CONN_ID, self.conn_id)
            .set_reply_for(dial.sequence);
        self.outbound
            .send(ok)
            .await
            .map_err(|_| Error::RouterClosed(self.address.clone()))?;
        let pump = Pump {
            conn_id: new_id,
            outbound: self.outbound.clone(),
            conns: Arc::clone(&self.conns),
            sequence: Arc::new(AtomicI32::new(0)),
        };
        let stream = pump.start(inbox, session).await?;
        Ok(Incoming {
            caller: dial.get_str(header::CALLER_ID).map(str::to_owned),
            stream,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map is still a valid map: the panicking holder did not leave it half-updated.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads one frame, keeping any bytes past it in `buf` for the next call.
async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    address: &str,
) -> Result<Frame, Error> {
    loop {
        match Frame::decode(buf) {
            Ok((frame, used)) => {
                buf.drain(..used);
                return Ok(frame);
            }
            Err(ProtocolError::Truncated { need, .. }) => {
                let mut chunk = vec![0u8; (need - buf.len()).clamp(4096, 64 * 1024)];
                let n = r.read(&mut chunk).await.map_err(|source| Error::Router {
                    address: address.to_owned(),
                    source,
                })?;
                if n == 0 {
                    return Err(Error::RouterClosed(address.to_owned()));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn write_loop(mut w: WriteHalf<TlsStream<TcpStream>>, mut rx: mpsc::Receiver<Frame>) {
    while let Some(frame) = rx.recv().await {
        if w.write_all(&frame.encode()).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

async fn read_loop(
    mut r: ReadHalf<TlsStream<TcpStream>>,
    mut buf: Vec<u8>,
    address: String,
    outbound: mpsc::Sender<Frame>,
    pending: Pending,
    conns: Conns,
) {
    while let Ok(frame) = read_frame(&mut r, &mut buf, &address).await {
        let waiter = match frame.reply_for() {
            Ok(Some(request)) => lock(&pending).remove(&request),
            _ => None,
        };
        if let Some(waiter) = waiter {
            let _ = waiter.send(frame);
            continue;
        }
        match frame.content_type {
            content_type::LATENCY => {
                let mut answer = Frame::new(content_type::RESULT, Vec::new());
                answer
                    .set_reply_for(frame.sequence)
                    .put_bool(header::RESULT_SUCCESS, true);
                if let Some(sent) = frame.header(header::REFLECTED) {
                    answer.put_bytes(header::REFLECTED, sent);
                }
                let _ = outbound.send(answer).await;
            }
            content_type::DATA
            | content_type::STATE_CLOSED
            | content_type::DIAL
            | content_type::BIND_SUCCESS
            | content_type::STATE_SESSION_ENDED => {
                let Ok(Some(conn)) = frame.get_u32(header::CONN_ID) else {
                    continue;
                };
                let inbox = lock(&conns).get(&conn).cloned();
                if let Some(inbox) = inbox {
                    // Waiting here is the backpressure: a slow reader slows this router.
                    let _ = inbox.send(frame).await;
                }
            }
            _ => {}
        }
    }
    // The router is gone: every connection sees EOF, every waiter an error.
    lock(&conns).clear();
    lock(&pending).clear();
}

#[derive(Clone)]
struct Pump {
    conn_id: u32,
    outbound: mpsc::Sender<Frame>,
    conns: Conns,
    sequence: Arc<AtomicI32>,
}

impl Pump {
    /// Sends our stream header (the first Data message, alone) and starts both directions.
    async fn start(
        self,
        inbox: mpsc::Receiver<Frame>,
        session: Option<crate::SessionKeys>,
    ) -> Result<ZitiStream, Error> {
        let (app, pipe) = tokio::io::duplex(2 * CHUNK);
        let sealer = match &session {
            Some(keys) => {
                let (header, sealer) = keys.sealer();
                self.send_data(header.0.to_vec()).await?;
                Some(sealer)
            }
            None => None,
        };
        let (from_app, to_app) = tokio::io::split(pipe);
        tokio::spawn(self.clone().uplink(from_app, sealer));
        tokio::spawn(self.downlink(to_app, inbox, session));
        Ok(app)
    }

    async fn send_data(&self, body: Vec<u8>) -> Result<(), Error> {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut frame = edge::data(self.conn_id, 0, body);
        frame.put_u32(header::SEQ, seq as u32);
        self.outbound
            .send(frame)
            .await
            .map_err(|_| Error::ConnectionClosed)
    }

    /// Application → router: chunk, seal, send; at EOF a FIN.
    async fn uplink(self, mut from_app: ReadHalf<DuplexStream>, mut sealer: Option<crate::Sealer>) {
        let mut chunk = vec![0u8; CHUNK];
        loop {
            match from_app.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let body = match sealer.as_mut() {
                        Some(s) => s.seal(&chunk[..n]),
                        None => chunk[..n].to_vec(),
                    };
                    if self.send_data(body).await.is_err() {
                        return;
                    }
                }
            }
        }
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut fin = edge::fin(self.conn_id, 0);
        fin.put_u32(header::SEQ, seq as u32);
        let _ = self.outbound.send(fin).await;
    }

    /// Router → application: the host's stream header first, then open each message.
    async fn downlink(
        self,
        mut to_app: WriteHalf<DuplexStream>,
        mut inbox: mpsc::Receiver<Frame>,
        session: Option<crate::SessionKeys>,
    ) {
        let mut opener = None;
        while let Some(frame) = inbox.recv().await {
            if frame.content_type == content_type::STATE_CLOSED {
                break;
            }
            let flags = frame.get_u32(header::FLAGS).ok().flatten().unwrap_or(0);
            if !frame.body.is_empty() {
                let plain = match (&session, opener.as_mut()) {
                    (None, _) => frame.body,
                    (Some(keys), None) => match keys.opener(&frame.body) {
                        Ok(o) => {
                            opener = Some(o);
                            continue;
                        }
                        Err(_) => break,
                    },
                    (Some(_), Some(o)) => match o.open(&frame.body) {
                        Ok(p) => p,
                        // Tampered or out of order: end the connection rather than pass it on.
                        Err(_) => break,
                    },
                };
                let written = if flags & edge::flags::MULTIPART_MSG != 0 {
                    match edge::multipart(&plain) {
                        Ok(parts) => write_parts(&mut to_app, &parts).await,
                        Err(_) => false,
                    }
                } else {
                    to_app.write_all(&plain).await.is_ok()
                };
                if !written {
                    break;
                }
            }
            if flags & edge::flags::FIN != 0 {
                break;
            }
        }
        let _ = to_app.shutdown().await;
        lock(&self.conns).remove(&self.conn_id);
    }
}

async fn write_parts(to_app: &mut WriteHalf<DuplexStream>, parts: &[&[u8]]) -> bool {
    for part in parts {
        if to_app.write_all(part).await.is_err() {
            return false;
        }
    }
    true
}
