//! End to end for the server side beyond the core contract, with the real parts: npm
//! oidc-provider, headless Chromium, the built `opk`, Debian's ssh and sshd with `opk verify` as
//! AuthorizedKeysCommand. Each test says in its comment how it fails when the feature breaks.

use std::path::Path;

use opk_e2e::{TestDir, VerifyHost};

mod common;

use common::*;

/// Replaces the host's plugins with one, `check.yml` running `check.sh` (`body` under `#!/bin/sh`).
fn plugin(dir: &TestDir, v: &VerifyHost, body: &str) {
    let _ = std::fs::remove_dir_all(&v.plugins);
    let script = dir.write("plugin/check.sh", &format!("#!/bin/sh\n{body}\n"), 0o755);
    let rel = v
        .plugins
        .strip_prefix(dir.path())
        .expect("in dir")
        .join("check.yml");
    dir.write(
        &rel.display().to_string(),
        &format!("name: e2e check\ncommand: {}\n", script.display()),
        0o640,
    );
}

/// A policy plugin lets the user in through a real sshd although auth_id has no row for them;
/// a plugin that hangs (killed at `--plugin-timeout`) or prints anything but `allow` does not;
/// one that writes to stderr as well still does (O-10). Fails if plugins are not run, if their
/// variables are wrong (the script checks them), if a timeout or garbage allows, or if stderr
/// turns an allow into a deny.
#[test]
fn policy_plugin_allows_through_sshd() {
    let (op, dir, home, user) = World::start().into_parts();
    login(&op, &home, "opk-rs256", &[], &[]);
    let key = home.join(".ssh/id_ecdsa");
    let mut v = VerifyHost::new(
        &dir,
        "host",
        Path::new(OPK),
        &format!("{} opk-rs256 24h\n", op.issuer),
        &policy("someone-else", USER_EMAIL, &op.issuer),
    );
    v.plugin_timeout = Some(1.0);
    let sshd = v.start_sshd(&[]);
    let allow_if_alice = format!(
        "[ \"$OPKSSH_PLUGIN_U\" = {user} ] && [ \"$OPKSSH_PLUGIN_EMAIL\" = {USER_EMAIL} ] && [ \"$OPKSSH_PLUGIN_ISS\" = {} ] && echo allow",
        op.issuer
    );
    plugin(&dir, &v, &allow_if_alice);
    assert_ssh_ok(&sshd.ssh(&key, &user, "echo plugin-ok"), "plugin-ok");
    assert_says(&v.log_text(), "by policy plugin ");

    for (body, why) in [
        ("sleep 60; echo allow", "timed out after 1 s"),
        ("echo 'allow: yes'", "output: (allow: yes)"),
    ] {
        plugin(&dir, &v, body);
        assert_ssh_denied(&sshd.ssh(&key, &user, "true"));
        assert_says(&v.log_text(), why);
    }
    plugin(
        &dir,
        &v,
        &format!("echo 'plugin: checking' >&2; {allow_if_alice}"),
    );
    assert_ssh_ok(&sshd.ssh(&key, &user, "echo noisy-ok"), "noisy-ok");

    // The audit record: one JSON line per decision. sshd asks about every key offered (the
    // certificate, the plain key) and may ask twice about one, so look at the decisions in order.
    let out = opk_e2e::run_ok(
        std::process::Command::new("ssh-keygen")
            .arg("-lf")
            .arg(&key),
    );
    let fp = String::from_utf8_lossy(&out.stdout).into_owned();
    let records = v.audit_records();
    let mut cert_decisions: Vec<&str> = Vec::new();
    for r in &records {
        let r_fp = r["key_fingerprint"].as_str().expect("fingerprint");
        assert!(
            r_fp.starts_with("SHA256:") && fp.contains(r_fp),
            "{r_fp} vs {fp}"
        );
        assert_eq!(r["principal"], user.as_str());
        if r["token_verified"] != true {
            // The plain key: no token, so no identity.
            assert_eq!(
                (&r["decision"], &r["issuer"]),
                (&"deny".into(), &serde_json::Value::Null)
            );
            continue;
        }
        assert_eq!(r["issuer"], op.issuer.as_str());
        assert_eq!(r["email"], USER_EMAIL);
        let what = match r["decision"].as_str() {
            Some("allow") => r["rule"].as_str().expect("rule"),
            _ => r["reason"].as_str().expect("reason"),
        };
        let kind = if what.starts_with("policy plugin ") {
            "plugin"
        } else if what.contains("no policy to allow") {
            "rows"
        } else {
            what
        };
        if cert_decisions.last() != Some(&kind) {
            cert_decisions.push(kind);
        }
    }
    assert_eq!(cert_decisions, ["plugin", "rows", "plugin"], "{records:?}");
    dir.keep_if_asked();
}

/// A policy row whose fourth column requires `amr` to contain `mfa` and a sign-in within 15
/// minutes: through a real sshd, a login with the test OP's second factor (password `mfa`)
/// gets in, one without it does not, with the reason in the log. Fails if the fourth column is
/// ignored (second ssh allowed), if rows with it are dropped (first ssh denied), or if the OP
/// stops sending `amr`.
#[test]
fn auth_context_row_requires_mfa_through_sshd() {
    let (op, dir, home, user) = World::start().into_parts();
    let provider = provider(&op, "opk-rs256");
    browser_login(&home)
        .args(["--provider", &provider])
        .password("mfa")
        .run()
        .assert_success("opk login with mfa");
    let home_plain = dir.join("home-plain");
    browser_login(&home_plain)
        .args(["--provider", &provider])
        .run()
        .assert_success("opk login");
    let amr = |home: &Path| {
        let cert = read_cert(&home.join(".ssh/id_ecdsa-cert.pub"));
        let pkt = opk_pktoken::PkToken::from_compact(cert.pk_token().expect("pkt")).expect("pkt");
        assert!(pkt.claims()["auth_time"].is_i64(), "{:?}", pkt.claims());
        pkt.claims().get("amr").cloned()
    };
    assert_eq!(amr(&home), Some(serde_json::json!(["pwd", "otp", "mfa"])));
    assert_eq!(amr(&home_plain), None);

    let host = Host::start(
        &dir,
        "host",
        &format!("{} opk-rs256 24h\n", op.issuer),
        &format!("{user} {USER_EMAIL} {} amr=mfa,auth_age=15m\n", op.issuer),
        &[],
    );
    assert_ssh_ok(
        &host
            .sshd
            .ssh(&home.join(".ssh/id_ecdsa"), &user, "echo mfa-ok"),
        "mfa-ok",
    );
    assert_ssh_denied(
        &host
            .sshd
            .ssh(&home_plain.join(".ssh/id_ecdsa"), &user, "true"),
    );
    let log = host.log_text();
    assert_says(&log, "policy line 1 would allow");
    assert_says(&log, "requires amr to contain \"mfa\"");
    dir.keep_if_asked();
}

/// `opk login --send-access-token` puts the access token in the certificate (`openpubkey-act`);
/// opk verify then asks the OP's userinfo endpoint and matches its claims too. The test OP
/// answers `groups: ["userinfo-only"]` only there, so a row `oidc:groups:userinfo-only` lets
/// that login in through a real sshd and not a login without the access token. Fails if verify
/// never asks userinfo (first ssh denied) or trusts a group without it (second ssh allowed).
/// The userinfo endpoint comes from the JWKS cache: across every verify sshd runs, discovery is
/// fetched once (with the keys), so it fails if a verify discovers again for userinfo.
#[test]
fn userinfo_claims_through_sshd() {
    let (op, dir, home, user) = World::start().into_parts();
    login(&op, &home, "opk-rs256", &["--send-access-token"], &[]);
    let home_plain = dir.join("home-plain");
    login(&op, &home_plain, "opk-rs256", &[], &[]);
    let host = Host::start(
        &dir,
        "host",
        &format!("{} opk-rs256 24h\n", op.issuer),
        &policy(&user, "oidc:groups:userinfo-only", &op.issuer),
        &[],
    );
    const DISCOVERY: &str = "/.well-known/openid-configuration";
    let discoveries_before = op.requests_settled(DISCOVERY);
    let before = op.requests("/me");
    assert_ssh_ok(
        &host
            .sshd
            .ssh(&home.join(".ssh/id_ecdsa"), &user, "echo userinfo-ok"),
        "userinfo-ok",
    );
    assert!(op.requests("/me") > before, "userinfo was not asked");
    assert_ssh_denied(
        &host
            .sshd
            .ssh(&home_plain.join(".ssh/id_ecdsa"), &user, "true"),
    );
    assert_says(&host.log_text(), "no policy to allow");
    let discoveries = op.requests_settled(DISCOVERY) - discoveries_before;
    assert_eq!(discoveries, 1, "discovery once, for the cold JWKS cache");
    dir.keep_if_asked();
}
