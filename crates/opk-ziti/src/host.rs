//! `opk ziti host`: hosts a service as an addressable terminator named after the identity (what
//! `opk zssh user@IDENTITY` dials) and forwards every dial to a local TCP address, so an SSH
//! server needs no inbound port and no other OpenZiti software.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::overlay::{AbortOnDrop, authenticate, connect_first, keep_alive};
use crate::{Error, TotpSource};

/// What to host and where to forward.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The hosting identity's file.
    pub identity: PathBuf,
    /// The service to bind.
    pub service: String,
    /// Where each dial goes: `host:port` (normally 127.0.0.1:22).
    pub to: String,
    /// Where TOTP codes come from, if the identity has MFA.
    pub totp: TotpSource,
    /// Bound on each controller request.
    pub timeout: Duration,
}

/// Binds and forwards until the binding cannot be set up. The first set-up's errors (identity,
/// permissions, routers) are returned at once; after that, a lost binding is set up again every
/// 5 s, said on stderr. `on_ready` is called each time the terminator is bound, with the
/// identity name it is addressable by.
pub async fn host(options: &HostOptions, on_ready: &mut dyn FnMut(&str)) -> Result<(), Error> {
    let mut first = true;
    loop {
        match serve(options, on_ready).await {
            Err(e) if first => return Err(e),
            Err(e) => eprintln!("opk ziti host: {e}; binding again in 5 s"),
            Ok(()) => {
                eprintln!("opk ziti host: the router ended the binding; binding again in 5 s")
            }
        }
        first = false;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn serve(options: &HostOptions, on_ready: &mut dyn FnMut(&str)) -> Result<(), Error> {
    let opts = options.clone();
    let (identity, ctrl, api, service, token, routers) = tokio::task::spawn_blocking(move || {
        let credential = crate::Credential::IdentityFile {
            path: opts.identity.clone(),
            ext_jwt: None,
        };
        let (identity, ctrl, api) = authenticate(&credential, &opts.totp, opts.timeout)?;
        let service = ctrl
            .service(&api, &opts.service)?
            .filter(|s| s.permissions.iter().any(|p| p == "Bind"))
            .ok_or_else(|| Error::NoBind {
                service: opts.service.clone(),
                identity: api.identity_name.clone(),
            })?;
        let bind = ctrl.bind_session(&api, &service)?;
        let routers = bind.tls_routers();
        Ok::<_, Error>((identity, ctrl, api, service, bind.token, routers))
    })
    .await
    .map_err(|_| Error::ConnectionClosed)??;
    let _refresh = AbortOnDrop(tokio::spawn(keep_alive(Arc::new(ctrl), api.clone(), false)));
    let tls = crate::tls_config(&identity)?;
    let channel = connect_first(&routers, &tls, &api, &service.name).await?;
    let secret = crate::identity_secret(&identity)?;
    let mut listener = channel
        .bind(
            &token,
            Some((&api.identity_name, &secret)),
            service.encryption_required,
        )
        .await?;
    on_ready(&api.identity_name);
    while let Some(incoming) = listener.accept().await? {
        let to = options.to.clone();
        tokio::spawn(async move {
            let mut overlay = incoming.stream;
            match TcpStream::connect(&to).await {
                Ok(mut tcp) => {
                    let _ = tcp.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut overlay, &mut tcp).await;
                }
                // The dialer sees the connection close; the host says why.
                Err(e) => eprintln!("opk ziti host: cannot connect to {to}: {e}"),
            }
        });
    }
    Ok(())
}
