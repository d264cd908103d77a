//! The verify pipeline in-process: a signing OP, a fake JWKS fetcher, real files in a temp dir.
//! (The same paths run against real sshd, ssh, the npm OP and Chromium in opk-cli's e2e tests.)

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{
    ALICE_ROW, Host, ISS, SUB, alice, login, login_patched, login_with_access_token, now, op,
    op_with_seed,
};
use opk_files::FileKind;
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert};
use opk_verify::{ConfigProblem, Error, Log, Request, UnsafeFile, verify};

#[test]
fn prints_opkssh_line_with_the_signature_key() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        let (key, cert) = alice(&op, alg);
        let line = host.run(&op, "alice", &cert).expect("allowed");
        let pk = key.public_key();
        assert_eq!(
            line,
            format!(
                "cert-authority,principals=\"opkssh-wildcard\" {} {}",
                pk.ssh_key_type(),
                pk.to_ssh_blob_b64().expect("key blob")
            )
        );
    }
    // No principals: the bare form.
    let (key, cert) = login(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec![],
        Some("alice@example.com"),
    );
    let pk = key.public_key();
    assert_eq!(
        host.run(&op, "alice", &cert).expect("allowed"),
        format!(
            "cert-authority {} {}",
            pk.ssh_key_type(),
            pk.to_ssh_blob_b64().expect("key blob")
        )
    );
}

#[test]
fn warm_cache_makes_no_fetch() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    for _ in 0..5 {
        host.run(&op, "alice", &cert).expect("allowed");
    }
    assert_eq!(op.fetches.get(), 1);
}

#[test]
fn h1_principal_injection_is_denied() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    for bad in [
        "evil\",command=\"/bin/sh",
        "a\nssh-ed25519 AAAA",
        "guest,root",
        "-rf",
        "",
    ] {
        let (_, cert) = login(
            &op,
            KeyAlgorithm::Ed25519,
            vec!["opkssh-wildcard".into(), bad.into()],
            Some("alice@example.com"),
        );
        assert!(
            matches!(host.run(&op, "alice", &cert), Err(Error::BadPrincipal(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn policy_and_binding_denials() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    // Another account than the row allows.
    assert!(matches!(
        host.run(&op, "root", &cert),
        Err(Error::Denied { decision, files })
            if decision.deny_reason.as_deref().is_some_and(|r| r.contains("no policy to allow"))
                && files.system == host.paths.auth_id
                && files.home_of.is_none()
    ));
    // %t that does not match the blob.
    assert!(matches!(
        host.run_typed(&op, "alice", &cert, "ssh-ed25519-cert-v01@openssh.com"),
        Err(Error::Cert(_))
    ));
    // The PK Token on another key.
    let thief = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let req = CertRequest {
        key_id: "x".into(),
        principals: vec!["opkssh-wildcard".into()],
        pk_token: cert.pk_token().expect("pkt").into(),
        access_token: None,
    };
    let stolen = OpkCert::issue(&req, &thief).expect("cert");
    assert!(matches!(
        host.run(&op, "alice", &stolen),
        Err(Error::KeyBinding)
    ));
    // A plain key is not a certificate.
    let mut log = Log::open(None);
    let plain = thief.public_key();
    let req = Request {
        principal: "alice",
        key_b64: &plain.to_ssh_blob_b64().expect("key blob"),
        key_type: plain.ssh_key_type(),
        extra_args: &[],
    };
    assert!(matches!(
        verify(&host.paths, &req, now(), &op, &mut log),
        Err(Error::Cert(_))
    ));
    // An OP that signs with a different key.
    let (_, forged) = alice(&op_with_seed(43), KeyAlgorithm::EcdsaP256);
    assert!(matches!(
        host.run(&op, "alice", &forged),
        Err(Error::PkToken(_))
    ));
}

#[test]
fn o3_empty_identity_row_never_matches_a_token_without_email() {
    let op = op();
    // A token without `email`: opkssh compared the row's "" with the absent email and let it in.
    let (_, cert) = login(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        None,
    );
    let host = Host::new(&format!("bob '' {ISS}\n"));
    let denied = host.run(&op, "bob", &cert);
    assert!(
        matches!(&denied, Err(e @ Error::Denied { .. }) if e.to_string().contains("no policy to allow")),
        "{denied:?}"
    );
    // The same token and principal with the row's identity set to the token's sub: allowed, so
    // the denial above comes from the empty identity and not from elsewhere.
    let host = Host::new(&format!("bob {SUB} {ISS}\n"));
    host.run(&op, "bob", &cert).expect("sub row allows bob");
}

#[test]
fn unsafe_files_and_config_fail_closed() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    std::fs::set_permissions(
        &host.paths.providers,
        std::fs::Permissions::from_mode(0o666),
    )
    .expect("chmod");
    assert!(matches!(
        host.run_logged(&op, "alice", &cert),
        Err(Error::UnsafeFile {
            problem: UnsafeFile::Untrusted(opk_files::TrustProblem::Writable { mode: 0o666 }),
            ..
        })
    ));
    std::fs::set_permissions(
        &host.paths.providers,
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    host.run_logged(&op, "alice", &cert).expect("allowed again");
    // The deny list refuses what auth_id allows.
    std::fs::write(
        host.dir.path().join("config.yml"),
        "deny_users:\n  - Alice\n",
    )
    .expect("write");
    assert!(matches!(
        host.run_logged(&op, "alice", &cert),
        Err(Error::DenyListed {
            denial: opk_policy::Denial::User(u),
            ..
        }) if u == "Alice"
    ));
    // O-6: a duplicate issuer row is fatal for everyone.
    std::fs::remove_file(host.dir.path().join("config.yml")).expect("rm");
    std::fs::write(
        &host.paths.providers,
        format!("{ISS} client 24h\n{ISS} other 12h\n"),
    )
    .expect("write");
    assert!(matches!(
        host.run_logged(&op, "alice", &cert),
        Err(Error::Policy {
            error: opk_policy::Error::DuplicateIssuer { .. },
            ..
        })
    ));
    // The log has each reason, and every line carries Go's `log` timestamp.
    let log = host.log();
    let lines: Vec<&str> = log.lines().collect();
    let providers = host.paths.providers.display().to_string();
    let expected: [&[&str]; 4] = [
        &[
            "denied: refusing ",
            &providers,
            "writable by group or others",
        ],
        &["allowed alice@example.com", "as alice by auth_id line 1"],
        &["denied: user \"Alice\" is in deny_users of ", "config.yml"],
        &["denied: ", &providers, "duplicate issuer"],
    ];
    assert_eq!(lines.len(), expected.len(), "{log}");
    for (line, parts) in lines.iter().zip(expected) {
        assert!(has_go_log_timestamp(line), "no timestamp: {line:?}");
        for part in parts {
            assert!(line.contains(part), "{part:?} not in {line:?}");
        }
    }
}

#[test]
fn o2_server_config_is_parsed_as_yaml_and_fails_closed() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    let config = host.dir.path().join("config.yml");
    let write = |text: &str| {
        std::fs::write(&config, text).expect("write");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    };
    // Styles a line scan misses still set the deny lists.
    for text in [
        "\"deny_users\": [alice]\n",
        "{deny_users: [root, ALICE]}\n",
        "admins: &a [alice]\ndeny_users: *a\n",
    ] {
        write(text);
        let r = host.run_logged(&op, "alice", &cert);
        assert!(
            matches!(&r, Err(Error::DenyListed { .. })),
            "{text:?}: {r:?}"
        );
    }
    // A config that is not the schema fails closed with its line.
    write("env_vars: {}\ndeny_users: [root]\n'deny_users': []\n");
    let r = host.run_logged(&op, "alice", &cert);
    assert!(
        matches!(
            &r,
            Err(Error::Config {
                line: 3,
                problem: ConfigProblem::DuplicateKey(k),
                ..
            }) if k == "deny_users"
        ),
        "{r:?}"
    );
    // A config others may write is refused like any server file (the deny lists are moot).
    write("deny_users: []\n");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let r = host.run_logged(&op, "alice", &cert);
    assert!(
        matches!(
            &r,
            Err(Error::UnsafeFile {
                path,
                problem: UnsafeFile::Untrusted(opk_files::TrustProblem::Writable { mode: 0o666 }),
            }) if *path == config
        ),
        "{r:?}"
    );
    // Unknown keys and empty lists do not stop a login; what is ignored is logged.
    write("deny_users: []\nfuture_key: 1\nenv_vars:\n  HTTPS_PROXY: http://proxy:3128\n");
    host.run_logged(&op, "alice", &cert).expect("allowed");
    let log = host.log();
    let path = config.display().to_string();
    for part in [
        format!("config problem in {path}: unknown key \"future_key\" at line 2 ignored"),
        format!("denied: {path} line 3: deny_users appears twice; refusing all logins"),
        format!("denied: user \"ALICE\" is in deny_users of {path}"),
    ] {
        assert!(log.contains(&part), "{part:?} not in {log}");
    }
}

#[test]
fn deny_lists_refuse_listed_emails_and_users_case_insensitively() {
    let op = op();
    let host = Host::new(&format!("{ALICE_ROW}root alice@example.com {ISS}\n"));
    let (_, cert) = alice(&op, KeyAlgorithm::Ed25519);
    let config = host.dir.path().join("config.yml");
    let write = |text: &str| {
        std::fs::write(&config, text).expect("write");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    };
    write("deny_emails: [ALICE@Example.com]\n");
    for principal in ["alice", "root"] {
        let r = host.run_logged(&op, principal, &cert);
        assert!(
            matches!(&r, Err(Error::DenyListed { denial: opk_policy::Denial::Email(e), path })
                if e == "ALICE@Example.com" && *path == config),
            "{r:?}"
        );
    }
    // Another listed email leaves alice alone; a listed user only closes that account.
    write("deny_emails: [bob@example.com]\ndeny_users: [ROOT]\n");
    host.run_logged(&op, "alice", &cert)
        .expect("alice is not listed");
    assert!(matches!(
        host.run_logged(&op, "root", &cert),
        Err(Error::DenyListed { denial: opk_policy::Denial::User(u), .. }) if u == "ROOT"
    ));
    // A deny list cannot be probed without a valid token: a forged one fails on the token first.
    let (_, forged) = alice(&op_with_seed(43), KeyAlgorithm::EcdsaP256);
    assert!(matches!(
        host.run_logged(&op, "root", &forged),
        Err(Error::PkToken(_))
    ));
    let log = host.log();
    assert!(
        log.contains(&format!(
            "denied: email \"ALICE@Example.com\" is in deny_emails of {}",
            config.display()
        )),
        "{log}"
    );
}

#[test]
fn env_vars_reach_the_fetcher_before_any_fetch() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    std::fs::write(
        host.dir.path().join("config.yml"),
        "env_vars:\n  HTTPS_PROXY: http://proxy.example:3128\n  NO_PROXY: .internal\n",
    )
    .expect("write");
    host.run(&op, "alice", &cert).expect("allowed");
    assert_eq!(
        *op.env.borrow(),
        [
            (
                "HTTPS_PROXY".to_owned(),
                "http://proxy.example:3128".to_owned()
            ),
            ("NO_PROXY".to_owned(), ".internal".to_owned()),
        ]
    );
}

/// `YYYY/MM/DD HH:MM:SS ` as Go's `log` writes it.
fn has_go_log_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 20
        && b[..20].iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'/',
            10 | 19 => c == b' ',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn home_policy_only_grants_its_owner() {
    let op = op();
    let mut host = Host::new("");
    host.paths.home_policy = true;
    // Files we create are ours: their owner is the uid verify must see in passwd.
    let uid = std::fs::metadata(host.dir.path())
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("uid");
    let [alice_home, bob_home] = ["alice", "bob"].map(|u| host.dir.path().join("home").join(u));
    for home in [&alice_home, &bob_home] {
        std::fs::create_dir_all(home.join(".opk")).expect("mkdir");
    }
    std::fs::write(
        &host.paths.passwd,
        format!(
            "alice:x:{uid}:{uid}::{}:/bin/sh\nbob:x:{uid}:{uid}::{}:/bin/sh\n",
            alice_home.display(),
            bob_home.display()
        ),
    )
    .expect("passwd");
    let rows = format!("alice alice@example.com {ISS}\nbob alice@example.com {ISS}\n");
    let write_home_policy = |home: &std::path::Path| {
        let file = home.join(".opk/auth_id");
        std::fs::write(&file, &rows).expect("w");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        file
    };
    let file = write_home_policy(&alice_home);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    host.run(&op, "alice", &cert).expect("home row for alice");
    // The row for bob in alice's home file does not let alice@example.com in as bob: bob's own
    // home has no policy file.
    let denied = host.run(&op, "bob", &cert);
    assert!(
        matches!(&denied, Err(Error::Denied { files, .. }) if files.home_of.as_deref() == Some("bob")),
        "{denied:?}"
    );
    // Bob's own home file with the same rows does (so the denial above is about whose file it is).
    let bob_file = write_home_policy(&bob_home);
    host.run(&op, "bob", &cert).expect("bob's own home row");
    std::fs::remove_file(&bob_file).expect("rm");
    assert!(
        !host.log().contains("home policy skipped"),
        "{}",
        host.log()
    );

    // Denied, with the reason in the log as `home policy skipped: <what> <file>: …<why>…`.
    let denied_with = |what: &str, why: &str| {
        let before = host.log().len();
        let r = host.run(&op, "alice", &cert);
        assert!(matches!(&r, Err(Error::Denied { .. })), "{why}: {r:?}");
        let want = format!("home policy skipped: {what} {}: ", file.display());
        let log = host.log();
        let line = log[before..].lines().find(|l| l.contains(&want));
        assert!(
            line.is_some_and(|l| l.contains(why)),
            "{want:?}…{why:?} not in {log}"
        );
    };
    // H-6: a symlink is not followed, even to a file with the right owner and mode.
    let real = alice_home.join("real_auth_id");
    std::fs::rename(&file, &real).expect("mv");
    std::os::unix::fs::symlink(&real, &file).expect("symlink");
    denied_with("refusing", "a symbolic link, not a regular file");
    std::fs::remove_file(&file).expect("rm");
    std::fs::rename(&real, &file).expect("mv back");
    host.run(&op, "alice", &cert).expect("regular file again");
    // Mode other than 0600: ignored.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    denied_with("refusing", "mode is not 0600");
    // Mode 0600 but owned by another uid than alice's passwd entry (tests run as root): ignored.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::chown(&file, Some(uid + 4242), None).expect("chown (needs root)");
    denied_with("refusing", "not owned by the user");
}

#[test]
fn o11_certificate_signed_by_another_key_is_refused() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (key, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    // Same PK Token and certified key, but signed by ssh-keygen with another CA key.
    let dir = tempfile::tempdir().expect("tmp");
    let ca = dir.path().join("ca");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&ca)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let user_pub = dir.path().join("user.pub");
    std::fs::write(
        &user_pub,
        key.public_key().to_openssh_line().expect("key line"),
    )
    .expect("write");
    let pkt = cert.pk_token().expect("pkt");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args([
            "-I",
            "alice@example.com",
            "-n",
            "opkssh-wildcard",
            "-O",
            "clear",
            "-O",
            &format!("extension:openpubkey-pkt={pkt}"),
            "-O",
            "permit-pty",
        ])
        .arg(&user_pub)
        .status()
        .expect("ssh-keygen -s");
    assert!(status.success());
    let line = std::fs::read_to_string(dir.path().join("user-cert.pub")).expect("cert");
    let other = OpkCert::from_line(&line).expect("parses");
    assert!(!other.is_self_signed());
    assert!(matches!(
        host.run(&op, "alice", &other),
        Err(Error::NotSelfSigned)
    ));
}

/// A plugin directory with one plugin per `(name, shell script body)`: `<name>.sh` (0755) and
/// `<name>.yml` (0640) naming it.
fn plugins(host: &mut Host, plugins: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = host.dir.path().join("policy.d");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    for (name, body) in plugins {
        let script = host.dir.path().join(format!("{name}.sh"));
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let yml = dir.join(format!("{name}.yml"));
        std::fs::write(
            &yml,
            format!(
                "name: {name}\ncommand: {} --flag 'two words'\n",
                script.display()
            ),
        )
        .expect("write");
        std::fs::set_permissions(&yml, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    }
    host.paths.plugins = Some(dir.clone());
    host.paths.plugin_timeout = std::time::Duration::from_millis(500);
    dir
}

#[test]
fn a_plugin_allows_what_no_row_does_with_opkssh_variables() {
    let op = op();
    let mut host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    // Checks the variables opkssh documents, its arguments, and that env_vars reach it.
    let checks = format!(
        r#"[ "$OPKSSH_PLUGIN_U" = root ] && [ "$OPKSSH_PLUGIN_EMAIL" = alice@example.com ] &&
[ "$OPKSSH_PLUGIN_ISS" = {ISS} ] && [ "$OPKSSH_PLUGIN_SUB" = {SUB} ] && [ "$OPKSSH_PLUGIN_AUD" = client ] &&
[ "$OPKSSH_PLUGIN_EMAIL_VERIFIED" = true ] && [ -n "$OPKSSH_PLUGIN_IAT" ] && [ -z "$OPKSSH_PLUGIN_NBF" ] &&
[ "$OPKSSH_PLUGIN_K" = "{k}" ] && [ "$OPKSSH_PLUGIN_T" = "{t}" ] &&
[ "$(echo "$OPKSSH_PLUGIN_PAYLOAD" | base64 -d | grep -c '"sub":"{SUB}"')" = 1 ] &&
[ "$(echo "$OPKSSH_PLUGIN_CONFIG" | base64 -d | head -1)" = "name: root-ok" ] &&
[ "$1 $2" = "--flag two words" ] && [ "$MARK" = from-config ] && echo allow"#,
        k = cert.to_b64(),
        t = cert.cert_type(),
    );
    plugins(&mut host, &[("root-ok", &checks)]);
    std::fs::write(
        host.dir.path().join("config.yml"),
        "env_vars:\n  MARK: from-config\n",
    )
    .expect("write");
    host.run_logged(&op, "root", &cert)
        .expect("the plugin allows root");
    assert!(
        host.log().contains("as root by policy plugin "),
        "{}",
        host.log()
    );
    // Not for another account (the script checks OPKSSH_PLUGIN_U), and the deny list comes first.
    assert!(matches!(
        host.run(&op, "bob", &cert),
        Err(Error::Denied { .. })
    ));
    std::fs::write(
        host.dir.path().join("config.yml"),
        "env_vars:\n  MARK: from-config\ndeny_users: [root]\n",
    )
    .expect("write");
    assert!(matches!(
        host.run(&op, "root", &cert),
        Err(Error::DenyListed { .. })
    ));
}

#[test]
fn o10_plugin_output_rules_timeouts_and_stderr() {
    let op = op();
    let mut host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::Ed25519);
    let denied = |host: &Host| {
        let r = host.run_logged(&op, "root", &cert);
        assert!(matches!(&r, Err(Error::Denied { .. })), "{r:?}");
    };
    for body in [
        "echo allowed",
        "echo allow; echo allow",
        "echo ALLOW",
        "echo allow; exit 1",
        "printf '\\033[31mallow'",
        "kill -9 $$",
    ] {
        plugins(&mut host, &[("garbage", body)]);
        denied(&host);
    }
    // stderr never turns an allow into a deny (opkssh reads both together): O-10.
    plugins(
        &mut host,
        &[("noisy", "echo warning: slow LDAP >&2; echo '  allow '")],
    );
    host.run_logged(&op, "root", &cert)
        .expect("stderr is ignored");
    assert!(
        host.log()
            .contains("stderr (ignored): (warning: slow LDAP)"),
        "{}",
        host.log()
    );
    // A plugin that hangs, or leaves a child holding its output open, is killed at the deadline.
    for body in ["sleep 30; echo allow", "sleep 30 & echo allow"] {
        plugins(&mut host, &[("hang", body)]);
        let started = std::time::Instant::now();
        denied(&host);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    assert!(
        host.log().contains("timed out after 0.5 s and was killed"),
        "{}",
        host.log()
    );
    // One allowing plugin among failing ones is enough, and every plugin runs.
    plugins(
        &mut host,
        &[
            ("a-deny", "echo deny"),
            ("b-allow", "echo allow"),
            ("c-deny", "exit 3"),
        ],
    );
    let before = host.log().len();
    host.run_logged(&op, "root", &cert).expect("b allows");
    let log = host.log()[before..].to_owned();
    assert_eq!(log.matches("policy plugin ").count(), 4, "{log}");
    assert!(
        log.contains("by policy plugin ") && log.contains("b-allow.yml"),
        "{log}"
    );
}

#[test]
fn plugins_others_could_change_are_not_run() {
    let op = op();
    let mut host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };
    let check_denied = |host: &Host, why: &str| {
        let before = host.log().len();
        let r = host.run_logged(&op, "root", &cert);
        assert!(matches!(&r, Err(Error::Denied { .. })), "{why}: {r:?}");
        let log = host.log()[before..].to_owned();
        assert!(log.contains(why), "{why:?} not in {log}");
    };
    let dir = plugins(&mut host, &[("p", "echo allow")]);
    host.run(&op, "root", &cert).expect("allowed as made");
    let script = host.dir.path().join("p.sh");
    mode(&script, 0o775);
    check_denied(&host, "refusing command");
    mode(&script, 0o644);
    check_denied(&host, "not executable");
    mode(&script, 0o755);
    mode(&dir.join("p.yml"), 0o666);
    check_denied(&host, "writable by group or others");
    mode(&dir.join("p.yml"), 0o640);
    mode(&dir, 0o777);
    check_denied(&host, "policy plugins skipped: refusing");
    mode(&dir, 0o755);
    std::fs::write(dir.join("p.yml"), "name: p\ncommand: p.sh\n").expect("write");
    check_denied(&host, "not an absolute path");
    std::fs::write(dir.join("p.yml"), "name: p\n").expect("write");
    check_denied(&host, "command is missing");
    // Files not ending in .yml are not plugins; a missing directory is only logged.
    std::fs::remove_file(dir.join("p.yml")).expect("rm");
    std::fs::write(
        dir.join("p.yml.bak"),
        format!("name: p\ncommand: {}\n", script.display()),
    )
    .expect("write");
    mode(&dir.join("p.yml.bak"), 0o640);
    check_denied(&host, "no policy to allow");
    std::fs::remove_dir_all(&dir).expect("rm");
    check_denied(&host, "policy plugins skipped: no plugin directory");
}

#[test]
fn one_audit_record_per_decision() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (key, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    host.run_logged(&op, "alice", &cert).expect("allowed");
    host.run_logged(&op, "root\n\"x", &cert)
        .expect_err("no row");
    let plain = key.public_key();
    let plain_b64 = plain.to_ssh_blob_b64().expect("blob");
    host.run_logged_typed("alice", &plain_b64, plain.ssh_key_type(), &op)
        .expect_err("plain key");
    let (_, forged) = alice(&op_with_seed(43), KeyAlgorithm::EcdsaP256);
    host.run_logged(&op, "alice", &forged).expect_err("forged");
    let r = host.audit_records();
    assert_eq!(r.len(), 4, "{r:?}");
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(write_pub(&host, &plain.to_openssh_line().expect("line")))
        .output()
        .expect("ssh-keygen");
    let fp = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fp")
        .to_owned();
    for (i, (decision, principal, verified)) in [
        ("allow", "alice", true),
        ("deny", "root\n\"x", true),
        ("deny", "alice", false),
        ("deny", "alice", false),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(r[i]["decision"], decision, "{i}: {:?}", r[i]);
        assert_eq!(r[i]["principal"], principal, "{i}");
        assert_eq!(r[i]["token_verified"], verified, "{i}");
        if i < 3 {
            assert_eq!(r[i]["key_fingerprint"], fp.as_str(), "{i}");
        }
        assert!(
            r[i]["time"]
                .as_str()
                .is_some_and(|t| t.len() == 20 && t.ends_with('Z'))
        );
    }
    assert_eq!(r[0]["rule"], "auth_id line 1");
    assert_eq!(
        (&r[0]["issuer"], &r[0]["sub"], &r[0]["email"]),
        (&ISS.into(), &SUB.into(), &"alice@example.com".into())
    );
    assert!(
        r[1]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("no policy to allow"))
    );
    assert_eq!(r[2]["issuer"], serde_json::Value::Null);
    assert!(
        r[2]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("not an opk certificate"))
    );
    // The forged token's claims are recorded as claimed, marked unverified.
    assert_eq!(r[3]["email"], "alice@example.com");
    assert!(
        r[3]["reason"]
            .as_str()
            .is_some_and(|s| s.starts_with("PK Token rejected"))
    );
}

fn write_pub(host: &Host, line: &str) -> std::path::PathBuf {
    let p = host.dir.path().join("key.pub");
    std::fs::write(&p, format!("{line}\n")).expect("write");
    p
}

#[test]
fn userinfo_claims_count_only_for_the_same_sub() {
    let op = op();
    let mut host = Host::new(&format!("alice oidc:groups:ops {ISS}\n"));
    let (_, cert) = login_with_access_token(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        Some("alice@example.com"),
        Some("at-123"),
    );
    let denied_logging = |why: &str| {
        let r = host.run_logged(&op, "alice", &cert);
        assert!(matches!(&r, Err(Error::Denied { .. })), "{r:?}");
        assert!(host.log().contains(why), "{why:?} not in {}", host.log());
    };
    // The OP cannot be asked: the ID token alone decides (as opkssh), and it has no groups.
    denied_logging("userinfo skipped: no userinfo lookup");
    *op.userinfo.borrow_mut() = Some(serde_json::json!({"sub": SUB, "groups": ["ops"]}));
    host.run_logged(&op, "alice", &cert)
        .expect("the userinfo group matches");
    assert_eq!(
        op.userinfo_tokens.borrow().last().map(String::as_str),
        Some("at-123")
    );
    // Userinfo about someone else is dropped, never matched.
    *op.userinfo.borrow_mut() = Some(serde_json::json!({"sub": "other", "groups": ["ops"]}));
    denied_logging("userinfo skipped: its sub \"other\"");
    // Plugins get it as OPKSSH_PLUGIN_USERINFO.
    *op.userinfo.borrow_mut() = Some(serde_json::json!({"sub": SUB, "groups": ["ops"]}));
    plugins(
        &mut host,
        &[(
            "ui",
            "echo \"$OPKSSH_PLUGIN_USERINFO\" | grep -q '\"groups\":\\[\"ops\"\\]' && echo allow",
        )],
    );
    host.run_logged(&op, "root", &cert)
        .expect("the plugin saw the userinfo");
    // No access token in the certificate: userinfo is never asked.
    let asked = op.userinfo_tokens.borrow().len();
    let (_, plain) = alice(&op, KeyAlgorithm::EcdsaP256);
    let _ = host.run_logged(&op, "alice", &plain);
    assert_eq!(op.userinfo_tokens.borrow().len(), asked);
}

fn mkfifo(path: &std::path::Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .expect("mkfifo");
}

/// R-3: a FIFO nobody writes to, a directory or a device where a server file should be is
/// refused at once with a reason naming the file; none of these calls may block.
#[test]
fn r3_fifos_directories_and_devices_are_refused_at_once() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    let put_back = |path: &std::path::Path, text: &str| {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir(path).expect("rmdir");
        } else {
            std::fs::remove_file(path).expect("rm");
        }
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    };
    let providers_text = std::fs::read_to_string(&host.paths.providers).expect("read");
    let config = host.paths.config.clone().expect("config path");
    let cases: [(&std::path::Path, &str); 3] = [
        (&host.paths.auth_id, ALICE_ROW),
        (&host.paths.providers, &providers_text),
        (&config, ""),
    ];
    for (path, text) in cases {
        for (kind, make) in [
            (
                FileKind::Fifo,
                &(|p: &std::path::Path| mkfifo(p)) as &dyn Fn(&std::path::Path),
            ),
            (FileKind::Directory, &|p| {
                std::fs::create_dir(p).expect("mkdir")
            }),
            (FileKind::CharDevice, &|p| {
                std::os::unix::fs::symlink("/dev/zero", p).expect("symlink")
            }),
        ] {
            let _ = std::fs::remove_file(path);
            make(path);
            let before = host.log().len();
            let denied = host.run_logged(&op, "alice", &cert);
            assert!(
                matches!(&denied, Err(Error::NotRegular { path: p, kind: k }) if p == path && *k == kind),
                "{} as {kind}: {denied:?}",
                path.display()
            );
            let reason = denied.expect_err("denied").to_string();
            assert_eq!(
                reason,
                format!(
                    "refusing {}: {kind}, not a regular file; replace it with a regular file",
                    path.display()
                )
            );
            assert!(host.log()[before..].contains(&reason), "{}", host.log());
            put_back(path, text);
            host.run(&op, "alice", &cert).expect("a regular file again");
        }
    }

    // The home policy: refused (and logged) the same way, without a symlink being followed.
    let mut host = Host::new("");
    host.paths.home_policy = true;
    let uid = std::fs::metadata(host.dir.path())
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("uid");
    let home = host.dir.path().join("home/alice");
    std::fs::create_dir_all(home.join(".opk")).expect("mkdir");
    std::fs::write(
        &host.paths.passwd,
        format!("alice:x:{uid}:{uid}::{}:/bin/sh\n", home.display()),
    )
    .expect("passwd");
    let file = home.join(".opk/auth_id");
    for (kind, make) in [
        (
            FileKind::Fifo,
            &(|p: &std::path::Path| mkfifo(p)) as &dyn Fn(&std::path::Path),
        ),
        (FileKind::Directory, &|p| {
            std::fs::create_dir(p).expect("mkdir")
        }),
        (FileKind::Symlink, &|p| {
            std::os::unix::fs::symlink("/dev/zero", p).expect("symlink")
        }),
    ] {
        make(&file);
        let before = host.log().len();
        let denied = host.run(&op, "alice", &cert);
        assert!(
            matches!(&denied, Err(Error::Denied { .. })),
            "{kind}: {denied:?}"
        );
        let want = format!(
            "home policy skipped: refusing {}: {kind}, not a regular file",
            file.display()
        );
        assert!(
            host.log()[before..].contains(&want),
            "{want:?} not in {}",
            host.log()
        );
        if kind == FileKind::Directory {
            std::fs::remove_dir(&file).expect("rmdir");
        } else {
            std::fs::remove_file(&file).expect("rm");
        }
    }
    std::fs::write(&file, ALICE_ROW).expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    host.run(&op, "alice", &cert)
        .expect("a regular home policy again");
}

/// H-4, decided per issuer: an email row needs `email_verified: true` unless config.yml's
/// `email_verified` says `warn` for the token's issuer (or `*`); then it is allowed as opkssh
/// allows it, and the warning is in the log.
#[test]
fn h4_email_rows_need_a_verified_email_unless_config_says_warn() {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let config = host.paths.config.clone().expect("config path");
    for patch in [
        serde_json::json!({"email_verified": false}),
        serde_json::json!({"email_verified": "false"}),
        serde_json::json!({"email_verified": null}),
    ] {
        let (_, cert) = login_patched(
            &op,
            KeyAlgorithm::EcdsaP256,
            vec!["opkssh-wildcard".into()],
            Some("alice@example.com"),
            None,
            &patch,
        );
        let _ = std::fs::remove_file(&config);
        let denied = host.run_logged(&op, "alice", &cert);
        let reason = denied
            .expect_err("unverified email denied by default")
            .to_string();
        assert!(
            reason.starts_with(&format!("policy line 1 would allow alice@example.com with (issuer={ISS}) to assume alice, but the ID token does not say the email is verified and email_verified for this issuer is require")),
            "{patch}: {reason}"
        );
        for (setting, allowed) in [
            (format!("email_verified:\n  {ISS}: warn\n"), true),
            ("email_verified:\n  '*': warn\n".to_owned(), true),
            (
                format!("email_verified:\n  '*': warn\n  {ISS}: require\n"),
                false,
            ),
            (
                "email_verified:\n  https://other.example: warn\n".to_owned(),
                false,
            ),
        ] {
            std::fs::write(&config, &setting).expect("config");
            let before = host.log().len();
            let r = host.run_logged(&op, "alice", &cert);
            assert_eq!(r.is_ok(), allowed, "{setting:?} {patch}: {r:?}");
            let log = host.log()[before..].to_owned();
            assert!(
                log.contains("policy: policy \"alice@example.com\" matched on email \"alice@example.com\" but the ID token"),
                "{log}"
            );
        }
    }
    // A verified email needs no setting.
    let _ = std::fs::remove_file(&config);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    host.run(&op, "alice", &cert).expect("verified email");
}
