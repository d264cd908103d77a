//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong reading known_hosts or ssh_config files.
///
/// Messages are one line, name the file (and line) and are shown to users.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or text exceeded the size this crate is willing to parse.
    #[error("{path} is too large ({len} bytes, at most {max} allowed)")]
    TooLarge {
        /// The file (or label) concerned.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
        /// The cap.
        max: u64,
    },

    /// A file could not be read (missing files are not errors: they are skipped).
    #[error("could not read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A configuration file others could change (OpenSSH refuses these too).
    #[error(
        "bad owner or permissions on {path}: it must be owned by you or root and not writable by group or others (chmod go-w)"
    )]
    BadPermissions {
        /// The file.
        path: PathBuf,
    },

    /// A line of an ssh_config file (or a `-o` option) is malformed.
    #[error("{path}:{line}: {problem}")]
    Config {
        /// The file, or `command line` for `-o` options.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: ConfigProblem,
    },

    /// A host key could not be written in OpenSSH text form.
    #[error("could not encode the host key for known_hosts")]
    EncodeKey(#[source] ssh_key::Error),

    /// The operating system's random number generator failed (salt for a hashed entry).
    #[error("could not get random bytes from the operating system: {0}")]
    Random(getrandom::Error),
}

/// What is wrong with an ssh_config line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// A quote opened on the line is never closed.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// A keyword that needs an argument has none.
    #[error("{0} needs an argument")]
    MissingArgument(String),
    /// A keyword's argument is not one of the accepted values.
    #[error("invalid value {value:?} for {keyword}")]
    BadValue {
        /// The keyword as written.
        keyword: String,
        /// The offending argument.
        value: String,
    },
    /// `Port` (or a ProxyJump port) is not a number from 1 to 65535.
    #[error("invalid port {0:?}: use a number from 1 to 65535")]
    BadPort(String),
    /// A ProxyJump host is not `[user@]host[:port]` or `ssh://[user@]host[:port]`.
    #[error("invalid ProxyJump host {0:?}: use [user@]host[:port]")]
    BadJump(String),
    /// A `%` token this client does not know.
    #[error("unknown token %{0} (known: %% %C %d %h %i %j %k %L %l %n %p %r %u)")]
    UnknownToken(char),
    /// A `%` at the end of a value.
    #[error("a lone % at the end of {0:?}: write %% for a literal percent sign")]
    TrailingPercent(String),
    /// `~user/...`: only `~` and `~/` (the current user's home) are expanded.
    #[error("{0:?}: only ~/ (your own home directory) is expanded, not ~user")]
    TildeUser(String),
    /// Includes nested deeper than OpenSSH allows.
    #[error("Include nested more than {0} deep")]
    IncludeTooDeep(usize),
    /// An Include glob that cannot be parsed.
    #[error("invalid Include pattern {0:?}")]
    BadInclude(String),
    /// A `-o` option this client does not know or does not support.
    #[error("option {0} is not supported by opk ssh")]
    Unsupported(String),
    /// `Match` without criteria, or a criterion without its argument.
    #[error("Match needs criteria, such as \"Match all\" or \"Match host <patterns>\"")]
    BadMatch,
    /// A line longer than the cap.
    #[error("line too long")]
    LineTooLong,
}
