//! Helpers shared by the integration tests: a minimal, independent SSH wire reader (so tests do
//! not trust the code under test to describe its own output) and byte surgery.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use base64ct::{Base64, Encoding as _};

pub fn b64_decode(s: &str) -> Vec<u8> {
    Base64::decode_vec(s).expect("test input is valid base64")
}

pub fn b64_encode(b: &[u8]) -> String {
    Base64::encode_string(b)
}

/// Reader over SSH wire data (RFC 4251 section 5).
pub struct Wire<'a>(pub &'a [u8]);

impl<'a> Wire<'a> {
    pub fn u32(&mut self) -> u32 {
        let (h, t) = self.0.split_at(4);
        self.0 = t;
        u32::from_be_bytes(h.try_into().unwrap())
    }
    pub fn u64(&mut self) -> u64 {
        let (h, t) = self.0.split_at(8);
        self.0 = t;
        u64::from_be_bytes(h.try_into().unwrap())
    }
    pub fn string(&mut self) -> &'a [u8] {
        let n = self.u32() as usize;
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        h
    }
}

/// The fields of a certificate blob, decoded independently of ssh-key.
#[derive(Debug)]
pub struct RawCert {
    pub cert_type: String,
    pub nonce: Vec<u8>,
    pub serial: u64,
    pub kind: u32,
    pub key_id: String,
    pub principals: Vec<String>,
    pub valid_after: u64,
    pub valid_before: u64,
    pub critical_options: Vec<u8>,
    /// Extensions in wire order: (name, raw data field).
    pub extensions: Vec<(String, Vec<u8>)>,
    pub signature_key: Vec<u8>,
    pub signature_alg: String,
}

pub fn decode_cert(blob: &[u8]) -> RawCert {
    let mut w = Wire(blob);
    let cert_type = String::from_utf8(w.string().to_vec()).unwrap();
    let nonce = w.string().to_vec();
    if cert_type.starts_with("ecdsa") {
        assert_eq!(w.string(), b"nistp256");
        assert_eq!(w.string().len(), 65);
    } else {
        assert_eq!(w.string().len(), 32);
    }
    let serial = w.u64();
    let kind = w.u32();
    let key_id = String::from_utf8(w.string().to_vec()).unwrap();
    let mut pw = Wire(w.string());
    let mut principals = Vec::new();
    while !pw.0.is_empty() {
        principals.push(String::from_utf8(pw.string().to_vec()).unwrap());
    }
    let valid_after = w.u64();
    let valid_before = w.u64();
    let critical_options = w.string().to_vec();
    let mut ew = Wire(w.string());
    let mut extensions = Vec::new();
    while !ew.0.is_empty() {
        let name = String::from_utf8(ew.string().to_vec()).unwrap();
        extensions.push((name, ew.string().to_vec()));
    }
    assert!(w.string().is_empty(), "reserved must be empty");
    let signature_key = w.string().to_vec();
    let mut sw = Wire(w.string());
    let signature_alg = String::from_utf8(sw.string().to_vec()).unwrap();
    assert!(w.0.is_empty(), "no trailing bytes");
    RawCert {
        cert_type,
        nonce,
        serial,
        kind,
        key_id,
        principals,
        valid_after,
        valid_before,
        critical_options,
        extensions,
        signature_key,
        signature_alg,
    }
}

/// Position of the first occurrence of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "opk-sshcert-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
