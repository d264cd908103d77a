//! opk's SSH client, on russh. This is the only crate that uses russh (and tokio), so a russh
//! upgrade touches this crate alone; the verify path never links it.
//!
//! # Library use (e.g. `opk scp` over SFTP)
//!
//! ```no_run
//! # async fn demo() -> Result<(), opk_ssh::Error> {
//! use opk_ssh::{ConnectOptions, Endpoint, HostKeyPolicy, Identities, Tcp};
//! let target = Endpoint {
//!     host: "server.example".into(),
//!     port: 22,
//!     user: "alice".into(),
//!     identities: Identities { home: Some("/home/alice".into()), ..Default::default() },
//!     host_keys: HostKeyPolicy {
//!         known_hosts: vec!["/home/alice/.ssh/known_hosts".into()],
//!         ..Default::default()
//!     },
//! };
//! let opts = ConnectOptions {
//!     target,
//!     jumps: vec![],
//!     connect_timeout: std::time::Duration::from_secs(30),
//!     keepalive: None,
//!     keepalive_max: 3,
//!     forward_agent: None,
//! };
//! let session = opk_ssh::connect(&opts, &Tcp).await?;
//! let sftp_stream = session.subsystem("sftp").await?; // AsyncRead + AsyncWrite for russh-sftp
//! # drop(sftp_stream); Ok(()) }
//! ```
//!
//! From synchronous code, resolve a destination exactly as `opk ssh` does (flags, `-o`,
//! ssh_config, known_hosts, default identities) with [`Plan::resolve`], then run async code on
//! [`block_on`]. Keep the [`Session`] alive while a stream from it is in use: dropping it ends the
//! connection.
//!
//! ```no_run
//! # fn demo() -> Result<(), opk_ssh::Error> {
//! let args = opk_ssh::SshArgs {
//!     destination: "alice@server.example".into(),
//!     port: Some(2222),            // scp's -P
//!     no_command: true,            // no shell, no PTY
//!     ..Default::default()
//! };
//! let plan = opk_ssh::Plan::resolve(&args)?;
//! opk_ssh::block_on(async {
//!     let session = opk_ssh::connect(&plan.connect, &opk_ssh::Tcp).await?;
//!     let stream = session.subsystem("sftp").await?;
//!     // ... hand `stream` to the SFTP client, finish, then:
//!     drop(stream);
//!     session.close().await;
//!     Ok::<(), opk_ssh::Error>(())
//! })??;
//! # Ok(()) }
//! ```
//!
//! Errors are [`Error`]: one line each (with their `source()` chain), saying what to do next;
//! `opk ssh` exits [`EXIT_SSH_ERROR`] (255) on them, as OpenSSH does.
#![forbid(unsafe_code)]

use std::future::Future;

mod auth;
mod client;
mod error;
mod escape;
mod forward;
mod hostkey;
mod plan;
mod run;
mod socks;
mod spec;
mod transport;

pub use auth::Identities;
pub use client::{ChannelIo, ConnectOptions, Endpoint, Session, connect};
pub use error::{AuthHint, Error};
pub use forward::{dynamic, local, remote};
pub use hostkey::{HostKeyPolicy, Strictness};
pub use plan::{Plan, SshArgs, Tty, ssh, ssh_over};
pub use run::{EXIT_SSH_ERROR, RunOptions, run};
pub use spec::{
    Dynamic, Forward, Hop, parse_destination, parse_dynamic, parse_forward, parse_jumps,
};
pub use transport::{BoxStream, ConnectFuture, Stream, Tcp, Transport};

/// Runs `fut` to completion on a fresh single-threaded runtime (the SSH subcommands are the
/// only place opk starts one; `opk verify` stays synchronous).
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let out = rt.block_on(fut);
    // Background tasks (forward listeners, copies) end with the process, not with a wait here.
    rt.shutdown_background();
    Ok(out)
}

/// An error and its causes on one line, each said once.
pub(crate) fn one_line(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
