//! `opk verify %u %k %t`: sshd's AuthorizedKeysCommand.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// `opk verify`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
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

/// Fails closed whatever happens, a panic included: empty stdout, a reason, exit 1.
pub(crate) fn run(args: &Args) -> ExitCode {
    let paths = opk_verify::ServerPaths {
        providers: args.providers_file.clone(),
        auth_id: args.auth_id_file.clone(),
        home_policy: !args.no_home_policy,
        passwd: args.passwd_file.clone(),
        jwks_cache: (!args.no_jwks_cache).then(|| args.jwks_cache_dir.clone()),
        log: Some(args.log_file.clone()),
        config: Some(args.config_path.clone()),
    };
    let mut log = opk_verify::Log::open(paths.log.as_deref());
    log.line(&format!(
        "opk verify: principal={:?} key_type={:?} key_len={} extra={:?}",
        args.principal,
        args.key_type,
        args.cert.len(),
        args.extra
    ));
    let request = opk_verify::Request {
        principal: &args.principal,
        key_b64: &args.cert,
        key_type: &args.key_type,
    };
    let fetcher = opk_jwks::HttpJwksFetcher::new(opk_http::HttpOptions {
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(10),
        ..Default::default()
    });
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        opk_verify::verify(&paths, &request, SystemTime::now(), &fetcher, &mut log)
    }));
    let reason = match outcome {
        Ok(Ok(allowed)) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{}", allowed.line)
                .and_then(|()| out.flush())
                .is_ok()
            {
                log.line(&allowed.summary);
                return ExitCode::SUCCESS;
            }
            "cannot write to stdout".to_owned()
        }
        Ok(Err(e)) => crate::one_line(&e),
        Err(_) => "internal error (panic) while verifying; denied".to_owned(),
    };
    log.line(&format!("denied: {reason}"));
    eprintln!("Error: {reason}");
    ExitCode::FAILURE
}
