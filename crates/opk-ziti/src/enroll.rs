//! One-time-token enrolment (`opk ziti enroll <jwt>`): turn the JWT that `ziti edge create
//! identity -o FILE` writes into an identity file.
//!
//! 1. The token's claims say where the controller is (`iss`), the one-time token (`jti`), the
//!    identity (`sub`) and the method (`em`, only `ott` here).
//! 2. The controller signs enrolment tokens with the key of its TLS server certificate, so the
//!    certificate the controller presents must verify the token's signature: the controller we
//!    reach is the one that issued the token, before any of its answers is trusted.
//! 3. The network's CA bundle (`/.well-known/est/cacerts`, PKCS#7) is fetched trusting only the
//!    chain just checked, and from then on is the only trust anchor.
//! 4. A fresh P-256 key and a certificate request go to `/enroll?method=ott`; the answer is the
//!    identity's certificate chain.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use rustls_pki_types::CertificateDer;
use tokio_rustls::rustls;

use crate::{Error, Identity, der};

/// Cap on the token file and on the CA bundle.
const MAX_TOKEN: usize = 64 * 1024;

/// The claims of an enrolment token that enrolment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// The controller, e.g. `https://127.0.0.1:1280`.
    pub issuer: String,
    /// The one-time token.
    pub token: String,
    /// The identity's id.
    pub identity_id: String,
    /// The enrolment method (`ott`, `ottca`, `ca`, `updb`).
    pub method: String,
    /// Expiry (Unix seconds), if the token says.
    pub expires_at: Option<u64>,
    alg: String,
    signing_input: String,
    signature: Vec<u8>,
}

impl EnrollmentToken {
    /// Parses the compact JWT (surrounding whitespace allowed). Its signature is checked by
    /// [`enroll`], against the controller's certificate.
    pub fn parse(text: &str) -> Result<Self, Error> {
        #[derive(serde::Deserialize)]
        struct Header {
            alg: String,
        }
        #[derive(serde::Deserialize)]
        struct Claims {
            iss: String,
            jti: String,
            sub: String,
            em: String,
            exp: Option<u64>,
        }
        let bad = |problem| Error::EnrollmentToken { problem };
        let text = text.trim();
        let mut parts = text.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("it is not a JWT (three base64url parts)"));
        };
        let json = |part: &str| {
            Base64UrlUnpadded::decode_vec(part).map_err(|_| bad("a part is not base64url"))
        };
        let header: Header = serde_json::from_slice(&json(h)?)
            .map_err(|_| bad("its header is not the JSON of a JWT"))?;
        let claims: Claims = serde_json::from_slice(&json(c)?)
            .map_err(|_| bad("it lacks the claims iss, jti, sub and em"))?;
        if !claims.iss.starts_with("https://") {
            return Err(bad("its issuer is not an https:// controller URL"));
        }
        Ok(Self {
            issuer: claims.iss.trim_end_matches('/').to_owned(),
            token: claims.jti,
            identity_id: claims.sub,
            method: claims.em,
            expires_at: claims.exp,
            alg: header.alg,
            signing_input: format!("{h}.{c}"),
            signature: json(s)?,
        })
    }

    /// Whether the signature verifies with the public key of DER certificate `cert`.
    fn signed_by(&self, cert: &[u8]) -> bool {
        let Some(key) = der::certificate_public_key(cert) else {
            return false;
        };
        let alg: &dyn signature::VerificationAlgorithm = match (self.alg.as_str(), key.curve) {
            ("ES256", Some(der::OID_P256)) => &signature::ECDSA_P256_SHA256_FIXED,
            ("ES384", Some(der::OID_P384)) => &signature::ECDSA_P384_SHA384_FIXED,
            ("RS256", _) => &signature::RSA_PKCS1_2048_8192_SHA256,
            ("RS384", _) => &signature::RSA_PKCS1_2048_8192_SHA384,
            ("RS512", _) => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => return false,
        };
        let expected = if self.alg.starts_with("ES") {
            der::OID_EC_PUBLIC_KEY
        } else {
            der::OID_RSA
        };
        key.algorithm == expected
            && signature::UnparsedPublicKey::new(alg, key.key)
                .verify(self.signing_input.as_bytes(), &self.signature)
                .is_ok()
    }
}

/// What [`enroll_to_file`] made.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The identity's id.
    pub identity_id: String,
    /// The controller.
    pub controller: String,
}

/// Enrols with the token in file `jwt` and writes the identity file `out` atomically, mode 0600
/// (it holds the private key).
pub fn enroll_to_file(jwt: &Path, out: &Path, timeout: Duration) -> Result<Enrolled, Error> {
    let io = |source| Error::EnrollmentRead {
        path: jwt.to_owned(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(jwt)
        .map_err(io)?
        .take(MAX_TOKEN as u64)
        .read_to_string(&mut text)
        .map_err(io)?;
    let token = EnrollmentToken::parse(&text)?;
    let json = enroll(&token, timeout)?;
    // Parse what is about to be written, so a file that would not load is never written.
    Identity::parse(out, &json)?;
    opk_files::write_atomic(out, json.as_bytes(), 0o600)?;
    Ok(Enrolled {
        identity_id: token.identity_id,
        controller: token.issuer,
    })
}

/// Enrols: checks the token against the controller, fetches the CA bundle, sends a certificate
/// request; returns the identity file's JSON.
pub fn enroll(token: &EnrollmentToken, timeout: Duration) -> Result<String, Error> {
    if token.method != "ott" {
        return Err(Error::EnrollmentMethod(token.method.clone()));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if token.expires_at.is_some_and(|exp| exp <= now) {
        return Err(Error::EnrollmentExpired);
    }
    let chain = server_chain(&token.issuer, timeout)?;
    if !chain.first().is_some_and(|leaf| token.signed_by(leaf)) {
        return Err(Error::EnrollmentSignature {
            controller: token.issuer.clone(),
        });
    }
    // The chain as presented (its issuers included) anchors the one request for the CA bundle.
    let pinned = crate::controller::agent(chain, None, timeout);
    let (ca_pem, roots) = ca_bundle(&pinned, &token.issuer)?;
    let (key_pem, csr) = key_and_request(&token.identity_id)?;

    #[derive(serde::Deserialize)]
    struct Certs {
        cert: String,
    }
    let agent = crate::controller::agent(roots, None, timeout);
    let url = format!("{}/edge/client/v1/enroll", token.issuer);
    let resp = agent
        .post(&url)
        .query("method", "ott")
        .query("token", &token.token)
        .header("Accept", "application/json")
        .content_type("application/x-pem-file")
        .send(csr.as_str());
    let certs: Certs = crate::controller::decode_data(&url, resp)?;
    let file = serde_json::json!({
        "ztAPI": format!("{}/edge/client/v1", token.issuer),
        "id": {
            "cert": format!("pem:{}", certs.cert),
            "key": format!("pem:{}", key_pem.as_str()),
            "ca": format!("pem:{ca_pem}"),
        },
    });
    Ok(serde_json::to_string_pretty(&file).unwrap_or_default() + "\n")
}

/// The network's CA bundle from `controller`'s `/.well-known/est/cacerts` (base64 PKCS#7), as
/// PEM and as DER roots; `agent` decides whom to trust for that request.
pub(crate) fn ca_bundle(
    agent: &ureq::Agent,
    controller: &str,
) -> Result<(String, Vec<CertificateDer<'static>>), Error> {
    let ca_url = format!("{controller}/.well-known/est/cacerts");
    let body = crate::controller::text(&ca_url, agent.get(&ca_url).call(), MAX_TOKEN as u64)?;
    let bundle_error = || Error::EnrollmentCa {
        url: ca_url.clone(),
    };
    let compact: String = body.split_whitespace().collect();
    let pkcs7 = Base64::decode_vec(&compact).map_err(|_| bundle_error())?;
    let cas = der::pkcs7_certificates(&pkcs7).ok_or_else(bundle_error)?;
    let ca_pem: String = cas.iter().map(|c| pem("CERTIFICATE", c)).collect();
    let roots = cas
        .iter()
        .map(|c| CertificateDer::from(c.to_vec()))
        .collect();
    Ok((ca_pem, roots))
}

/// A fresh P-256 key (PKCS#8 PEM) and a certificate request for it with subject
/// `CN=common_name` (PEM).
pub(crate) fn key_and_request(
    common_name: &str,
) -> Result<(zeroize::Zeroizing<String>, String), Error> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| crate::ProtocolError::Random)?;
    let pair = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .map_err(|_| Error::HostKey)?;
    let info = der::p256_request_info(common_name, pair.public_key().as_ref());
    let sig = pair.sign(&rng, &info).map_err(|_| Error::HostKey)?;
    let csr = pem(
        "CERTIFICATE REQUEST",
        &der::p256_request(&info, sig.as_ref()),
    );
    let key_pem = zeroize::Zeroizing::new(pem("PRIVATE KEY", pkcs8.as_ref()));
    Ok((key_pem, csr))
}

/// PEM text of `der` with `label`.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The certificate chain the TLS server at `url` presents, accepted unverified: it is checked
/// against the token's signature next, which is the point of fetching it.
fn server_chain(url: &str, timeout: Duration) -> Result<Vec<CertificateDer<'static>>, Error> {
    let authority = url
        .strip_prefix("https://")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    let io = |source| Error::ControllerTls {
        address: authority.to_owned(),
        source,
    };
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => authority,
    };
    let address = if host.len() == authority.len() {
        format!("{authority}:443")
    } else {
        authority.to_owned()
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a host name",
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        chain: Mutex::new(Vec::new()),
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::Tls { source })?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|source| Error::Tls { source })?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&address)
        .map_err(io)?
        .next()
        .ok_or_else(|| io(std::io::ErrorKind::NotFound.into()))?;
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    tcp.set_read_timeout(Some(timeout)).map_err(io)?;
    tcp.set_write_timeout(Some(timeout)).map_err(io)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(io)?;
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
    let _ = tcp.flush();
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    Ok(chain)
}

/// Accepts any server certificate and keeps the chain (handshake signatures are still checked,
/// so the server holds the key of the certificate it shows).
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            Base64UrlUnpadded::encode_string(header.as_bytes()),
            Base64UrlUnpadded::encode_string(claims.as_bytes())
        )
    }

    #[test]
    fn tokens_parse_or_say_what_is_wrong() {
        let t = EnrollmentToken::parse(&format!(
            " {}\n",
            jwt(
                r#"{"alg":"ES256","kid":"ab"}"#,
                r#"{"iss":"https://127.0.0.1:1280/","jti":"t","sub":"id","em":"ott","exp":5}"#
            )
        ))
        .expect("token");
        assert_eq!(t.issuer, "https://127.0.0.1:1280");
        assert_eq!((t.token.as_str(), t.identity_id.as_str()), ("t", "id"));
        assert_eq!(t.expires_at, Some(5));
        assert!(matches!(
            enroll(&t, Duration::from_secs(1)),
            Err(Error::EnrollmentExpired)
        ));
        let e = EnrollmentToken::parse("x.y").expect_err("two parts");
        assert!(e.to_string().contains("three"), "{e}");
        let e = EnrollmentToken::parse(&jwt(
            r#"{"alg":"ES256"}"#,
            r#"{"iss":"http://c","jti":"t","sub":"id","em":"ott"}"#,
        ))
        .expect_err("http");
        assert!(e.to_string().contains("https"), "{e}");
        let t = EnrollmentToken::parse(&jwt(
            r#"{"alg":"ES256"}"#,
            r#"{"iss":"https://c","jti":"t","sub":"id","em":"updb"}"#,
        ))
        .expect("updb token");
        assert!(matches!(
            enroll(&t, Duration::from_secs(1)),
            Err(Error::EnrollmentMethod(m)) if m == "updb"
        ));
    }
}
