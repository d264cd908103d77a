//! A login completed in a real browser: `<client> login --disable-browser-open` (opk or opkssh)
//! prints its URL, and headless Debian Chromium driven by playwright-core (testing/op/login.mjs)
//! fills in the test OP's login page.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::repo_root;

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

/// What a [`BrowserLogin`] ended with.
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

/// One browser login, built up and then [`run`](BrowserLogin::run):
///
/// ```no_run
/// # let (opk, home, provider) = ("opk", std::path::Path::new("home"), "http://localhost:1,c");
/// let run = opk_e2e::BrowserLogin::new(opk, home)
///     .args(["--provider", provider])
///     .user("alice@example.com")
///     .run()
///     .assert_success("opk login");
/// ```
///
/// The browser trusts the test CA that the client's `SSL_CERT_FILE` names (the client's own trust
/// comes from that variable), pinned to that CA's server certificate; see
/// [`ignore_https_errors`](BrowserLogin::ignore_https_errors) for a client whose first page is
/// not the OP's.
#[must_use = "a BrowserLogin does nothing until run()"]
pub struct BrowserLogin {
    program: PathBuf,
    home: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    user: Option<String>,
    password: Option<String>,
    ignore_https_errors: bool,
    // What runs instead of `login --disable-browser-open`, and the callback path it serves.
    command: Option<(Vec<OsString>, String)>,
}

impl BrowserLogin {
    /// `program login --disable-browser-open` with `HOME=home` and otherwise the test's own
    /// environment.
    pub fn new(program: impl AsRef<Path>, home: impl AsRef<Path>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            home: home.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            user: None,
            password: None,
            ignore_https_errors: false,
            command: None,
        }
    }

    /// Runs `program args…` instead of `program login --disable-browser-open`, for another
    /// command that prints a sign-in URL (`opk zssh -o`), whose loopback redirect is
    /// `callback_path`. No display is passed on, so it never launches a browser itself.
    pub fn command<S: AsRef<OsStr>>(
        mut self,
        args: impl IntoIterator<Item = S>,
        callback_path: &str,
    ) -> Self {
        let args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self.command = Some((args, callback_path.to_owned()));
        self
    }

    /// More arguments after `login --disable-browser-open`.
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Environment variables for the client (`SSL_CERT_FILE` also makes the browser trust that CA).
    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        mut self,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env.extend(
            env.into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
        );
        self
    }

    /// The login name typed on the OP's page (the test OP accepts any; login.mjs's default is
    /// alice@example.com). It becomes the ID token's `sub` and `email`.
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_owned());
        self
    }

    /// The password typed on the OP's page; `reject` makes the test OP answer
    /// `error=access_denied`.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Lets the browser accept any certificate. For opkssh: its URL is its own loopback page,
    /// which redirects to the OP, so Chromium cannot be pinned to the OP's certificate up front
    /// (opkssh itself still verifies the OP through SSL_CERT_FILE).
    pub fn ignore_https_errors(mut self) -> Self {
        self.ignore_https_errors = true;
        self
    }

    /// Runs the client, waits for the login URL on its stdout or stderr, completes the login in
    /// Chromium, and collects the outcome. Holds [`login_lock`]: the redirect ports are
    /// machine-wide.
    pub fn run(self) -> LoginRun {
        let _ports = login_lock();
        let mut cmd = Command::new(&self.program);
        match &self.command {
            Some((args, _)) => cmd
                .args(args)
                .env_remove("DISPLAY")
                .env_remove("WAYLAND_DISPLAY"),
            None => cmd.arg("login").arg("--disable-browser-open"),
        };
        let mut child = cmd
            .args(&self.args)
            .env("HOME", &self.home)
            // Never the developer's own agent: a test that wants one passes SSH_AUTH_SOCK.
            .env_remove("SSH_AUTH_SOCK")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} login: {e}", self.program.display()));
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
            let out = self.browser(&url).output().expect("node login.mjs");
            let text = String::from_utf8_lossy(&out.stdout);
            page = text
                .lines()
                .find_map(|l| l.strip_prefix("LOGIN_PAGE "))
                .unwrap_or_default()
                .to_owned();
            // The client is left to end by itself (bounded below): after a refusal on the OP's
            // page the driver may give up before the client has reported it.
            if !out.status.success() {
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

    /// `node login.mjs URL` with this login's options.
    fn browser(&self, url: &str) -> Command {
        let mut cmd = Command::new("node");
        cmd.arg(repo_root().join("testing/op/login.mjs")).arg(url);
        if let Some(user) = &self.user {
            cmd.args(["--user", user]);
        }
        if let Some(password) = &self.password {
            cmd.args(["--password", password]);
        }
        if let Some((_, path)) = &self.command {
            cmd.args(["--callback-path", path]);
        }
        if self.ignore_https_errors {
            cmd.arg("--ignore-https-errors");
        } else if let Some((_, ca)) = self.env.iter().find(|(k, _)| k == "SSL_CERT_FILE")
            && url.starts_with("https://")
        {
            // The client's SSL_CERT_FILE may be for another server (`opk zssh`'s controller).
            cmd.arg("--ca").arg(ca);
        }
        cmd
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
