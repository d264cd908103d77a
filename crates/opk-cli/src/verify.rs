//! `opk verify %u %k %t`: sshd's AuthorizedKeysCommand.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
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
    /// Further sshd tokens (e.g. %C), passed to policy plugins as opkssh does.
    pub(crate) extra: Vec<String>,
    /// providers, auth_id, config.yml, policy.d, passwd: the files `opk audit` and
    /// `opk permissions` check.
    #[command(flatten)]
    pub(crate) files: crate::files::ServerFiles,
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
    /// The sudo that runs `sudo -n <this opk> readhome %u` for a home policy verify may not open
    /// itself (an unprivileged AuthorizedKeysCommandUser), as opkssh does.
    #[arg(
        long,
        env = "OPK_SUDO_COMMAND",
        default_value = "sudo",
        value_name = "PROGRAM"
    )]
    pub(crate) sudo_command: PathBuf,
    /// Seconds one policy plugin may run before it is killed (and does not allow).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) plugin_timeout: f64,
    /// Also append one JSON record per decision to this file (for a SIEM).
    #[arg(long, env = "OPK_AUDIT_LOG")]
    pub(crate) audit_log: Option<PathBuf>,
    /// Seconds the whole verify may take; past it, it denies (well under sshd's LoginGraceTime).
    #[arg(long, default_value_t = DEFAULT_DEADLINE_SECS, value_name = "SECONDS")]
    pub(crate) deadline: f64,
}

/// Above one cold fetch with a blackholed OP (5 s connect timeout, then the stale cache) and
/// well below sshd's LoginGraceTime (120 s by default, 30 s on hardened hosts), which would
/// otherwise end the whole connection instead of refusing this one key.
const DEFAULT_DEADLINE_SECS: f64 = 15.0;

/// Fails closed whatever happens, a panic included: empty stdout, a reason, exit 1.
pub(crate) fn run(args: &Args) -> ExitCode {
    let started = std::time::Instant::now();
    let deadline = Duration::try_from_secs_f64(args.deadline).unwrap_or(Duration::ZERO);
    // Plugins are killed a little before the watchdog ends the process, so none is left behind.
    let plugin_margin = (deadline / 10).min(Duration::from_secs(1));
    let paths = opk_verify::ServerPaths {
        providers: args.files.providers_file.clone(),
        auth_id: args.files.auth_id_file.clone(),
        home_policy: !args.no_home_policy,
        passwd: args.files.passwd.passwd_file.clone(),
        // The path sudoers names (opk install writes it from its own path, the same binary).
        home_via_sudo: std::env::current_exe()
            .ok()
            .map(|opk| opk_verify::SudoReadhome {
                sudo: args.sudo_command.clone(),
                opk,
                timeout: Duration::from_secs(10),
            }),
        jwks_cache: (!args.no_jwks_cache).then(|| args.jwks_cache_dir.clone()),
        log: Some(args.log_file.clone()),
        config: Some(args.files.config_path.clone()),
        plugins: Some(args.files.policy_plugin_dir.clone()),
        plugin_timeout: Duration::try_from_secs_f64(args.plugin_timeout).unwrap_or(Duration::ZERO),
        plugins_until: Some(started + deadline.saturating_sub(plugin_margin)),
    };
    let mut log = opk_verify::Log::open(paths.log.as_deref());
    if let Some(audit) = &args.audit_log {
        log.audit_to(audit);
    }
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
        extra_args: &args.extra,
    };
    let fetcher = opk_jwks::HttpJwksFetcher::new(opk_http::HttpOptions {
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(10),
        ..Default::default()
    });
    let decided = Arc::new(Mutex::new(false));
    let _watchdog = watchdog(deadline, &args.principal, log.try_clone(), &decided);
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        opk_verify::verify(&paths, &request, SystemTime::now(), &fetcher, &mut log)
    }));
    // Held to the end: the watchdog cannot deny while the decision is being written.
    let mut decided = decided.lock().unwrap_or_else(PoisonError::into_inner);
    *decided = true;
    let reason = match outcome {
        Ok(Ok(allowed)) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{}", allowed.line)
                .and_then(|()| out.flush())
                .is_ok()
            {
                log.line(&allowed.summary);
                log.decision(&args.principal, Ok(&allowed.rule));
                return ExitCode::SUCCESS;
            }
            "cannot write to stdout".to_owned()
        }
        Ok(Err(e)) => crate::one_line(&e),
        Err(_) => "internal error (panic) while verifying; denied".to_owned(),
    };
    log.line(&format!("denied: {reason}"));
    log.decision(&args.principal, Err(&reason));
    eprintln!("Error: {}", opk_verify::escape_controls(&reason));
    ExitCode::FAILURE
}

/// Denies and exits if verify has not decided within `deadline` (a FIFO, a hung NFS home, an OP
/// that accepts and never answers: R-3 in docs/hazards.md). Dropping the returned sender ends it.
fn watchdog(
    deadline: Duration,
    principal: &str,
    mut log: opk_verify::Log,
    decided: &Arc<Mutex<bool>>,
) -> mpsc::Sender<()> {
    let (done, wait) = mpsc::channel::<()>();
    let decided = Arc::clone(decided);
    let principal = principal.to_owned();
    std::thread::spawn(move || {
        if wait.recv_timeout(deadline) != Err(mpsc::RecvTimeoutError::Timeout) {
            return;
        }
        let decided = decided.lock().unwrap_or_else(PoisonError::into_inner);
        if *decided {
            return;
        }
        let reason = format!(
            "verify did not finish within {} s (--deadline); denied: a server file, plugin or the OP is not answering (see the lines above)",
            deadline.as_secs_f64()
        );
        log.line(&format!("denied: {reason}"));
        log.decision(&principal, Err(&reason));
        eprintln!("Error: {reason}");
        // Whatever is stuck stays stuck; the process ends with it, before stdout was written.
        std::process::exit(1);
    });
    done
}
