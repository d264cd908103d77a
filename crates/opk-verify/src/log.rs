//! The verify log, in the place and line shape of opkssh's (`/var/log/opkssh.log`, Go `log`
//! timestamps), so existing log collection keeps working, and the optional JSON audit record
//! beside it ([`crate::audit`]). Never stdout: sshd reads stdout.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::audit::{AuditFile, Subject};

/// Appends lines to the log file, or to stderr when it cannot be opened; with
/// [`Log::audit_to`], also one JSON record per decision.
pub struct Log {
    file: Option<File>,
    audit: Option<(std::path::PathBuf, AuditFile)>,
    /// What verify has learned about the attempt so far, for the audit record; shared with
    /// [`Log::try_clone`]'s copies, so a deadline's record names what was known by then.
    subject: Arc<Mutex<Subject>>,
}

impl Log {
    /// Opens `path` for appending (created 0660, as the opkssh installer makes it).
    /// On failure, says so once on stderr and logs to stderr from then on.
    pub fn open(path: Option<&Path>) -> Self {
        let file = path.and_then(|p| {
            match OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o660)
                // A FIFO with no reader fails (ENXIO) instead of blocking verify (R-3).
                .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
                .open(p)
            {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!(
                        "opk: cannot open log file {}: {e}; logging to stderr",
                        p.display()
                    );
                    None
                }
            }
        });
        Self {
            file,
            audit: None,
            subject: Arc::default(),
        }
    }

    /// What verify has learned about the attempt so far (for the audit record).
    pub fn subject(&self) -> MutexGuard<'_, Subject> {
        // A panic elsewhere cannot leave a Subject half-written: its fields are set one by one.
        self.subject.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Another handle on the same log, audit file and subject, for a thread that must be able
    /// to record a decision while this one is stuck (the verify deadline). A handle whose file
    /// cannot be duplicated logs to stderr.
    pub fn try_clone(&self) -> Self {
        Self {
            file: self.file.as_ref().and_then(|f| f.try_clone().ok()),
            audit: self
                .audit
                .as_ref()
                .and_then(|(p, a)| a.try_clone().ok().map(|a| (p.clone(), a))),
            subject: Arc::clone(&self.subject),
        }
    }

    /// Also writes the audit record to `path` (appending; created 0640). When it cannot be
    /// opened, says so in the log.
    pub fn audit_to(&mut self, path: &Path) {
        match AuditFile::open(path) {
            Ok(f) => self.audit = Some((path.to_owned(), f)),
            Err(e) => self.line(&format!(
                "cannot open audit log {}: {e}; decisions are only in this log",
                path.display()
            )),
        }
    }

    /// Records the decision for `principal`: `Ok(rule)` allowed by that rule, `Err(reason)`
    /// denied. Writes the audit record, if one is kept.
    pub fn decision(&mut self, principal: &str, outcome: Result<&str, &str>) {
        let Some((path, audit)) = &mut self.audit else {
            return;
        };
        let subject = self
            .subject
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let record = crate::audit::record(SystemTime::now(), principal, &subject, outcome);
        if let Err(e) = audit.append(&record) {
            let msg = format!("cannot write audit log {}: {e}", path.display());
            self.line(&msg);
        }
    }

    /// Writes one line, prefixed like Go's `log` (`2006/01/02 15:04:05`, UTC).
    pub fn line(&mut self, message: &str) {
        let line = format!(
            "{} {}\n",
            timestamp(SystemTime::now()),
            escape_controls(message)
        );
        let written = self
            .file
            .as_mut()
            .is_some_and(|f| f.write_all(line.as_bytes()).is_ok());
        if !written {
            eprint!("{line}");
        }
    }
}

/// `text` safe for a log line or a terminal: control characters (C0, DEL, C1: a newline that would
/// forge a second log line, `\r` or an ANSI escape that would rewrite the terminal) and the
/// invisible bidirectional and zero-width formatting characters (which can make a line read
/// differently than it is) are written as `\n`, `\r`, `\t` or `\u{..}`. Token claims and sshd's
/// pre-authentication `%t`/`%k` reach the log, so every sink goes through this.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hidden) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

fn timestamp(t: SystemTime) -> String {
    opk_pktoken::log_timestamp(unix_secs(t))
}

/// `2006-01-02T15:04:05Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss) = utc(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn utc(t: SystemTime) -> (i64, u32, u32, u64, u64, u64) {
    opk_pktoken::utc_fields(unix_secs(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(escape_controls("plain ✓ text"), "plain ✓ text");
        assert_eq!(
            escape_controls("a\nforged 2026/01/01 allowed\r\x1b[2K\x7f\u{85}\u{202e}z\tend"),
            "a\\nforged 2026/01/01 allowed\\r\\u{1b}[2K\\u{7f}\\u{85}\\u{202e}z\\tend"
        );
    }

    #[test]
    fn dates() {
        use opk_pktoken::civil_from_days;
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(
            timestamp(UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000)),
            "2026/11/18 11:06:40"
        );
    }
}
