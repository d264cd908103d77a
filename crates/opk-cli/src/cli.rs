//! Command-line definitions. opkssh's commands, flags and argument order are kept so scripts and
//! sshd_config lines work unchanged; opk's additions are flags with env-var twins.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// SSH with OpenID Connect single sign-on, compatible with OPKSSH.
#[derive(Parser, Debug)]
#[command(name = "opk", version, about)]
pub(crate) struct Cli {
    /// The command.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// opk's commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Sign in to an OpenID provider and write an SSH key + certificate carrying a PK Token.
    Login(LoginArgs),
    /// sshd AuthorizedKeysCommand: `opk verify %u %k %t`. Prints one cert-authority line or nothing.
    Verify(VerifyArgs),
    /// Allow an identity (email, sub, oidc:claim:value, ...) of an issuer to log in as a principal.
    Add(AddArgs),
}

/// `opk login`.
#[derive(Args, Debug)]
pub(crate) struct LoginArgs {
    /// Provider alias from OPKSSH_PROVIDERS (defaults to OPKSSH_DEFAULT).
    pub(crate) alias: Option<String>,
    /// ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]] (scopes space-separated).
    #[arg(long)]
    pub(crate) provider: Option<String>,
    /// Print the login URL instead of opening a browser.
    #[arg(long)]
    pub(crate) disable_browser_open: bool,
    /// Key type: ecdsa (P-256) or ed25519, any case (as opkssh's -t).
    #[arg(short = 't', long = "key-type", default_value = "ecdsa", value_parser = str::parse::<opk_sshcert::KeyAlgorithm>)]
    pub(crate) key_type: opk_sshcert::KeyAlgorithm,
    /// Private key path; the certificate goes to PATH-cert.pub. Wins over every default.
    #[arg(short = 'i', long = "private-key-file")]
    pub(crate) private_key_file: Option<PathBuf>,
    /// Write nothing; print the certificate line and the private key to stdout.
    #[arg(short = 'p', long)]
    pub(crate) print_key: bool,
    /// Certificate principals, comma-separated (default: opkssh-wildcard).
    #[arg(long, value_delimiter = ',')]
    pub(crate) principals: Option<Vec<String>>,
    /// Put the OAuth access token into the certificate (servers may call userinfo with it).
    #[arg(long)]
    pub(crate) send_access_token: bool,
    /// Seconds to wait for the browser to come back.
    #[arg(long, default_value_t = 300)]
    pub(crate) timeout: u64,
}

/// `opk verify`.
#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Target account (%u).
    pub(crate) principal: String,
    /// Base64 of the offered key (%k).
    pub(crate) cert: String,
    /// Type of the offered key (%t).
    pub(crate) key_type: String,
    /// Further sshd tokens (e.g. %C), accepted like opkssh and ignored.
    pub(crate) extra: Vec<String>,
    /// Providers file.
    #[arg(long, env = "OPK_PROVIDERS_FILE", default_value = "/etc/opk/providers")]
    pub(crate) providers_file: PathBuf,
    /// System policy file.
    #[arg(long, env = "OPK_AUTH_ID_FILE", default_value = "/etc/opk/auth_id")]
    pub(crate) auth_id_file: PathBuf,
    /// Log file (opkssh's location by default).
    #[arg(long, env = "OPK_LOG_FILE", default_value = "/var/log/opkssh.log")]
    pub(crate) log_file: PathBuf,
    /// JWKS cache directory, shared by concurrent verify processes.
    #[arg(
        long,
        env = "OPK_JWKS_CACHE_DIR",
        default_value = "/var/cache/opk/jwks"
    )]
    pub(crate) jwks_cache_dir: PathBuf,
    /// Fetch the JWKS on every attempt, as opkssh does.
    #[arg(long)]
    pub(crate) no_jwks_cache: bool,
    /// Do not read the target user's ~/.opk/auth_id.
    #[arg(long)]
    pub(crate) no_home_policy: bool,
    /// passwd file used to find home directories.
    #[arg(
        long,
        env = "OPK_PASSWD_FILE",
        default_value = "/etc/passwd",
        hide = true
    )]
    pub(crate) passwd_file: PathBuf,
    /// opkssh's server config; verify refuses all logins if it sets deny lists opk cannot enforce yet.
    #[arg(long, env = "OPK_SERVER_CONFIG", default_value = "/etc/opk/config.yml")]
    pub(crate) config_path: PathBuf,
}

/// `opk add`.
#[derive(Args, Debug)]
pub(crate) struct AddArgs {
    /// Account name on this host.
    pub(crate) principal: String,
    /// Email, subject, oidc:CLAIM:VALUE, oidc-match-end:email:@DOMAIN or repo: glob.
    pub(crate) identity: String,
    /// Issuer URL, or google / azure / microsoft / gitlab / hello.
    pub(crate) issuer: String,
    /// Policy file to edit (default /etc/opk/auth_id, falling back to ~/.opk/auth_id of the
    /// principal when the system file is not writable).
    #[arg(long, env = "OPK_AUTH_ID_FILE")]
    pub(crate) auth_id_file: Option<PathBuf>,
}
