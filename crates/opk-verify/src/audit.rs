//! The audit record: one JSON object per line for each verify decision, beside opkssh's text
//! log, so that a fleet can ship decisions to a SIEM without parsing prose. serde_json escapes
//! every value, so claims chosen by a token holder cannot forge or split records.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::SystemTime;

use base64ct::{Base64Unpadded, Encoding as _};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// What verify learned about the attempt before it decided (each field `None` until known).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Subject {
    /// The token's `iss`.
    pub issuer: Option<String>,
    /// The token's `sub`.
    pub sub: Option<String>,
    /// The token's `email`.
    pub email: Option<String>,
    /// `SHA256:<base64>` of the offered key: the certified key of a certificate (what
    /// `ssh-keygen -l` and sshd's log show), else of the blob offered.
    pub key_fingerprint: Option<String>,
    /// Whether the PK Token passed verification (claims above are as claimed until then).
    pub token_verified: bool,
}

/// OpenSSH's fingerprint form of a key blob.
pub(crate) fn fingerprint(blob: &[u8]) -> String {
    format!(
        "SHA256:{}",
        Base64Unpadded::encode_string(&Sha256::digest(blob))
    )
}

/// The audit file, appended to one line per decision.
#[derive(Debug)]
pub(crate) struct AuditFile {
    file: File,
}

impl AuditFile {
    /// Opens `path` for appending (created 0640).
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            // A FIFO with no reader fails (ENXIO) instead of blocking verify.
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path)?;
        Ok(Self { file })
    }

    /// Another descriptor for the same file.
    pub(crate) fn try_clone(&self) -> std::io::Result<Self> {
        Ok(Self {
            file: self.file.try_clone()?,
        })
    }

    /// Appends one record in a single write (O_APPEND keeps concurrent verifies' lines whole).
    pub(crate) fn append(&mut self, record: &Value) -> std::io::Result<()> {
        let mut line = record.to_string();
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }
}

/// The record for one decision: `allowed` with the rule that matched, or denied with the reason.
pub(crate) fn record(
    time: SystemTime,
    principal: &str,
    subject: &Subject,
    outcome: Result<&str, &str>,
) -> Value {
    let (decision, rule, reason) = match outcome {
        Ok(rule) => ("allow", Some(rule), None),
        Err(reason) => ("deny", None, Some(reason)),
    };
    json!({
        "time": crate::log::rfc3339(time),
        "principal": principal,
        "issuer": subject.issuer,
        "sub": subject.sub,
        "email": subject.email,
        "key_fingerprint": subject.key_fingerprint,
        "token_verified": subject.token_verified,
        "decision": decision,
        "rule": rule,
        "reason": reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn records_are_one_escaped_json_line() {
        let subject = Subject {
            issuer: Some("https://op.example".into()),
            sub: Some("s\n\"x\"".into()),
            email: Some("a@b\u{2028}c".into()),
            key_fingerprint: Some(fingerprint(b"blob")),
            token_verified: true,
        };
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let r = record(t, "root\"", &subject, Err("denied: x\ny"));
        let line = r.to_string();
        assert!(!line.contains('\n'), "{line}");
        let back: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(back["time"], "2026-11-18T11:06:40Z");
        assert_eq!(back["sub"], "s\n\"x\"");
        assert_eq!(back["principal"], "root\"");
        assert_eq!(back["decision"], "deny");
        assert_eq!(back["reason"], "denied: x\ny");
        assert_eq!(back["rule"], Value::Null);
        let ok = record(t, "root", &Subject::default(), Ok("auth_id line 3"));
        assert_eq!(ok["decision"], "allow");
        assert_eq!(ok["rule"], "auth_id line 3");
        assert_eq!(ok["issuer"], Value::Null);
    }

    #[test]
    fn fingerprints_match_openssh() {
        // `ssh-keygen -lf` of this Ed25519 key prints this fingerprint.
        let blob = base64ct::Base64::decode_vec(
            "AAAAC3NzaC1lZDI1NTE5AAAAIBxCN4w2PPkQMjeOb4p1D1I3aKh1lqL4fqz1Ib8cKjKT",
        )
        .expect("b64");
        assert_eq!(
            fingerprint(&blob),
            "SHA256:O4PpR+DF55iZ2SUPnu0ESnHaHmHPCTp564wyTGjyqYM"
        );
    }
}
