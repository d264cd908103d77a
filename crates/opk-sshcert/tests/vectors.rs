//! ssh-keygen-made vectors (see tests/vectors/README.md and generate.sh).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use opk_sshcert::{
    CERT_TYPE_ECDSA_P256, CERT_TYPE_ED25519, EphemeralKey, Error, KeyAlgorithm, KeyProblem,
    KeyRole, OpkCert,
};

const ECDSA_CERT: &str = include_str!("vectors/user_ecdsa-cert.pub");
const ED25519_CERT: &str = include_str!("vectors/user_ed25519-cert.pub");
const RSACA_CERT: &str = include_str!("vectors/rsaca_user-cert.pub");
const PLAIN: &str = include_str!("vectors/plain_ed25519.pub");
const CORRUPT: &str = include_str!("vectors/corrupt_ecdsa-cert.pub");
const BADSIG: &str = include_str!("vectors/badsig_ecdsa-cert.pub");
const USER_ECDSA_PUB: &str = include_str!("vectors/user_ecdsa.pub");
const USER_ED25519_PUB: &str = include_str!("vectors/user_ed25519.pub");
const CA_ECDSA_PUB: &str = include_str!("vectors/ca_ecdsa.pub");
const CA_ED25519_PUB: &str = include_str!("vectors/ca_ed25519.pub");
const USER_ECDSA_KEY: &str = include_str!("vectors/user_ecdsa");
const USER_ED25519_KEY: &str = include_str!("vectors/user_ed25519");
const ENCRYPTED_KEY: &str = include_str!("vectors/encrypted_ed25519");

fn field(line: &str, i: usize) -> &str {
    line.split_whitespace().nth(i).unwrap()
}

#[test]
fn ecdsa_cert_from_ssh_keygen() {
    let cert = OpkCert::from_line(ECDSA_CERT).unwrap();
    let same = OpkCert::parse(field(ECDSA_CERT, 0), field(ECDSA_CERT, 1)).unwrap();
    assert_eq!(cert.as_bytes(), same.as_bytes());
    assert_eq!(cert.to_b64(), field(ECDSA_CERT, 1));
    assert_eq!(cert.cert_type(), CERT_TYPE_ECDSA_P256);
    assert_eq!(cert.comment(), Some("vector user ecdsa"));
    assert!(cert.is_user_cert());
    assert_eq!(cert.key_id(), "id-alice");
    assert_eq!(cert.principals(), ["alice".to_string()]);
    assert_eq!(cert.serial(), 0);
    assert_eq!((cert.valid_after(), cert.valid_before()), (0, u64::MAX));
    assert_eq!(cert.pk_token(), Some("abc"));
    assert_eq!(cert.access_token(), None);
    let names: Vec<&str> = cert.extensions().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "openpubkey-pkt",
            "permit-X11-forwarding",
            "permit-agent-forwarding",
            "permit-port-forwarding",
            "permit-pty",
            "permit-user-rc"
        ]
    );
    assert_eq!(
        cert.public_key().to_ssh_blob_b64().unwrap(),
        field(USER_ECDSA_PUB, 1)
    );
    assert_eq!(
        cert.signature_key().to_ssh_blob_b64().unwrap(),
        field(CA_ED25519_PUB, 1)
    );
    assert!(!cert.is_self_signed());
    cert.verify_self_signature().unwrap();
    // Our serializer reproduces ssh-keygen's line byte for byte (comment aside).
    assert_eq!(
        cert.to_line(Some("vector user ecdsa")),
        ECDSA_CERT.trim_end()
    );
}

#[test]
fn ed25519_cert_from_ssh_keygen() {
    let cert = OpkCert::from_line(ED25519_CERT).unwrap();
    assert_eq!(cert.cert_type(), CERT_TYPE_ED25519);
    assert_eq!(cert.key_id(), "id-bob");
    assert_eq!(cert.principals(), ["bob".to_string(), "carol".to_string()]);
    assert_eq!(cert.serial(), 42);
    // 2020-01-01T00:00:00Z and 2030-01-01T00:00:00Z.
    assert_eq!(cert.valid_after(), 1_577_836_800);
    assert_eq!(cert.valid_before(), 1_893_456_000);
    assert_eq!(cert.pk_token(), Some("xyz.def"));
    assert_eq!(cert.access_token(), Some("tok"));
    let ext: Vec<(&str, &str)> = cert.extensions().collect();
    assert_eq!(
        ext,
        [
            ("openpubkey-act", "tok"),
            ("openpubkey-pkt", "xyz.def"),
            ("permit-pty", "")
        ]
    );
    assert_eq!(
        cert.public_key().to_ssh_blob_b64().unwrap(),
        field(USER_ED25519_PUB, 1)
    );
    assert_eq!(
        cert.signature_key().to_ssh_blob_b64().unwrap(),
        field(CA_ECDSA_PUB, 1)
    );
    cert.verify_self_signature().unwrap();
}

#[test]
fn rsa_signature_key_is_rejected() {
    let r = OpkCert::from_line(RSACA_CERT);
    assert!(
        matches!(r, Err(Error::UnsupportedKey { role: KeyRole::SignatureKey, problem: KeyProblem::Algorithm(ref name) }) if name == "ssh-rsa"),
        "{r:?}"
    );
}

#[test]
fn plain_key_is_rejected() {
    assert!(matches!(
        OpkCert::from_line(PLAIN),
        Err(Error::NotACertificate(ref t)) if t == "ssh-ed25519"
    ));
    assert!(matches!(
        OpkCert::parse(CERT_TYPE_ED25519, field(PLAIN, 1)),
        Err(Error::NotACertificate(_))
    ));
}

#[test]
fn corrupt_cert_is_rejected() {
    let r = OpkCert::from_line(CORRUPT);
    assert!(matches!(r, Err(Error::Malformed(_))), "{r:?}");
}

#[test]
fn bad_signature_parses_but_does_not_verify() {
    let cert = OpkCert::from_line(BADSIG).unwrap();
    assert_eq!(cert.key_id(), "id-alice");
    assert!(matches!(
        cert.verify_self_signature(),
        Err(Error::BadSignature)
    ));
}

#[test]
fn declared_type_mismatch_is_rejected() {
    assert!(matches!(
        OpkCert::parse(CERT_TYPE_ED25519, field(ECDSA_CERT, 1)),
        Err(Error::TypeMismatch { .. })
    ));
    assert!(matches!(
        OpkCert::parse(CERT_TYPE_ECDSA_P256, field(ED25519_CERT, 1)),
        Err(Error::TypeMismatch { .. })
    ));
    // A plain type declared for a cert blob is a mismatch too (not silently accepted).
    assert!(matches!(
        OpkCert::parse("ssh-ed25519", field(ED25519_CERT, 1)),
        Err(Error::TypeMismatch { .. })
    ));
}

#[test]
fn ssh_keygen_private_keys() {
    for (pem, publine, alg) in [
        (USER_ECDSA_KEY, USER_ECDSA_PUB, KeyAlgorithm::EcdsaP256),
        (USER_ED25519_KEY, USER_ED25519_PUB, KeyAlgorithm::Ed25519),
    ] {
        let key = EphemeralKey::from_openssh_pem(pem).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(
            key.public_key().to_ssh_blob_b64().unwrap(),
            field(publine, 1)
        );
        assert_eq!(key.public_key().ssh_key_type(), field(publine, 0));
        // Re-encoding ours and reading it back gives the same secret.
        let again = EphemeralKey::from_openssh_pem(&key.to_openssh_pem("x").unwrap()).unwrap();
        assert_eq!(*again.secret_bytes(), *key.secret_bytes());
    }
}

#[test]
fn encrypted_private_key_is_refused() {
    let r = EphemeralKey::from_openssh_pem(ENCRYPTED_KEY);
    assert!(matches!(r, Err(Error::EncryptedPrivateKey)), "{r:?}");
}
