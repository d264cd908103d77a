//! The few ssh-agent messages `opk login` sends (draft-miller-ssh-agent, OpenSSH's PROTOCOL.agent),
//! encoded and decoded here without I/O: add a key with its certificate and a lifetime, list the
//! identities, remove one.
//!
//! Every message is framed as on the socket: `uint32 length || byte type || contents`.

use ssh_key::encoding::{Decode as _, Encode as _, Reader as _};
use zeroize::Zeroizing;

use crate::{EphemeralKey, Error, OpkCert, PublicKey};

const SSH_AGENT_FAILURE: u8 = 5;
const SSH_AGENT_SUCCESS: u8 = 6;
const SSH_AGENTC_REQUEST_IDENTITIES: u8 = 11;
const SSH_AGENT_IDENTITIES_ANSWER: u8 = 12;
const SSH_AGENTC_REMOVE_IDENTITY: u8 = 18;
const SSH_AGENTC_ADD_IDENTITY: u8 = 17;
const SSH_AGENTC_ADD_ID_CONSTRAINED: u8 = 25;
const SSH_AGENT_CONSTRAIN_LIFETIME: u8 = 1;

/// Largest agent reply read; OpenSSH's own cap (256 KiB) would not fit many PK Token certs.
pub const MAX_AGENT_MESSAGE: usize = 4 * 1024 * 1024;
/// Most identities accepted in one answer (bounds the work on a hostile agent).
const MAX_IDENTITIES: u32 = 4096;

/// One identity the agent holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentIdentity {
    /// The public key or certificate blob.
    pub blob: Vec<u8>,
    /// Its comment.
    pub comment: String,
}

/// An agent's reply to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentReply {
    /// `SSH_AGENT_SUCCESS`.
    Success,
    /// `SSH_AGENT_FAILURE` (also what agents answer to messages they do not know).
    Failure,
    /// `SSH_AGENT_IDENTITIES_ANSWER`.
    Identities(Vec<AgentIdentity>),
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn encode_err(e: ssh_key::encoding::Error) -> Error {
    Error::EncodeKey(e.into())
}

/// `SSH_AGENTC_ADD_ID_CONSTRAINED` (or `ADD_IDENTITY` without a lifetime) for `key` and its
/// certificate `cert`: the agent then offers the certificate and signs with the key. The secret
/// is in the returned bytes, which are zeroized on drop.
pub fn add_identity(
    key: &EphemeralKey,
    cert: &OpkCert,
    comment: &str,
    lifetime_secs: Option<u32>,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut body = Zeroizing::new(Vec::with_capacity(cert.as_bytes().len() + 256));
    let kind = match lifetime_secs {
        Some(_) => SSH_AGENTC_ADD_ID_CONSTRAINED,
        None => SSH_AGENTC_ADD_IDENTITY,
    };
    let out: &mut Vec<u8> = &mut body;
    kind.encode(out).map_err(encode_err)?;
    cert.cert_type().encode(out).map_err(encode_err)?;
    cert.as_bytes().encode(out).map_err(encode_err)?;
    // A certificate's private part is the plain key's without the public fields OpenSSH takes
    // from the certificate: ECDSA the scalar alone, Ed25519 its public key and secret||public.
    let secret = key.secret_bytes();
    match key.public_key() {
        PublicKey::EcdsaP256 { .. } => {
            put_positive_mpint(out, secret.as_slice());
        }
        PublicKey::Ed25519(public) => {
            public.as_slice().encode(out).map_err(encode_err)?;
            let mut both = Zeroizing::new([0u8; 64]);
            both[..32].copy_from_slice(secret.as_slice());
            both[32..].copy_from_slice(&public);
            both.as_slice().encode(out).map_err(encode_err)?;
        }
    }
    comment.encode(out).map_err(encode_err)?;
    if let Some(secs) = lifetime_secs {
        SSH_AGENT_CONSTRAIN_LIFETIME
            .encode(out)
            .map_err(encode_err)?;
        secs.encode(out).map_err(encode_err)?;
    }
    Ok(Zeroizing::new(frame(&body)))
}

/// RFC 4251 mpint of a non-negative big-endian number, written straight into `out` (no copy of
/// the secret outside the zeroized buffer): no leading zero bytes, one added if the top bit is set.
fn put_positive_mpint(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[start..];
    let pad = digits.first().is_some_and(|&b| b & 0x80 != 0);
    out.extend_from_slice(&((digits.len() + usize::from(pad)) as u32).to_be_bytes());
    if pad {
        out.push(0);
    }
    out.extend_from_slice(digits);
}

/// `SSH_AGENTC_REQUEST_IDENTITIES`.
pub fn request_identities() -> Vec<u8> {
    frame(&[SSH_AGENTC_REQUEST_IDENTITIES])
}

/// `SSH_AGENTC_REMOVE_IDENTITY` for the key or certificate `blob` (as listed by the agent).
pub fn remove_identity(blob: &[u8]) -> Vec<u8> {
    let mut body = vec![SSH_AGENTC_REMOVE_IDENTITY];
    body.extend_from_slice(&(blob.len() as u32).to_be_bytes());
    body.extend_from_slice(blob);
    frame(&body)
}

/// Decodes one reply body (the bytes after the length prefix).
pub fn parse_reply(body: &[u8]) -> Result<AgentReply, Error> {
    let bad = |_| Error::AgentReply;
    let mut r = body;
    let kind = u8::decode(&mut r).map_err(bad)?;
    let reply = match kind {
        SSH_AGENT_SUCCESS => AgentReply::Success,
        SSH_AGENT_FAILURE => AgentReply::Failure,
        SSH_AGENT_IDENTITIES_ANSWER => {
            let n = u32::decode(&mut r).map_err(bad)?;
            if n > MAX_IDENTITIES {
                return Err(Error::AgentReply);
            }
            let mut ids = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let blob = Vec::<u8>::decode(&mut r).map_err(bad)?;
                let comment = Vec::<u8>::decode(&mut r).map_err(bad)?;
                ids.push(AgentIdentity {
                    blob,
                    comment: String::from_utf8_lossy(&comment).into_owned(),
                });
            }
            AgentReply::Identities(ids)
        }
        _ => return Err(Error::AgentReply),
    };
    if !r.is_finished() {
        return Err(Error::AgentReply);
    }
    Ok(reply)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{CertRequest, KeyAlgorithm};
    use ssh_key::Mpint;

    fn cert_for(key: &EphemeralKey) -> OpkCert {
        OpkCert::issue(
            &CertRequest {
                key_id: "a@example.com".into(),
                principals: vec!["opkssh-wildcard".into()],
                pk_token: "x".into(),
                access_token: None,
            },
            key,
        )
        .unwrap()
    }

    #[test]
    fn add_identity_layout() {
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
            let key = EphemeralKey::generate(alg).unwrap();
            let cert = cert_for(&key);
            let msg = add_identity(&key, &cert, "c", Some(60)).unwrap();
            let len = u32::from_be_bytes(msg[..4].try_into().unwrap()) as usize;
            assert_eq!(len, msg.len() - 4);
            let mut r = &msg[4..];
            assert_eq!(u8::decode(&mut r).unwrap(), SSH_AGENTC_ADD_ID_CONSTRAINED);
            assert_eq!(String::decode(&mut r).unwrap(), cert.cert_type());
            assert_eq!(Vec::<u8>::decode(&mut r).unwrap(), cert.as_bytes());
            match alg {
                KeyAlgorithm::EcdsaP256 => {
                    let m = Mpint::decode(&mut r).unwrap();
                    let bytes = m.as_positive_bytes().unwrap();
                    let mut padded = [0u8; 32];
                    padded[32 - bytes.len()..].copy_from_slice(bytes);
                    assert_eq!(padded, *key.secret_bytes());
                }
                KeyAlgorithm::Ed25519 => {
                    let public = Vec::<u8>::decode(&mut r).unwrap();
                    let both = Vec::<u8>::decode(&mut r).unwrap();
                    assert_eq!(&both[..32], key.secret_bytes().as_slice());
                    assert_eq!(&both[32..], public.as_slice());
                }
            }
            assert_eq!(String::decode(&mut r).unwrap(), "c");
            assert_eq!(u8::decode(&mut r).unwrap(), SSH_AGENT_CONSTRAIN_LIFETIME);
            assert_eq!(u32::decode(&mut r).unwrap(), 60);
            assert!(r.is_finished());
            let plain = add_identity(&key, &cert, "c", None).unwrap();
            assert_eq!(plain[4], SSH_AGENTC_ADD_IDENTITY);
            assert_eq!(plain.len(), msg.len() - 5);
        }
        // Agrees with ssh-encoding's mpint for leading zeros and a set top bit.
        for n in [&[0u8, 0, 0x7f, 1][..], &[0x80, 0], &[0, 0], &[]] {
            let mut ours = Vec::new();
            put_positive_mpint(&mut ours, n);
            let mut theirs = Vec::new();
            Mpint::from_positive_bytes(n).encode(&mut theirs).unwrap();
            assert_eq!(ours, theirs, "{n:?}");
        }
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply(&[6]).unwrap(), AgentReply::Success);
        assert_eq!(parse_reply(&[5]).unwrap(), AgentReply::Failure);
        let mut answer = vec![12, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa, 0xbb, 0, 0, 0, 1, b'k'];
        assert_eq!(
            parse_reply(&answer).unwrap(),
            AgentReply::Identities(vec![AgentIdentity {
                blob: vec![0xaa, 0xbb],
                comment: "k".into()
            }])
        );
        answer.push(0);
        assert!(matches!(parse_reply(&answer), Err(Error::AgentReply)));
        for bad in [
            &[][..],
            &[12, 0, 0, 0, 1],
            &[12, 0xff, 0xff, 0xff, 0xff],
            &[99],
        ] {
            assert!(
                matches!(parse_reply(bad), Err(Error::AgentReply)),
                "{bad:?}"
            );
        }
        assert_eq!(remove_identity(&[1, 2]), [0, 0, 0, 7, 18, 0, 0, 0, 2, 1, 2]);
        assert_eq!(request_identities(), [0, 0, 0, 1, 11]);
    }
}
