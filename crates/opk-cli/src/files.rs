//! The server-file flags `opk permissions` and `opk audit` share with `opk verify` (same names,
//! env twins and defaults), so every command reads the files verify reads.

use std::path::PathBuf;

/// Where the server's files are.
#[derive(clap::Args, Debug)]
pub(crate) struct ServerFiles {
    /// Providers file.
    #[arg(long, env = "OPK_PROVIDERS_FILE", default_value = "/etc/opk/providers")]
    pub(crate) providers_file: PathBuf,
    /// System policy file.
    #[arg(long, env = "OPK_AUTH_ID_FILE", default_value = "/etc/opk/auth_id")]
    pub(crate) auth_id_file: PathBuf,
    /// opkssh's server config: deny_emails, deny_users, env_vars (for the HTTP client and plugins).
    #[arg(long, env = "OPK_SERVER_CONFIG", default_value = "/etc/opk/config.yml")]
    pub(crate) config_path: PathBuf,
    /// Policy plugin directory (opkssh's location by default).
    #[arg(
        long,
        env = "OPK_POLICY_PLUGIN_DIR",
        default_value = "/etc/opk/policy.d"
    )]
    pub(crate) policy_plugin_dir: PathBuf,
    #[command(flatten)]
    pub(crate) passwd: Passwd,
}

impl ServerFiles {
    pub(crate) fn paths(&self) -> opk_admin::ServerFiles {
        opk_admin::ServerFiles {
            providers: self.providers_file.clone(),
            auth_id: self.auth_id_file.clone(),
            config: self.config_path.clone(),
            policy_d: self.policy_plugin_dir.clone(),
            passwd: self.passwd.passwd_file.clone(),
        }
    }
}

/// The passwd file (hidden: tests point it at their own homes), shared with `opk readhome`.
#[derive(clap::Args, Debug)]
pub(crate) struct Passwd {
    /// passwd file used to find home directories.
    #[arg(
        long,
        env = "OPK_PASSWD_FILE",
        default_value = "/etc/passwd",
        hide = true
    )]
    pub(crate) passwd_file: PathBuf,
}
