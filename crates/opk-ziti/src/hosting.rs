//! The proof a host sends with Bind that it owns the terminator identity it claims (header
//! TerminatorIdentitySecret), in the Go SDK's format: a format byte (1 RSA, 3 ECDSA), then
//! length-prefixed (u32 little-endian) fields: the nonce `SHA-512(16 random bytes)` and the
//! identity key's signature over that nonce (RSA-PSS with SHA-512; ECDSA as `r`, `s` big-endian).
//! The router checks it against the identity's certificate, so one identity cannot take over
//! another's addressable terminator.

use ring::rand::SystemRandom;
use ring::signature::{RSA_PSS_SHA512, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use sha2::{Digest as _, Sha512};

use crate::{Error, Identity};

const FORMAT_RSA: u8 = 1;
const FORMAT_ECDSA: u8 = 3;

/// A fresh terminator-identity proof signed with `identity`'s key.
pub fn identity_secret(identity: &Identity) -> Result<Vec<u8>, Error> {
    let mut seed = [0u8; 16];
    getrandom::fill(&mut seed).map_err(|_| crate::ProtocolError::Random)?;
    let nonce = Sha512::digest(seed);
    let key = identity.private_key()?;
    let mut out = Vec::new();
    match &key {
        PrivateKeyDer::Pkcs1(der) => {
            let pair = RsaKeyPair::from_der(der.secret_pkcs1_der()).map_err(|_| Error::HostKey)?;
            out.push(FORMAT_RSA);
            sized(&mut out, &nonce);
            sized(&mut out, &rsa_sign(&pair, &seed)?);
        }
        PrivateKeyDer::Pkcs8(der) => {
            if let Ok(pair) = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()) {
                out.push(FORMAT_RSA);
                sized(&mut out, &nonce);
                sized(&mut out, &rsa_sign(&pair, &seed)?);
            } else {
                use p256::pkcs8::DecodePrivateKey as _;
                let key = p256::ecdsa::SigningKey::from_pkcs8_der(der.secret_pkcs8_der())
                    .map_err(|_| Error::HostKey)?;
                ecdsa(&mut out, &key, &nonce)?;
            }
        }
        PrivateKeyDer::Sec1(der) => {
            let key = p256::SecretKey::from_sec1_der(der.secret_sec1_der())
                .map_err(|_| Error::HostKey)?;
            ecdsa(&mut out, &p256::ecdsa::SigningKey::from(key), &nonce)?;
        }
        _ => return Err(Error::HostKey),
    }
    Ok(out)
}

/// ring hashes its input: signing the 16 seed bytes signs `SHA-512(seed)`, the nonce.
fn rsa_sign(pair: &RsaKeyPair, seed: &[u8]) -> Result<Vec<u8>, Error> {
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(&RSA_PSS_SHA512, &SystemRandom::new(), seed, &mut sig)
        .map_err(|_| Error::HostKey)?;
    Ok(sig)
}

/// ECDSA over the nonce as a prehash (the curve keeps its leftmost 256 bits, as Go does).
fn ecdsa(out: &mut Vec<u8>, key: &p256::ecdsa::SigningKey, nonce: &[u8]) -> Result<(), Error> {
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;
    let sig: p256::ecdsa::Signature = key.sign_prehash(nonce).map_err(|_| Error::HostKey)?;
    let (r, s) = sig.split_bytes();
    out.push(FORMAT_ECDSA);
    sized(out, nonce);
    // Go writes big.Int bytes: no leading zeros.
    sized(out, trim(&r));
    sized(out, trim(&s));
    Ok(())
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[start..]
}

fn sized(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(field);
}
