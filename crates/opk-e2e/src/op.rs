//! The test OpenID Provider: npm oidc-provider running testing/op/op.mjs.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::{Guard, repo_root};

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
        Self::spawn(tls, None, &[])
    }

    /// Like [`Op::start`], with the signing keys in `keys` (`op.mjs --keys`: generated and written
    /// there when the file does not exist), so a test can sign tokens as the OP
    /// ([`crate::OpKey::from_keys_file`]).
    pub fn start_with_keys(tls: Option<(&Path, &Path)>, keys: &Path) -> Self {
        Self::spawn(tls, Some(keys), &[])
    }

    /// [`Op::start`] with more op.mjs options (e.g. `--device-nonce`, see testing/op/README.md).
    pub fn start_with(tls: Option<(&Path, &Path)>, options: &[&str]) -> Self {
        Self::spawn(tls, None, options)
    }

    fn spawn(tls: Option<(&Path, &Path)>, keys: Option<&Path>, options: &[&str]) -> Self {
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
        cmd.args(options);
        if let Some((cert, key)) = tls {
            cmd.arg("--https")
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        if let Some(keys) = keys {
            cmd.arg("--keys").arg(keys);
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

    /// [`Op::requests`] once the count has stopped changing: the OP logs a request when its
    /// response has been sent, so a client can finish before the line is written.
    pub fn requests_settled(&self, path: &str) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut last = self.requests(path);
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = self.requests(path);
            if now == last || std::time::Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }

    /// Stops the OP (to test verification while it is down).
    pub fn stop(&mut self) {
        self.child.take();
    }
}
