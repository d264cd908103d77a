//! Helpers shared by the end-to-end test files (real OP, Chromium, sshd, ssh; the built `opk`).
#![allow(dead_code)]

use base64ct::{Base64UrlUnpadded, Encoding as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opk_e2e::{BrowserLogin, LoginRun, Op, Sshd, TestCa, TestDir, VerifyHost, current_user};
use opk_sshcert::{EphemeralKey, OpkCert};

pub(crate) const OPK: &str = env!("CARGO_BIN_EXE_opk");
pub(crate) const TMP: &str = env!("CARGO_TARGET_TMPDIR");
pub(crate) const USER_EMAIL: &str = "alice@example.com";
/// The permissions every opkssh certificate carries, in wire order (upper-case X sorts first).
pub(crate) const PERMISSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

/// One test's world: a per-test directory, a running test OP, a HOME for the client inside the
/// directory, and the current user (sshd's target account and the policy's principal).
pub(crate) struct World {
    pub(crate) op: Op,
    pub(crate) dir: TestDir,
    pub(crate) home: PathBuf,
    pub(crate) user: String,
    /// The test CA's certificate when the OP serves https.
    pub(crate) ca_file: Option<String>,
}

impl World {
    /// An OP on http://localhost.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// An OP on http://localhost started with more op.mjs `options` (`--device-nonce`, …).
    pub(crate) fn start_with(options: &[&str]) -> Self {
        let op = Op::start_with(None, options);
        Self::with(op, TestDir::new(TMP), None)
    }

    /// A test CA and an OP on https://localhost with its certificate; [`World::env`] points
    /// SSL_CERT_FILE at the CA.
    pub(crate) fn https() -> Self {
        let dir = TestDir::new(TMP);
        let ca = TestCa::generate(dir.path());
        let op = Op::start(Some((&ca.server_cert, &ca.server_key)));
        assert!(op.issuer.starts_with("https://"), "{}", op.issuer);
        Self::with(op, dir, Some(ca.ca_cert.display().to_string()))
    }

    /// A world around an OP started by the caller (e.g. with `--clients` written into `dir`).
    pub(crate) fn with(op: Op, dir: TestDir, ca_file: Option<String>) -> Self {
        Self {
            home: dir.join("home"),
            user: current_user(),
            op,
            dir,
            ca_file,
        }
    }

    /// A [`World::start`] whose user has logged in with client `opk-rs256` (default key type):
    /// `(op, dir, user, key)`, `key` being the new `~/.ssh/id_ecdsa` of the world's home.
    pub(crate) fn logged_in() -> (Op, TestDir, String, PathBuf) {
        let (op, dir, home, user) = Self::start().into_parts();
        login(&op, &home, "opk-rs256", &[], &[]);
        let key = home.join(".ssh/id_ecdsa");
        (op, dir, user, key)
    }

    /// `(op, dir, home, user)`, for tests that need nothing else.
    pub(crate) fn into_parts(self) -> (Op, TestDir, PathBuf, String) {
        (self.op, self.dir, self.home, self.user)
    }

    /// The environment a client or verifier needs to trust the OP: SSL_CERT_FILE for https.
    pub(crate) fn env(&self) -> Vec<(&str, &str)> {
        self.ca_file
            .iter()
            .map(|ca| ("SSL_CERT_FILE", ca.as_str()))
            .collect()
    }
}

/// A host: opk's files (see `VerifyHost`) and sshd running with `opk verify`.
pub(crate) struct Host {
    pub(crate) sshd: Sshd,
    pub(crate) v: VerifyHost,
}

impl std::ops::Deref for Host {
    type Target = VerifyHost;
    fn deref(&self) -> &VerifyHost {
        &self.v
    }
}

impl Host {
    /// `ssh` with `key` as `user` is refused, and the log says `reason`.
    pub(crate) fn assert_denies(&self, key: &Path, user: &str, reason: &str) {
        assert_ssh_denied(&self.sshd.ssh(key, user, "true"));
        let log = self.log_text();
        assert!(log.contains(reason), "{log}");
    }

    pub(crate) fn start(
        dir: &TestDir,
        name: &str,
        providers: &str,
        auth_id: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let v = VerifyHost::new(dir, name, Path::new(OPK), providers, auth_id);
        Self {
            sshd: v.start_sshd(env),
            v,
        }
    }
}

/// A login whose ID token has expired (client opk-short gets tokens that live 5 s) and two hosts
/// allowing [`USER_EMAIL`] with it: one with the `oidc` expiry policy, which follows `exp`, one
/// with `24h` (opkssh semantics: iat + 24h), where it is still fine.
pub(crate) struct ExpiredLogin {
    pub(crate) world: World,
    pub(crate) oidc: Host,
    pub(crate) day: Host,
}

impl ExpiredLogin {
    /// Logs in, starts both hosts, and returns once the token's `exp` has passed.
    pub(crate) fn start() -> Self {
        let world = World::start();
        let op = &world.op;
        login(op, &world.home, "opk-short", &[], &[]);
        let auth = policy(&world.user, USER_EMAIL, &op.issuer);
        let host = |name: &str, expiry: &str| {
            let providers = format!("{} opk-short {expiry}\n", op.issuer);
            Host::start(&world.dir, name, &providers, &auth, &[])
        };
        let (oidc, day) = (host("oidc", "oidc"), host("day", "24h"));
        let cert = read_cert(&world.home.join(".ssh/id_ecdsa-cert.pub"));
        let exp = claims(&cert)["exp"].as_i64().expect("exp");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        std::thread::sleep(std::time::Duration::from_secs(
            (exp - now + 2).clamp(0, 30) as u64
        ));
        Self { world, oidc, day }
    }
}

/// `opk login` through headless Chromium, logging in as [`USER_EMAIL`]; add `.args`, `.envs`,
/// `.password` and `.run()`.
pub(crate) fn browser_login(home: &Path) -> BrowserLogin {
    BrowserLogin::new(OPK, home).user(USER_EMAIL)
}

/// A successful `opk login --provider <op>,<client> <extra>` through headless Chromium.
pub(crate) fn login(
    op: &Op,
    home: &Path,
    client: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> LoginRun {
    browser_login(home)
        .args(["--provider", &provider(op, client)])
        .args(extra)
        .envs(env.iter().copied())
        .run()
        .assert_success("opk login")
}

/// A browser login that gets its token but fails to write the pair at `-i key` (`--force`: the
/// old key there has no opk certificate, which -i would refuse up front, H-8); returns its one
/// error line.
pub(crate) fn login_failing_to_write(op: &Op, home: &Path, key: &Path) -> String {
    let run = browser_login(home)
        .args(["--provider", &provider(op, "opk-rs256"), "--force"])
        .args([Path::new("-i"), key])
        .run();
    // The browser step itself worked: the failure is the write.
    assert!(
        run.page.contains("You may now close this window"),
        "{}",
        run.page
    );
    the_one_error_line(&run).to_owned()
}

/// The one `Error…` line of a login that failed, which must be the last line of stderr (opk's
/// rule: one line saying what went wrong and what to do).
pub(crate) fn the_one_error_line(run: &LoginRun) -> &str {
    assert!(
        !run.success,
        "login succeeded:\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("Error"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "stderr: {}\nbrowser: {}",
        run.stderr,
        run.page
    );
    assert_eq!(
        run.stderr.trim_end().lines().last(),
        Some(errors[0]),
        "the error must be the last, single line: {}",
        run.stderr
    );
    errors[0]
}

/// `opk login` that nobody completes in a browser (SSL_CERT_FILE unset), with `--timeout secs`.
pub(crate) fn login_without_browser(op: &Op, home: &Path, secs: u32) -> Output {
    let _ports = opk_e2e::login_lock();
    let provider = format!("{},opk-rs256", op.issuer);
    let secs = secs.to_string();
    let args = [
        "--disable-browser-open",
        "--timeout",
        &secs,
        "--provider",
        &provider,
    ];
    run_login(home, &args, &[("SSL_CERT_FILE", None)])
}

/// `opk login <args>` with HOME=`home`, no ssh-agent and `env` (`None` removes a variable), to
/// completion; nobody answers in a browser.
pub(crate) fn run_login(home: &Path, args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut cmd = Command::new(OPK);
    cmd.arg("login")
        .args(args)
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK");
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.output().expect("opk login")
}

/// `text` (a log, a page, a command's output) says `words`; a failure shows all of `text`.
pub(crate) fn assert_says(text: &str, words: &str) {
    assert!(text.contains(words), "{words:?} not in:\n{text}");
}

pub(crate) fn assert_ssh_ok(out: &Output, marker: &str) {
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(marker),
        "ssh failed: status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn assert_ssh_denied(out: &Output) {
    assert!(
        !out.status.success(),
        "ssh unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `opk verify` of `cert` for `user` on `host`, which must allow it: the line it printed.
pub(crate) fn allowed_line(host: &VerifyHost, user: &str, cert: &OpkCert) -> String {
    let out = host.verify(user, &cert.to_b64(), cert.cert_type(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

pub(crate) fn policy(user: &str, identity: &str, issuer: &str) -> String {
    format!("# written by the e2e test\n{user} {identity} {issuer}\n")
}

pub(crate) fn read_cert(path: &Path) -> OpkCert {
    OpkCert::from_line(&std::fs::read_to_string(path).expect("cert file")).expect("cert parses")
}

/// Writes `cert` + `key` as a key pair ssh loads; returns the key path.
pub(crate) fn write_pair(dir: &TestDir, name: &str, key: &EphemeralKey, cert: &OpkCert) -> PathBuf {
    let k = dir.write(name, &key.to_openssh_pem("test").expect("pem"), 0o600);
    dir.write(
        &format!("{name}-cert.pub"),
        &cert.to_line(Some("openpubkey")),
        0o644,
    );
    k
}

impl Host {
    /// A host trusting `client` of `op` (24h) and allowing alice as the current user.
    pub(crate) fn allowing_alice(dir: &TestDir, name: &str, op: &Op, client: &str) -> Self {
        let providers = format!("{} {client} 24h\n", op.issuer);
        Self::start(
            dir,
            name,
            &providers,
            &policy(&current_user(), USER_EMAIL, &op.issuer),
            &[],
        )
    }

    pub(crate) fn sshd_log(&self) -> String {
        std::fs::read_to_string(&self.sshd.log).unwrap_or_default()
    }
}

pub(crate) fn provider(op: &Op, client: &str) -> String {
    format!("{},{client}", op.issuer)
}

/// The decoded OP protected header of the cert's PK Token.
pub(crate) fn op_header(cert: &OpkCert) -> serde_json::Value {
    let b64 = cert
        .pk_token()
        .expect("pkt")
        .split(':')
        .nth(1)
        .expect("op header")
        .to_owned();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(&b64).expect("b64")).expect("json")
}

pub(crate) fn claims(cert: &OpkCert) -> serde_json::Map<String, serde_json::Value> {
    opk_pktoken::PkToken::from_compact(cert.pk_token().expect("pkt"))
        .expect("pkt")
        .claims()
        .clone()
}

pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Names in a directory, sorted.
pub(crate) fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
