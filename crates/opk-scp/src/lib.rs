//! `opk scp`: copies over SFTP on any stream the SSH layer provides (an `opk-ssh` session's
//! `sftp` subsystem in the CLI; OpenSSH's `sftp-server` over a pipe in tests). Both directions,
//! `-r`, `-p`, remote globs and `~`, per-file progress on a terminal, every error reported and
//! counted (the CLI exits non-zero if any), reads and writes pipelined by russh-sftp.
#![forbid(unsafe_code)]

mod engine;
mod error;
mod operand;
mod progress;
mod remote_path;
mod run;

pub use engine::{MAX_DEPTH, Options, Summary, download, upload};
pub use error::{Error, SftpCause};
pub use operand::{Operand, Remote, parse_operand};
pub use remote_path::resolve_remote;
pub use run::{ScpArgs, scp, scp_over};
pub use russh_sftp::client::SftpSession;

/// Starts an SFTP session on `stream` with many requests in flight (so throughput is not bound
/// by round trips) and a request timeout suited to slow links.
pub async fn start<S>(stream: S) -> Result<SftpSession, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let cfg = russh_sftp::client::Config {
        max_concurrent_reads: 64,
        max_concurrent_writes: 64,
        max_write_packet_len: 256 * 1024,
        request_timeout_secs: 120,
        ..russh_sftp::client::Config::default()
    };
    SftpSession::new_with_config(stream, cfg)
        .await
        .map_err(|e| Error::Start(SftpCause::from(e)))
}
