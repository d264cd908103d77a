//! Real peer: OpenSSH's ssh-keygen must read what we write.
//! Needs `ssh-keygen` on PATH (Debian: `apt-get install openssh-client`).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use common::TempDir;
use opk_sshcert::{CertRequest, EphemeralKey, KeyAlgorithm, OpkCert, WILDCARD_PRINCIPAL};

fn ssh_keygen(args: &[&str], file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(args)
        .arg(file)
        .output()
        .expect("ssh-keygen must be installed for these tests (apt-get install openssh-client)");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ssh-keygen {args:?} failed: {stderr}\n{stdout}"
    );
    stdout
}

#[test]
fn ssh_keygen_lists_issued_certificates() {
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        let dir = TempDir::new("list");
        let key = EphemeralKey::generate(alg).unwrap();
        let req = CertRequest {
            key_id: "alice@example.com".into(),
            principals: vec![WILDCARD_PRINCIPAL.into()],
            pk_token: "header.payload.signature".into(),
            access_token: Some("the-access-token".into()),
        };
        let cert = OpkCert::issue(&req, &key).unwrap();
        let path = dir.0.join("id-cert.pub");
        std::fs::write(&path, cert.to_line(Some("openpubkey"))).unwrap();

        let out = ssh_keygen(&["-L", "-f"], &path);
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        let has = |want: &str| lines.contains(&want);
        assert!(
            has(&format!("Type: {} user certificate", cert.cert_type())),
            "{out}"
        );
        assert!(has("Key ID: \"alice@example.com\""), "{out}");
        assert!(has("Serial: 0"), "{out}");
        assert!(has("Valid: forever"), "{out}");
        assert!(has(WILDCARD_PRINCIPAL), "{out}");
        assert!(has("Critical Options: (none)"), "{out}");
        for flag in opk_sshcert::PERMIT_EXTENSIONS {
            assert!(has(flag), "missing {flag}: {out}");
        }
        // ssh-keygen shows unknown extensions with their raw (nested-string) data in hex.
        let hex = |v: &str| {
            let mut s = format!("{:08x}", v.len());
            for b in v.bytes() {
                s.push_str(&format!("{b:02x}"));
            }
            s
        };
        let pkt = lines
            .iter()
            .find(|l| l.starts_with("openpubkey-pkt"))
            .unwrap_or_else(|| panic!("no openpubkey-pkt: {out}"));
        assert!(pkt.contains(&hex("header.payload.signature")), "{pkt}");
        let act = lines
            .iter()
            .find(|l| l.starts_with("openpubkey-act"))
            .unwrap_or_else(|| panic!("no openpubkey-act: {out}"));
        assert!(act.contains(&hex("the-access-token")), "{act}");
        // The "Signing CA" is the key itself (self-signed), with the expected signature algorithm.
        let ca = lines.iter().find(|l| l.starts_with("Signing CA:")).unwrap();
        assert!(
            ca.ends_with(&format!("(using {})", key.public_key().ssh_key_type())),
            "{ca}"
        );
    }
}

#[test]
fn ssh_keygen_reads_our_private_keys() {
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        let dir = TempDir::new("priv");
        let key = EphemeralKey::generate(alg).unwrap();
        let path = dir.0.join("id");
        std::fs::write(
            &path,
            key.to_openssh_pem("openpubkey cert").unwrap().as_bytes(),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

        let out = ssh_keygen(&["-y", "-f"], &path);
        let mut fields = out.split_whitespace();
        assert_eq!(fields.next(), Some(key.public_key().ssh_key_type()));
        assert_eq!(
            fields.next(),
            Some(key.public_key().to_ssh_blob_b64().unwrap().as_str())
        );

        // -l shows the key comment last.
        let out = ssh_keygen(&["-l", "-f"], &path);
        assert!(out.contains("openpubkey cert"), "{out}");
    }
}

#[test]
fn ssh_keygen_signed_cert_round_trips_through_our_parser() {
    // ssh-keygen signs our public key with our own key as CA; we must read that cert.
    for (alg, kt) in [
        (KeyAlgorithm::EcdsaP256, "ecdsa"),
        (KeyAlgorithm::Ed25519, "ed25519"),
    ] {
        let dir = TempDir::new("sign");
        let key = EphemeralKey::generate(alg).unwrap();
        let ca = dir.0.join("ca");
        std::fs::write(&ca, key.to_openssh_pem("ca").unwrap().as_bytes()).unwrap();
        std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o600)).unwrap();
        let user = dir.0.join("user.pub");
        std::fs::write(&user, key.public_key().to_openssh_line().unwrap() + " u\n").unwrap();
        opk_testkit::run_ok(
            Command::new("ssh-keygen")
                .args(["-q", "-s"])
                .arg(&ca)
                .args(["-I", "kid", "-n", "p1,p2"])
                .args(["-O", "extension:openpubkey-pkt=tok"])
                .arg(&user),
        );
        let line = std::fs::read_to_string(dir.0.join("user-cert.pub")).unwrap();
        let cert = OpkCert::from_line(&line).unwrap();
        assert_eq!(cert.public_key(), key.public_key());
        assert!(cert.is_self_signed(), "{kt}");
        assert_eq!(cert.principals(), ["p1".to_string(), "p2".to_string()]);
        assert_eq!(cert.pk_token(), Some("tok"));
        cert.verify_self_signature().unwrap();
    }
}
