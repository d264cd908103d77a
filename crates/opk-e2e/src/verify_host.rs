//! A server's opk side: `opk verify` with every path in the test tree, run directly or by sshd.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Sshd, TestDir};

/// A server's opk side: its policy files, log, JWKS cache and config path, all in the test tree
/// (never the machine's /etc/opk), and opk installed where sshd accepts an AuthorizedKeysCommand.
pub struct VerifyHost {
    opk: PathBuf,
    base: PathBuf,
    /// The providers file.
    pub providers: PathBuf,
    /// The system policy file.
    pub auth_id: PathBuf,
    /// opk's log.
    pub log: PathBuf,
    /// opk's JSON audit record (`--audit-log`).
    pub audit: PathBuf,
    /// The JWKS cache directory.
    pub cache: PathBuf,
    /// The server config path (absent unless a test writes it).
    pub config: PathBuf,
    /// The policy plugin directory (absent unless a test makes it).
    pub plugins: PathBuf,
    /// `--plugin-timeout` in seconds, when set.
    pub plugin_timeout: Option<f64>,
    /// `--deadline` in seconds, when set.
    pub deadline: Option<f64>,
    passwd: Option<PathBuf>,
}

impl VerifyHost {
    /// Writes `name/providers` and `name/auth_id` (0640) under `dir` and installs `built` opk.
    pub fn new(dir: &TestDir, name: &str, built: &Path, providers: &str, auth_id: &str) -> Self {
        Self {
            opk: install_opk(dir, built),
            base: dir
                .path()
                .parent()
                .expect("test dir has a parent")
                .to_owned(),
            providers: dir.write(&format!("{name}/providers"), providers, 0o640),
            auth_id: dir.write(&format!("{name}/auth_id"), auth_id, 0o640),
            log: dir.join(&format!("{name}/opk.log")),
            audit: dir.join(&format!("{name}/audit.jsonl")),
            cache: dir.join(&format!("{name}/jwks")),
            config: dir.join(&format!("{name}/config.yml")),
            plugins: dir.join(&format!("{name}/policy.d")),
            plugin_timeout: None,
            deadline: None,
            passwd: None,
        }
    }

    /// Reads users' `~/.opk/auth_id` too, finding homes in this passwd-format file.
    pub fn with_home_policy(mut self, passwd: &Path) -> Self {
        self.passwd = Some(passwd.to_owned());
        self
    }

    /// The `opk verify` flags for this host (sshd's line: `opk verify <args> %u %k %t`).
    pub fn args(&self) -> Vec<String> {
        let s = |p: &Path| p.display().to_string();
        let files = [
            ("--providers-file", &self.providers),
            ("--auth-id-file", &self.auth_id),
            ("--log-file", &self.log),
            ("--audit-log", &self.audit),
            ("--jwks-cache-dir", &self.cache),
            ("--config-path", &self.config),
            ("--policy-plugin-dir", &self.plugins),
        ];
        let mut args: Vec<String> = files
            .into_iter()
            .flat_map(|(flag, path)| [flag.to_owned(), s(path)])
            .collect();
        if let Some(secs) = self.plugin_timeout {
            args.extend(["--plugin-timeout".into(), secs.to_string()]);
        }
        if let Some(secs) = self.deadline {
            args.extend(["--deadline".into(), secs.to_string()]);
        }
        match &self.passwd {
            Some(p) => args.extend(["--passwd-file".into(), s(p)]),
            None => args.push("--no-home-policy".into()),
        }
        args
    }

    /// Runs `opk verify` directly, with only `env` in its environment, as sshd would.
    pub fn verify(
        &self,
        principal: &str,
        key_b64: &str,
        key_type: &str,
        env: &[(&str, &str)],
    ) -> Output {
        Command::new(&self.opk)
            .arg("verify")
            .args(self.args())
            .args([principal, key_b64, key_type])
            .env_clear()
            .envs(env.iter().copied())
            .output()
            .expect("opk verify")
    }

    /// Starts sshd with this host's `opk verify` as AuthorizedKeysCommand. sshd gives the command
    /// an almost empty environment, so `env` is passed through env(1).
    pub fn start_sshd(&self, env: &[(&str, &str)]) -> Sshd {
        let env_prefix: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let command = format!(
            "/usr/bin/env {env_prefix}{} verify {} %u %k %t",
            self.opk.display(),
            self.args().join(" ")
        );
        Sshd::start_in(&self.base, &command)
    }

    /// The audit records so far, one JSON object each.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Copies the opk binary into `dir/bin/opk` (0755), a path sshd accepts for AuthorizedKeysCommand.
pub fn install_opk(dir: &TestDir, built: &Path) -> PathBuf {
    let dest = dir.join("bin/opk");
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    std::fs::copy(built, &dest).expect("copy opk");
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(dir.join("bin"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    dest
}
