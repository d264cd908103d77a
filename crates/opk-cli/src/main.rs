//! The `opk` binary: parses arguments, calls the library crates, maps errors to exit codes
//! (0 success, 1 failure — opkssh's contract, which sshd and scripts rely on).
#![forbid(unsafe_code)]

mod cli;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use clap::Parser as _;
use cli::{AddArgs, Cli, Command, LoginArgs, VerifyArgs};
use opk_oidc::{LoginOptions, ProviderSpec};

fn main() -> ExitCode {
    // opkssh (cobra) exits 1 on every failure, argument errors included; clap would use 2.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Verify(args) => return verify(&args),
        Command::Login(args) => login(&args),
        Command::Add(args) => add(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line. Library errors often carry their cause's text in their
/// own message as well as in `source()`; a cause already said is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}

/// Fails closed whatever happens, a panic included: empty stdout, a reason, exit 1.
fn verify(args: &VerifyArgs) -> ExitCode {
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
        Ok(Err(e)) => e.to_string(),
        Err(_) => "internal error (panic) while verifying; denied".to_owned(),
    };
    log.line(&format!("denied: {reason}"));
    eprintln!("Error: {reason}");
    ExitCode::FAILURE
}

fn home_dir() -> anyhow::Result<PathBuf> {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h)),
        _ => bail!("HOME is not set: set it, or pass -i PATH for the key"),
    }
}

/// `--provider`, else the alias (or OPKSSH_DEFAULT) looked up in OPKSSH_PROVIDERS.
fn resolve_provider(args: &LoginArgs) -> anyhow::Result<ProviderSpec> {
    if let Some(p) = &args.provider {
        return p.parse().context("--provider");
    }
    let list = std::env::var("OPKSSH_PROVIDERS").unwrap_or_default();
    if list.trim().is_empty() {
        bail!("no provider given: pass --provider ISSUER,CLIENT_ID or set OPKSSH_PROVIDERS");
    }
    let alias = args
        .alias
        .clone()
        .or_else(|| std::env::var("OPKSSH_DEFAULT").ok())
        .unwrap_or_default();
    let mut found = None;
    for entry in list.split(';').filter(|e| !e.trim().is_empty()) {
        let (name, spec) = entry
            .split_once(',')
            .context("OPKSSH_PROVIDERS entries are alias,issuer,client_id[,secret[,scopes]]")?;
        if name.trim() == alias {
            if found.is_some() {
                bail!("alias {alias:?} appears twice in OPKSSH_PROVIDERS");
            }
            found = Some(
                spec.parse::<ProviderSpec>()
                    .with_context(|| format!("OPKSSH_PROVIDERS entry {name:?}"))?,
            );
        }
    }
    found.with_context(|| {
        format!("no provider alias {alias:?} in OPKSSH_PROVIDERS; pass an alias or --provider")
    })
}

fn login(args: &LoginArgs) -> anyhow::Result<()> {
    let provider = resolve_provider(args)?;
    let key_algorithm = args.key_type;
    let oidc = LoginOptions {
        open_browser: !args.disable_browser_open,
        timeout: Duration::from_secs(args.timeout),
        // opkssh's defaults for --provider: consent (so a refresh token is issued) and offline.
        prompt: Some("consent".into()),
        access_type: Some("offline".into()),
        ..LoginOptions::default()
    };
    // `--principals ""` means no principals, as in opkssh; anything verify would refuse (H-1)
    // fails here rather than at the first ssh.
    let principals = args.principals.as_ref().map(|list| {
        list.iter()
            .filter(|p| !p.is_empty())
            .cloned()
            .collect::<Vec<_>>()
    });
    for p in principals.iter().flatten() {
        opk_policy::check_principal(p).with_context(|| format!("--principals: {p:?}"))?;
    }
    let request = opk_login::LoginRequest {
        provider: &provider,
        key_algorithm,
        oidc: &oidc,
        principals,
        send_access_token: args.send_access_token,
    };
    // The URL goes to stderr on a line of its own: stdout stays clean for --print-key.
    let mut show_url = |url: &str| {
        if args.disable_browser_open {
            eprintln!("Open this URL in a browser to log in:\n{url}");
        } else {
            eprintln!("Opening your browser to log in; if it did not open, visit:\n{url}");
        }
    };
    let done = opk_login::login(&request, &mut show_url)?;

    if args.print_key {
        println!("{}", done.cert.to_line(None));
        print!("{}", done.private_key_pem()?);
        return Ok(());
    }
    let home = if args.private_key_file.is_some() {
        PathBuf::new()
    } else {
        home_dir()?
    };
    let location = opk_login::default_location(&home, args.private_key_file.as_deref(), &done)?;
    println!(
        "Writing opk ssh public key to {} and corresponding secret key to {}",
        location.cert.display(),
        location.key.display()
    );
    done.write(&location)?;
    let [email, sub, iss, aud] = done.identity();
    println!("Keys generated for identity");
    if email.is_empty() {
        println!("WARNING: the ID token has no email claim; policies based on email will not work");
        println!("Sub, issuer, audience: \n{sub} {iss} {aud}");
    } else {
        println!("Email, sub, issuer, audience: \n{email} {sub} {iss} {aud}");
    }
    Ok(())
}

fn add(args: &AddArgs) -> anyhow::Result<()> {
    let issuer = opk_policy::issuer_alias(&args.issuer);
    let path = match &args.auth_id_file {
        Some(p) => p.clone(),
        None => default_auth_id(&args.principal)?,
    };
    let existing = match std::fs::metadata(&path) {
        Ok(m) if m.len() > opk_policy::MAX_FILE_BYTES as u64 => {
            bail!(
                "Failed to add to policy: {} is over {} bytes",
                path.display(),
                opk_policy::MAX_FILE_BYTES
            )
        }
        Ok(_) => std::fs::read(&path)
            .with_context(|| format!("Failed to add to policy: cannot read {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(e).with_context(|| {
                format!("Failed to add to policy: cannot read {}", path.display())
            });
        }
    };
    let outcome = opk_policy::add_row(&existing, &args.principal, &args.identity, issuer)
        .context("Failed to add to policy")?;
    if outcome.changed {
        // A home policy must be 0600 for verify to read it (as opkssh's readhome demands).
        let new_mode = if path.ends_with(".opk/auth_id") {
            0o600
        } else {
            0o640
        };
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)
                .with_context(|| {
                    format!("Failed to add to policy: cannot create {}", dir.display())
                })?;
        }
        // Keeps an existing file's mode, owner and group (root:opksshuser stays readable by verify).
        opk_files::rewrite(&path, outcome.contents.as_bytes(), new_mode)
            .context("Failed to add to policy")?;
    }
    println!("Successfully added new policy to {}", path.display());
    Ok(())
}

/// opkssh's choice of file for `add`: the system policy, or — only when it exists but cannot be
/// written — the principal's own `~/.opk/auth_id`. A missing system policy is an installation
/// problem, not something `add` should paper over by creating it with the wrong group.
fn default_auth_id(principal: &str) -> anyhow::Result<PathBuf> {
    const SYSTEM: &str = "/etc/opk/auth_id";
    match std::fs::OpenOptions::new().append(true).open(SYSTEM) {
        Ok(_) => Ok(PathBuf::from(SYSTEM)),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            let account = opk_files::lookup_account(Path::new("/etc/passwd"), principal)
                .with_context(|| format!("Failed to add to policy: {SYSTEM} is not writable and {principal:?} has no /etc/passwd entry for a home policy"))?;
            Ok(account.home.join(".opk/auth_id"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "Failed to add to policy: {SYSTEM} does not exist; create it root:opksshuser mode 0640 (the installer does) or pass --auth-id-file"
            )
        }
        Err(e) => Err(e).with_context(|| format!("Failed to add to policy: cannot open {SYSTEM}")),
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("request failed: {0}; check the network")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn causes_are_said_once_on_one_line() {
        let io = || std::io::Error::other("connection refused");
        let e = anyhow::Error::new(Repeats(io())).context("--provider");
        assert_eq!(
            one_line(&e),
            "--provider: request failed: connection refused; check the network"
        );
        let e = anyhow::Error::new(io()).context("Failed to add to policy");
        assert_eq!(one_line(&e), "Failed to add to policy: connection refused");
    }
}
