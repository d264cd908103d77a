//! Trust anchors: the system CA bundle plus `SSL_CERT_FILE`.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Error;

/// Where Linux distributions and BSDs keep their PEM bundle; the first readable one wins.
pub(crate) const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Arch, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // macOS, OpenBSD, Alpine
];

/// A CA file bigger than this is not a CA bundle (Mozilla's is ~220 KiB).
const MAX_BUNDLE: u64 = 16 * 1024 * 1024;

/// Loads the roots: the first system bundle that yields certificates, then every certificate in
/// `extra` (the `SSL_CERT_FILE` value). A missing system bundle is not an error here; HTTPS
/// requests fail later with [`Error::NoRootCerts`] so that loopback http still works.
pub(crate) fn load_roots(
    system: &[&Path],
    extra: Option<&Path>,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut roots = Vec::new();
    for path in system {
        if let Ok(certs) = read_certs(path)
            && !certs.is_empty()
        {
            roots.extend(certs);
            break;
        }
    }
    if let Some(path) = extra {
        let certs = read_certs(path).map_err(|error| Error::CaFile {
            path: path.to_path_buf(),
            error,
        })?;
        if certs.is_empty() {
            return Err(Error::CaFileEmpty {
                path: path.to_path_buf(),
            });
        }
        roots.extend(certs);
    }
    Ok(roots)
}

fn read_certs(path: &Path) -> std::io::Result<Vec<CertificateDer<'static>>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut pem = Vec::new();
    file.take(MAX_BUNDLE + 1).read_to_end(&mut pem)?;
    if pem.len() as u64 > MAX_BUNDLE {
        return Err(std::io::Error::other("file is larger than 16 MiB"));
    }
    // Like Go's AppendCertsFromPEM: skip sections that do not parse rather than lose them all.
    Ok(CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT_PEM: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBhTCCASugAwIBAgIUBm3j\n-----END CERTIFICATE-----\n";

    fn write(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        path
    }

    #[test]
    fn first_readable_system_bundle_plus_extra() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(dir.path(), "a.pem", CERT_PEM);
        let b = write(dir.path(), "b.pem", &CERT_PEM.repeat(3));
        let extra = write(dir.path(), "extra.pem", &CERT_PEM.repeat(2));
        let missing = dir.path().join("missing.pem");
        let roots = load_roots(&[&missing, &b, &a], Some(&extra)).expect("roots");
        assert_eq!(roots.len(), 3 + 2);
        let roots = load_roots(&[&a, &b], None).expect("roots");
        assert_eq!(roots.len(), 1);
    }

    #[test]
    fn no_system_bundle_is_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = write(dir.path(), "empty.pem", "not pem\n");
        let roots = load_roots(&[&dir.path().join("nope"), &empty], None).expect("roots");
        assert!(roots.is_empty());
    }

    #[test]
    fn unreadable_or_empty_extra_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("custom-ca.pem");
        let err = load_roots(&[], Some(&missing)).expect_err("missing extra must fail");
        assert!(matches!(err, Error::CaFile { .. }));
        assert!(err.to_string().contains("custom-ca.pem"), "{err}");
        assert!(err.to_string().contains("SSL_CERT_FILE"), "{err}");

        let junk = write(dir.path(), "junk.pem", "hello\n");
        let err = load_roots(&[], Some(&junk)).expect_err("empty extra must fail");
        assert!(matches!(err, Error::CaFileEmpty { .. }));
        assert!(err.to_string().contains("junk.pem"), "{err}");
    }
}
