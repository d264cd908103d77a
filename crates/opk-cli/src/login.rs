//! `opk login [ALIAS]`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use std::io::IsTerminal as _;

use anyhow::bail;

/// `opk login`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Provider alias from OPKSSH_PROVIDERS or the client config (default: OPKSSH_DEFAULT, then
    /// the config's default_provider).
    pub(crate) alias: Option<String>,
    /// Client config file [default: ~/.opk/config.yml; built-in providers when it is missing].
    #[arg(long, value_name = "PATH")]
    pub(crate) config_path: Option<PathBuf>,
    /// Write the default client config (Google, Microsoft, GitLab, hello) if there is none, and exit.
    #[arg(long)]
    pub(crate) create_config: bool,
    /// Set up ~/.ssh/opkssh (one key per provider) and its Include line in ~/.ssh/config, and exit.
    #[arg(long)]
    pub(crate) configure: bool,
    /// Replace the key at -i PATH even if opk did not write it.
    #[arg(long)]
    pub(crate) force: bool,
    /// ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]] (scopes space-separated).
    // This doc comment is the --help text (opkssh's syntax), not a rustdoc link.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long)]
    pub(crate) provider: Option<String>,
    /// Print the login URL instead of opening a browser.
    #[arg(long)]
    pub(crate) disable_browser_open: bool,
    /// Log in with a code on another device (RFC 8628 device flow); the default when there is
    /// no display and no --disable-browser-open.
    #[arg(long)]
    pub(crate) device: bool,
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
    /// Do not load the key and certificate into ssh-agent (done when SSH_AUTH_SOCK is set).
    #[arg(long)]
    pub(crate) no_agent: bool,
    /// How long ssh-agent keeps them: a server expiry policy (24h, oidc, ...) or a duration
    /// (90s, 30m, 12h, 2d). Default: while a 24h server accepts the token.
    #[arg(long, value_parser = str::parse::<opk_login::AgentLifetime>)]
    pub(crate) lifetime: Option<opk_login::AgentLifetime>,
    /// Seconds to wait for the login to finish (in the browser, or the device code).
    #[arg(long, default_value_t = 300)]
    pub(crate) timeout: u64,
    /// Print the ID token's claims after the login (as opkssh's; to see why a policy row does not match).
    #[arg(long)]
    pub(crate) print_id_token: bool,
    /// Redirect URI sent to the OP instead of the loopback one, for a browser elsewhere: the server
    /// there must pass the callback's query on to http://localhost:PORT/login-callback (as opkssh's).
    #[arg(long, value_name = "URI")]
    pub(crate) remote_redirect_uri: Option<String>,
    /// Also append what login says to DIR/opkssh.log (as opkssh's; default: no log file).
    #[arg(long, value_name = "DIR")]
    pub(crate) log_dir: Option<PathBuf>,
    /// Keep running and refresh the ID token before it expires, rewriting the certificate (same
    /// key) for oidc_refreshed servers (as opkssh's); ends when the provider stops refreshing.
    #[arg(long, conflicts_with = "print_key")]
    pub(crate) auto_refresh: bool,
    /// After the login, show the new certificate as `opk inspect` does (as opkssh's).
    #[arg(long)]
    pub(crate) inspect_cert: bool,
    /// Same as --inspect-cert (opkssh's -v does only that).
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
}

/// What login says, on the terminal and, with --log-dir, in the log.
struct Say {
    log: Option<opk_login::LoginLog>,
}

impl Say {
    /// A line (or several) on stdout.
    fn out(&mut self, message: &str) {
        println!("{message}");
        self.log(message);
    }

    /// A line on stderr.
    fn err(&mut self, message: &str) {
        eprintln!("{message}");
        self.log(message);
    }

    /// Only into the log; a log that stops working is said once and then left alone.
    fn log(&mut self, message: &str) {
        if let Some(log) = &mut self.log
            && let Err(e) = log.write(message)
        {
            eprintln!(
                "Warning: {}; logging to the terminal only",
                crate::one_line(&e)
            );
            self.log = None;
        }
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let log = args.log_dir.as_deref().and_then(|dir| {
        opk_login::LoginLog::open(dir)
            .inspect_err(|e| {
                // As opkssh: a log that cannot be opened does not stop the login.
                eprintln!(
                    "Warning: {}; logging to the terminal only",
                    crate::one_line(e)
                );
            })
            .ok()
    });
    let mut say = Say { log };
    let result = run_with(args, &mut say);
    if let Err(e) = &result {
        // main prints it to stderr; the log gets the same line.
        say.log(&format!("Error: {}", crate::one_line(e.as_ref())));
    }
    result
}

fn run_with(args: &Args, say: &mut Say) -> anyhow::Result<()> {
    if args.configure {
        if opk_login::configure_identity_dir(&home_dir()?)? {
            say.out("Added Include ~/.ssh/opkssh/config to ~/.ssh/config");
        }
        say.out(
            "OPK SSH identity directory is configured: each provider's key goes to ~/.ssh/opkssh",
        );
        return Ok(());
    }
    let config_path = match &args.config_path {
        Some(p) => p.clone(),
        None if args.provider.is_some() && !args.create_config => PathBuf::new(),
        None => home_dir()?.join(".opk/config.yml"),
    };
    if args.create_config {
        if opk_login::create_default_config(&config_path)? {
            say.out(&format!(
                "Wrote the default client config to {}",
                config_path.display()
            ));
            return Ok(());
        }
        say.err(&format!(
            "{} exists; leaving it as it is",
            config_path.display()
        ));
    }
    // --provider needs no config (as in opkssh), so a broken file does not block it.
    let config = if args.provider.is_some() {
        None
    } else {
        Some(
            opk_login::ClientConfig::load(&config_path)?
                .unwrap_or_else(opk_login::ClientConfig::builtin),
        )
    };
    if let Some(c) = &config {
        for (key, line) in &c.unknown_keys {
            say.err(&format!(
                "Note: {} line {line}: unknown key {key:?} ignored",
                config_path.display()
            ));
        }
    }
    let providers_env = std::env::var("OPKSSH_PROVIDERS").ok();
    let default_env = std::env::var("OPKSSH_DEFAULT").ok();
    let mut entry = opk_login::resolve_provider(&opk_login::ProviderChoice {
        provider: args.provider.as_deref(),
        alias: args.alias.as_deref(),
        providers_env: providers_env.as_deref(),
        default_env: default_env.as_deref(),
        config: config.as_ref(),
    })?;
    // As in opkssh, the flag wins over the config, for --provider too (opkssh #471).
    if let Some(uri) = &args.remote_redirect_uri {
        entry.remote_redirect_uri = Some(uri.clone());
    }
    let provider = &entry.spec;
    say.log(&format!(
        "Logging in at {} as client {}",
        provider.issuer, provider.client_id
    ));

    // Where the files go, checked before anyone is sent to a browser.
    let location = if args.print_key {
        None
    } else {
        let home = if args.private_key_file.is_some() {
            PathBuf::new()
        } else {
            home_dir()?
        };
        let explicit = args.private_key_file.as_deref();
        let loc = opk_login::key_location(&home, explicit, args.key_type, provider)?;
        opk_login::check_location(&loc, explicit.is_some(), args.force)?;
        Some(loc)
    };

    let oidc = opk_login::oidc_options(
        &entry,
        !args.disable_browser_open,
        Duration::from_secs(args.timeout),
    );
    let send_access_token = args.send_access_token
        || entry.send_access_token
        || config.as_ref().is_some_and(|c| c.send_access_token);
    let request = opk_login::LoginRequest {
        provider,
        key_algorithm: args.key_type,
        oidc: &oidc,
        principals: args.principals.clone(),
        send_access_token,
    };
    // The URL goes to stderr on a line of its own: stdout stays clean for --print-key.
    let mut show_url = |url: &str| {
        if args.disable_browser_open {
            eprintln!("Open this URL in a browser to log in:\n{url}");
        } else {
            eprintln!("Opening your browser to log in; if it did not open, visit:\n{url}");
        }
    };
    // One HTTP client (one CA-bundle parse) for the OIDC flow and the JWKS self-check.
    let fetcher = opk_jwks::HttpJwksFetcher::new(opk_http::HttpOptions::default());
    let http = fetcher.client()?;
    // No display and nobody asked for a printed URL (or a browser elsewhere): a browser cannot
    // open here, so use a code.
    let automatic = !args.device
        && !args.disable_browser_open
        && entry.remote_redirect_uri.is_none()
        && !has_display();
    let stderr = std::io::stderr();
    let terminal = stderr.is_terminal();
    let mut ui = opk_login::TerminalDeviceUi::new(stderr, terminal);
    let done = opk_login::login_with(&request, &fetcher, &SystemTime::now, &mut |nonce| {
        if args.device || automatic {
            let timeout = Duration::from_secs(args.timeout);
            let result = opk_login::login_with_device(http, provider, nonce, timeout, &mut ui);
            ui.finish();
            match result {
                // The OP has no device flow: fall back to the printed URL.
                Err(e) if automatic && e.is_no_device_flow() => {}
                other => return other,
            }
        }
        opk_login::login_with_browser(http, provider, nonce, &oidc, &mut show_url)
    })?;

    // The key, the certificate and the ID token go to stdout only, never into the log.
    let Some(location) = location else {
        println!("{}", done.cert.to_line(None));
        print!("{}", done.private_key_pem()?);
        if args.print_id_token {
            println!("{}", done.id_token_text());
        }
        inspect_cert(args, &done)?;
        return Ok(());
    };
    done.write(&location)?;
    // Said once the files are in place, so the message never names a file that is not there.
    say.out(&format!(
        "Writing opk ssh public key to {} and corresponding secret key to {}",
        location.cert.display(),
        location.key.display()
    ));
    if args.print_id_token {
        println!("{}", done.id_token_text());
    }
    inspect_cert(args, &done)?;
    if !args.no_agent {
        add_to_agent(&done, args.lifetime.unwrap_or_default(), say);
    }
    let [email, sub, iss, aud] = done.identity();
    say.out("Keys generated for identity");
    if email.is_empty() {
        say.out("WARNING: the ID token has no email claim; policies based on email will not work");
        say.out(&format!("Sub, issuer, audience: \n{sub} {iss} {aud}"));
    } else {
        say.out(&format!(
            "Email, sub, issuer, audience: \n{email} {sub} {iss} {aud}"
        ));
    }
    if !args.auto_refresh {
        return Ok(());
    }
    say.out("Refreshing the ID token before it expires (--auto-refresh); Ctrl-C to stop");
    let stopped = opk_login::keep_refreshed(
        done,
        http,
        &fetcher,
        provider,
        send_access_token,
        &opk_login::RefreshSettings::default(),
        &SystemTime::now,
        &mut std::thread::sleep,
        &mut |r| {
            r.login.write(&location)?;
            say.out(&format!(
                "Refreshed the ID token (valid until {} UTC) and rewrote {}",
                opk_pktoken::log_timestamp(r.expires.max(0) as u64),
                location.cert.display()
            ));
            if !args.no_agent {
                add_to_agent(r.login, args.lifetime.unwrap_or_default(), say);
            }
            Ok(())
        },
    );
    match stopped {
        Err(e) => Err(e.into()),
    }
}

/// `--inspect-cert` (or `-v`): `opk inspect`'s view of the new certificate, on stdout.
fn inspect_cert(args: &Args, done: &opk_login::Login) -> anyhow::Result<()> {
    if args.inspect_cert || args.verbose {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        print!(
            "{}",
            opk_admin::inspect::inspect(&done.cert.to_line(None), now)?
        );
    }
    Ok(())
}

/// Loads the new pair into the agent SSH_AUTH_SOCK names. The files are written by now, so a
/// missing or broken agent is a warning, not a failed login.
fn add_to_agent(done: &opk_login::Login, lifetime: opk_login::AgentLifetime, say: &mut Say) {
    let Some(socket) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let loaded = done
        .agent_lifetime(lifetime, now)
        .and_then(|secs| opk_login::load_into_agent(std::path::Path::new(&socket), done, secs));
    match loaded {
        Ok(l) => {
            let until = match l.lifetime {
                Some(secs) => format!("for {}", human_duration(secs)),
                None => "without a time limit".to_owned(),
            };
            let replaced = match l.replaced {
                0 => String::new(),
                n => format!(", replacing {n} older opk identity(ies) of this provider"),
            };
            say.out(&format!(
                "Added the key and certificate to ssh-agent {until}{replaced}"
            ));
        }
        Err(e) => say.err(&format!(
            "Warning: not added to ssh-agent: {} (pass --no-agent to skip)",
            crate::one_line(&e)
        )),
    }
}

/// `1d 2h`, `23h 59m`, `5m 3s`: the two largest units.
fn human_duration(secs: u32) -> String {
    let units = [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let parts: Vec<String> = units
        .iter()
        .scan(secs, |left, &(size, name)| {
            let n = *left / size;
            *left %= size;
            Some((n, name))
        })
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n}{name}"))
        .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Whether a graphical browser could show up: a display on Linux and the BSDs; macOS always.
pub(crate) fn has_display() -> bool {
    cfg!(target_os = "macos")
        || ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

pub(crate) fn home_dir() -> anyhow::Result<PathBuf> {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h)),
        _ => bail!("HOME is not set: set it, or pass -i PATH for the key"),
    }
}
