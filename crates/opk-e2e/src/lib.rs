//! Harness for end-to-end tests against the real peers: Debian's `sshd`, `ssh` and `ssh-keygen`,
//! npm `oidc-provider` (testing/op/op.mjs) and Debian Chromium driven by playwright-core
//! (testing/op/login.mjs). Everything listens on 127.0.0.1 and lives in a per-test directory;
//! nothing touches the machine's /etc/ssh, /etc/opk or ~/.ssh.
#![forbid(unsafe_code)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository root (this crate is at crates/opk-e2e).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Held while a login uses the redirect ports (3000, 10001, 11110).
pub struct LoginLock(#[allow(dead_code)] std::fs::File);

/// The login redirect ports are machine-wide: one login at a time across threads *and* test
/// processes (e2e and interop binaries, or two developers' runs), so the lock is a file lock
/// (flock: separate opens conflict even within one process). Released on drop.
pub fn login_lock() -> LoginLock {
    let path = std::env::temp_dir().join("opk-e2e-login-ports.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("login lock file");
    file.lock().expect("lock the login ports");
    LoginLock(file)
}

/// A free TCP port on 127.0.0.1 (released before return: a small race, fine for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The current user's name: sshd lets us log in only as ourselves when not root, and tests use
/// it as the principal.
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A per-test directory whose parents are not group/world-writable (sshd refuses an
/// AuthorizedKeysCommand below such a directory, so /tmp will not do).
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// Creates one under `base` (pass `env!("CARGO_TARGET_TMPDIR")`).
    pub fn new(base: &str) -> Self {
        std::fs::create_dir_all(base).expect("base dir");
        let dir = tempfile::Builder::new()
            .prefix("opk-e2e-")
            .tempdir_in(base)
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        Self { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside it.
    pub fn join(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Writes a file with a mode.
    pub fn write(&self, name: &str, contents: &str, mode: u32) -> PathBuf {
        let p = self.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, contents).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    /// Keeps the directory for inspection when `OPK_E2E_KEEP` is set.
    pub fn keep_if_asked(self) {
        if std::env::var_os("OPK_E2E_KEEP").is_some() {
            let p = self.dir.keep();
            eprintln!("kept {}", p.display());
        }
    }
}

/// A child process killed on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A test CA and a localhost server certificate made with `openssl`.
pub struct TestCa {
    /// CA certificate (PEM): what SSL_CERT_FILE names.
    pub ca_cert: PathBuf,
    /// Server certificate for localhost and 127.0.0.1.
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
}

impl TestCa {
    /// Generates one in `dir`.
    pub fn generate(dir: &Path) -> Self {
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=opk test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        run(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext");
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ]);
        Self {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }
}

/// The test OpenID Provider (npm oidc-provider).
pub struct Op {
    /// Its issuer URL.
    pub issuer: String,
    child: Option<Guard>,
    /// Its stderr: the request log (`op: GET /jwks -> 200 (1 ms)`).
    log: tempfile::NamedTempFile,
}

impl Op {
    /// Starts testing/op/op.mjs on a free port; `tls` = (cert, key) for https.
    pub fn start(tls: Option<(&Path, &Path)>) -> Self {
        let op_dir = repo_root().join("testing/op");
        assert!(
            op_dir.join("node_modules/oidc-provider").is_dir(),
            "testing/op/node_modules is missing: run `npm ci --prefix testing/op` (bash .ci/run does)"
        );
        let mut cmd = Command::new("node");
        cmd.arg(op_dir.join("op.mjs"))
            // A test killed outright closes the pipe, and the OP exits with it.
            .args([
                "--port",
                "0",
                "--stop-after-seconds",
                "900",
                "--exit-on-stdin-eof",
            ]);
        if let Some((cert, key)) = tls {
            cmd.arg("--https")
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        let log = tempfile::NamedTempFile::new().expect("op log");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("op log"))
            .spawn()
            .expect("node op.mjs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(iss) = line.strip_prefix("OP_READY ") {
                    let _ = tx.send(iss.trim().to_owned());
                }
            }
        });
        let issuer = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("OP did not print OP_READY within 30 s");
        Self {
            issuer,
            child: Some(Guard(child)),
            log,
        }
    }

    /// How many requests for `path` the OP has answered so far (from its request log).
    pub fn requests(&self, path: &str) -> usize {
        let needle = format!("GET {path} ->");
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&needle))
            .count()
    }

    /// Stops the OP (to test verification while it is down).
    pub fn stop(&mut self) {
        self.child.take();
    }
}

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
        // sshd refuses to start without its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let host_key = dir.join("ssh_host_ed25519_key");
        if !host_key.exists() {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&host_key)
                .output()
                .expect("ssh-keygen");
            assert!(out.status.success(), "ssh-keygen host key failed");
        }
        let port = free_port();
        let log = dir.join("sshd.log");
        let user = current_user();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile none\n\
             AuthorizedKeysCommand {command_line}\nAuthorizedKeysCommandUser {user}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n\
             MaxAuthTries 10\nSubsystem sftp internal-sftp\n",
            hk = host_key.display(),
            pid = dir.join("sshd.pid").display(),
        );
        let config_path = dir.write("sshd_config", &config, 0o644);
        let test = Command::new("/usr/sbin/sshd")
            .arg("-t")
            .arg("-f")
            .arg(&config_path)
            .output()
            .expect("sshd -t");
        assert!(
            test.status.success(),
            "sshd -t: {}",
            String::from_utf8_lossy(&test.stderr)
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
        self.run_ssh(Path::new("/dev/null"), Some(key), user, remote_command)
    }

    /// Runs `remote_command` with the stock ssh client reading the client config `config`
    /// (`ssh -F config`): the identity comes from its `IdentityFile` lines only. Otherwise the
    /// options of [`Sshd::ssh`]: no agent, no known_hosts, batch mode.
    pub fn ssh_with_config(&self, config: &Path, user: &str, remote_command: &str) -> Output {
        self.run_ssh(config, None, user, remote_command)
    }

    fn run_ssh(
        &self,
        config: &Path,
        key: Option<&Path>,
        user: &str,
        remote_command: &str,
    ) -> Output {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F").arg(config);
        for option in [
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "IdentitiesOnly=yes",
            "PasswordAuthentication=no",
            "ConnectTimeout=10",
            "LogLevel=ERROR",
            "IdentityAgent=none",
        ] {
            cmd.args(["-o", option]);
        }
        if let Some(key) = key {
            cmd.arg("-i").arg(key);
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

/// Result of an `opk login` driven through Chromium.
pub struct LoginRun {
    /// opk's exit status was success.
    pub success: bool,
    /// opk's stdout.
    pub stdout: String,
    /// opk's stderr.
    pub stderr: String,
    /// The text of the page the browser ended on (LOGIN_PAGE line of login.mjs).
    pub page: String,
}

impl LoginRun {
    /// Panics with everything there is to see unless the client succeeded and the browser ended
    /// on the success page ("You may now close this window", as opkssh's page says too).
    pub fn assert_success(self, what: &str) -> Self {
        assert!(
            self.success,
            "{what} failed\nstdout: {}\nstderr: {}\npage: {}",
            self.stdout, self.stderr, self.page
        );
        assert!(
            self.page.contains("You may now close this window"),
            "{what}: browser page: {}",
            self.page
        );
        self
    }
}

/// Runs `opk login --disable-browser-open <args>` with HOME=`home` and `env`, takes the URL it
/// prints, and completes the OP's login page in headless Chromium as `user`. The stand-in browser
/// trusts the test CA when `env` has SSL_CERT_FILE (opk's own trust comes from that variable).
pub fn login_with_chromium(
    opk: &Path,
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    user: &str,
) -> LoginRun {
    login_in_browser(opk, home, args, env, user, &trust_test_ca(env))
}

/// login.mjs arguments making the stand-in browser trust the test CA that `env`'s SSL_CERT_FILE
/// names (opk's own trust comes from that variable).
fn trust_test_ca<'a>(env: &[(&str, &'a str)]) -> Vec<&'a str> {
    env.iter()
        .find(|(k, _)| *k == "SSL_CERT_FILE")
        .map(|(_, ca)| vec!["--ca", *ca])
        .unwrap_or_default()
}

/// Runs `<program> login --disable-browser-open <args>` (opk or opkssh), waits for the login URL
/// on stdout or stderr, completes it in headless Chromium (testing/op/login.mjs `browser_args`),
/// and collects the outcome. Holds [`login_lock`]: the redirect ports are machine-wide.
fn login_in_browser(
    program: &Path,
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    user: &str,
    browser_args: &[&str],
) -> LoginRun {
    let _ports = login_lock();
    let mut child = Command::new(program)
        .arg("login")
        .arg("--disable-browser-open")
        .args(args)
        .env("HOME", home)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} login: {e}", program.display()));
    let (tx, rx) = mpsc::channel::<String>();
    let collect = |stream: Box<dyn std::io::Read + Send>, tx: mpsc::Sender<String>| {
        std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(url) = login_url(&line) {
                    let _ = tx.send(url);
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        })
    };
    let out_thread = collect(Box::new(child.stdout.take().expect("stdout")), tx.clone());
    let err_thread = collect(Box::new(child.stderr.take().expect("stderr")), tx);
    let mut page = String::new();
    if let Ok(url) = rx.recv_timeout(Duration::from_secs(60)) {
        let out = Command::new("node")
            .arg(repo_root().join("testing/op/login.mjs"))
            .arg(&url)
            .args(["--user", user])
            .args(browser_args)
            .output()
            .expect("node login.mjs");
        let text = String::from_utf8_lossy(&out.stdout);
        page = text
            .lines()
            .find_map(|l| l.strip_prefix("LOGIN_PAGE "))
            .unwrap_or_default()
            .to_owned();
        if !out.status.success() {
            let _ = child.kill();
            page = format!("login.mjs failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    } else {
        let _ = child.kill();
    }
    // The client exits by itself once the files are written; do not wait forever if it does not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait login") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("wait login");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    LoginRun {
        success: status.success(),
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
        page,
    }
}

/// The login URL in a client's output: a bare URL line (opk) or opkssh's
/// "Open your browser to: URL" log line.
fn login_url(line: &str) -> Option<String> {
    let rest = match line.find("Open your browser to:") {
        Some(i) => &line[i + "Open your browser to:".len()..],
        None if line.starts_with("http://") || line.starts_with("https://") => line,
        None => return None,
    };
    let url: String = rest
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    (url.starts_with("http://") || url.starts_with("https://")).then_some(url)
}

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
    /// The JWKS cache directory.
    pub cache: PathBuf,
    /// The server config path (absent unless a test writes it).
    pub config: PathBuf,
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
            cache: dir.join(&format!("{name}/jwks")),
            config: dir.join(&format!("{name}/config.yml")),
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
        let mut args = vec![
            "--providers-file".into(),
            s(&self.providers),
            "--auth-id-file".into(),
            s(&self.auth_id),
            "--log-file".into(),
            s(&self.log),
            "--jwks-cache-dir".into(),
            s(&self.cache),
            "--config-path".into(),
            s(&self.config),
        ];
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

// ---------------------------------------------------------------------------------------------
// Reference opkssh (interop tests): the real Go binary, installed by scripts/lib.sh
// (`opk_install_opkssh`, called from `opk_setup`).

/// The opkssh release the interop tests and the benchmark run against.
pub const OPKSSH_VERSION: &str = "v0.16.0";

/// The reference opkssh binary: `$OPKSSH_BIN`, else `$HOME/.cache/opk-go/bin/opkssh`. Panics (the
/// test fails, it is never skipped) when it is missing.
pub fn opkssh_bin() -> PathBuf {
    let path = std::env::var_os("OPKSSH_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"));
            home.join(".cache/opk-go/bin/opkssh")
        });
    assert!(
        path.is_file(),
        "the reference opkssh binary is missing at {}: run `bash scripts/test.sh` (its opk_setup installs \
         opkssh {OPKSSH_VERSION} with `go install`), or set OPKSSH_BIN",
        path.display()
    );
    path
}

/// Runs `opkssh login --disable-browser-open <args>` with HOME=`home` and `env` and completes the
/// login in headless Chromium as `user`. opkssh's URL is its own loopback page, which redirects to
/// the OP: Chromium cannot be pinned to the OP's certificate up front, so the stand-in browser
/// runs with `--ignore-https-errors` (opkssh itself verifies the OP through SSL_CERT_FILE).
pub fn opkssh_login_with_chromium(
    opkssh: &Path,
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    user: &str,
) -> LoginRun {
    login_in_browser(opkssh, home, args, env, user, &["--ignore-https-errors"])
}

/// A stand-in server for `opkssh verify`, which reads `/etc/opk/providers` and `/etc/opk/auth_id`
/// at fixed paths and appends to `/var/log/opkssh.log`. Each run happens in a private mount
/// namespace (see [`OPKSSH_NS_SCRIPT`]) in which those paths are this directory's `etc-opk/` and
/// `var-log/`; the machine's /etc and /var/log are never written.
pub struct OpksshHost {
    /// The per-host directory: `etc-opk/`, `var-log/`, overlay scratch space.
    pub dir: PathBuf,
}

/// The mount-namespace wrapper for `opkssh verify` (scripts/opkssh-ns.sh, where its header says
/// why an overlay over /etc): run as `unshare --mount --propagation private sh -c SCRIPT sh DIR HIDE CMD…`.
pub const OPKSSH_NS_SCRIPT: &str = include_str!("../../../scripts/opkssh-ns.sh");

impl OpksshHost {
    /// Creates `dir/<name>/{etc-opk,var-log}` with `providers` and `auth_id` (mode 0640, as
    /// opkssh demands).
    pub fn new(dir: &TestDir, name: &str, providers: &str, auth_id: &str) -> Self {
        let host = Self {
            dir: dir.join(name),
        };
        for sub in ["etc-opk", "var-log"] {
            std::fs::create_dir_all(host.dir.join(sub)).expect("mkdir");
            std::fs::set_permissions(host.dir.join(sub), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        host.write("providers", providers);
        host.write("auth_id", auth_id);
        host
    }

    /// (Re)writes a file in the stand-in /etc/opk with mode 0640.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.join("etc-opk").join(name);
        std::fs::write(&p, contents).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        p
    }

    /// The stand-in /etc/opk (on the host side).
    pub fn etc_opk(&self) -> PathBuf {
        self.dir.join("etc-opk")
    }

    /// What opkssh appended to its /var/log/opkssh.log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("var-log/opkssh.log")).unwrap_or_default()
    }

    /// The command line that runs `program args…` inside the namespace, for callers that need
    /// to build it themselves: `unshare --mount --propagation private sh -c SCRIPT sh DIR HIDE`.
    pub fn wrapper(&self, hide: Option<&Path>) -> Vec<String> {
        vec![
            "unshare".into(),
            "--mount".into(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            OPKSSH_NS_SCRIPT.into(),
            "sh".into(),
            self.dir.display().to_string(),
            hide.map(|h| h.display().to_string()).unwrap_or_default(),
        ]
    }

    /// Runs `program args…` in the namespace with a clean environment (PATH + `env`), as sshd
    /// would start an AuthorizedKeysCommand.
    pub fn run(
        &self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        hide: Option<&Path>,
    ) -> Output {
        let w = self.wrapper(hide);
        let out = Command::new(&w[0])
            .args(&w[1..])
            .arg(program)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("unshare");
        // The namespace is gone: nothing below the scratch directories is mounted any more.
        // Still, only the plain scratch parts are removed recursively.
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("ovl.") {
                for part in ["upper", "work", "empty"] {
                    let _ = std::fs::remove_dir_all(entry.path().join(part));
                }
            }
        }
        out
    }

    /// `opkssh verify --config-path <etc-opk>/config.yml principal key_b64 key_type`. The target
    /// user's `~/.opk` (opkssh's home policy) is hidden, so the machine's files cannot leak in.
    pub fn verify(
        &self,
        opkssh: &Path,
        principal: &str,
        key_b64: &str,
        key_type: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let config = self.etc_opk().join("config.yml");
        // opkssh also reads the principal's ~/.opk/auth_id: always hide the machine's.
        let home = Some(
            user_home(principal)
                .unwrap_or_else(|| panic!("no passwd entry for {principal}"))
                .join(".opk"),
        );
        self.run(
            opkssh,
            &[
                "verify",
                "--config-path",
                config.to_str().expect("utf8 path"),
                principal,
                key_b64,
                key_type,
            ],
            env,
            home.as_deref(),
        )
    }
}

/// The home directory of `user` from the passwd database.
pub fn user_home(user: &str) -> Option<PathBuf> {
    let out = Command::new("getent")
        .args(["passwd", user])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    line.split(':')
        .nth(5)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

// ---------------------------------------------------------------------------------------------
// Additions for the login-feature tests (crates/opk-cli/tests/e2e_login.rs).

/// As [`login_with_chromium`], but the stand-in user types `password` on the OP's login page
/// (testing/op: the password `reject` makes the OP answer `error=access_denied`).
pub fn login_with_chromium_password(
    opk: &Path,
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    user: &str,
    password: &str,
) -> LoginRun {
    let mut browser_args = vec!["--password", password];
    browser_args.extend(trust_test_ca(env));
    login_in_browser(opk, home, args, env, user, &browser_args)
}

/// `ssh-keygen -L -f cert`: the certificate as OpenSSH itself reads it.
pub fn ssh_keygen_list(cert: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(cert)
        .output()
        .expect("ssh-keygen -L");
    assert!(
        out.status.success(),
        "ssh-keygen -L {}: {}",
        cert.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
