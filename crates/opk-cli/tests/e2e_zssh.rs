//! `opk zssh` through a real OpenZiti network (quickstart controller + router, `ziti tunnel host`
//! in front of a real sshd whose only way in is the overlay): remote exit status, stdin, host
//! keys recorded per target identity, the refusals a user meets, and the factor stack (overlay
//! certificate + the opk certificate checked by sshd's `opk verify`). HOME is a temp dir.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{Host, OPK, TMP, login};
use opk_e2e::ziti::Network;
use opk_e2e::{KeyHost, Op, Sshd, TestDir, current_user, show};

/// One network for every case (it takes ~20 s to start): service `zssh` hosted by identity
/// `ssh-host` (an sshd that accepts one plain key), service `zssh-opk` hosted by `opk-host` (an
/// sshd running `opk verify`), both dialable by `laptop`. `ziti tunnel host` forwards each to its
/// sshd. Owned by the one test below, so every process stops when it ends.
struct Fixture {
    // Held for its processes (controller, router, tunnelers), which end with it.
    _net: Network,
    dir: TestDir,
    plain: KeyHost,
    laptop: PathBuf,
    op: Op,
    opk_host: Host,
}

impl Fixture {
    fn start() -> Self {
        let dir = TestDir::new(TMP);
        let plain = KeyHost::start(TMP);

        let op = Op::start(None);
        let opk_host = Host::allowing_alice(&dir, "opk-host", &op, "opk-rs256");

        let mut net = Network::start();
        net.service("zssh", plain.sshd.port);
        net.service("zssh-opk", opk_host.sshd.port);
        let ssh_host = net.identity("ssh-host", &["zssh.binders"]);
        let opk_host_id = net.identity("opk-host", &["zssh-opk.binders"]);
        let laptop = net.identity("laptop", &["zssh.dialers", "zssh-opk.dialers"]);
        net.tunnel_host(&ssh_host, "zssh");
        net.tunnel_host(&opk_host_id, "zssh-opk");
        Fixture {
            _net: net,
            dir,
            plain,
            laptop,
            op,
            opk_host,
        }
    }
}

#[test]
fn zssh_over_a_real_overlay() {
    let f = Fixture::start();
    commands_run_over_the_overlay_with_their_exit_status_and_stdin(&f);
    host_keys_are_checked_per_target_identity(&f);
    refusals_say_what_is_wrong(&f);
    opk_certificate_checked_by_opk_verify_behind_the_overlay(&f);
}

/// A fresh HOME whose known_hosts holds `known`.
fn fresh_home(f: &Fixture, name: &str, known: &str) -> PathBuf {
    let home = f.dir.join(name);
    std::fs::create_dir_all(home.join(".ssh")).expect("mkdir");
    std::fs::write(home.join(".ssh/known_hosts"), known).expect("known_hosts");
    home
}

/// `<identity>.<service>.ziti <host key>`: how opk zssh records a host (never by edge router).
/// The key is read from the sshd itself with ssh-keyscan.
fn known_line(sshd: &Sshd, identity: &str, service: &str) -> String {
    let out = Command::new("ssh-keyscan")
        .args(["-t", "ed25519", "-p", &sshd.port.to_string(), "127.0.0.1"])
        .output()
        .expect("ssh-keyscan");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("ssh-ed25519"))
        .expect("host key");
    let mut parts = line.split_whitespace().skip(1);
    format!(
        "{identity}.{service}.ziti {} {}\n",
        parts.next().expect("type"),
        parts.next().expect("key")
    )
}

fn zssh(f: &Fixture, home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let etc = home.join("etc-ssh");
    std::fs::create_dir_all(&etc).expect("etc");
    let mut child = Command::new(OPK)
        .arg("zssh")
        .arg("-c")
        .arg(&f.laptop)
        .args(args)
        .env("HOME", home)
        .env("OPK_SSH_SYSTEM_DIR", &etc)
        .env("USER", current_user())
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("opk zssh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("stdin");
    child.wait_with_output().expect("wait")
}

fn commands_run_over_the_overlay_with_their_exit_status_and_stdin(f: &Fixture) {
    let home = fresh_home(
        f,
        "home-exec",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    let key = f.plain.key.to_str().expect("utf-8");
    let target = format!("{}@ssh-host", current_user());

    let out = zssh(
        f,
        &home,
        &["-i", key, &target, "echo", "over the overlay"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "over the overlay\n");

    // zssh exits 1 for any remote failure; opk zssh passes the status on.
    let out = zssh(f, &home, &["-i", key, &target, "exit 42"], b"");
    assert_eq!(out.status.code(), Some(42), "{}", show(&out));

    // Local stdin reaches the remote command (zssh leaves it unconnected).
    let out = zssh(
        f,
        &home,
        &["-i", key, &target, "tr a-z A-Z"],
        b"piped through\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "PIPED THROUGH\n",
        "{}",
        show(&out)
    );
}

fn host_keys_are_checked_per_target_identity(f: &Fixture) {
    let key = f.plain.key.to_str().expect("utf-8");
    let target = format!("{}@ssh-host", current_user());
    // opk-host's key recorded under ssh-host's name: a mismatch naming the file and line.
    let home = fresh_home(
        f,
        "home-mismatch",
        &known_line(&f.opk_host.sshd, "ssh-host", "zssh"),
    );
    let wrong = std::fs::read_to_string(home.join(".ssh/known_hosts")).expect("read");
    assert_ne!(
        wrong,
        known_line(&f.plain.sshd, "ssh-host", "zssh"),
        "two sshds, two host keys"
    );
    let out = zssh(f, &home, &["-i", key, &target, "true"], b"");
    assert_eq!(out.status.code(), Some(255), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("known_hosts:1"), "{}", show(&out));

    // Nothing recorded and no terminal to ask: refused, nothing written.
    let home = fresh_home(f, "home-unknown", "");
    let out = zssh(f, &home, &["-i", key, &target, "true"], b"");
    assert_eq!(out.status.code(), Some(255), "{}", show(&out));
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/known_hosts")).expect("read"),
        ""
    );
}

fn refusals_say_what_is_wrong(f: &Fixture) {
    let key = f.plain.key.to_str().expect("utf-8");
    let home = fresh_home(
        f,
        "home-refusals",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    // An identity that hosts nothing.
    let out = zssh(f, &home, &["-i", key, "nobody", "true"], b"");
    assert_eq!(out.status.code(), Some(255), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nobody"),
        "{}",
        show(&out)
    );
    // A service this identity may not dial.
    let out = zssh(
        f,
        &home,
        &["-i", key, "-s", "nope", "ssh-host", "true"],
        b"",
    );
    assert_eq!(out.status.code(), Some(255), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"nope\""),
        "{}",
        show(&out)
    );
    // A missing identity file.
    let out = Command::new(OPK)
        .args(["zssh", "-c", "/nonexistent/id.json", "ssh-host", "true"])
        .env("HOME", &home)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(255), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/id.json"),
        "{}",
        show(&out)
    );
}

/// Both factors: the overlay admits the identity certificate, then sshd's `opk verify` admits
/// the opk certificate from a real `opk login` (no -i: found where login wrote it).
fn opk_certificate_checked_by_opk_verify_behind_the_overlay(f: &Fixture) {
    let home = fresh_home(
        f,
        "home-opk",
        &known_line(&f.opk_host.sshd, "opk-host", "zssh-opk"),
    );
    login(&f.op, &home, "opk-rs256", &[], &[]);
    let target = format!("{}@opk-host", current_user());
    let out = zssh(
        f,
        &home,
        &["-s", "zssh-opk", &target, "echo both-factors"],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "both-factors\n");
    assert!(
        f.opk_host
            .log_text()
            .contains(&format!("allowed {}", common::USER_EMAIL)),
        "{}",
        f.opk_host.log_text()
    );
}
