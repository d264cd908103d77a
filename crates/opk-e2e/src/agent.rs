//! A real OpenSSH `ssh-agent` on a socket in the test tree, and `ssh-add` against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Guard;

/// `ssh-agent -D -a <socket>`, killed on drop.
pub struct Agent {
    /// Its socket: what SSH_AUTH_SOCK is set to.
    pub socket: PathBuf,
    _child: Guard,
}

impl Agent {
    /// Starts an agent whose socket is `dir/name.sock` and waits until it answers.
    pub fn start(dir: &Path, name: &str) -> Self {
        let socket = dir.join(format!("{name}.sock"));
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent");
        let agent = Self {
            socket,
            _child: Guard(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while agent.ssh_add(&["-l"]).status.code() == Some(2) {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        agent
    }

    /// `ssh-add <args>` against this agent (exit 1 from `-l` means no identities, 2 no agent).
    pub fn ssh_add(&self, args: &[&str]) -> Output {
        Command::new("ssh-add")
            .args(args)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null())
            .output()
            .expect("ssh-add")
    }

    /// The lines of `ssh-add -l` (empty when the agent holds nothing).
    pub fn list(&self) -> Vec<String> {
        let out = self.ssh_add(&["-l"]);
        match out.status.code() {
            Some(0) => String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect(),
            Some(1) => Vec::new(),
            _ => panic!("ssh-add -l: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
}
