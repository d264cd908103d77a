//! End to end for `opk login --device` (RFC 8628) with the real parts: npm oidc-provider's
//! device flow, its user-code pages driven by headless Chromium, the built `opk`, and sshd with
//! `opk verify`. Each test says in its comment how it fails when the feature breaks.

use std::time::{Duration, Instant};

use opk_e2e::{BrowserLogin, Op};

mod common;

use common::*;

/// `opk login --device` for client opk-rs256 of `op`, completed in Chromium on the OP's
/// user-code page (BrowserLogin opens the first URL opk prints: the one with the code).
fn device_login(op: &Op, home: &std::path::Path) -> BrowserLogin {
    browser_login(home).args(["--device", "--provider", &provider(op, "opk-rs256")])
}

/// A device login through an OP that returns the nonce in the device-flow ID token
/// (`--device-nonce`): opk prints the verification URL with the code, Chromium confirms the
/// code and logs in there, opk polls until the OP hands out the tokens, binds the key through
/// the nonce and writes a pair that logs in through sshd. Fails if the URL or code are not
/// printed, if polling stops before the user confirmed, if the nonce is not sent (the self-check
/// then refuses the token), or if the pair does not work.
#[test]
fn device_login_binds_the_nonce_and_logs_in() {
    let (op, dir, home, user) = World::start_with(&["--device-nonce"]).into_parts();
    let key = dir.join("device-key");
    let run = device_login(&op, &home)
        .args(["-i", &key.display().to_string()])
        .run();
    assert!(
        run.success && run.page.contains("Sign-in success"),
        "stdout: {}\nstderr: {}\npage: {}",
        run.stdout,
        run.stderr,
        run.page
    );
    let shown = run
        .stderr
        .lines()
        .find(|l| l.starts_with("To log in, open this URL on any device and confirm the code "))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    let code = shown
        .rsplit(' ')
        .next()
        .expect("code")
        .trim_end_matches(':');
    assert!(
        run.stderr
            .contains(&format!("{}/device?user_code={code}", op.issuer)),
        "{}",
        run.stderr
    );
    // Not a terminal: no spinner, no QR code, no control characters.
    assert!(
        !run.stderr.contains('\x1b') && !run.stderr.contains('▀'),
        "{}",
        run.stderr
    );
    assert_says(&run.stdout, "Keys generated for identity");
    let cert = read_cert(&dir.join("device-key-cert.pub"));
    assert_eq!(claims(&cert)["email"], USER_EMAIL);
    assert!(claims(&cert).contains_key("nonce"));

    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo device-ok"), "device-ok");
    dir.keep_if_asked();
}

/// The user refuses on the OP's page (password `reject`): the OP answers the next poll with
/// `access_denied`, and opk stops with one error line naming it, writing nothing. Fails if opk
/// keeps polling until the code expires or reports success.
#[test]
fn device_login_access_denied_stops_polling() {
    let (op, dir, home, _) = World::start_with(&["--device-nonce"]).into_parts();
    let started = Instant::now();
    let run = device_login(&op, &home).password("reject").run();
    let error = the_one_error_line(&run);
    assert!(error.contains("access_denied"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(100),
        "{:?}",
        started.elapsed()
    );
    assert!(!home.join(".ssh").exists());
    dir.keep_if_asked();
}

/// The stock test OP drops the nonce from device-flow ID tokens (RFC 8628 has none): opk must
/// refuse to build a PK Token that does not commit to its key, and say what to do instead.
/// Fails if opk accepts an unbound token or fails with a confusing error.
#[test]
fn device_login_without_nonce_is_refused() {
    let (op, dir, home, _) = World::start().into_parts();
    let run = device_login(&op, &home).run();
    assert!(run.page.contains("Sign-in success"), "{}", run.page);
    let error = the_one_error_line(&run);
    assert!(
        error.contains("device-flow ID token has no nonce")
            && error.contains("log in with the browser instead"),
        "{error}"
    );
    assert!(!home.join(".ssh").exists());
    dir.keep_if_asked();
}

/// Nobody confirms the code, and the OP's device code lives 3 s (`expires_in` 3): opk gives up
/// when the code expires, not at its 300 s timeout, with a message to start again. Fails if opk
/// ignores `expires_in` or hangs.
#[test]
fn device_code_expiry_ends_the_login() {
    let (op, dir, home, _) = World::start_with(&["--device-code-ttl", "3"]).into_parts();
    let started = Instant::now();
    let provider_arg = provider(&op, "opk-rs256");
    let out = run_login(&home, &["--device", "--provider", &provider_arg], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.trim_end().ends_with(
            "Error: the device code expired before the login was confirmed: run opk login --device again"
        ),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    dir.keep_if_asked();
}
