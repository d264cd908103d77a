//! The crate's one error type.

use std::path::PathBuf;

/// Errors of the SSH client. Each message says what went wrong and, where there is one, what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport could not reach the host.
    #[error("cannot connect to {host} port {port}")]
    Connect {
        /// Host as given.
        host: String,
        /// Port.
        port: u16,
        /// The transport's error.
        #[source]
        source: std::io::Error,
    },
    /// Connecting or the handshake took longer than the connect timeout.
    #[error(
        "connecting to {host} port {port} timed out after {secs} s (raise it with -o ConnectTimeout=SECONDS)"
    )]
    Timeout {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// The timeout.
        secs: u64,
    },
    /// The SSH handshake failed (protocol version, key exchange, algorithms).
    #[error("SSH handshake with {host} port {port} failed")]
    Handshake {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// russh's error.
        #[source]
        source: russh::Error,
    },
    /// The host key is not in any known_hosts file and the policy is strict.
    #[error(
        "host key verification failed: no key for {host} in {files}; the server offered {fingerprint}. If that is the right key, connect once with -o StrictHostKeyChecking=accept-new (or add it to known_hosts)"
    )]
    HostKeyUnknown {
        /// The name looked up (`host` or `[host]:port`).
        host: String,
        /// The known_hosts files searched, comma-separated for the message.
        files: String,
        /// SHA256 fingerprint of the offered key.
        fingerprint: String,
    },
    /// The host key differs from the one on record: possibly a man-in-the-middle.
    #[error(
        "WARNING: the host key for {host} has CHANGED (someone may be intercepting the connection): the server offered {fingerprint} but {file}:{line} records a different key. If the change is expected, remove that line (ssh-keygen -R {host} -f {file})"
    )]
    HostKeyMismatch {
        /// The name looked up.
        host: String,
        /// The known_hosts file with the other key.
        file: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// SHA256 fingerprint of the offered key.
        fingerprint: String,
    },
    /// The host key (or its CA) is marked `@revoked`.
    #[error(
        "host key for {host} ({fingerprint}) is marked @revoked in {file}:{line}; refusing to connect"
    )]
    HostKeyRevoked {
        /// The name looked up.
        host: String,
        /// The file with the `@revoked` line.
        file: PathBuf,
        /// Its 1-based line.
        line: usize,
        /// SHA256 fingerprint of the offered key.
        fingerprint: String,
    },
    /// known_hosts could not be read.
    #[error("cannot use known_hosts")]
    KnownHosts(#[source] Box<opk_sshconfig::Error>),
    /// The host key could not be put in known_hosts form.
    #[error("cannot record the host key of {host} in {file}")]
    KnownHostsWrite {
        /// The name recorded.
        host: String,
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: Box<opk_sshconfig::Error>,
    },
    /// known_hosts could not be read or its directory created for recording a key.
    #[error("cannot update {file}")]
    KnownHostsIo {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The updated known_hosts could not be written (boxed: keeps `Result<_, Error>` small).
    #[error("cannot record the host key")]
    KnownHostsSave(#[source] opk_files::Error),
    /// An ssh_config file or a `-o` option is wrong (the inner error names file and line).
    #[error(transparent)]
    Config(Box<opk_sshconfig::Error>),
    /// `-o` with an option opk ssh does not implement.
    #[error(
        "-o {keyword} is not supported by opk ssh; supported: Port, User, HostName, IdentityFile, CertificateFile, ProxyJump, StrictHostKeyChecking, UserKnownHostsFile, HostKeyAlias, ForwardAgent, IdentitiesOnly, BatchMode, ConnectTimeout, ServerAliveInterval, ServerAliveCountMax, HashKnownHosts, IdentityAgent"
    )]
    UnsupportedOption {
        /// The keyword as given.
        keyword: String,
    },
    /// An option opk ssh parses but does not implement.
    #[error("{option} is not supported by opk ssh: {instead}")]
    Unsupported {
        /// The option.
        option: &'static str,
        /// What to use instead.
        instead: &'static str,
    },
    /// An option value that is not a number.
    #[error("-o {option}: {value:?} is not a number of seconds")]
    BadNumber {
        /// The option.
        option: &'static str,
        /// The value.
        value: String,
    },
    /// A yes/no option with another value.
    #[error("{option}: {value:?} is neither yes nor no")]
    BadYesNo {
        /// The option.
        option: &'static str,
        /// The value.
        value: String,
    },
    /// Every identity was refused.
    #[error("{user}@{host}: permission denied (tried: {tried}){hint}")]
    AuthFailed {
        /// The account.
        user: String,
        /// The host.
        host: String,
        /// What was offered, comma-separated ("none" when there was nothing to offer).
        tried: String,
        /// What to do next: e.g. the opk certificate's PK Token expired, run `opk login`.
        hint: AuthHint,
    },
    /// A key or certificate file could not be read.
    #[error("cannot read {path}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: russh::keys::Error,
    },
    /// A certificate file could not be parsed.
    #[error("cannot read the certificate {path}")]
    CertFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: russh::keys::ssh_key::Error,
    },
    /// A `-J` hop could not open the channel to the next hop.
    #[error("the jump host could not connect to {host} port {port}")]
    JumpChannel {
        /// The next hop.
        host: String,
        /// Its port.
        port: u16,
        /// Why.
        #[source]
        source: russh::Error,
    },
    /// The server could not open a forwarded connection (-L, -D).
    #[error("the server could not connect to {host} port {port}")]
    DirectTcpip {
        /// Destination as seen from the server.
        host: String,
        /// Its port.
        port: u16,
        /// Why.
        #[source]
        source: russh::Error,
    },
    /// The session broke or a request on it failed.
    #[error("SSH session error")]
    Session(#[source] russh::Error),
    /// The server refused a channel request (exec, shell, pty, subsystem, forwarding...).
    #[error("the server refused the {what} request")]
    Refused {
        /// The request.
        what: &'static str,
    },
    /// The remote command ended without reporting an exit status.
    #[error("the server closed the session without an exit status")]
    NoExitStatus,
    /// Local terminal or stdio failed.
    #[error("local terminal or stdio failed")]
    Stdio(#[source] std::io::Error),
    /// A local listener for -L / -D could not be opened.
    #[error("cannot listen on {addr} (for {what}): is the port in use?")]
    Listen {
        /// The address.
        addr: String,
        /// -L or -D.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A forwarding spec could not be parsed.
    #[error("bad {flag} spec {spec:?}: expected {expected}")]
    ForwardSpec {
        /// -L, -R or -D.
        flag: &'static str,
        /// What was given.
        spec: String,
        /// The accepted syntax.
        expected: &'static str,
    },
    /// A destination or `-J` hop could not be parsed.
    #[error("bad destination {given:?}: expected [user@]host[:port]")]
    Destination {
        /// What was given.
        given: String,
    },
    /// The server refused a remote forward (-R).
    #[error("the server refused remote port forwarding for {spec} (AllowTcpForwarding?)")]
    RemoteForwardRefused {
        /// The -R spec.
        spec: String,
    },
    /// HOME is unset.
    #[error("HOME is not set: set it (opk ssh reads ~/.ssh from there)")]
    NoHome,
    /// USER/LOGNAME are unset and no user was given.
    #[error("cannot tell the local user name (USER is not set): pass -l USER or user@host")]
    NoUser,
    /// The connection ended while only forwarding (-N).
    #[error("the connection to {host} was closed")]
    Closed {
        /// The target.
        host: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// ssh-agent could not be used.
    #[error("cannot use ssh-agent at {path}")]
    Agent {
        /// SSH_AUTH_SOCK.
        path: PathBuf,
        /// Why.
        #[source]
        source: russh::keys::Error,
    },
}

/// Advice appended to an authentication failure (rendered as "; ..." or nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthHint {
    /// Nothing specific to say.
    None,
    /// No identity at all was found.
    NoIdentities,
    /// The opk certificate's ID token is past `exp` (servers using the `oidc` policy refuse it).
    PkTokenExpired {
        /// The certificate file.
        cert: PathBuf,
        /// Seconds since `exp`.
        secs_ago: u64,
    },
    /// The opk certificate's ID token was issued over 24 h ago (opkssh's default policy refuses it).
    PkTokenOld {
        /// The certificate file.
        cert: PathBuf,
        /// Seconds since `iat`.
        secs: u64,
    },
    /// opk certificates were offered but none was accepted (server policy).
    OpkRefused,
}

impl std::fmt::Display for AuthHint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::NoIdentities => f.write_str(
                "; no key, certificate or agent found: run `opk login`, or pass -i KEY",
            ),
            Self::PkTokenExpired { cert, secs_ago } => write!(
                f,
                "; the ID token in {} expired {} ago: run `opk login` for a fresh one",
                cert.display(),
                Span(*secs_ago)
            ),
            Self::PkTokenOld { cert, secs } => write!(
                f,
                "; the ID token in {} was issued {} ago and servers usually accept 24 h: run `opk login` for a fresh one",
                cert.display(),
                Span(*secs)
            ),
            Self::OpkRefused => f.write_str(
                "; the server refused the opk certificate: ask its admin to allow your identity (opk add), or check `opk login`'s provider",
            ),
        }
    }
}

/// A duration for people: "40 s", "12 min", "5 h", "3 days".
struct Span(u64);

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            s if s < 120 => write!(f, "{s} s"),
            s if s < 2 * 3600 => write!(f, "{} min", s / 60),
            s if s < 72 * 3600 => write!(f, "{} h", s / 3600),
            s => write!(f, "{} days", s / 86_400),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        let f = |s| Span(s).to_string();
        assert_eq!(
            [f(5), f(600), f(25 * 3600), f(10 * 86_400)],
            ["5 s", "10 min", "25 h", "10 days"]
        );
    }
}
