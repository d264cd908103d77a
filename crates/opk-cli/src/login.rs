//! `opk login [ALIAS]`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::bail;

/// `opk login`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Provider alias from OPKSSH_PROVIDERS (defaults to OPKSSH_DEFAULT).
    pub(crate) alias: Option<String>,
    /// ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]] (scopes space-separated).
    // This doc comment is the --help text (opkssh's syntax), not a rustdoc link.
    #[allow(rustdoc::broken_intra_doc_links)]
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

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let providers_env = std::env::var("OPKSSH_PROVIDERS").ok();
    let default_env = std::env::var("OPKSSH_DEFAULT").ok();
    let provider = opk_login::resolve_provider(&opk_login::ProviderChoice {
        provider: args.provider.as_deref(),
        alias: args.alias.as_deref(),
        providers_env: providers_env.as_deref(),
        default_env: default_env.as_deref(),
    })?;
    let oidc = opk_login::oidc_options(
        !args.disable_browser_open,
        Duration::from_secs(args.timeout),
    );
    let request = opk_login::LoginRequest {
        provider: &provider,
        key_algorithm: args.key_type,
        oidc: &oidc,
        principals: args.principals.clone(),
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
    // One HTTP client (one CA-bundle parse) for the OIDC flow and the JWKS self-check.
    let fetcher = opk_jwks::HttpJwksFetcher::new(opk_http::HttpOptions::default());
    let http = fetcher.client()?;
    let done = opk_login::login(&request, http, &fetcher, &SystemTime::now, &mut show_url)?;

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

fn home_dir() -> anyhow::Result<PathBuf> {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h)),
        _ => bail!("HOME is not set: set it, or pass -i PATH for the key"),
    }
}
