//! Debian's sshd on a loopback port, and the stock ssh and ssh-keygen clients against it.

use std::io::Read as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{Guard, TestDir, current_user, free_port, run_ok};

/// A real sshd on a free loopback port whose AuthorizedKeysCommand is `opk verify`.
pub struct Sshd {
    /// Its port.
    pub port: u16,
    /// Its log (sshd -E).
    pub log: PathBuf,
    // Field order matters: sshd stops before its own directory (if any) is removed.
    _child: Guard,
    _own_dir: Option<TestDir>,
}

impl Sshd {
    /// Starts sshd in a directory of its own under `base`, removed when it stops.
    pub fn start_in(base: &Path, command_line: &str) -> Self {
        let dir = TestDir::new(&base.display().to_string());
        let mut sshd = Self::start(&dir, command_line);
        sshd._own_dir = Some(dir);
        sshd
    }

    /// Starts sshd with `command_line` as the AuthorizedKeysCommand (must end in `%u %k %t`).
    pub fn start(dir: &TestDir, command_line: &str) -> Self {
        Self::start_with(dir, command_line, "")
    }

    /// [`Sshd::start`] with `extra` appended to sshd_config (e.g. a `HostCertificate` line).
    pub fn start_with(dir: &TestDir, command_line: &str, extra: &str) -> Self {
        let auth = format!(
            "AuthorizedKeysCommand {command_line}\nAuthorizedKeysCommandUser {}\n",
            current_user()
        );
        Self::start_config(dir, &auth, extra)
    }

    /// Starts sshd whose config reads `config` first (`Include`, so its values win): an
    /// installed sshd_config and its drop-ins supply AuthorizedKeysCommand and its user.
    pub fn start_including(dir: &TestDir, config: &Path) -> Self {
        Self::start_config(dir, &format!("Include {}\n", config.display()), "")
    }

    fn start_config(dir: &TestDir, auth: &str, extra: &str) -> Self {
        // sshd refuses to start without its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let host_key = dir.join("ssh_host_ed25519_key");
        if !host_key.exists() {
            run_ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(&host_key),
            );
        }
        let port = free_port();
        let log = dir.join("sshd.log");
        let config = format!(
            "{auth}Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile none\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n\
             MaxAuthTries 10\nSubsystem sftp internal-sftp\n{extra}",
            hk = host_key.display(),
            pid = dir.join("sshd.pid").display(),
        );
        let config_path = dir.write("sshd_config", &config, 0o644);
        run_ok(
            Command::new("/usr/sbin/sshd")
                .arg("-t")
                .arg("-f")
                .arg(&config_path),
        );
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-f"])
            .arg(&config_path)
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .expect("sshd");
        let sshd = Self {
            port,
            log,
            _child: Guard(child),
            _own_dir: None,
        };
        sshd.wait_ready();
        sshd
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut banner = [0u8; 4];
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "sshd did not start; log: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Runs `remote_command` with the stock ssh client and key `key` (its `-cert.pub` is loaded
    /// by ssh itself). No user config, no agent, no known_hosts: only what the test gives.
    pub fn ssh(&self, key: &Path, user: &str, remote_command: &str) -> Output {
        self.run_ssh(Identity::Key(key), user, remote_command)
    }

    /// Runs `remote_command` with the stock ssh client whose only identities are those of the
    /// ssh-agent at `socket`: no key files at all (`IdentityFile` names a path that does not
    /// exist, so ssh's defaults are not tried either).
    pub fn ssh_with_agent(&self, socket: &Path, user: &str, remote_command: &str) -> Output {
        self.run_ssh(Identity::Agent(socket), user, remote_command)
    }

    /// Runs `remote_command` with the stock ssh client reading the client config `config`
    /// (`ssh -F config`): the identity comes from its `IdentityFile` lines only. Otherwise the
    /// options of [`Sshd::ssh`]: no agent, no known_hosts, batch mode.
    pub fn ssh_with_config(&self, config: &Path, user: &str, remote_command: &str) -> Output {
        self.run_ssh(Identity::Config(config), user, remote_command)
    }

    fn run_ssh(&self, identity: Identity<'_>, user: &str, remote_command: &str) -> Output {
        let mut cmd = Command::new("ssh");
        let config = match identity {
            Identity::Config(config) => config,
            Identity::Key(_) | Identity::Agent(_) => Path::new("/dev/null"),
        };
        cmd.arg("-F").arg(config);
        for option in [
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "PasswordAuthentication=no",
            "ConnectTimeout=10",
            "LogLevel=ERROR",
        ] {
            cmd.args(["-o", option]);
        }
        match identity {
            Identity::Key(key) => {
                cmd.args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i"]);
                cmd.arg(key);
            }
            Identity::Config(_) => {
                cmd.args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]);
            }
            Identity::Agent(socket) => {
                cmd.arg("-o")
                    .arg(format!("IdentityAgent={}", socket.display()));
                cmd.arg("-o").arg(format!(
                    "IdentityFile={}",
                    socket.with_extension("no-such-key").display()
                ));
            }
        }
        cmd.args([
            "-p",
            &self.port.to_string(),
            &format!("{user}@127.0.0.1"),
            remote_command,
        ])
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .expect("ssh")
    }
}

/// Where [`Sshd::run_ssh`]'s client takes its identities from.
enum Identity<'a> {
    /// This key file (and its `-cert.pub`), nothing else.
    Key(&'a Path),
    /// The `IdentityFile` lines of this client config file only (every other identity reads
    /// no config: `-F /dev/null`).
    Config(&'a Path),
    /// The ssh-agent at this socket only.
    Agent(&'a Path),
}

/// `ssh-keygen -L -f cert`: the certificate as OpenSSH itself reads it.
pub fn ssh_keygen_list(cert: &Path) -> String {
    let out = run_ok(Command::new("ssh-keygen").arg("-L").arg("-f").arg(cert));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ssh-keygen -t ed25519` with no passphrase into `path` (and `path.pub`).
pub fn keygen(path: &Path) {
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path),
    );
}

/// An sshd that accepts one plain ed25519 user key (its AuthorizedKeysCommand cats an
/// authorized_keys file): for client tests where the login method is not what is tested.
pub struct KeyHost {
    /// The server. Declared first: it stops before its directory goes.
    pub sshd: Sshd,
    /// Its directory (host key, config, log, the user key).
    pub dir: TestDir,
    /// The user key sshd accepts (`key.pub` beside it).
    pub key: PathBuf,
}

impl KeyHost {
    /// Starts one under `base`.
    pub fn start(base: &str) -> Self {
        let dir = TestDir::new(base);
        let key = dir.join("user_key");
        keygen(&key);
        let pubkey = std::fs::read_to_string(dir.join("user_key.pub")).expect("pub");
        let ak = dir.write("authorized_keys", &pubkey, 0o644);
        let sshd = Sshd::start(&dir, &format!("/usr/bin/cat {}", ak.display()));
        Self { sshd, dir, key }
    }

    /// The host key as (`type`, `base64`).
    pub fn host_key(&self) -> (String, String) {
        let host_pub =
            std::fs::read_to_string(self.dir.join("ssh_host_ed25519_key.pub")).expect("host pub");
        let mut parts = host_pub.split_whitespace();
        (
            parts.next().expect("type").to_owned(),
            parts.next().expect("key").to_owned(),
        )
    }

    /// The known_hosts line for this server at 127.0.0.1.
    pub fn known_hosts_line(&self) -> String {
        let (t, k) = self.host_key();
        format!("[127.0.0.1]:{} {t} {k}\n", self.sshd.port)
    }
}
