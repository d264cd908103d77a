//! An enrolled OpenZiti identity file (what `ziti edge enroll` or `opk ziti enroll` writes):
//!
//! ```json
//! {"ztAPI": "https://ctrl:1280/edge/client/v1",
//!  "id": {"cert": "pem:…", "key": "pem:…", "ca": "pem:…"}}
//! ```
//!
//! Each `id` value is `pem:<PEM text>`, `file://<path>` or a bare path. The `ca` bundle is the
//! network's own trust anchor, for the controller and for every edge router; system roots are
//! never used for either.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::Error;

/// Cap on the identity file and on each file it points to (a 4096-bit RSA identity with its
/// chain and CA bundle is well under 32 KiB).
const MAX_FILE: u64 = 1024 * 1024;

/// A parsed identity: where the controller is, and the credentials for mutual TLS.
pub struct Identity {
    /// Where the file was read from (for messages).
    pub path: PathBuf,
    /// The controller's edge client API base, e.g. `https://127.0.0.1:1280/edge/client/v1`.
    pub controller: String,
    cert_pem: String,
    key_pem: Zeroizing<String>,
    ca_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("path", &self.path)
            .field("controller", &self.controller)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct File {
    #[serde(rename = "ztAPI")]
    zt_api: String,
    id: Credentials,
}

#[derive(serde::Deserialize)]
struct Credentials {
    cert: String,
    key: String,
    ca: String,
}

impl Identity {
    /// Reads and checks the identity file at `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = read_capped(path)?;
        Self::parse(path, &text)
    }

    /// An identity held in memory only: `label` names it in messages (e.g. the API-session
    /// certificate of `opk zssh --oidcOnly`), `controller` is the edge client API base.
    pub fn from_pems(
        label: &str,
        controller: String,
        cert_pem: String,
        key_pem: Zeroizing<String>,
        ca_pem: String,
    ) -> Result<Self, Error> {
        let identity = Self {
            path: PathBuf::from(label),
            controller,
            cert_pem,
            key_pem,
            ca_pem,
        };
        identity.check()?;
        Ok(identity)
    }

    /// Parses identity JSON; `path` names the file in messages and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let file: File = serde_json::from_str(text).map_err(|e| Error::IdentityJson {
            path: path.to_owned(),
            line: e.line(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let value = |field: &'static str, v: &str| -> Result<String, Error> {
            if let Some(pem) = v.strip_prefix("pem:") {
                return Ok(pem.to_owned());
            }
            if v.starts_with("engine:") {
                return Err(Error::IdentityField {
                    path: path.to_owned(),
                    field,
                    problem: "hardware keys (engine:) are not supported; enroll a key file",
                });
            }
            let file = v.strip_prefix("file://").unwrap_or(v);
            read_capped(&base.join(file))
        };
        let identity = Self {
            path: path.to_owned(),
            controller: controller_base(&file.zt_api).ok_or_else(|| Error::IdentityField {
                path: path.to_owned(),
                field: "ztAPI",
                problem: "is not an https:// URL",
            })?,
            cert_pem: value("cert", &file.id.cert)?,
            key_pem: Zeroizing::new(value("key", &file.id.key)?),
            ca_pem: value("ca", &file.id.ca)?,
        };
        identity.check()?;
        Ok(identity)
    }

    /// Parses everything once, so a broken file fails when loaded, with its name.
    fn check(&self) -> Result<(), Error> {
        self.certificate_chain()?;
        self.private_key()?;
        self.ca_certificates()?;
        Ok(())
    }

    /// The identity's certificate chain, leaf first.
    pub fn certificate_chain(&self) -> Result<Vec<CertificateDer<'static>>, Error> {
        self.certs("cert", &self.cert_pem)
    }

    /// The network's CA certificates.
    pub fn ca_certificates(&self) -> Result<Vec<CertificateDer<'static>>, Error> {
        self.certs("ca", &self.ca_pem)
    }

    /// The identity's private key (PKCS#1, SEC1 or PKCS#8).
    pub fn private_key(&self) -> Result<PrivateKeyDer<'static>, Error> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|_| Error::IdentityField {
            path: self.path.clone(),
            field: "key",
            problem: "holds no PEM private key",
        })
    }

    /// The PEM texts, for HTTP clients that parse PEM themselves.
    pub(crate) fn pems(&self) -> (&str, &str, &str) {
        (&self.cert_pem, &self.key_pem, &self.ca_pem)
    }

    fn certs(&self, field: &'static str, pem: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|_| Error::IdentityField {
                path: self.path.clone(),
                field,
                problem: "holds malformed PEM",
            })?;
        if certs.is_empty() {
            return Err(Error::IdentityField {
                path: self.path.clone(),
                field,
                problem: "holds no PEM certificate",
            });
        }
        Ok(certs)
    }
}

/// A controller named on the command line (zssh's `--controllerUrl`): `host:port` or
/// `https://host:port[/…]` → its edge client API base; `None` for another scheme.
pub(crate) fn controller_url(arg: &str) -> Option<String> {
    if arg.contains("://") {
        controller_base(arg)
    } else {
        controller_base(&format!("https://{arg}"))
    }
}

/// `https://host:port[/edge/client/v1]` → `https://host:port/edge/client/v1` (older files name
/// only the controller).
fn controller_base(zt_api: &str) -> Option<String> {
    let rest = zt_api.strip_prefix("https://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("https://{host}/edge/client/v1"))
}

fn read_capped(path: &Path) -> Result<String, Error> {
    use std::io::Read as _;
    let io = |source| Error::IdentityRead {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE {
        return Err(Error::IdentityField {
            path: path.to_owned(),
            field: "file",
            problem: "is over 1 MiB",
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_urls() {
        assert_eq!(
            controller_base("https://127.0.0.1:1280/edge/client/v1").as_deref(),
            Some("https://127.0.0.1:1280/edge/client/v1")
        );
        assert_eq!(
            controller_base("https://ctrl.example:443").as_deref(),
            Some("https://ctrl.example:443/edge/client/v1")
        );
        assert_eq!(controller_base("http://ctrl:1280"), None);
        assert_eq!(controller_base("https:///x"), None);
        assert_eq!(
            controller_url("127.0.0.1:1280").as_deref(),
            Some("https://127.0.0.1:1280/edge/client/v1")
        );
        assert_eq!(
            controller_url("https://ctrl:1280/").as_deref(),
            Some("https://ctrl:1280/edge/client/v1")
        );
        assert_eq!(controller_url("http://ctrl:1280"), None);
    }

    #[test]
    fn broken_files_name_the_file_and_field() {
        let p = Path::new("/tmp/id.json");
        let e = Identity::parse(p, "{").map(|_| ()).expect_err("bad json");
        assert!(e.to_string().contains("/tmp/id.json"), "{e}");
        let e = Identity::parse(
            p,
            r#"{"ztAPI":"https://c:1/edge/client/v1","id":{"cert":"pem:x","key":"pem:y","ca":"pem:z"}}"#,
        )
        .map(|_| ())
        .expect_err("bad pem");
        assert!(e.to_string().contains("cert"), "{e}");
        let e = Identity::parse(
            p,
            r#"{"ztAPI":"https://c:1","id":{"cert":"pem:x","key":"engine:pkcs11","ca":"pem:z"}}"#,
        )
        .map(|_| ())
        .expect_err("engine");
        assert!(e.to_string().contains("engine"), "{e}");
    }
}
