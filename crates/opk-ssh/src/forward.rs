//! Port forwarding: `-L` (local listener → direct-tcpip), `-R` (server listener →
//! forwarded-tcpip → local connect, routed in the handler) and `-D` (local SOCKS5 → direct-tcpip).

use std::sync::{Arc, PoisonError};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};

use crate::auth::warn;
use crate::client::Session;
use crate::error::Error;
use crate::socks;
use crate::spec::{Dynamic, Forward};

fn listen_addr(bind: Option<&str>, port: u16) -> String {
    match bind {
        Some(b) if b.contains(':') => format!("[{b}]:{port}"),
        Some(b) => format!("{b}:{port}"),
        None => format!("127.0.0.1:{port}"),
    }
}

async fn bind(addr: String, what: &'static str) -> Result<TcpListener, Error> {
    TcpListener::bind(&addr)
        .await
        .map_err(|source| Error::Listen { addr, what, source })
}

/// Starts a `-L` listener; connections are served in background tasks for the session's life.
/// Returns the bound port (useful with port 0).
pub async fn local(session: Arc<Session>, fwd: &Forward) -> Result<u16, Error> {
    let listener = bind(listen_addr(fwd.bind.as_deref(), fwd.port), "-L").await?;
    let port = listener.local_addr().map_err(Error::Stdio)?.port();
    let (host, host_port) = (fwd.host.clone(), fwd.host_port);
    tokio::spawn(async move {
        while let Ok((mut local, _)) = listener.accept().await {
            let session = session.clone();
            let host = host.clone();
            tokio::spawn(async move {
                match session.direct_tcpip(&host, host_port).await {
                    Ok(mut remote) => {
                        let _ = copy_bidirectional(&mut local, &mut remote).await;
                    }
                    Err(e) => warn(&format!("-L: {}", crate::one_line(&e))),
                }
            });
        }
    });
    Ok(port)
}

/// Asks the server to listen for `-R`; returns the port it listens on (it picks one for 0).
pub async fn remote(session: &Session, fwd: &Forward) -> Result<u16, Error> {
    let routes = |port: u32, add: bool| {
        let mut map = session
            .shared
            .remote_forwards
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if add {
            map.insert(port, (fwd.host.clone(), fwd.host_port));
        } else {
            map.remove(&port);
        }
    };
    // Routed before asking: sshd listens before it answers, and a connection may come at once.
    if fwd.port != 0 {
        routes(u32::from(fwd.port), true);
    }
    let bind = fwd.bind.clone().unwrap_or_else(|| "localhost".into());
    let refused = || Error::RemoteForwardRefused {
        spec: fwd.spec.clone(),
    };
    let port = match session
        .handle
        .tcpip_forward(bind, u32::from(fwd.port))
        .await
    {
        Ok(p) => p,
        Err(_) => {
            routes(u32::from(fwd.port), false);
            return Err(refused());
        }
    };
    // russh reports the requested port when the server's reply carries none (port != 0).
    let port = if port == 0 { u32::from(fwd.port) } else { port };
    routes(port, true);
    u16::try_from(port).map_err(|_| refused())
}

/// Starts a `-D` SOCKS5 listener (CONNECT only). Returns the bound port.
pub async fn dynamic(session: Arc<Session>, d: &Dynamic) -> Result<u16, Error> {
    let listener = bind(listen_addr(d.bind.as_deref(), d.port), "-D").await?;
    let port = listener.local_addr().map_err(Error::Stdio)?.port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let session = session.clone();
            tokio::spawn(serve_socks(session, client));
        }
    });
    Ok(port)
}

async fn serve_socks(session: Arc<Session>, mut client: TcpStream) {
    let Ok((host, port)) = socks::handshake(&mut client).await else {
        return;
    };
    match session.direct_tcpip(&host, port).await {
        Ok(mut remote) => {
            if socks::reply(&mut client, true).await.is_ok() {
                let _ = copy_bidirectional(&mut client, &mut remote).await;
            }
        }
        Err(e) => {
            warn(&format!("-D: {}", crate::one_line(&e)));
            let _ = socks::reply(&mut client, false).await;
        }
    }
}
