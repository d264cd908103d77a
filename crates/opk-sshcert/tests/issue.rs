//! Issue → serialize → parse round trips, the exact wire layout opkssh issues, and tamper detection.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{b64_decode, b64_encode, decode_cert, find};
use opk_sshcert::{
    CERT_TYPE_ECDSA_P256, CERT_TYPE_ED25519, CertRequest, EXT_ACCESS_TOKEN, EXT_PK_TOKEN,
    EphemeralKey, Error, KeyAlgorithm, OpkCert, PublicKey, RequestProblem, WILDCARD_PRINCIPAL,
};

const ALGS: [KeyAlgorithm; 2] = [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519];

fn request(act: Option<&str>) -> CertRequest {
    CertRequest {
        key_id: "alice@example.com".into(),
        principals: vec![WILDCARD_PRINCIPAL.into()],
        pk_token: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln:eyJ0eXAiOiJKV1QifQ..c2ln2".into(),
        access_token: act.map(str::to_owned),
    }
}

fn expected_cert_type(alg: KeyAlgorithm) -> &'static str {
    match alg {
        KeyAlgorithm::EcdsaP256 => CERT_TYPE_ECDSA_P256,
        KeyAlgorithm::Ed25519 => CERT_TYPE_ED25519,
    }
}

#[test]
fn round_trip_both_key_types() {
    for alg in ALGS {
        for act in [None, Some("access-token-value")] {
            let key = EphemeralKey::generate(alg).unwrap();
            let req = request(act);
            let cert = OpkCert::issue(&req, &key).unwrap();

            let line = cert.to_line(Some("openpubkey"));
            assert!(line.starts_with(&format!("{} AAAA", expected_cert_type(alg))));
            assert!(line.ends_with(" openpubkey") && !line.ends_with('\n'));
            assert_eq!(cert.to_line(None).split(' ').count(), 2);

            let from_line = OpkCert::from_line(&line).unwrap();
            let (t, b) = line.split_once(' ').unwrap();
            let parsed = OpkCert::parse(t, b.split(' ').next().unwrap()).unwrap();
            assert_eq!(from_line.comment(), Some("openpubkey"));
            assert_eq!(parsed.comment(), None);

            for c in [&cert, &from_line, &parsed] {
                assert_eq!(c.as_bytes(), cert.as_bytes());
                assert_eq!(c.cert_type(), expected_cert_type(alg));
                assert!(c.is_user_cert());
                assert_eq!(c.key_id(), req.key_id);
                assert_eq!(c.principals(), &req.principals[..]);
                assert_eq!(c.pk_token(), Some(req.pk_token.as_str()));
                assert_eq!(c.access_token(), act);
                assert_eq!(c.serial(), 0);
                assert_eq!(c.valid_after(), 0);
                assert_eq!(c.valid_before(), u64::MAX);
                assert_eq!(c.nonce().len(), 32);
                assert_eq!(c.critical_options().count(), 0);
                assert_eq!(c.public_key(), key.public_key());
                assert_eq!(c.signature_key(), key.public_key());
                assert!(c.is_self_signed());
                c.verify_self_signature().unwrap();
            }
        }
    }
}

#[test]
fn wire_layout_matches_opkssh() {
    for alg in ALGS {
        let key = EphemeralKey::generate(alg).unwrap();
        let req = request(Some("act"));
        let cert = OpkCert::issue(&req, &key).unwrap();
        let raw = decode_cert(cert.as_bytes());

        assert_eq!(raw.cert_type, expected_cert_type(alg));
        assert_eq!(raw.nonce.len(), 32);
        assert_eq!(raw.serial, 0);
        assert_eq!(raw.kind, 1, "SSH_CERT_TYPE_USER");
        assert_eq!(raw.key_id, "alice@example.com");
        assert_eq!(raw.principals, vec![WILDCARD_PRINCIPAL.to_string()]);
        assert_eq!((raw.valid_after, raw.valid_before), (0, u64::MAX));
        assert!(raw.critical_options.is_empty());

        // Exact wire order of opkssh's certificates: extensions sorted by name (upper-case X first).
        let names: Vec<&str> = raw.extensions.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "openpubkey-act",
                "openpubkey-pkt",
                "permit-X11-forwarding",
                "permit-agent-forwarding",
                "permit-port-forwarding",
                "permit-pty",
                "permit-user-rc",
            ]
        );
        // Non-empty values are a nested string; flags have zero-length data.
        let nested = |v: &str| {
            let mut d = (v.len() as u32).to_be_bytes().to_vec();
            d.extend_from_slice(v.as_bytes());
            d
        };
        assert_eq!(raw.extensions[0].1, nested("act"));
        assert_eq!(raw.extensions[1].1, nested(&req.pk_token));
        assert!(raw.extensions[2..].iter().all(|(_, d)| d.is_empty()));

        assert_eq!(raw.signature_key, key.public_key().to_ssh_blob().unwrap());
        assert_eq!(raw.signature_alg, key.public_key().ssh_key_type());
    }
}

#[test]
fn without_access_token_the_act_extension_is_absent() {
    let key = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let cert = OpkCert::issue(&request(None), &key).unwrap();
    let raw = decode_cert(cert.as_bytes());
    assert_eq!(raw.extensions.len(), 6);
    assert_eq!(raw.extensions[0].0, EXT_PK_TOKEN);
    assert!(raw.extensions.iter().all(|(n, _)| n != EXT_ACCESS_TOKEN));
}

#[test]
fn nonces_are_fresh() {
    let key = EphemeralKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let a = OpkCert::issue(&request(None), &key).unwrap();
    let b = OpkCert::issue(&request(None), &key).unwrap();
    assert_ne!(a.nonce(), b.nonce());
}

#[test]
fn empty_and_multiple_principals() {
    let key = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    for principals in [vec![], vec!["root".to_string(), "dev".to_string()]] {
        let req = CertRequest {
            principals: principals.clone(),
            ..request(None)
        };
        let cert = OpkCert::issue(&req, &key).unwrap();
        let back = OpkCert::from_line(&cert.to_line(None)).unwrap();
        assert_eq!(back.principals(), &principals[..]);
        assert_eq!(decode_cert(back.as_bytes()).principals, principals);
        back.verify_self_signature().unwrap();
    }
}

#[test]
fn empty_tokens_are_refused() {
    let key = EphemeralKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let no_pkt = CertRequest {
        pk_token: String::new(),
        ..request(None)
    };
    assert!(matches!(
        OpkCert::issue(&no_pkt, &key),
        Err(Error::InvalidRequest(RequestProblem::EmptyPkToken))
    ));
    assert!(matches!(
        OpkCert::issue(&request(Some("")), &key),
        Err(Error::InvalidRequest(RequestProblem::EmptyAccessToken))
    ));
}

#[test]
fn flipped_principal_byte_breaks_the_signature() {
    for alg in ALGS {
        let key = EphemeralKey::generate(alg).unwrap();
        let cert = OpkCert::issue(&request(None), &key).unwrap();
        let mut blob = cert.as_bytes().to_vec();
        let at = find(&blob, WILDCARD_PRINCIPAL.as_bytes()).unwrap();
        blob[at] ^= 0x01; // 'o' -> 'n': still a valid, canonical principal
        let tampered = OpkCert::parse(cert.cert_type(), &b64_encode(&blob)).unwrap();
        assert_eq!(tampered.principals(), ["npkssh-wildcard".to_string()]);
        assert!(matches!(
            tampered.verify_self_signature(),
            Err(Error::BadSignature)
        ));
    }
}

#[test]
fn swapped_signature_key_breaks_the_signature() {
    for alg in ALGS {
        let key = EphemeralKey::generate(alg).unwrap();
        let other = EphemeralKey::generate(alg).unwrap();
        let cert = OpkCert::issue(&request(None), &key).unwrap();
        let mut blob = cert.as_bytes().to_vec();
        let ours = key.public_key().to_ssh_blob().unwrap();
        let theirs = other.public_key().to_ssh_blob().unwrap();
        let at = find(&blob, &ours).unwrap();
        blob[at..at + ours.len()].copy_from_slice(&theirs);
        let swapped = OpkCert::parse(cert.cert_type(), &b64_encode(&blob)).unwrap();
        assert_eq!(swapped.signature_key(), other.public_key());
        assert!(!swapped.is_self_signed());
        assert!(matches!(
            swapped.verify_self_signature(),
            Err(Error::BadSignature)
        ));
    }
}

#[test]
fn declared_type_must_match_blob() {
    let key = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let cert = OpkCert::issue(&request(None), &key).unwrap();
    match OpkCert::parse(CERT_TYPE_ED25519, &cert.to_b64()) {
        Err(Error::TypeMismatch { declared, actual }) => {
            assert_eq!(declared, CERT_TYPE_ED25519);
            assert_eq!(actual, CERT_TYPE_ECDSA_P256);
        }
        other => panic!("expected TypeMismatch, got {other:?}"),
    }
    let line = format!("{} {}", CERT_TYPE_ED25519, cert.to_b64());
    assert!(matches!(
        OpkCert::from_line(&line),
        Err(Error::TypeMismatch { .. })
    ));
}

#[test]
fn plain_public_key_is_not_a_certificate() {
    for alg in ALGS {
        let key = EphemeralKey::generate(alg).unwrap();
        let pk = key.public_key();
        let r = OpkCert::parse(pk.ssh_key_type(), &pk.to_ssh_blob_b64().unwrap());
        assert!(matches!(r, Err(Error::NotACertificate(ref t)) if t == pk.ssh_key_type()));
        let r = OpkCert::parse(expected_cert_type(alg), &pk.to_ssh_blob_b64().unwrap());
        assert!(matches!(r, Err(Error::NotACertificate(_))));
        assert!(OpkCert::from_line(&pk.to_openssh_line().unwrap()).is_err());
    }
}

#[test]
fn from_line_tolerates_spacing_and_newline() {
    let key = EphemeralKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let cert = OpkCert::issue(&request(None), &key).unwrap();
    let line = format!(
        "{}  {}  openpubkey: https://issuer aud\n",
        cert.cert_type(),
        cert.to_b64()
    );
    let back = OpkCert::from_line(&line).unwrap();
    assert_eq!(back.comment(), Some("openpubkey: https://issuer aud"));
    assert_eq!(back.as_bytes(), cert.as_bytes());
    assert!(matches!(
        OpkCert::from_line(cert.cert_type()),
        Err(Error::MalformedLine)
    ));
    assert!(matches!(OpkCert::from_line(""), Err(Error::MalformedLine)));
}

#[test]
fn private_key_pem_round_trip() {
    for alg in ALGS {
        let key = EphemeralKey::generate(alg).unwrap();
        let pem = key.to_openssh_pem("openpubkey cert").unwrap();
        assert!(pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        assert!(
            pem.trim_end()
                .ends_with("-----END OPENSSH PRIVATE KEY-----")
        );
        assert!(!pem.contains('\r'));
        let back = EphemeralKey::from_openssh_pem(&pem).unwrap();
        assert_eq!(back.algorithm(), alg);
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(*back.secret_bytes(), *key.secret_bytes());
    }
}

#[test]
fn secret_bytes_derive_the_public_key() {
    for _ in 0..8 {
        let k = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let sk = p256::SecretKey::from_slice(k.secret_bytes().as_ref()).unwrap();
        let point = sk.public_key().to_sec1_bytes();
        let PublicKey::EcdsaP256 { x, y } = k.public_key() else {
            panic!("wrong type")
        };
        assert_eq!(point[0], 4);
        assert_eq!(&point[1..33], &x);
        assert_eq!(&point[33..65], &y);

        let k = EphemeralKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let sk = ed25519_dalek::SigningKey::from_bytes(&k.secret_bytes());
        assert_eq!(
            k.public_key(),
            PublicKey::Ed25519(sk.verifying_key().to_bytes())
        );
    }
}

#[test]
fn public_key_blob_layout() {
    let k = EphemeralKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let blob = b64_decode(&k.public_key().to_ssh_blob_b64().unwrap());
    let mut w = common::Wire(&blob);
    assert_eq!(w.string(), b"ecdsa-sha2-nistp256");
    assert_eq!(w.string(), b"nistp256");
    assert_eq!(w.string().len(), 65);
    assert!(w.0.is_empty());

    let k = EphemeralKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let blob = b64_decode(&k.public_key().to_ssh_blob_b64().unwrap());
    let mut w = common::Wire(&blob);
    assert_eq!(w.string(), b"ssh-ed25519");
    let PublicKey::Ed25519(pk) = k.public_key() else {
        panic!("wrong type")
    };
    assert_eq!(w.string(), pk);
    assert!(w.0.is_empty());
}

#[test]
fn non_canonical_encoding_is_refused() {
    // Re-encode the empty `permit-user-rc` value as a nested empty string (4 zero bytes of data).
    // ssh-key would read it as "" and write it back differently, so the bytes sshd verifies would
    // differ from what we read; parse must refuse it.
    let key = EphemeralKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let cert = OpkCert::issue(&request(None), &key).unwrap();
    let mut blob = cert.as_bytes().to_vec();
    let mut flag = (14u32).to_be_bytes().to_vec();
    flag.extend_from_slice(b"permit-user-rc");
    let at = find(&blob, &flag).unwrap() + flag.len();
    assert_eq!(&blob[at..at + 4], &[0, 0, 0, 0]);
    blob.splice(at..at + 4, [0, 0, 0, 4, 0, 0, 0, 0]);
    // Grow the extensions section's length prefix by the 4 inserted bytes.
    let first = find(&blob, b"openpubkey-pkt").unwrap() - 8;
    let len = u32::from_be_bytes(blob[first..first + 4].try_into().unwrap()) + 4;
    blob[first..first + 4].copy_from_slice(&len.to_be_bytes());

    let r = OpkCert::parse(cert.cert_type(), &b64_encode(&blob));
    assert!(matches!(r, Err(Error::NonCanonical)), "{r:?}");
}
