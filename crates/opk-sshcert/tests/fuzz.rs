//! Fuzz-style tests: truncated, mutated, random and oversized input must give `Err`, never panic.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::b64_encode;
use opk_sshcert::fuzzing::{fuzz_from_line, fuzz_parse, fuzz_private_key};
use opk_sshcert::{
    CERT_TYPE_ECDSA_P256, CertRequest, EphemeralKey, Error, KeyAlgorithm, MAX_CERT_B64_LEN,
    MAX_PEM_LEN, OpkCert,
};

const VECTOR: &str = include_str!("vectors/user_ed25519-cert.pub");

fn issued(alg: KeyAlgorithm) -> OpkCert {
    let key = EphemeralKey::generate(alg).unwrap();
    let req = CertRequest {
        key_id: "k@example.com".into(),
        principals: vec!["opkssh-wildcard".into()],
        pk_token: "a.b.c".into(),
        access_token: Some("act".into()),
    };
    OpkCert::issue(&req, &key).unwrap()
}

fn samples() -> Vec<OpkCert> {
    vec![
        issued(KeyAlgorithm::EcdsaP256),
        issued(KeyAlgorithm::Ed25519),
        OpkCert::from_line(VECTOR).unwrap(),
    ]
}

#[test]
fn every_base64_truncation_is_rejected() {
    for cert in samples() {
        let b64 = cert.to_b64();
        for n in 0..b64.len() {
            let r = OpkCert::parse(cert.cert_type(), &b64[..n]);
            assert!(r.is_err(), "truncated to {n} chars was accepted");
            fuzz_parse(&b64.as_bytes()[..n]);
        }
        assert!(OpkCert::parse(cert.cert_type(), &b64).is_ok());
    }
}

#[test]
fn every_blob_truncation_is_rejected() {
    for cert in samples() {
        let blob = cert.as_bytes();
        for n in 0..blob.len() {
            let r = OpkCert::parse(cert.cert_type(), &b64_encode(&blob[..n]));
            assert!(r.is_err(), "blob truncated to {n} bytes was accepted");
            fuzz_parse(&blob[..n]);
        }
        // Trailing bytes are refused too.
        let mut longer = blob.to_vec();
        longer.push(0);
        assert!(OpkCert::parse(cert.cert_type(), &b64_encode(&longer)).is_err());
    }
}

#[test]
fn mutated_blobs_never_verify() {
    let mut rng = opk_testkit::rng::seeded(0x5eed_0001);
    for cert in samples() {
        let blob = cert.as_bytes();
        let mut accepted = 0;
        // Signature checks are slow in debug builds; 400 mutations per sample keep this ~4 s.
        for _ in 0..400 {
            let mut m = blob.to_vec();
            for _ in 0..=rng.usize(..3) {
                let i = rng.usize(..m.len());
                m[i] ^= 1 << rng.usize(..8);
            }
            fuzz_parse(&m);
            if let Ok(c) = OpkCert::parse(cert.cert_type(), &b64_encode(&m)) {
                accepted += 1;
                // Anything that still parses was changed inside signed data or the signature.
                assert!(
                    c.verify_self_signature().is_err(),
                    "mutation kept a valid signature"
                );
            }
        }
        // Sanity: the mutation loop does reach the signature check sometimes.
        assert!(accepted > 0);
    }
}

#[test]
fn random_garbage_is_rejected() {
    let mut rng = opk_testkit::rng::seeded(0xdead_beef_cafe_f00d);
    for _ in 0..3000 {
        let data = opk_testkit::rng::garbage(&mut rng, 700);
        fuzz_parse(&data);
        fuzz_from_line(&data);
        fuzz_private_key(&data);
        assert!(OpkCert::parse(CERT_TYPE_ECDSA_P256, &b64_encode(&data)).is_err());
    }
    // Random data behind a valid type prefix reaches the certificate decoder proper.
    for _ in 0..3000 {
        let mut data = (CERT_TYPE_ECDSA_P256.len() as u32).to_be_bytes().to_vec();
        data.extend_from_slice(CERT_TYPE_ECDSA_P256.as_bytes());
        data.extend(opk_testkit::rng::garbage(&mut rng, 400));
        fuzz_parse(&data);
        assert!(OpkCert::parse(CERT_TYPE_ECDSA_P256, &b64_encode(&data)).is_err());
    }
}

#[test]
fn mutated_private_keys_never_panic() {
    let mut rng = opk_testkit::rng::seeded(42);
    for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
        let pem = EphemeralKey::generate(alg)
            .unwrap()
            .to_openssh_pem("openpubkey cert")
            .unwrap();
        for n in 0..pem.len() {
            fuzz_private_key(&pem.as_bytes()[..n]);
        }
        let b64_chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let body_start = pem.find('\n').unwrap() + 1;
        let body_end = pem.rfind("-----END").unwrap() - 1;
        for _ in 0..1500 {
            let mut m = pem.as_bytes().to_vec();
            let i = body_start + rng.usize(..body_end - body_start);
            if m[i] != b'\n' {
                m[i] = b64_chars[rng.usize(..64)];
            }
            fuzz_private_key(&m);
        }
    }
}

#[test]
fn huge_input_is_rejected_by_size() {
    let b64 = "A".repeat(MAX_CERT_B64_LEN + 4);
    assert!(matches!(
        OpkCert::parse(CERT_TYPE_ECDSA_P256, &b64),
        Err(Error::TooLarge { .. })
    ));
    let line = format!("{CERT_TYPE_ECDSA_P256} {b64}");
    assert!(matches!(
        OpkCert::from_line(&line),
        Err(Error::TooLarge { .. })
    ));
    let long_line = "x ".repeat(MAX_CERT_B64_LEN);
    assert!(matches!(
        OpkCert::from_line(&long_line),
        Err(Error::TooLarge { .. })
    ));
    let pem = "A".repeat(MAX_PEM_LEN + 1);
    assert!(matches!(
        EphemeralKey::from_openssh_pem(&pem),
        Err(Error::TooLarge { .. })
    ));
    fuzz_parse(b64.as_bytes());
    fuzz_from_line(line.as_bytes());
}

#[test]
fn huge_length_prefixes_are_rejected() {
    // Length fields claiming gigabytes must fail cleanly, not allocate or panic.
    let mut data = (CERT_TYPE_ECDSA_P256.len() as u32).to_be_bytes().to_vec();
    data.extend_from_slice(CERT_TYPE_ECDSA_P256.as_bytes());
    data.extend_from_slice(&u32::MAX.to_be_bytes());
    data.extend_from_slice(&[0u8; 64]);
    assert!(OpkCert::parse(CERT_TYPE_ECDSA_P256, &b64_encode(&data)).is_err());
    let data = u32::MAX.to_be_bytes();
    assert!(OpkCert::parse(CERT_TYPE_ECDSA_P256, &b64_encode(&data)).is_err());
}

#[test]
fn valid_input_through_the_hooks() {
    for cert in samples() {
        fuzz_parse(cert.as_bytes());
        fuzz_parse(format!("{} {}", cert.cert_type(), cert.to_b64()).as_bytes());
        fuzz_from_line(cert.to_line(Some("c")).as_bytes());
    }
}
