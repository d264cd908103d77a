//! End to end with the real parts: npm oidc-provider, headless Chromium, `opk login`, Debian's
//! ssh and sshd with `opk verify` as AuthorizedKeysCommand.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opk_e2e::{Op, TestDir, VerifyHost, current_user, install_opk, ssh_keygen_list};
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert};

mod common;

use common::*;

/// One RS256 login, then ssh in through sshd + `opk verify`, then every way the same key must be
/// refused: each denial is a named helper below, on its own host where it needs another policy.
#[test]
fn rs256_login_ssh_in_and_every_denial() {
    let (mut op, dir, home, user) = World::start().into_parts();
    let run = login(&op, &home, "opk-rs256", &[], &[]);
    assert_says(&run.stdout, "Keys generated for identity");
    assert!(run.stdout.contains(USER_EMAIL), "{}", run.stdout);
    let key = home.join(".ssh/id_ecdsa");
    let cert_path = home.join(".ssh/id_ecdsa-cert.pub");
    assert_written_as_opkssh_writes(&key, &cert_path);

    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo opk-e2e-ok"), "opk-e2e-ok");
    assert_says(&host.log_text(), &format!("allowed {USER_EMAIL}"));
    assert_says(&host.sshd_log(), "Accepted publickey");

    denied_while_config_sets_a_deny_list(&dir, &host, &key);
    denied_when_not_in_auth_id(&dir, &op, &key);
    denied_for_another_issuer(&dir, &op, &key);
    let cert = read_cert(&cert_path);
    denied_when_key_type_is_not_the_certs(&host, &cert);
    denied_when_the_pk_token_moves_to_another_key(&dir, &host, &cert);
    denied_when_the_payload_is_edited_and_re_signed(&dir, &host, &cert, &key);

    // OP down: the warm JWKS cache still verifies; a host with a cold cache cannot.
    op.stop();
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo still-ok"), "still-ok");
    denied_with_a_cold_jwks_cache_while_the_op_is_down(&dir, &op, &key);
    dir.keep_if_asked();
}

/// The files opkssh writes, where stock ssh finds them: key 0600, cert `<type> <b64> openpubkey`
/// without a newline, and what OpenSSH lists in it.
fn assert_written_as_opkssh_writes(key: &Path, cert_path: &Path) {
    assert_eq!(mode(key), 0o600);
    let cert_text = std::fs::read_to_string(cert_path).expect("cert");
    assert!(
        cert_text.ends_with(" openpubkey") && !cert_text.ends_with('\n'),
        "{cert_text:?}"
    );
    let listing = ssh_keygen_list(cert_path);
    let key_id = format!("Key ID: \"{USER_EMAIL}\"");
    let needles = [
        "ecdsa-sha2-nistp256-cert-v01@openssh.com user certificate",
        &key_id,
        "opkssh-wildcard",
        "Valid: forever",
        "openpubkey-pkt",
    ];
    for needle in needles.into_iter().chain(PERMISSIONS) {
        assert!(
            listing.contains(needle),
            "ssh-keygen -L lacks {needle:?}:\n{listing}"
        );
    }
}

/// The deny lists of config.yml through a real sshd: the email listed (in another case, in flow
/// style, once missed by line sniffing) is refused, a config listing someone else lets the same
/// key in, and the account listed is refused; each reason is in the log.
fn denied_while_config_sets_a_deny_list(dir: &TestDir, host: &Host, key: &Path) {
    let user = current_user();
    let name = host
        .config
        .strip_prefix(dir.path())
        .expect("config in the test dir")
        .display()
        .to_string();
    let email = USER_EMAIL.to_uppercase();
    dir.write(&name, &format!("{{deny_emails: [\"{email}\"]}}\n"), 0o640);
    assert_ssh_denied(&host.sshd.ssh(key, &user, "true"));
    let want = format!(
        "email {email:?} is in deny_emails of {}",
        host.config.display()
    );
    assert!(host.log_text().contains(&want), "{}", host.log_text());
    dir.write(
        &name,
        "deny_emails:\n  - mallory@example.com\ndeny_users: [nobody-here]\n",
        0o640,
    );
    assert_ssh_ok(&host.sshd.ssh(key, &user, "echo not-listed"), "not-listed");
    dir.write(
        &name,
        &format!("deny_users: [{}]\n", user.to_uppercase()),
        0o640,
    );
    host.assert_denies(key, &user, "is in deny_users of");
    std::fs::remove_file(&host.config).expect("rm config.yml");
    assert_ssh_ok(&host.sshd.ssh(key, &user, "echo ok-again"), "ok-again");
}

/// A host whose auth_id allows bob, not alice: denied with opkssh's reason in the log.
fn denied_when_not_in_auth_id(dir: &TestDir, op: &Op, key: &Path) {
    let providers = format!("{} opk-rs256 24h\n", op.issuer);
    let bob_only = policy(&current_user(), "bob@example.com", &op.issuer);
    denied_on(
        dir,
        "other-user",
        &providers,
        &bob_only,
        key,
        "no policy to allow",
    );
}

/// A host that trusts a different issuer (a trailing slash is a different issuer).
fn denied_for_another_issuer(dir: &TestDir, op: &Op, key: &Path) {
    let slash = format!("{}/", op.issuer);
    let providers = format!("{slash} opk-rs256 24h\n");
    let alice = policy(&current_user(), USER_EMAIL, &slash);
    denied_on(
        dir,
        "wrong-issuer",
        &providers,
        &alice,
        key,
        "unrecognized issuer",
    );
}

/// A new host `name` with these providers and auth_id files denies `key`, logging `reason`.
fn denied_on(dir: &TestDir, name: &str, providers: &str, auth_id: &str, key: &Path, reason: &str) {
    let host = Host::start(dir, name, providers, auth_id, &[]);
    host.assert_denies(key, &current_user(), reason);
}

/// sshd's `%t` does not match the blob: refused, with the mismatch as the reason.
fn denied_when_key_type_is_not_the_certs(host: &Host, cert: &OpkCert) {
    let out = host.verify(
        &current_user(),
        &cert.to_b64(),
        "ssh-ed25519-cert-v01@openssh.com",
        &[],
    );
    assert!(
        !out.status.success() && out.stdout.is_empty(),
        "wrong %t accepted"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "declared key type \"ssh-ed25519-cert-v01@openssh.com\" does not match the certificate's type \"{}\"",
            cert.cert_type()
        )),
        "the mismatch must be the reason: {err}"
    );
}

/// The request a login makes, for `pk_token`, so a forged cert differs in one thing only.
fn cert_request(pk_token: &str) -> CertRequest {
    CertRequest {
        key_id: USER_EMAIL.into(),
        principals: vec!["opkssh-wildcard".into()],
        pk_token: pk_token.to_owned(),
        access_token: None,
    }
}

/// The PK Token moved onto a thief's key (a valid cert, self-signed by that key).
fn denied_when_the_pk_token_moves_to_another_key(dir: &TestDir, host: &Host, cert: &OpkCert) {
    let thief = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let stolen =
        OpkCert::issue(&cert_request(cert.pk_token().expect("pkt")), &thief).expect("issue");
    let stolen_key = write_pair(dir, "stolen", &thief, &stolen);
    host.assert_denies(&stolen_key, &current_user(), "does not match the PK Token");
}

/// The PK Token's payload edited (email swapped), the cert re-signed with the real key.
fn denied_when_the_payload_is_edited_and_re_signed(
    dir: &TestDir,
    host: &Host,
    cert: &OpkCert,
    key: &Path,
) {
    let real =
        EphemeralKey::from_openssh_pem(&std::fs::read_to_string(key).expect("key")).expect("pem");
    let (payload, rest) = cert
        .pk_token()
        .expect("pkt")
        .split_once(':')
        .expect("compact");
    let mut claims: serde_json::Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).expect("b64"))
            .expect("json");
    claims["email"] = serde_json::json!("root@example.com");
    let edited = format!(
        "{}:{rest}",
        Base64UrlUnpadded::encode_string(claims.to_string().as_bytes())
    );
    let forged = OpkCert::issue(&cert_request(&edited), &real).expect("issue");
    let forged_key = write_pair(dir, "forged", &real, &forged);
    host.assert_denies(&forged_key, &current_user(), "PK Token rejected");
}

/// With the OP stopped, a host that has never fetched the JWKS cannot verify.
fn denied_with_a_cold_jwks_cache_while_the_op_is_down(dir: &TestDir, op: &Op, key: &Path) {
    let cold = Host::allowing_alice(dir, "cold-cache", op, "opk-rs256");
    cold.assert_denies(key, &current_user(), "signing keys");
}

#[test]
fn es256_op_ed25519_key_explicit_path_and_print_key() {
    let (op, dir, home, user) = World::start().into_parts();
    let key = dir.join("keys/opk_ed25519");
    login(
        &op,
        &home,
        "opk-es256",
        &["-t", "ed25519", "-i", key.to_str().expect("utf8")],
        &[],
    );
    let cert = read_cert(&dir.join("keys/opk_ed25519-cert.pub"));
    assert_eq!(cert.cert_type(), "ssh-ed25519-cert-v01@openssh.com");
    assert!(!home.join(".ssh").exists(), "-i must not touch ~/.ssh");
    let host = Host::start(
        &dir,
        "host",
        &format!("{} opk-es256 12h\n", op.issuer),
        &policy(&user, USER_EMAIL, &op.issuer),
        &[],
    );
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo ed25519-ok"), "ed25519-ok");
    // The OP really signed with ES256.
    assert_eq!(op_header(&cert)["alg"], "ES256");

    // --print-key writes nothing and prints the cert line, then the key.
    let run = login(&op, &home, "opk-es256", &["--print-key"], &[]);
    assert!(!home.join(".ssh").exists());
    let mut lines = run.stdout.lines();
    let line = lines.next().expect("cert line");
    assert!(OpkCert::from_line(line).is_ok(), "{line}");
    assert_eq!(lines.next(), Some("-----BEGIN OPENSSH PRIVATE KEY-----"));
}

#[test]
fn expired_under_oidc_policy_is_denied() {
    let ExpiredLogin { world, oidc, day } = ExpiredLogin::start();
    let (key, user) = (world.home.join(".ssh/id_ecdsa"), &world.user);
    oidc.assert_denies(&key, user, "expired under policy oidc");
    // The same token is still fine under a max-age policy (opkssh semantics: iat + 24h).
    assert_ssh_ok(&day.sshd.ssh(&key, user, "echo day-ok"), "day-ok");
}

#[test]
fn https_op_trusted_through_ssl_cert_file() {
    let World {
        op,
        dir,
        home,
        user,
        ca_file,
    } = World::https();
    let ca_file = ca_file.expect("https world has a CA");
    // Without the CA, login cannot even discover the OP.
    {
        let out = login_without_browser(&op, &home, 5);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.trim().lines().count(),
            1,
            "one-line error expected: {err}"
        );
        // The TLS verdict itself, not just the generic hint every request error carries.
        assert!(
            err.starts_with("Error: ")
                && err.contains("the TLS certificate of localhost:")
                && err.contains("set SSL_CERT_FILE to the CA bundle that signed it")
                && !err.contains("UnknownIssuer"),
            "the error must name the untrusted certificate: {err}"
        );
    }
    login(&op, &home, "opk-rs256", &[], &[("SSL_CERT_FILE", &ca_file)]);
    let key = home.join(".ssh/id_ecdsa");
    let providers = format!("{} opk-rs256 24h\n", op.issuer);
    let auth = policy(&user, USER_EMAIL, &op.issuer);
    let host = Host::start(
        &dir,
        "host",
        &providers,
        &auth,
        &[("SSL_CERT_FILE", &ca_file)],
    );
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo https-ok"), "https-ok");
    // A host that does not trust the test CA refuses.
    let untrusting = Host::start(&dir, "untrusting", &providers, &auth, &[]);
    assert_ssh_denied(&untrusting.sshd.ssh(&key, &user, "true"));
    // Denied because the JWKS could not be fetched over TLS, not for any other reason.
    let log = untrusting.log_text();
    assert!(
        log.contains("cannot get the OP's signing keys")
            && log.contains("is not signed by a CA this machine trusts"),
        "{log}"
    );
    assert!(!log.contains("allowed "), "{log}");
    // The same CA named by `env_vars` in config.yml instead of verify's environment: opkssh
    // exports those before any network call, opk hands them to its HTTP client.
    let via_config = Host::start(&dir, "via-config", &providers, &auth, &[]);
    let name = via_config.config.strip_prefix(dir.path()).expect("in dir");
    dir.write(
        &name.display().to_string(),
        &format!("env_vars:\n  SSL_CERT_FILE: {ca_file}\n"),
        0o640,
    );
    assert_ssh_ok(&via_config.sshd.ssh(&key, &user, "echo env-ok"), "env-ok");
}

/// A login that times out (nobody completes the browser step) exits 1 with the timeout as its
/// one-line error and leaves the previous pair alone. Fails if the timeout is not reported as such,
/// or if anything in ~/.ssh is touched before the login has a token.
#[test]
fn login_timeout_keeps_the_previous_key_pair() {
    let (op, dir, home, _) = World::start().into_parts();
    let key = dir.write("home/.ssh/id_ecdsa", "OLD KEY", 0o600);
    let cert = dir.write(
        "home/.ssh/id_ecdsa-cert.pub",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA openpubkey",
        0o644,
    );
    // Nobody completes the browser step: the login times out.
    let out = login_without_browser(&op, &home, 2);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error: ") && last.contains("no browser callback within 2 s"),
        "the error must say the login timed out: {err}"
    );
    assert_eq!(std::fs::read_to_string(&key).expect("key"), "OLD KEY");
    assert!(
        std::fs::read_to_string(&cert)
            .expect("cert")
            .ends_with("openpubkey")
    );
    let leftovers: Vec<_> = std::fs::read_dir(home.join(".ssh")).expect("dir").collect();
    assert_eq!(leftovers.len(), 2, "temp files left behind");
}

/// A real login whose key pair cannot be put in place (the certificate's name is taken by a
/// directory, so the new cert cannot be renamed over it) exits 1 with a one-line error, keeps the
/// old private key, and leaves no staged or backup files. Fails if the new key is committed
/// without its certificate (the old key would be gone, leaving a key that matches no cert), or if
/// temporary files are left behind.
#[test]
fn key_pair_write_failure_keeps_the_old_pair() {
    let (op, dir, home, _) = World::start().into_parts();
    let key = dir.write("keys/key", "OLD KEY", 0o600);
    let cert_dir = dir.join("keys/key-cert.pub");
    std::fs::create_dir(&cert_dir).expect("mkdir");
    std::fs::write(cert_dir.join("keep"), "a file in the way").expect("write");
    let error = login_failing_to_write(&op, &home, &key);
    assert!(
        error.starts_with("Error: ") && error.contains("key-cert.pub"),
        "the error must name the file that could not be written: {}",
        error
    );
    assert_eq!(
        std::fs::read_to_string(&key).expect("key"),
        "OLD KEY",
        "the old private key was replaced although its certificate could not be"
    );
    assert!(cert_dir.join("keep").is_file());
    assert_eq!(
        names_in(&dir.join("keys")),
        ["key", "key-cert.pub"],
        "staged or backup files left"
    );
    assert!(!home.join(".ssh").exists(), "-i must not touch ~/.ssh");
    dir.keep_if_asked();
}

/// The target user's `~/.opk/auth_id` (found through a passwd file) lets alice in while the
/// system policy is empty; the same file made 0644 is ignored ("home policy skipped") and the
/// login is denied. Fails if the home policy is not read at all (first ssh denied), or if a
/// home file others can read is trusted (second ssh allowed).
#[test]
fn home_policy_through_sshd() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let (op, dir, user, key) = World::logged_in();

    let user_home = dir.join("userhome");
    let home_policy = dir.write(
        "userhome/.opk/auth_id",
        &policy(&user, USER_EMAIL, &op.issuer),
        0o600,
    );
    let uid = std::fs::metadata(dir.path()).expect("meta").uid();
    assert_eq!(std::fs::metadata(&home_policy).expect("meta").uid(), uid);
    let passwd = dir.write(
        "passwd",
        &format!(
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n{user}:x:{uid}:{uid}:test:{}:/bin/sh\n",
            user_home.display()
        ),
        0o644,
    );
    let v = VerifyHost::new(
        &dir,
        "host",
        Path::new(OPK),
        &format!("{} opk-rs256 24h\n", op.issuer),
        "# no rows: only the home policy can allow anyone\n",
    )
    .with_home_policy(&passwd);
    let sshd = v.start_sshd(&[]);
    assert_ssh_ok(&sshd.ssh(&key, &user, "echo home-ok"), "home-ok");
    assert_says(&v.log_text(), &format!("allowed {USER_EMAIL}"));

    std::fs::set_permissions(&home_policy, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let allowed_before = v.log_text().matches("allowed ").count();
    assert_ssh_denied(&sshd.ssh(&key, &user, "true"));
    let log = v.log_text();
    assert!(log.contains("home policy skipped"), "{log}");
    assert!(log.contains("mode is not 0600"), "{log}");
    // The hint is the home file's, not the system files' chmod 640 (which would still be refused).
    assert!(
        log.contains("chmod 600") && !log.contains("chmod 640"),
        "{log}"
    );
    assert_eq!(log.matches("allowed ").count(), allowed_before, "{log}");
    dir.keep_if_asked();
}

/// Rewrites `fetched_at` in the host's one JWKS cache file (keeping it valid JSON and its mode)
/// and drops any recorded fetch failure.
fn age_jwks_cache(cache_dir: &Path, age_secs: u64) {
    use std::os::unix::fs::PermissionsExt as _;
    let full_mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode();
    let files: Vec<PathBuf> = std::fs::read_dir(cache_dir)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "one cache file expected: {files:?}");
    let mode_before = full_mode(&files[0]);
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).expect("read")).expect("cache json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    record["fetched_at"] = serde_json::json!(now - age_secs);
    if let Some(map) = record.as_object_mut() {
        map.remove("failed_at");
    }
    std::fs::write(&files[0], record.to_string()).expect("write");
    assert_eq!(full_mode(&files[0]), mode_before);
}

/// With the OP down, a cached JWKS older than the 1 h max age is still used (stale-while-down,
/// up to 24 h past it), and the log says so; past 25 h the cache is refused and the login denied.
/// Fails if a stale copy is not used when the OP is unreachable (first ssh denied), if it is used
/// silently, or if an arbitrarily old copy is trusted (second ssh allowed).
#[test]
fn stale_jwks_cache_while_the_op_is_down() {
    let (mut op, dir, user, key) = World::logged_in();
    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo warm"), "warm");
    op.stop();

    age_jwks_cache(&host.cache, 7200);
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo stale-ok"), "stale-ok");
    let log = host.log_text();
    assert!(
        log.contains(&format!("using a stale JWKS for {}", op.issuer)),
        "{log}"
    );

    age_jwks_cache(&host.cache, 25 * 3600);
    let allowed_before = host.log_text().matches("allowed ").count();
    assert_ssh_denied(&host.sshd.ssh(&key, &user, "true"));
    let log = host.log_text();
    assert_eq!(log.matches("allowed ").count(), allowed_before, "{log}");
    let after_aging = log.rsplit("using a stale JWKS").next().unwrap_or_default();
    assert!(
        after_aging.contains("cannot get the OP's signing keys"),
        "{log}"
    );
    dir.keep_if_asked();
}

#[test]
fn verify_fails_closed_on_garbage() {
    let dir = TestDir::new(TMP);
    let opk = install_opk(&dir, Path::new(OPK));
    let providers = dir.write("providers", "http://localhost:1 client 24h\n", 0o640);
    let auth = dir.write(
        "auth_id",
        "root alice@example.com http://localhost:1\n",
        0o640,
    );
    let key = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let req = CertRequest {
        key_id: "k".into(),
        principals: vec!["opkssh-wildcard".into()],
        pk_token: "a:b:c".into(),
        access_token: None,
    };
    let good = OpkCert::issue(&req, &key).expect("cert").to_b64();
    let mut inputs: Vec<(String, String)> = Vec::new();
    for cut in (0..good.len()).step_by(good.len() / 25 + 1) {
        inputs.push((
            good[..cut].to_owned(),
            "ecdsa-sha2-nistp256-cert-v01@openssh.com".into(),
        ));
    }
    let mut rng = opk_testkit::rng::seeded(12345);
    for _ in 0..15 {
        let mut bytes = good.clone().into_bytes();
        let at = rng.usize(..bytes.len());
        bytes[at] = b"AZaz09+/=!\n"[rng.usize(..11)];
        inputs.push((
            String::from_utf8(bytes).expect("ascii"),
            "ecdsa-sha2-nistp256-cert-v01@openssh.com".into(),
        ));
    }
    inputs.push((good.clone(), "ssh-rsa".into()));
    inputs.push((
        "A".repeat(120_000),
        "ecdsa-sha2-nistp256-cert-v01@openssh.com".into(),
    ));
    inputs.push((good, "ecdsa-sha2-nistp256-cert-v01@openssh.com".into())); // valid cert, bogus PK Token
    for (k, t) in &inputs {
        let out = Command::new(&opk)
            .arg("verify")
            .arg("--providers-file")
            .arg(&providers)
            .arg("--auth-id-file")
            .arg(&auth)
            .arg("--log-file")
            .arg(dir.join("opk.log"))
            .arg("--no-jwks-cache")
            .arg("--config-path")
            .arg(dir.join("config.yml"))
            .args(["root", k, t])
            .output()
            .expect("opk verify");
        assert_eq!(
            out.status.code(),
            Some(1),
            "input {t} {}",
            &k[..k.len().min(40)]
        );
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("Error: ") && err.trim_end().lines().count() == 1,
            "{err}"
        );
    }
}

#[test]
fn add_writes_opkssh_rows() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = TestDir::new(TMP);
    // An installed system policy: root:<gid 1> 0640 (opkssh's root:opksshuser), one comment.
    let file = dir.write("auth_id", "# installed\n", 0o640);
    std::os::unix::fs::chown(&file, None, Some(1)).expect("chgrp (tests run as root)");
    let add = |file: &Path, args: &[&str]| {
        Command::new(OPK)
            .arg("add")
            .args(args)
            .arg("--auth-id-file")
            .arg(file)
            .output()
            .expect("opk add")
    };
    let out = add(&file, &["alice", "alice@example.com", "google"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Successfully added new policy to"));
    assert!(
        add(&file, &["alice", "alice@example.com", "google"])
            .status
            .success()
    );
    assert!(
        add(
            &file,
            &["dev", "oidc:groups:ssh users", "https://op.example"]
        )
        .status
        .success()
    );
    let text = std::fs::read_to_string(&file).expect("file");
    assert!(text.starts_with("# installed\n"), "{text}");
    assert_eq!(
        text.matches("alice alice@example.com https://accounts.google.com")
            .count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("dev 'oidc:groups:ssh users' https://op.example"),
        "{text}"
    );
    // The rewrite kept who may read it: the verify user's group and the mode.
    let meta = std::fs::metadata(&file).expect("meta");
    assert_eq!((meta.gid(), meta.mode() & 0o777), (1, 0o640));
    // A new home policy is created 0600 (verify ignores any other mode) in a 0750 ~/.opk.
    let home_file = dir.join("home/.opk/auth_id");
    assert!(
        add(&home_file, &["alice", "alice@example.com", "google"])
            .status
            .success()
    );
    assert_eq!(mode(&home_file), 0o600);
    assert_eq!(mode(&dir.join("home/.opk")), 0o750);
    let bad = add(&file, &["evil\",command=\"sh", "x@example.com", "google"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("Error: "));
}

#[test]
fn concurrent_verifies_share_one_jwks_fetch() {
    // Eight `opk verify` processes at once on a cold cache: the lock file lets one fetch the
    // JWKS from the real OP while the others wait and then read its copy.
    let (op, dir, home, user) = World::start().into_parts();
    login(&op, &home, "opk-es256", &[], &[]);
    let cert = read_cert(&home.join(".ssh/id_ecdsa-cert.pub"));
    let host = Host::allowing_alice(&dir, "host", &op, "opk-es256");
    let (discovery_before, jwks_before) = (
        op.requests("/.well-known/openid-configuration"),
        op.requests("/jwks"),
    );
    let b64 = cert.to_b64();
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| host.verify(&user, &b64, cert.cert_type(), &[])))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let first = String::from_utf8_lossy(&outputs[0].stdout).to_string();
    assert!(
        first.starts_with("cert-authority,principals=\"opkssh-wildcard\" "),
        "{first}"
    );
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), first);
    }
    assert_eq!(
        op.requests("/.well-known/openid-configuration") - discovery_before,
        1
    );
    assert_eq!(op.requests("/jwks") - jwks_before, 1);
}
