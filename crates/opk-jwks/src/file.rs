//! The cache file: naming, parsing (untrusted: capped, never panics) and atomic replacement.

use std::io::{self, Read};
use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding};
use opk_pktoken::Jwks;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest cache file read; a JWKS response is itself capped at 1 MiB.
pub(crate) const MAX_CACHE_FILE: u64 = 1024 * 1024;

/// On-disk form: `{"issuer": ..., "fetched_at": <unix secs>, "jwks": {...}}`, plus our own
/// optional `failed_at`, the time of the last failed re-fetch (for back-off during outages), and
/// `userinfo_endpoint`, from the same discovery as the keys.
/// `jwks` holds the usable keys only, as [`Jwks::to_json`] writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) issuer: String,
    pub(crate) fetched_at: u64,
    pub(crate) jwks: Jwks,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) failed_at: Option<u64>,
    /// The discovery's `userinfo_endpoint` (our own, optional: older records lack it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) userinfo_endpoint: Option<String>,
}

/// `base64url(SHA-256(issuer))`: fixed length, filesystem-safe, no issuer text in paths.
pub(crate) fn base_name(issuer: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(issuer.as_bytes()))
}

/// Why a cache file is not used (it is then replaced).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unusable {
    /// It could not be opened or read.
    #[error("{0}")]
    Io(io::Error),
    /// Someone other than root or us could have written it; opk-files says who.
    #[error("the file is {0}")]
    Untrusted(opk_files::TrustProblem),
    /// A FIFO, device, directory or symlink where the file should be (never waited on: R-3).
    #[error("it is {0}, not a regular file")]
    NotRegular(opk_files::FileKind),
    #[error("it is larger than 1 MiB")]
    TooLarge,
    /// Not JSON of the record's shape (a `jwks` without `keys` included).
    #[error("it is not a complete cache record")]
    NotARecord,
    #[error("it belongs to a different issuer")]
    OtherIssuer,
}

/// Parses a cache file for `issuer`.
pub(crate) fn parse(data: &[u8], issuer: &str) -> Result<Entry, Unusable> {
    if data.len() as u64 > MAX_CACHE_FILE {
        return Err(Unusable::TooLarge);
    }
    // A `jwks` without a `keys` array fails here too: Jwks deserializes only from a JWKS.
    let entry: Entry = serde_json::from_slice(data).map_err(|_| Unusable::NotARecord)?;
    if entry.issuer != issuer {
        return Err(Unusable::OtherIssuer);
    }
    Ok(entry)
}

/// Reads and parses the cache file. `Ok(None)`: no file.
pub(crate) fn read(path: &Path, issuer: &str) -> Result<Option<Entry>, Unusable> {
    // Cache files are only ever renamed into place, so a symlink is as foreign as a FIFO.
    let (file, meta) = match opk_files::open_regular(path, opk_files::Symlinks::Refuse) {
        Ok(opened) => opened,
        Err(opk_files::OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(opk_files::OpenError::Io(e)) => return Err(Unusable::Io(e)),
        Err(opk_files::OpenError::NotRegular(kind)) => return Err(Unusable::NotRegular(kind)),
    };
    if let Some(why) = opk_files::trust_problem(&meta) {
        return Err(Unusable::Untrusted(why));
    }
    let mut data = Vec::new();
    file.take(MAX_CACHE_FILE + 1)
        .read_to_end(&mut data)
        .map_err(Unusable::Io)?;
    parse(&data, issuer).map(Some)
}

/// Creates the cache directory (0755: the content is public keys) if missing.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o755);
    builder.create(dir)
}

/// Serialises `entry` and atomically replaces `path` with it (readers see the old or the new
/// file, never a mix).
pub(crate) fn write_atomic(path: &Path, entry: &Entry) -> io::Result<()> {
    let data = serde_json::to_vec(entry).map_err(io::Error::other)?;
    if data.len() as u64 > MAX_CACHE_FILE {
        return Err(io::Error::other("record would exceed 1 MiB"));
    }
    opk_files::write_atomic(path, &data, 0o644).map_err(|e| e.source)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://issuer.example";

    /// An Ed25519 public key (RFC 8037 A.2), as a JWK member.
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn record(issuer: &str, fetched_at: u64) -> String {
        format!(
            r#"{{"issuer":"{issuer}","fetched_at":{fetched_at},"jwks":{{"keys":[{{"kid":"k1","kty":"OKP","crv":"Ed25519","x":"{X}"}}]}}}}"#
        )
    }

    #[test]
    fn name_is_base64url_sha256() {
        let n = base_name(ISS);
        assert_eq!(n.len(), 43);
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(n, base_name("https://issuer.example/"));
        // Known answer: SHA-256("") = e3b0c442...; base64url of it.
        assert_eq!(base_name(""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }

    #[test]
    fn parse_accepts_a_good_record() {
        let e = parse(record(ISS, 42).as_bytes(), ISS).expect("good");
        assert_eq!(e.fetched_at, 42);
        assert_eq!(e.jwks.keys()[0].kid(), Some("k1"));
        assert_eq!(e.failed_at, None);
    }

    #[test]
    fn parse_rejects_bad_records() {
        let good = record(ISS, 42);
        let cases: Vec<String> = vec![
            String::new(),
            "null".into(),
            "[]".into(),
            good[..good.len() - 1].to_owned(),
            record("https://other.example", 42),
            record("https://issuer.example/", 42),
            r#"{"issuer":"https://issuer.example","jwks":{"keys":[]}}"#.into(),
            r#"{"issuer":"https://issuer.example","fetched_at":1}"#.into(),
            r#"{"issuer":"https://issuer.example","fetched_at":-1,"jwks":{"keys":[]}}"#.into(),
            r#"{"issuer":"https://issuer.example","fetched_at":"1","jwks":{"keys":[]}}"#.into(),
            r#"{"issuer":"https://issuer.example","fetched_at":1,"jwks":{"keys":{}}}"#.into(),
            r#"{"issuer":"https://issuer.example","fetched_at":1,"jwks":[]}"#.into(),
            r#"{"issuer":7,"fetched_at":1,"jwks":{"keys":[]}}"#.into(),
        ];
        for c in &cases {
            assert!(parse(c.as_bytes(), ISS).is_err(), "{c:?}");
        }
        let mut huge = record(ISS, 1).into_bytes();
        huge.extend(std::iter::repeat_n(b' ', MAX_CACHE_FILE as usize));
        assert!(matches!(parse(&huge, ISS), Err(Unusable::TooLarge)));
        assert_eq!(Unusable::TooLarge.to_string(), "it is larger than 1 MiB");
    }

    /// Cheap deterministic fuzzing: truncations, byte flips and random bytes never panic, and
    /// whatever parses still belongs to the requested issuer and holds at most its one key.
    #[test]
    fn fuzz_parse_never_panics() {
        let good = record(ISS, 1_700_000_000).into_bytes();
        let check = |data: &[u8]| {
            if let Ok(e) = parse(data, ISS) {
                assert_eq!(e.issuer, ISS);
                assert!(e.jwks.keys().len() <= 1);
            }
            crate::fuzzing::fuzz_cache_file(data);
        };
        for i in 0..=good.len() {
            check(&good[..i]);
        }
        let mut rng = opk_testkit::rng::seeded(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let mut d = good.clone();
            for _ in 0..1 + rng.usize(..4) {
                let i = rng.usize(..d.len());
                d[i] = rng.u8(..);
            }
            check(&d);
        }
        for _ in 0..2_000 {
            let d = opk_testkit::rng::garbage(&mut rng, 64);
            check(&d);
        }
        // Deep nesting must not overflow the stack (serde_json limits recursion).
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        check(deep.as_bytes());
    }

    #[test]
    fn write_then_read_round_trips_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(format!("{}.json", base_name(ISS)));
        assert!(matches!(read(&path, ISS), Ok(None)));
        let entry = parse(record(ISS, 7).as_bytes(), ISS).expect("good");
        write_atomic(&path, &entry).expect("write");
        let back = read(&path, ISS).expect("read").expect("present");
        assert_eq!(back.fetched_at, 7);
        assert_eq!(back.jwks, entry.jwks);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077 & !0o044, 0, "{mode:o}");
        }
    }
}
