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
        value_name = "CERT"
    )]
    oidc_cert: Option<PathBuf>,
}

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

    /// The ID token of `--oidc-cert`, if given.
    pub(crate) fn ext_jwt(&self) -> anyhow::Result<Option<String>> {
        Ok(match &self.oidc_cert {
            Some(p) => Some(opk_ziti::id_token_from_opk_cert(p)?),
            None => None,
        })
    }

    /// Authenticates as the identity (certificate, TOTP, OIDC token as these flags say).
    pub(crate) fn authenticate(
        &self,
    ) -> anyhow::Result<(
        opk_ziti::Identity,
        opk_ziti::Controller,
        opk_ziti::ApiSession,
    )> {
        let jwt = self.ext_jwt()?;
        Ok(opk_ziti::authenticate(
            &self.identity()?,
            &self.totp(),
            TIMEOUT,
            jwt.as_deref(),
        )?)
    }

    pub(crate) fn transport(&self) -> anyhow::Result<opk_ziti::OverlayTransport> {
        Ok(opk_ziti::OverlayTransport::new(opk_ziti::OverlayOptions {
            identity: self.identity()?,
            service: self.service.clone(),
            totp: self.totp(),
            timeout: TIMEOUT,
            debug: self.debug,
            ext_jwt: self.ext_jwt()?,
        }))
    }

    /// The ssh option that records host keys per target identity and service, never per edge
    /// router (zssh's known_hosts entries collide for hosts behind one router).
    pub(crate) fn host_key_alias(&self, identity: &str) -> String {
        format!("HostKeyAlias={identity}.{}.ziti", self.service)
    }
}
