//! OpenSSH client files for `opk ssh` / `opk scp`, read the way OpenSSH reads them:
//!
//! - [`KnownHosts`]: `~/.ssh/known_hosts` (plain and hashed names, patterns and negation,
//!   `[host]:port`, `@cert-authority`, `@revoked`) and the decision on a server's key
//!   ([`HostKeyStatus`]); [`entry_line`] for `StrictHostKeyChecking accept-new`.
//! - [`SshConfig`] and [`resolve`]: the `~/.ssh/config` subset opk honours, giving a
//!   [`HostConfig`] per destination.
//!
//! The parsers are pure (text in, decisions out); [`KnownHosts::load`] and [`load_config`] are
//! the thin, size-capped file readers.
#![forbid(unsafe_code)]

mod config;
mod error;
mod known_hosts;
mod load;
mod location;
mod pattern;

pub use config::{
    Context, Directive, HostConfig, JumpHost, MAX_CONFIG_LEN, MAX_CONFIG_LINE, MAX_IDENTITY_FILES,
    MAX_INCLUDE_DEPTH, Proxy, SshConfig, StrictHostKeyChecking, resolve,
};
pub use error::{ConfigProblem, Error};
pub use known_hosts::{
    CertProblem, Found, HostKeyStatus, KnownHosts, LineProblem, MAX_KNOWN_HOSTS_LEN, MAX_LINE_LEN,
    ServerKey, Warning, entry_line, host_key_name,
};
pub use load::load_config;
pub use location::Location;

/// Entry points for fuzzers and fuzz-style tests: feed arbitrary bytes, never panic.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    use crate::{Context, KnownHosts, SshConfig, resolve};

    /// Parses `data` as a known_hosts file and looks a few names up with the first parsed key.
    pub fn fuzz_known_hosts(data: &[u8]) {
        let kh = KnownHosts::parse(Path::new("fuzz"), &String::from_utf8_lossy(data));
        let _ = kh.warnings().len();
        let Some(key) = kh.find("*", 22).first().map(|f| f.key.clone()).or_else(|| {
            ["a", "localhost", "host.example.com"]
                .iter()
                .find_map(|h| kh.find(h, 22).first().map(|f| f.key.clone()))
        }) else {
            return;
        };
        for (h, p) in [("a", 22), ("localhost", 2222), ("host.example.com", 22)] {
            let _ = kh.check_at(h, p, &key, 0);
            let _ = kh.find(h, p);
        }
    }

    /// Parses `data` as an ssh_config file (and as `-o` options, line by line), then resolves
    /// a few destinations.
    pub fn fuzz_ssh_config(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let lines: Vec<&str> = text.lines().collect();
        let _ = SshConfig::parse_options(&lines, &["sendenv"]);
        let Ok(cfg) = SshConfig::parse(Path::new("fuzz"), &text) else {
            return;
        };
        for alias in ["a", "host.example.com", "%h", ""] {
            let ctx = Context::new(alias, "me", Path::new("/home/me"))
                .local_hostname("box.local")
                .uid(1000);
            let _ = resolve(&ctx, &[&cfg]);
        }
    }
}
