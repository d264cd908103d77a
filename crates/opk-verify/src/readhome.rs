//! A home policy verify may not open itself (an unprivileged AuthorizedKeysCommandUser cannot
//! enter a 0700 home): read by `sudo -n <opk> readhome <user>`, as opkssh does, through the
//! sudoers rule `opk install` writes. readhome makes the H-6 checks (docs/hazards.md) as root on
//! the descriptor it reads; only its stdout is the policy (opkssh also takes stderr into it).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How verify asks for a home policy it cannot read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SudoReadhome {
    /// The sudo program (`sudo`; another for tests).
    pub sudo: PathBuf,
    /// The opk binary whose `readhome` sudo runs: this executable, the path the sudoers rule names.
    pub opk: PathBuf,
    /// How long it may take.
    pub timeout: Duration,
}

impl SudoReadhome {
    /// `sudo -n <opk> readhome [--passwd-file P] <principal>`'s stdout, or why it failed (its
    /// stderr's last line: readhome's reason, or sudo's).
    pub(crate) fn read(&self, principal: &str, passwd: &Path) -> Result<Vec<u8>, String> {
        let mut cmd = Command::new(&self.sudo);
        cmd.arg("-n").arg(&self.opk).arg("readhome");
        // The hidden flag only when verify has one too (tests); readhome trusts only a passwd
        // file only root can write.
        if passwd != Path::new("/etc/passwd") {
            cmd.arg("--passwd-file").arg(passwd);
        }
        // No `--`: the command is opkssh's; a principal never starts with '-' (H-1's rule).
        cmd.arg(principal)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let shown = format!(
            "{} -n {} readhome {principal}",
            self.sudo.display(),
            self.opk.display()
        );
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {shown}: {e}"))?;
        let max = opk_policy::MAX_FILE_BYTES;
        let run = crate::plugins::wait(child, self.timeout, max + 1)
            .map_err(|e| format!("{shown}: {e}"))?;
        if !run.exited_zero {
            let stderr = String::from_utf8_lossy(run.stderr.trim_ascii());
            let why = stderr.lines().last().unwrap_or("").trim();
            return Err(format!("{shown}: {}: {why}", run.status));
        }
        if run.stdout.len() > max {
            return Err(format!("{shown}: over {max} bytes"));
        }
        Ok(run.stdout)
    }
}
