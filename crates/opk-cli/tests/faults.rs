//! Faults survived by real processes (issue 11 item 3): the built `opk verify` against an OP that
//! is down, hangs, answers 50 MB, or whose cached JWKS was torn; the clock-skew window; and
//! `opk login` (real test OP and Chromium) with a full disk and interrupted by SIGINT.
//!
//! The misbehaving OPs are opk-testkit's stub HTTP server serving [`PlantedOp`]'s discovery and
//! JWKS: the real test OP (testing/op) cannot hang or answer 50 MB on purpose. The logins use the
//! real test OP.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use opk_e2e::hostile::baseline_cert;
use opk_e2e::{PLANTED_CLIENT, PlantedOp, TestDir, VerifyHost};
use opk_sshcert::OpkCert;
use opk_testkit::{Response, StubServer};

use common::{OPK, TMP, World, login_failing_to_write, names_in};

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A stub OP whose discovery points at `/jwks`, answered by `jwks` (the issuer is the stub's
/// base URL).
fn stub_op(jwks: Response) -> StubServer {
    StubServer::routes_at(|base| {
        vec![
            (
                "/.well-known/openid-configuration",
                Response::json(
                    200,
                    &format!(r#"{{"issuer":"{base}","jwks_uri":"{base}/jwks"}}"#),
                ),
            ),
            ("/jwks", jwks),
        ]
    })
}

fn good_jwks() -> Response {
    Response::json(200, &PlantedOp::default().jwks().to_string())
}

/// A host trusting `issuer` (policy 24h) with alice's row, and alice's certificate from it
/// issued at `iat`.
fn host_for(dir: &TestDir, name: &str, issuer: &str, iat: i64) -> (VerifyHost, OpkCert) {
    let host = VerifyHost::new(
        dir,
        name,
        Path::new(OPK),
        &format!("{issuer} {PLANTED_CLIENT} 24h\n"),
        &format!("alice alice@example.com {issuer}\n"),
    );
    let cert = baseline_cert(&PlantedOp::default().key, issuer, iat);
    (host, cert)
}

fn verify(host: &VerifyHost, cert: &OpkCert) -> Output {
    host.verify("alice", &cert.to_b64(), cert.cert_type(), &[])
}

/// Exit 1, empty stdout, one `Error:` line; returns its reason.
fn denial(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
        .trim_end()
        .strip_prefix("Error: ")
        .expect("Error: line")
        .to_owned()
}

fn allowed(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("cert-authority,principals=\"alice\" ")
    );
}

/// OP down: with no cached JWKS verify fails closed at once, naming the OP; once a fetch has
/// filled the cache, the same OP being down no longer matters within the cache's max age.
#[test]
fn op_down_fails_closed_cold_and_is_not_needed_warm() {
    let dir = TestDir::new(TMP);
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let down = format!("http://127.0.0.1:{port}");
    let (host, cert) = host_for(&dir, "down", &down, unix_now() - 60);
    let reason = denial(&verify(&host, &cert));
    assert!(
        reason.starts_with("cannot get the OP's signing keys: ") && reason.contains(&down),
        "{reason}"
    );
    // Warm: fetched once from a live stub, then the stub is gone (its port refuses).
    let live = stub_op(good_jwks());
    let (host, cert) = host_for(&dir, "warm", live.base(), unix_now() - 60);
    allowed(&verify(&host, &cert));
    let fetched = live.requests().len();
    assert_eq!(fetched, 2, "discovery and JWKS: {:?}", live.targets());
    allowed(&verify(&host, &cert));
    assert_eq!(
        live.requests().len(),
        fetched,
        "a warm cache makes no request"
    );
}

/// An OP that accepts and never answers: the whole verify is bounded by --deadline (here 1 s,
/// under the stub's 5 s hang and the HTTP client's own 10 s), and says so.
#[test]
fn op_that_hangs_is_cut_off_by_the_deadline() {
    let dir = TestDir::new(TMP);
    let slow = stub_op(Response::hang());
    let (mut host, cert) = host_for(&dir, "slow", slow.base(), unix_now() - 60);
    host.deadline = Some(1.0);
    let reason = denial(&verify(&host, &cert));
    assert!(
        reason.starts_with("verify did not finish within 1 s (--deadline)"),
        "{reason}"
    );
    assert!(
        slow.targets().iter().any(|t| t == "/jwks"),
        "the JWKS request was made: {:?}",
        slow.targets()
    );
}

/// A 50 MB JWKS: refused at the 1 MiB cap, not read into memory whole.
#[test]
fn fifty_megabyte_jwks_is_refused_at_the_cap() {
    let dir = TestDir::new(TMP);
    let body = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(50 * 1024 * 1024));
    let huge = stub_op(Response::json(200, &body));
    let (host, cert) = host_for(&dir, "huge", huge.base(), unix_now() - 60);
    let reason = denial(&verify(&host, &cert));
    assert!(reason.contains("is larger than 1048576 bytes"), "{reason}");
}

/// A torn cache file (a crash mid-write by something else, or a full disk) is ignored and
/// rebuilt from the OP; the login is allowed and the file is whole again.
#[test]
fn torn_jwks_cache_file_is_rebuilt() {
    let dir = TestDir::new(TMP);
    let op = stub_op(good_jwks());
    let (host, cert) = host_for(&dir, "torn", op.base(), unix_now() - 60);
    allowed(&verify(&host, &cert));
    let files: Vec<_> = std::fs::read_dir(&host.cache)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let whole = std::fs::read(&files[0]).expect("read");
    std::fs::write(&files[0], &whole[..whole.len() / 2]).expect("tear");
    let before = op.requests().len();
    allowed(&verify(&host, &cert));
    assert!(
        op.requests().len() > before,
        "the torn file was not refetched"
    );
    assert!(
        host.log_text().contains("ignoring JWKS cache file"),
        "{}",
        host.log_text()
    );
    let rebuilt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).expect("read")).expect("whole JSON");
    assert_eq!(rebuilt["jwks"]["keys"][0]["kid"], "planted-1");
}

/// O-9's window pinned at its edges: an `iat` 4 minutes ahead of this host's clock (a client or
/// OP clock running fast) is accepted; 6 minutes ahead is refused as being in the future.
#[test]
fn clock_skew_window_is_five_minutes() {
    let dir = TestDir::new(TMP);
    let op = stub_op(good_jwks());
    let (host, _) = host_for(&dir, "skew", op.base(), 0);
    let key = PlantedOp::default().key;
    allowed(&verify(
        &host,
        &baseline_cert(&key, op.base(), unix_now() + 240),
    ));
    let reason = denial(&verify(
        &host,
        &baseline_cert(&key, op.base(), unix_now() + 360),
    ));
    assert!(
        reason.starts_with("PK Token rejected: ID token iat ")
            && reason.contains("is in the future"),
        "{reason}"
    );
}

/// Unmounts on drop.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A real login whose key directory is a full 64 KiB tmpfs: it fails with one line naming the
/// file, and the previous key pair and nothing else is left (no staged or backup files).
#[test]
fn disk_full_at_login_keeps_the_previous_pair() {
    let (op, dir, home, _) = World::start().into_parts();
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
        .arg(&keys)
        .status()
        .expect("mount (needs root, as the tests run here)");
    assert!(status.success(), "mount tmpfs");
    let _mount = Mount(keys.clone());
    let key = keys.join("key");
    std::fs::write(&key, "OLD KEY").expect("old key");
    std::fs::write(keys.join("key-cert.pub"), "OLD CERT").expect("old cert");
    // Fill what is left.
    let filler = keys.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let error = login_failing_to_write(&op, &home, &key);
    assert!(
        error.contains(&key.display().to_string()) && error.contains("No space left on device"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&key).expect("key"), "OLD KEY");
    assert_eq!(
        std::fs::read_to_string(keys.join("key-cert.pub")).expect("cert"),
        "OLD CERT"
    );
    assert_eq!(names_in(&keys), ["filler", "key", "key-cert.pub"]);
}

/// SIGINT while `opk login` waits for the browser: it ends at once, non-zero, with the previous
/// pair untouched and no half-written file beside it.
#[test]
fn sigint_during_login_leaves_no_partial_files() {
    interrupted_login_leaves_no_partial_files("INT");
}

/// The same for SIGTERM (what `kill` and a stopping service manager send).
#[test]
fn sigterm_during_login_leaves_no_partial_files() {
    interrupted_login_leaves_no_partial_files("TERM");
}

/// Signals `opk login` while it waits for the browser; the previous key must stay as it was and
/// no temp file may be left beside it.
fn interrupted_login_leaves_no_partial_files(signal: &str) {
    let (op, dir, home, _) = World::start().into_parts();
    let _ports = opk_e2e::login_lock();
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    let key = keys.join("key");
    std::fs::write(&key, "OLD KEY").expect("old key");
    let mut child = Command::new(OPK)
        .args([
            "login",
            "--disable-browser-open",
            "--timeout",
            "60",
            "--force",
        ])
        .args(["--provider", &format!("{},opk-rs256", op.issuer)])
        .arg("-i")
        .arg(&key)
        .env("HOME", &home)
        .env_remove("SSH_AUTH_SOCK")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("opk login");
    // Wait until it prints the URL: it is then listening for the redirect.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).expect("read stderr");
        assert!(n > 0, "opk login ended before printing its URL: {seen}");
        seen.push_str(&line);
        if line.starts_with("http") {
            break;
        }
    }
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(
        !exit.success(),
        "a login stopped by SIG{signal} must not succeed"
    );
    assert_eq!(std::fs::read_to_string(&key).expect("key"), "OLD KEY");
    assert_eq!(names_in(&keys), ["key"], "half-written files left");
}
