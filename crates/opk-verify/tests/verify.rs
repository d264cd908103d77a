//! The verify pipeline in-process: a signing OP, a fake JWKS fetcher, real files in a temp dir.
//! (The same paths run against real sshd, ssh, the npm OP and Chromium in opk-cli's e2e tests.)

mod common;

use std::cell::Cell;
use std::os::unix::fs::PermissionsExt as _;

use common::{Host, ISS, Op, login, now, op};
use opk_pktoken::UserSigner;
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert};
use opk_verify::{Error, Log, Request, verify};

#[test]
fn prints_opkssh_line_with_the_signature_key() {
    let op = op();
    let host = Host::new("alice alice@example.com https://op.example\n");
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        let (key, cert) = login(
            &op,
            alg,
            vec!["opkssh-wildcard".into()],
            "alice@example.com",
        );
        let line = host.run(&op, "alice", &cert).expect("allowed");
        let pk = key.public_key();
        assert_eq!(
            line,
            format!(
                "cert-authority,principals=\"opkssh-wildcard\" {} {}",
                pk.ssh_key_type(),
                pk.to_ssh_blob_b64()
            )
        );
    }
    // No principals: the bare form.
    let (key, cert) = login(&op, KeyAlgorithm::EcdsaP256, vec![], "alice@example.com");
    let pk = key.public_key();
    assert_eq!(
        host.run(&op, "alice", &cert).expect("allowed"),
        format!(
            "cert-authority {} {}",
            pk.ssh_key_type(),
            pk.to_ssh_blob_b64()
        )
    );
}

#[test]
fn warm_cache_makes_no_fetch() {
    let op = op();
    let host = Host::new("alice alice@example.com https://op.example\n");
    let (_, cert) = login(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        "alice@example.com",
    );
    for _ in 0..5 {
        host.run(&op, "alice", &cert).expect("allowed");
    }
    assert_eq!(op.fetches.get(), 1);
}

#[test]
fn h1_principal_injection_is_denied() {
    let op = op();
    let host = Host::new("alice alice@example.com https://op.example\n");
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
            "alice@example.com",
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
    let host = Host::new("alice alice@example.com https://op.example\nbob '' https://op.example\n");
    let (_, cert) = login(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        "alice@example.com",
    );
    // Another account than the row allows.
    assert!(
        matches!(host.run(&op, "root", &cert), Err(Error::Denied(r)) if r.contains("no policy to allow"))
    );
    // O-3: the empty identity row for bob never matches.
    assert!(matches!(host.run(&op, "bob", &cert), Err(Error::Denied(_))));
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
        key_b64: &plain.to_ssh_blob_b64(),
        key_type: plain.ssh_key_type(),
    };
    assert!(matches!(
        verify(&host.paths, &req, now(), &op, &mut log),
        Err(Error::Cert(_))
    ));
    // An OP that signs with a different key.
    let impostor = Op {
        key: UserSigner::from_p256_scalar(&[43; 32]).expect("k"),
        fetches: Cell::new(0),
    };
    let (_, forged) = login(
        &impostor,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        "alice@example.com",
    );
    assert!(matches!(
        host.run(&op, "alice", &forged),
        Err(Error::PkToken(_))
    ));
}

#[test]
fn unsafe_files_and_config_fail_closed() {
    let op = op();
    let host = Host::new("alice alice@example.com https://op.example\n");
    let (_, cert) = login(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        "alice@example.com",
    );
    std::fs::set_permissions(
        &host.paths.providers,
        std::fs::Permissions::from_mode(0o666),
    )
    .expect("chmod");
    assert!(matches!(
        host.run(&op, "alice", &cert),
        Err(Error::UnsafeFile { .. })
    ));
    std::fs::set_permissions(
        &host.paths.providers,
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    host.run(&op, "alice", &cert).expect("allowed again");
    // O-2: deny lists opk cannot enforce must not be ignored silently.
    std::fs::write(
        host.dir.path().join("config.yml"),
        "deny_users:\n  - alice\n",
    )
    .expect("write");
    assert!(matches!(
        host.run(&op, "alice", &cert),
        Err(Error::UnsupportedConfig { .. })
    ));
    // O-6: a duplicate issuer row is fatal for everyone.
    std::fs::remove_file(host.dir.path().join("config.yml")).expect("rm");
    std::fs::write(
        &host.paths.providers,
        format!("{ISS} client 24h\n{ISS} other 12h\n"),
    )
    .expect("write");
    assert!(matches!(
        host.run(&op, "alice", &cert),
        Err(Error::Policy { .. })
    ));
    // The log has the reasons, one line each.
    let log = std::fs::read_to_string(host.paths.log.as_ref().expect("log")).unwrap_or_default();
    assert!(log.is_empty() || log.lines().all(|l| l.len() > 20), "{log}");
}

#[test]
fn home_policy_only_grants_its_owner() {
    let op = op();
    let mut host = Host::new("");
    let home = host.dir.path().join("home");
    std::fs::create_dir_all(home.join(".opk")).expect("mkdir");
    let uid = std::fs::metadata(host.dir.path())
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("uid");
    std::fs::write(
        &host.paths.passwd,
        format!("alice:x:{uid}:{uid}::{}:/bin/sh\n", home.display()),
    )
    .expect("passwd");
    let file = home.join(".opk/auth_id");
    std::fs::write(
        &file,
        "alice alice@example.com https://op.example\nroot alice@example.com https://op.example\n",
    )
    .expect("w");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    host.paths.home_policy = true;
    let (_, cert) = login(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        "alice@example.com",
    );
    host.run(&op, "alice", &cert).expect("home row for alice");
    // A row for another principal in alice's home file grants nothing.
    assert!(host.run(&op, "root", &cert).is_err());
    // H-6: a symlink is not followed, even to a file with the right owner and mode.
    let real = home.join("real_auth_id");
    std::fs::rename(&file, &real).expect("mv");
    std::os::unix::fs::symlink(&real, &file).expect("symlink");
    assert!(host.run(&op, "alice", &cert).is_err());
    std::fs::remove_file(&file).expect("rm");
    std::fs::rename(&real, &file).expect("mv back");
    host.run(&op, "alice", &cert).expect("regular file again");
    // Mode other than 0600: ignored.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(host.run(&op, "alice", &cert).is_err());
}

#[test]
fn o11_certificate_signed_by_another_key_is_refused() {
    let op = op();
    let host = Host::new("alice alice@example.com https://op.example\n");
    let (key, cert) = login(
        &op,
        KeyAlgorithm::EcdsaP256,
        vec!["opkssh-wildcard".into()],
        "alice@example.com",
    );
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
    std::fs::write(&user_pub, key.public_key().to_openssh_line()).expect("write");
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
