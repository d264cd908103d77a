//! The overlay flags `opk zssh`, `opk zscp` and `opk zssh mfa` share (zssh's spelling), and how
//! they become an [`opk_ziti::OverlayTransport`].

use std::path::PathBuf;
use std::time::Duration;

/// Bound on each controller request.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// zssh's `-i`.
#[derive(clap::Args, Debug)]
pub(crate) struct SshKey {
    #[arg(
        help = "SSH private key (its KEY-cert.pub is used with it); default: opk's key, then ~/.ssh/id_*",
        short = 'i',
        long = "SshKeyPath"
    )]
    pub(crate) ssh_key: Option<PathBuf>,
}

#[derive(clap::Args, Debug, Clone)]
pub(crate) struct OverlayFlags {
    #[arg(
        help = "OpenZiti identity file [default: ~/.ziti/zssh.json]",
        short = 'c',
        long = "ZConfig"
    )]
    zconfig: Option<PathBuf>,
    #[arg(
        help = "OpenZiti service the SSH servers host",
        short = 's',
        long = "service",
        default_value = "zssh"
    )]
    pub(crate) service: String,
    #[arg(
        help = "Shell command printing the current TOTP code, when the controller asks for one (default: ask on the terminal)",
        long = "totp-command"
    )]
    totp_command: Option<String>,
    #[arg(
        help = "Say what the overlay does on stderr (API-session refreshes)",
        short = 'd',
        long = "debug"
    )]
    debug: bool,
    #[arg(
        help = "Also present the OIDC ID token in this opk certificate (the KEY-cert.pub of `opk login`) to the controller, for an auth policy with an external-JWT signer",
        long = "oidc-cert",
        value_name = "CERT",
        conflicts_with = "oidc"
    )]
    oidc_cert: Option<PathBuf>,
    #[arg(
        help = "Sign in at the IdP (-a) in a browser and present that token to the controller, for an auth policy with an external-JWT signer",
        short = 'o',
        long = "oidc"
    )]
    oidc: bool,
    #[arg(
        help = "The IdP's issuer URL, for -o",
        short = 'a',
        long = "oidcIssuer",
        visible_alias = "oidc-issuer",
        value_name = "ISSUER"
    )]
    oidc_issuer: Option<String>,
    #[arg(
        help = "The IdP client id, for -o [default: openziti-client]",
        short = 'n',
        long = "clientID",
        visible_alias = "client-id",
        value_name = "ID"
    )]
    client_id: Option<String>,
    #[arg(
        help = "The IdP client secret, for -o (default: none, a public client with PKCE)",
        short = 'e',
        long = "clientSecret",
        visible_alias = "client-secret",
        value_name = "SECRET"
    )]
    client_secret: Option<String>,
    #[arg(
        help = "Loopback port of the redirect URI http://localhost:PORT/auth/callback, for -o [default: 63275]",
        short = 'p',
        long = "callbackPort",
        visible_alias = "callback-port",
        value_name = "PORT"
    )]
    callback_port: Option<u16>,
    #[arg(
        help = "Extra parameter for the IdP's authorize request, for -o (repeatable)",
        short = 'l',
        long = "additionalLoginParams",
        visible_alias = "additional-login-params",
        value_name = "PARAM=VALUE",
        value_parser = login_param
    )]
    login_params: Vec<(String, String)>,
    #[arg(
        help = "No identity file: the OIDC token (-o, or --oidc-cert) is the primary credential at --controllerUrl",
        long = "oidcOnly",
        visible_alias = "oidc-only",
        conflicts_with = "zconfig",
        requires = "controller_url"
    )]
    oidc_only: bool,
    #[arg(
        help = "The controller (host:port or https URL), for --oidcOnly; its TLS certificate must chain to the system CAs or SSL_CERT_FILE",
        long = "controllerUrl",
        visible_alias = "controller-url",
        value_name = "URL",
        requires = "oidc_only"
    )]
    controller_url: Option<String>,
}

/// `-l param=value`.
fn login_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not param=value")),
    }
}

/// How long a browser sign-in (-o) may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

impl OverlayFlags {
    /// `-c`, else `~/.ziti/zssh.json` (zssh's default; its help text names another file).
    pub(crate) fn identity(&self) -> anyhow::Result<PathBuf> {
        match &self.zconfig {
            Some(p) => Ok(p.clone()),
            None => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
                Some(h) => Ok(PathBuf::from(h).join(".ziti/zssh.json")),
                None => anyhow::bail!("HOME is not set: set it, or pass -c IDENTITY_FILE"),
            },
        }
    }

    pub(crate) fn totp(&self) -> opk_ziti::TotpSource {
        self.totp_command
            .clone()
            .map_or(opk_ziti::TotpSource::Prompt, opk_ziti::TotpSource::Command)
    }

    /// The credential these flags name. A browser sign-in happens for -o, and for --oidcOnly
    /// without --oidc-cert (zssh's --oidcOnly implies -o).
    fn credential(&self) -> anyhow::Result<opk_ziti::Credential> {
        let browser = self.oidc || (self.oidc_only && self.oidc_cert.is_none());
        let idp_flags = self.oidc_issuer.is_some()
            || self.client_id.is_some()
            || self.client_secret.is_some()
            || self.callback_port.is_some()
            || !self.login_params.is_empty();
        if idp_flags && !browser {
            anyhow::bail!(
                "-a, -n, -e, -p and -l set up the browser sign-in: add -o (or leave out --oidc-cert)"
            );
        }
        let token = if browser {
            Some(self.browser_token()?)
        } else {
            match &self.oidc_cert {
                Some(p) => Some(opk_ziti::id_token_from_opk_cert(p)?),
                None => None,
            }
        };
        Ok(match (self.oidc_only, &self.controller_url, token) {
            (true, Some(controller), Some(jwt)) => opk_ziti::Credential::OidcOnly {
                controller: controller.clone(),
                jwt,
            },
            (true, ..) => anyhow::bail!("--oidcOnly needs --controllerUrl and a token"),
            (false, _, ext_jwt) => opk_ziti::Credential::IdentityFile {
                path: self.identity()?,
                ext_jwt,
            },
        })
    }

    /// zssh's -o: a browser sign-in at -a; the URL goes to stderr too (a headless box's user
    /// opens it elsewhere).
    fn browser_token(&self) -> anyhow::Result<String> {
        let Some(issuer) = self.oidc_issuer.clone() else {
            anyhow::bail!("-o signs in at an IdP: pass its issuer URL with -a ISSUER");
        };
        let login = opk_ziti::IdpLogin {
            issuer: issuer.clone(),
            client_id: self
                .client_id
                .clone()
                .unwrap_or_else(|| opk_ziti::ZSSH_CLIENT_ID.to_owned()),
            client_secret: self.client_secret.clone(),
            callback_port: self.callback_port.unwrap_or(opk_ziti::ZSSH_CALLBACK_PORT),
            extra_params: self.login_params.clone(),
            open_browser: crate::login::has_display(),
            timeout: BROWSER_TIMEOUT,
        };
        let mut show = |url: &str| {
            eprintln!(
                "opk: sign in to {issuer} for the overlay (waiting {} s); the browser should open, else open:",
                BROWSER_TIMEOUT.as_secs()
            );
            eprintln!("{url}");
        };
        Ok(opk_ziti::idp_token(&login, &mut show)?)
    }

    /// Authenticates as these flags say (identity certificate or OIDC token, TOTP, OIDC token
    /// as second factor).
    pub(crate) fn authenticate(
        &self,
    ) -> anyhow::Result<(
        opk_ziti::Identity,
        opk_ziti::Controller,
        opk_ziti::ApiSession,
    )> {
        Ok(opk_ziti::authenticate(
            &self.credential()?,
            &self.totp(),
            TIMEOUT,
        )?)
    }

    pub(crate) fn transport(&self) -> anyhow::Result<opk_ziti::OverlayTransport> {
        Ok(opk_ziti::OverlayTransport::new(opk_ziti::OverlayOptions {
            credential: self.credential()?,
            service: self.service.clone(),
            totp: self.totp(),
            timeout: TIMEOUT,
            debug: self.debug,
        }))
    }

    /// The ssh option that records host keys per target identity and service, never per edge
    /// router (zssh's known_hosts entries collide for hosts behind one router).
    pub(crate) fn host_key_alias(&self, identity: &str) -> String {
        format!("HostKeyAlias={identity}.{}.ziti", self.service)
    }
}
