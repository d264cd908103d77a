//! `opk zssh` through a real OpenZiti network (quickstart controller + router, `ziti tunnel host`
//! in front of a real sshd whose only way in is the overlay): remote exit status, stdin, host
//! keys recorded per target identity, the refusals a user meets, and the factor stack (overlay
//! certificate + the opk certificate checked by sshd's `opk verify`). HOME is a temp dir.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{Host, OPK, TMP, login};
use opk_e2e::ziti::{Network, fresh_totp_time};
use opk_e2e::{KeyHost, Op, Sshd, TestDir, current_user, show};
use opk_testkit::tree::{assert_same_bytes, assert_same_modes_and_times, make_odd_tree};

/// One network for every case (it takes ~20 s to start): service `zssh` hosted by identity
/// `ssh-host` (an sshd that accepts one plain key), service `zssh-opk` hosted by `opk-host` (an
/// sshd running `opk verify`), both dialable by `laptop`. `ziti tunnel host` forwards each to its
/// sshd. Owned by the one test below, so every process stops when it ends.
struct Fixture {
    // Its processes (controller, router, tunnelers) end with it.
    net: Network,
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

        // opk-rs256 also allows zssh's redirect URI, for `opk zssh -o` (aud stays opk-rs256,
        // which the controller's ext-jwt signer expects).
        let clients = dir.join("op-clients.json");
        let uris: Vec<String> = [3000, 10001, 11110]
            .iter()
            .map(|p| format!("http://localhost:{p}/login-callback"))
            .chain(["http://localhost:63275/auth/callback".to_owned()])
            .collect();
        // zssh's default client, whose ID tokens the signer (audience opk-rs256) refuses.
        let spec = serde_json::json!([
            {"client_id": "opk-rs256", "redirect_uris": uris},
            {"client_id": "openziti-client",
             "redirect_uris": ["http://localhost:63275/auth/callback"]},
        ]);
        std::fs::write(&clients, spec.to_string()).expect("clients");
        let op = Op::start_with(None, &["--clients", clients.to_str().expect("utf-8")]);
        let opk_host = Host::allowing_alice(&dir, "opk-host", &op, "opk-rs256");

        let mut net = Network::start();
        net.service("zssh", plain.sshd.port);
        net.service("zssh-opk", opk_host.sshd.port);
        let ssh_host = net.identity("ssh-host", &["zssh.binders"]);
        let opk_host_id = net.identity("opk-host", &["zssh-opk.binders"]);
        let laptop = net.identity(
            "laptop",
            &[
                "zssh.dialers",
                "zssh-opk.dialers",
                "zssh-native.dialers",
                "zssh-tunnel.dialers",
            ],
        );
        net.tunnel_host(&ssh_host, "zssh");
        net.tunnel_host(&opk_host_id, "zssh-opk");
        // `opk ziti host` in front of the plain sshd: no tunneler, no host.v1 config.
        net.sdk_service("zssh-native");
        let native = net.identity("native-host", &["zssh-native.binders"]);
        let to = format!("127.0.0.1:{}", plain.sshd.port);
        net.host_with(
            Path::new(OPK),
            &[
                "ziti",
                "host",
                "--identity",
                native.to_str().expect("utf-8"),
                "--service",
                "zssh-native",
                "--to",
                &to,
            ],
            "opk-ziti-host",
            "zssh-native",
        );
        Fixture {
            net,
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
    let mut f = Fixture::start();
    commands_run_over_the_overlay_with_their_exit_status_and_stdin(&f);
    hosted_by_opk_ziti_host_without_a_tunneler(&f);
    host_keys_are_checked_per_target_identity(&f);
    refusals_say_what_is_wrong(&f);
    opk_certificate_checked_by_opk_verify_behind_the_overlay(&f);
    let signer = one_sign_in_is_the_overlay_oidc_factor_and_the_ssh_certificate(&f);
    oidc_only_dials_without_an_identity_file(&f, &signer);
    oidc_only_with_ziti_totp_as_second_factor(&f);
    zssh_browser_sign_in_as_second_factor_and_as_the_only_one(&f);
    the_reference_tunneler_hosts_with_an_opk_enrolled_identity(&mut f);
    zscp_copies_a_tree_both_ways_byte_identical(&f);
    invoked_as_zssh_and_zscp(&f);
    opk_enrolls_an_identity_that_then_dials(&f);
    totp_enabled_asked_at_connect_and_removed(&f);
}

/// An SSH session kept open past the controller's API-session timeout (1 min, its minimum):
/// opk refreshes the session while the transport lives (said with `-d`), and the session still
/// carries data after the timeout has passed.
#[test]
fn ssh_session_outlives_the_api_session_timeout() {
    let plain = KeyHost::start(TMP);
    let mut net = Network::start_with_session_timeout(Some("1m"));
    net.service("zssh", plain.sshd.port);
    let host = net.identity("ssh-host", &["zssh.binders"]);
    let laptop = net.identity("laptop", &["zssh.dialers"]);
    net.tunnel_host(&host, "zssh");
    let dir = TestDir::new(TMP);
    let home = fresh_home(&dir, "home", &known_line(&plain.sshd, "ssh-host", "zssh"));
    let target = format!("{}@ssh-host", current_user());
    let out = overlay_cmd(
        Path::new(OPK),
        &home,
        &[
            "zssh",
            "-d",
            "-c",
            laptop.to_str().expect("utf-8"),
            "-i",
            plain.key.to_str().expect("utf-8"),
            &target,
            "echo before; sleep 75; echo after",
        ],
        b"",
    );
    assert_output(&out, 0, "before\nafter\n");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("refreshed the OpenZiti API session of laptop (timeout 60 s)"),
        "{}",
        show(&out)
    );
}

/// OIDC-only with a token that lives 5 s (the test OP's opk-short client) and the controller's
/// 1-minute API-session timeout: the session is refreshed after the token has expired, and an
/// SSH session open across both still carries data.
#[test]
fn oidc_only_session_outlives_its_token() {
    let plain = KeyHost::start(TMP);
    let op = Op::start(None);
    let mut net = Network::start_with_session_timeout(Some("1m"));
    net.service("zssh", plain.sshd.port);
    let host = net.identity("ssh-host", &["zssh.binders"]);
    net.tunnel_host(&host, "zssh");
    let created = net.cli(&[
        "edge",
        "create",
        "ext-jwt-signer",
        "test-op-short",
        &op.issuer,
        "-u",
        &format!("{}/jwks", op.issuer),
        "-a",
        "opk-short",
        "-c",
        "email",
    ]);
    let signer = created.split_whitespace().last().expect("signer id");
    net.cli(&[
        "edge",
        "create",
        "auth-policy",
        "oidc-only",
        "--primary-ext-jwt-allowed",
        "--primary-ext-jwt-allowed-signers",
        signer,
    ]);
    net.cli(&[
        "edge",
        "create",
        "identity",
        "bob",
        "--external-id",
        "bob@example.com",
        "--auth-policy",
        "oidc-only",
        "-a",
        "zssh.dialers",
    ]);
    let laptop = net.identity("laptop", &["zssh.dialers"]);
    let dir = TestDir::new(TMP);
    let ca = dir.join("network-ca.pem");
    std::fs::write(&ca, network_ca(&laptop)).expect("CA");
    let home = fresh_home(&dir, "home", &known_line(&plain.sshd, "ssh-host", "zssh"));
    common::browser_login(&home)
        .args(["--provider", &common::provider(&op, "opk-short")])
        .user("bob@example.com")
        .run()
        .assert_success("opk login");
    let cert = home.join(".ssh/id_ecdsa-cert.pub");
    let target = format!("{}@ssh-host", current_user());
    let out = overlay_cmd_env(
        Path::new(OPK),
        &home,
        &[
            "zssh",
            "-d",
            "--oidcOnly",
            "--controllerUrl",
            &format!("127.0.0.1:{}", net.ctrl_port),
            "--oidc-cert",
            cert.to_str().expect("utf-8"),
            "-i",
            plain.key.to_str().expect("utf-8"),
            &target,
            "echo before; sleep 75; echo after",
        ],
        &[("SSL_CERT_FILE", ca.to_str().expect("utf-8"))],
    );
    assert_output(&out, 0, "before\nafter\n");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("refreshed the OpenZiti API session of bob (timeout 60 s)"),
        "{}",
        show(&out)
    );
}

/// A fresh HOME whose known_hosts holds `known`.
fn fresh_home(dir: &TestDir, name: &str, known: &str) -> PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(home.join(".ssh")).expect("mkdir");
    std::fs::write(home.join(".ssh/known_hosts"), known).expect("known_hosts");
    home
}

/// For a case against the plain sshd as `identity` hosting `service`: a fresh HOME that knows
/// its host key, the key it accepts, and the target `user@identity`.
fn plain_case(f: &Fixture, name: &str, identity: &str, service: &str) -> (PathBuf, String, String) {
    let home = fresh_home(&f.dir, name, &known_line(&f.plain.sshd, identity, service));
    let key = f.plain.key.to_str().expect("utf-8").to_owned();
    (home, key, format!("{}@{identity}", current_user()))
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
    let mut all = vec!["zssh", "-c", f.laptop.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    overlay_cmd(Path::new(OPK), home, &all, stdin)
}

/// `program args…` with HOME `home` and the system ssh dir in it, `stdin` written to it.
fn overlay_cmd(program: &Path, home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    overlay_cmd_with(program, home, args, stdin, &[])
}

/// [`overlay_cmd`] with no stdin and `env` set.
fn overlay_cmd_env(program: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    overlay_cmd_with(program, home, args, b"", env)
}

fn overlay_cmd_with(
    program: &Path,
    home: &Path,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Output {
    let etc = home.join("etc-ssh");
    std::fs::create_dir_all(&etc).expect("etc");
    let mut child = Command::new(program)
        .args(args)
        .env("HOME", home)
        .env("OPK_SSH_SYSTEM_DIR", &etc)
        .env("USER", current_user())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSL_CERT_FILE")
        .envs(env.iter().copied())
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

/// Exit status `code` and `text` in stderr.
fn assert_exit(out: &Output, code: i32, text: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", show(out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(text),
        "{}",
        show(out)
    );
}

/// Exit status `code` and exactly `stdout`.
fn assert_output(out: &Output, code: i32, stdout: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", show(out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        stdout,
        "{}",
        show(out)
    );
}

fn commands_run_over_the_overlay_with_their_exit_status_and_stdin(f: &Fixture) {
    let (home, key, target) = plain_case(f, "home-exec", "ssh-host", "zssh");
    let key = key.as_str();

    let out = zssh(
        f,
        &home,
        &["-i", key, &target, "echo", "over the overlay"],
        b"",
    );
    assert_output(&out, 0, "over the overlay\n");

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
        &f.dir,
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
    let home = fresh_home(&f.dir, "home-unknown", "");
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
        &f.dir,
        "home-refusals",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    // An identity that hosts nothing.
    let out = zssh(f, &home, &["-i", key, "nobody", "true"], b"");
    assert_exit(&out, 255, "nobody");
    // A service this identity may not dial.
    let out = zssh(
        f,
        &home,
        &["-i", key, "-s", "nope", "ssh-host", "true"],
        b"",
    );
    assert_exit(&out, 255, "\"nope\"");
    // A missing identity file.
    let out = Command::new(OPK)
        .args(["zssh", "-c", "/nonexistent/id.json", "ssh-host", "true"])
        .env("HOME", &home)
        .output()
        .expect("run");
    assert_exit(&out, 255, "/nonexistent/id.json");
}

/// Both factors: the overlay admits the identity certificate, then sshd's `opk verify` admits
/// the opk certificate from a real `opk login` (no -i: found where login wrote it).
fn opk_certificate_checked_by_opk_verify_behind_the_overlay(f: &Fixture) {
    let home = fresh_home(
        &f.dir,
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
    assert_output(&out, 0, "both-factors\n");
    assert!(
        f.opk_host
            .log_text()
            .contains(&format!("allowed {}", common::USER_EMAIL)),
        "{}",
        f.opk_host.log_text()
    );
}

/// Three factors from two credentials: an auth policy demands the identity certificate plus an
/// OIDC token from the test OP (registered as an external-JWT signer, matching the identity's
/// external id to the token's `email`); `--oidc-cert` presents the ID token inside the opk
/// certificate of the login above, which sshd's `opk verify` then checks too.
fn one_sign_in_is_the_overlay_oidc_factor_and_the_ssh_certificate(f: &Fixture) -> String {
    let home = f.dir.join("home-opk");
    let jwks = format!("{}/jwks", f.op.issuer);
    let created = f.net.cli(&[
        "edge",
        "create",
        "ext-jwt-signer",
        "test-op",
        &f.op.issuer,
        "-u",
        &jwks,
        "-a",
        "opk-rs256",
        "-c",
        "email",
    ]);
    let signer = created
        .split_whitespace()
        .last()
        .expect("the signer's id")
        .to_owned();
    f.net.cli(&[
        "edge",
        "create",
        "auth-policy",
        "cert-and-oidc",
        "--primary-cert-allowed",
        "--secondary-req-ext-jwt-signer",
        &signer,
    ]);
    let id = f.net.identity("oidc-laptop", &["zssh-opk.dialers"]);
    f.net.cli(&[
        "edge",
        "update",
        "identity",
        "oidc-laptop",
        "--external-id",
        common::USER_EMAIL,
        "--auth-policy",
        "cert-and-oidc",
    ]);
    let id = id.to_str().expect("utf-8");
    let target = format!("{}@opk-host", current_user());
    let run = |extra: &[&str]| {
        let mut args = vec!["zssh", "-c", id, "-s", "zssh-opk"];
        args.extend_from_slice(extra);
        args.extend([target.as_str(), "echo three factors"]);
        overlay_cmd(Path::new(OPK), &home, &args, b"")
    };
    // Without the token the controller holds the session back: said, not a bare 401.
    assert_exit(&run(&[]), 255, "--oidc-cert");
    // Not an opk certificate.
    let plain_pub = format!("{}.pub", f.plain.key.display());
    assert_exit(&run(&["--oidc-cert", &plain_pub]), 255, "opk login");
    let cert = home.join(".ssh/id_ecdsa-cert.pub");
    let out = run(&["--oidc-cert", cert.to_str().expect("utf-8")]);
    assert_output(&out, 0, "three factors\n");
    signer
}

/// zssh's `--oidcOnly`: no identity file at all. The controller admits an identity that was
/// never enrolled by the OIDC token of `opk login` (an auth policy allowing the test OP's
/// signer as primary, the identity's external id = the token's email); opk gets an API-session
/// certificate for the edge router and dials. The controller is trusted through SSL_CERT_FILE
/// (the network's CA), never blindly. A token of a user the network does not know, an expired
/// token and an untrusted controller each give one line saying what to do.
fn oidc_only_dials_without_an_identity_file(f: &Fixture, signer: &str) {
    f.net.cli(&[
        "edge",
        "create",
        "auth-policy",
        "oidc-only",
        "--primary-ext-jwt-allowed",
        "--primary-ext-jwt-allowed-signers",
        signer,
    ]);
    f.net.cli(&[
        "edge",
        "create",
        "identity",
        "oidc-only-user",
        "--external-id",
        "bob@example.com",
        "--auth-policy",
        "oidc-only",
        "-a",
        "zssh.dialers",
    ]);
    let ca = f.dir.join("network-ca.pem");
    std::fs::write(&ca, network_ca(&f.laptop)).expect("write CA");
    let ca = ca.to_str().expect("utf-8").to_owned();
    let key = f.plain.key.to_str().expect("utf-8");
    let target = format!("{}@ssh-host", current_user());
    let controller = format!("127.0.0.1:{}", f.net.ctrl_port);
    let signed_in = |name: &str, user: &str, client: &str| {
        let home = fresh_home(&f.dir, name, &known_line(&f.plain.sshd, "ssh-host", "zssh"));
        common::browser_login(&home)
            .args(["--provider", &common::provider(&f.op, client)])
            .user(user)
            .run()
            .assert_success("opk login");
        home
    };
    let run = |home: &Path, env: &[(&str, &str)]| {
        let cert = home.join(".ssh/id_ecdsa-cert.pub");
        overlay_cmd_env(
            Path::new(OPK),
            home,
            &[
                "zssh",
                "--oidcOnly",
                "--controllerUrl",
                &controller,
                "--oidc-cert",
                cert.to_str().expect("utf-8"),
                "-i",
                key,
                &target,
                "echo oidc only",
            ],
            env,
        )
    };
    let bob = signed_in("home-oidc-only", "bob@example.com", "opk-rs256");
    let out = run(&bob, &[("SSL_CERT_FILE", &ca)]);
    assert_output(&out, 0, "oidc only\n");
    assert!(!bob.join(".ziti").exists(), "no identity file involved");
    // zscp takes the same flags.
    let file = f.dir.join("oidc-only-file");
    std::fs::write(&file, b"copied with a token only\n").expect("write");
    let dest = f.dir.join("oidc-only-copy");
    let cert = bob.join(".ssh/id_ecdsa-cert.pub");
    let out = overlay_cmd_env(
        Path::new(OPK),
        &bob,
        &[
            "zscp",
            "--oidcOnly",
            "--controllerUrl",
            &controller,
            "--oidc-cert",
            cert.to_str().expect("utf-8"),
            "-i",
            key,
            file.to_str().expect("utf-8"),
            &format!("{target}:{}", dest.display()),
        ],
        &[("SSL_CERT_FILE", &ca)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        std::fs::read(&dest).expect("copied"),
        b"copied with a token only\n"
    );

    // The controller's certificate is checked before the token is sent.
    let out = run(&bob, &[]);
    assert_one_error_line(&out, "SSL_CERT_FILE");
    // A user the network has no identity for.
    let carol = signed_in("home-oidc-carol", "carol@example.com", "opk-rs256");
    assert_one_error_line(
        &run(&carol, &[("SSL_CERT_FILE", &ca)]),
        "refused the OIDC token",
    );
    // A token past its exp (the test OP's opk-short client: 5 s).
    let short = signed_in("home-oidc-short", "bob@example.com", "opk-short");
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_one_error_line(&run(&short, &[("SSL_CERT_FILE", &ca)]), "expired");
}

/// zssh's `-o`: opk signs in at the test OP in a (headless) browser on zssh's redirect
/// `http://localhost:63275/auth/callback`. With an identity file the token is the external-JWT
/// second factor (oidc-laptop's auth policy demands it); `--oidcOnly` alone implies the sign-in,
/// as in zssh, and the token is then the only overlay credential. opk's long spellings and `-l`
/// are used on the way.
fn zssh_browser_sign_in_as_second_factor_and_as_the_only_one(f: &Fixture) {
    let attempt = |home: &Path, user: &str, args: &[&str], env: &[(&str, &str)]| {
        let etc = home.join("etc-ssh");
        std::fs::create_dir_all(&etc).expect("etc");
        common::browser_login(home)
            .command(args, "/auth/callback")
            .user(user)
            .envs([
                ("OPK_SSH_SYSTEM_DIR", etc.to_str().expect("utf-8")),
                ("USER", current_user().as_str()),
            ])
            .envs(env.iter().copied())
            .run()
    };
    let sign_in = |home: &Path, user: &str, args: &[&str], env: &[(&str, &str)]| {
        let run = attempt(home, user, args, env).assert_success("opk zssh -o");
        assert!(
            run.stderr.contains("sign in to"),
            "stdout: {}\nstderr: {}",
            run.stdout,
            run.stderr
        );
        run.stdout
    };
    let laptop_id = f.net.dir.path().join("oidc-laptop.json");
    let home = f.dir.join("home-opk");
    let target = format!("{}@opk-host", current_user());
    let out = sign_in(
        &home,
        common::USER_EMAIL,
        &[
            "zssh",
            "-c",
            laptop_id.to_str().expect("utf-8"),
            "-s",
            "zssh-opk",
            "-o",
            "-a",
            &f.op.issuer,
            "-n",
            "opk-rs256",
            &target,
            "echo browser factor",
        ],
        &[],
    );
    assert_eq!(out, "browser factor\n");

    let ca = f.dir.join("network-ca.pem");
    let home = fresh_home(
        &f.dir,
        "home-oidc-browser",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    let controller = format!("127.0.0.1:{}", f.net.ctrl_port);
    let target = format!("{}@ssh-host", current_user());
    let out = sign_in(
        &home,
        "bob@example.com",
        &[
            "zssh",
            "--oidc-only",
            "--controller-url",
            &controller,
            "--oidc-issuer",
            &f.op.issuer,
            "--client-id",
            "opk-rs256",
            "--callback-port",
            "63275",
            "-l",
            "login_hint=bob@example.com",
            "-i",
            f.plain.key.to_str().expect("utf-8"),
            &target,
            "echo browser only",
        ],
        &[("SSL_CERT_FILE", ca.to_str().expect("utf-8"))],
    );
    assert_eq!(out, "browser only\n");

    // zssh's default client (-n left out): its ID token is for openziti-client, which the
    // signer refuses; `-l resource=…` (before another -l: zssh would keep only the last) makes
    // the test OP issue a JWT access token for audience opk-rs256, which opk then sends, as zssh
    // does.
    let key = f.plain.key.to_str().expect("utf-8");
    let ca_env = [("SSL_CERT_FILE", ca.to_str().expect("utf-8"))];
    let default_client = |extra: &[&str]| {
        let mut args = vec![
            "zssh",
            "--oidcOnly",
            "--controllerUrl",
            &controller,
            "-a",
            &f.op.issuer,
        ];
        args.extend_from_slice(extra);
        args.extend(["-i", key, &target, "echo access token"]);
        attempt(&home, "bob@example.com", &args, &ca_env)
    };
    let run = default_client(&[
        "-l",
        "resource=urn:opk-test:opk-rs256",
        "-l",
        "login_hint=bob@example.com",
    ]);
    assert!(
        run.success,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(run.stdout, "access token\n");
    let run = default_client(&["-l", "login_hint=bob@example.com"]);
    assert!(!run.success, "the ID token of openziti-client was accepted");
    assert!(
        run.stderr.contains("refused the OIDC token"),
        "{}",
        run.stderr
    );
}

/// The identity file `opk ziti enroll` writes is what the reference tunneler reads: `ziti tunnel
/// host -i` with it binds the service (as its own addressable terminator) in front of the plain
/// sshd, and `opk zssh` reaches that sshd through it.
fn the_reference_tunneler_hosts_with_an_opk_enrolled_identity(f: &mut Fixture) {
    f.net.service("zssh-tunnel", f.plain.sshd.port);
    let jwt = f
        .net
        .enrollment_token("opk-enrolled-host", &["zssh-tunnel.binders"]);
    let host_id = f.dir.join("opk-enrolled-host.json");
    let home = fresh_home(
        &f.dir,
        "home-tunnel",
        &known_line(&f.plain.sshd, "opk-enrolled-host", "zssh-tunnel"),
    );
    let out = overlay_cmd(
        Path::new(OPK),
        &home,
        &[
            "ziti",
            "enroll",
            jwt.to_str().expect("utf-8"),
            "-o",
            host_id.to_str().expect("utf-8"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    f.net.tunnel_host(&host_id, "zssh-tunnel");
    let target = format!("{}@opk-enrolled-host", current_user());
    let out = zssh(
        f,
        &home,
        &[
            "-s",
            "zssh-tunnel",
            "-i",
            f.plain.key.to_str().expect("utf-8"),
            &target,
            "echo via ziti tunnel host; exit 3",
        ],
        b"",
    );
    assert_output(&out, 3, "via ziti tunnel host\n");
}

/// The OIDC-only flow with the overlay's own TOTP on top (the zssh blog's "IdP without TOTP"
/// case): `mfa enable` works without an identity file, and from then on a dial answers the
/// controller's TOTP query before the API-session certificate is made.
fn oidc_only_with_ziti_totp_as_second_factor(f: &Fixture) {
    f.net.cli(&[
        "edge",
        "create",
        "identity",
        "oidc-mfa-user",
        "--external-id",
        "dave@example.com",
        "--auth-policy",
        "oidc-only",
        "-a",
        "zssh.dialers",
    ]);
    let home = fresh_home(
        &f.dir,
        "home-oidc-mfa",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    common::browser_login(&home)
        .args(["--provider", &common::provider(&f.op, "opk-rs256")])
        .user("dave@example.com")
        .run()
        .assert_success("opk login");
    let cert = home.join(".ssh/id_ecdsa-cert.pub");
    let ca = f.dir.join("network-ca.pem");
    let controller = format!("127.0.0.1:{}", f.net.ctrl_port);
    let oidc_only = [
        "--oidcOnly",
        "--controllerUrl",
        &controller,
        "--oidc-cert",
        cert.to_str().expect("utf-8"),
    ];
    let env = [("SSL_CERT_FILE", ca.to_str().expect("utf-8"))];
    let mut used = 0;
    let (totp, _) = enable_totp(&home, &oidc_only, &env, "oidc-mfa-user", &mut used);

    let key = f.plain.key.to_str().expect("utf-8");
    let target = format!("{}@ssh-host", current_user());
    let dial = |totp_args: &[&str]| {
        let mut args = vec!["zssh"];
        args.extend_from_slice(&oidc_only);
        args.extend_from_slice(totp_args);
        args.extend(["-i", key, &target, "echo oidc and totp"]);
        overlay_cmd_env(Path::new(OPK), &home, &args, &env)
    };
    // The controller asks: a TOTP command that fails is one line, naming it.
    assert_one_error_line(&dial(&["--totp-command", "exit 1"]), "TOTP command");
    let code = format!("echo {}", totp.code_at(fresh_totp_time(&mut used)));
    let out = dial(&["--totp-command", &code]);
    assert_output(&out, 0, "oidc and totp\n");
}

/// The network's CA bundle (PEM) from an enrolled identity file: what a user hands
/// SSL_CERT_FILE for a controller with a private CA.
fn network_ca(identity: &Path) -> String {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(identity).expect("identity")).expect("json");
    json["id"]["ca"]
        .as_str()
        .and_then(|c| c.strip_prefix("pem:"))
        .expect("pem: ca")
        .to_owned()
}

/// Exit 255 and exactly one stderr line, containing `text`.
fn assert_one_error_line(out: &Output, text: &str) {
    assert_exit(out, 255, text);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1,
        "{}",
        show(out)
    );
}

/// `opk zscp -r` up and back down through the overlay, `--preserve` keeping modes and times: the
/// copies equal the original byte for byte.
fn zscp_copies_a_tree_both_ways_byte_identical(f: &Fixture) {
    let home = fresh_home(
        &f.dir,
        "home-zscp",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    let key = f.plain.key.to_str().expect("utf-8");
    let laptop = f.laptop.to_str().expect("utf-8");
    let local = f.dir.join("zscp local ✓");
    make_odd_tree(&local);
    let remote = f.dir.join("zscp remote");
    let target = format!("{}@ssh-host:{}", current_user(), remote.display());
    let up = overlay_cmd(
        Path::new(OPK),
        &home,
        &[
            "zscp",
            "-c",
            laptop,
            "-i",
            key,
            "-r",
            "--preserve",
            local.to_str().expect("utf-8"),
            &target,
        ],
        b"",
    );
    assert_eq!(up.status.code(), Some(0), "upload: {}", show(&up));
    assert_same_bytes(&local, &remote);
    assert_same_modes_and_times(&local, &remote);

    let back = f.dir.join("zscp back");
    std::fs::create_dir(&back).expect("mkdir");
    let down = overlay_cmd(
        Path::new(OPK),
        &home,
        &[
            "zscp",
            "-c",
            laptop,
            "-i",
            key,
            "--recursive",
            "--preserve",
            &target,
            back.to_str().expect("utf-8"),
        ],
        b"",
    );
    assert_eq!(down.status.code(), Some(0), "download: {}", show(&down));
    assert_same_bytes(&local, &back.join("zscp remote"));
    assert_same_modes_and_times(&local, &back.join("zscp remote"));

    // A missing source is reported and fails the run (zscp can exit 0 after a failed copy).
    let missing = format!(
        "{}@ssh-host:{}/no-such-file",
        current_user(),
        remote.display()
    );
    let out = overlay_cmd(
        Path::new(OPK),
        &home,
        &[
            "zscp",
            "-c",
            laptop,
            "-i",
            key,
            &missing,
            back.to_str().expect("utf-8"),
        ],
        b"",
    );
    assert_exit(&out, 1, "no-such-file");
}

/// A link named `zssh` or `zscp` to the binary is that tool.
fn invoked_as_zssh_and_zscp(f: &Fixture) {
    let home = fresh_home(
        &f.dir,
        "home-argv0",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    let bin = f.dir.join("argv0-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for name in ["zssh", "zscp"] {
        std::os::unix::fs::symlink(OPK, bin.join(name)).expect("symlink");
    }
    let key = f.plain.key.to_str().expect("utf-8");
    let laptop = f.laptop.to_str().expect("utf-8");
    let target = format!("{}@ssh-host", current_user());
    let out = overlay_cmd(
        &bin.join("zssh"),
        &home,
        &["-c", laptop, "-i", key, &target, "echo", "as zssh"],
        b"",
    );
    assert_output(&out, 0, "as zssh\n");

    let file = f.dir.join("argv0-file");
    std::fs::write(&file, b"copied by zscp\n").expect("write");
    let dest = f.dir.join("argv0-copy");
    let out = overlay_cmd(
        &bin.join("zscp"),
        &home,
        &[
            "-c",
            laptop,
            "-i",
            key,
            file.to_str().expect("utf-8"),
            &format!("{target}:{}", dest.display()),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(std::fs::read(&dest).expect("copied"), b"copied by zscp\n");
}

/// `opk ziti enroll` turns the controller's one-time token into an identity file (0600) that
/// dials; the token is spent after that.
fn opk_enrolls_an_identity_that_then_dials(f: &Fixture) {
    use std::os::unix::fs::PermissionsExt as _;
    let jwt = f.net.enrollment_token("opk-enrolled", &["zssh.dialers"]);
    let out_file = f.dir.join("opk-enrolled.json");
    let home = fresh_home(
        &f.dir,
        "home-enroll",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    let jwt_s = jwt.to_str().expect("utf-8");
    let out_s = out_file.to_str().expect("utf-8");
    let out = overlay_cmd(
        Path::new(OPK),
        &home,
        &["ziti", "enroll", jwt_s, "-o", out_s],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(out_s),
        "{}",
        show(&out)
    );
    let mode = std::fs::metadata(&out_file)
        .expect("identity")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let key = f.plain.key.to_str().expect("utf-8");
    let target = format!("{}@ssh-host", current_user());
    let out = overlay_cmd(
        Path::new(OPK),
        &home,
        &[
            "zssh",
            "-c",
            out_s,
            "-i",
            key,
            &target,
            "echo",
            "enrolled by opk",
        ],
        b"",
    );
    assert_output(&out, 0, "enrolled by opk\n");

    // The token is single use: a second enrolment is refused, and the identity file is kept.
    let before = std::fs::read(&out_file).expect("read");
    let again = overlay_cmd(
        Path::new(OPK),
        &home,
        &["ziti", "enroll", jwt_s, "-o", out_s],
        b"",
    );
    assert_exit(&again, 1, "Error: ");
    assert_eq!(std::fs::read(&out_file).expect("read"), before);
}

/// `opk zssh mfa enable` prints the secret, takes a code computed from it, and prints recovery
/// codes; from then on the controller asks for a code at connect time (`--totp-command`), a
/// wrong one is refused, and `mfa remove` takes a recovery code.
fn totp_enabled_asked_at_connect_and_removed(f: &Fixture) {
    let id = f.net.identity("mfa-laptop", &["zssh.dialers"]);
    let id_s = id.to_str().expect("utf-8");
    let home = fresh_home(
        &f.dir,
        "home-mfa",
        &known_line(&f.plain.sshd, "ssh-host", "zssh"),
    );
    let mut used = 0;
    let (totp, recovery) = enable_totp(&home, &["-c", id_s], &[], "mfa-laptop", &mut used);

    let key = f.plain.key.to_str().expect("utf-8");
    let target = format!("{}@ssh-host", current_user());
    let with_totp = |cmd: &str| {
        overlay_cmd(
            Path::new(OPK),
            &home,
            &[
                "zssh",
                "-c",
                id_s,
                "--totp-command",
                cmd,
                "-i",
                key,
                &target,
                "echo",
                "second factor",
            ],
            b"",
        )
    };
    let right = totp.code_at(fresh_totp_time(&mut used));
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().expect("digits") + 1) % 1_000_000
    );
    let out = with_totp(&format!("echo {wrong}"));
    assert_exit(&out, 255, "authenticate/mfa");
    let out = with_totp(&format!("echo {right}"));
    assert_output(&out, 0, "second factor\n");

    // Remove: the login takes one recovery code, the removal another.
    let login_cmd = format!("echo {}", recovery[0]);
    let out = overlay_cmd(
        Path::new(OPK),
        &home,
        &[
            "zssh",
            "mfa",
            "remove",
            "-c",
            id_s,
            "--totp-command",
            &login_cmd,
        ],
        format!("{}\n", recovery[1]).as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed"),
        "{}",
        show(&out)
    );
    // No code asked any more: a TOTP command that would fail is never run.
    let out = with_totp("exit 1");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

/// `opk zssh mfa enable <args>`: reads the provisioning URL from stdout, answers with a fresh
/// code, and returns the TOTP generator and the recovery codes printed.
fn enable_totp(
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    name: &str,
    used: &mut u64,
) -> (opk_ziti::Totp, Vec<String>) {
    use std::io::{BufRead as _, BufReader, Read as _};
    let mut child = Command::new(OPK)
        .args(["zssh", "mfa", "enable"])
        .args(args)
        .env("HOME", home)
        .env_remove("SSL_CERT_FILE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mfa enable");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut url = None;
    let mut seen = String::new();
    while url.is_none() {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("read") == 0 {
            break;
        }
        seen.push_str(&line);
        url = line
            .strip_prefix("Provisioning URL: ")
            .map(|u| u.trim().to_owned());
    }
    let Some(url) = url else {
        let mut err = String::new();
        let _ = child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err);
        panic!("no provisioning URL in: {seen}\nstderr: {err}");
    };
    assert!(
        seen.contains(&format!("TOTP secret for {name}: ")),
        "{seen}"
    );
    let totp = opk_ziti::Totp::from_provisioning_url(&url).expect("otpauth URL");
    let code = totp.code_at(fresh_totp_time(used));
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{code}").expect("code");
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read");
    let status = child.wait().expect("wait");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    assert!(status.success(), "mfa enable: {rest}\n{err}");
    let recovery: Vec<String> = rest
        .lines()
        .skip_while(|l| !l.contains("Recovery codes"))
        .skip(1)
        .flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(recovery.len() >= 3, "recovery codes: {rest}");
    (totp, recovery)
}

/// `opk ziti host` (no tunneler, no host.v1 config) carries `opk zssh` to the sshd, and the host
/// key is recorded under the identity that hosts it.
fn hosted_by_opk_ziti_host_without_a_tunneler(f: &Fixture) {
    let (home, key, target) = plain_case(f, "home-native", "native-host", "zssh-native");
    let key = key.as_str();
    let out = zssh(
        f,
        &home,
        &[
            "-s",
            "zssh-native",
            "-i",
            key,
            &target,
            "echo hosted by opk; exit 7",
        ],
        b"",
    );
    assert_output(&out, 7, "hosted by opk\n");
    // Several sessions at once through the one binding.
    let runs: Vec<_> = (0..3)
        .map(|i| {
            let (home, key, target) = (home.clone(), key.to_owned(), target.clone());
            let laptop = f.laptop.clone();
            std::thread::spawn(move || {
                let cmd = format!("echo run {i}");
                let laptop = laptop.to_str().expect("utf-8").to_owned();
                overlay_cmd(
                    Path::new(OPK),
                    &home,
                    &[
                        "zssh",
                        "-c",
                        &laptop,
                        "-s",
                        "zssh-native",
                        "-i",
                        &key,
                        &target,
                        &cmd,
                    ],
                    b"",
                )
            })
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        let out = run.join().expect("thread");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("run {i}\n"),
            "{}",
            show(&out)
        );
    }
}
