//! `opk audit`: every `auth_id` row (system file and each user's `~/.opk/auth_id`) checked
//! against the providers file, with opkssh's statuses (SUCCESS, WARNING, ERROR), plus the risky
//! rows opkssh does not flag: `oidc-match-end:email:` suffixes without `@` (O-8), empty
//! identities (O-3), bare prefixes (H-2), `oidc:` rows without a value (H-3) and principals verify
//! would refuse (H-1). Reading is this module's only I/O; the verdicts are pure.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use opk_policy::{AuthId, AuthIdRow, Providers};

use crate::{Error, ServerFiles};

/// A row's verdict, as opkssh's audit names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing wrong.
    Success,
    /// Works, but is risky or unusual.
    Warning,
    /// Cannot work, or should not.
    Error,
}

impl Status {
    /// `SUCCESS`, `WARNING`, `ERROR`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }

    /// The text output's tag: `[OK]`, `[WARN]`, `[ERR]`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Success => "[OK]",
            Self::Warning => "[WARN]",
            Self::Error => "[ERR]",
        }
    }
}

/// One audited row (or a line that is not a row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReport {
    /// The verdict.
    pub status: Status,
    /// Principal, identity and issuer as read (empty for a line that did not parse).
    pub principal: String,
    /// The identity attribute.
    pub identity: String,
    /// The issuer.
    pub issuer: String,
    /// Why, in one phrase.
    pub reason: String,
    /// What to do about it.
    pub hints: Vec<String>,
    /// 1-based line in the file.
    pub line_number: usize,
}

/// One policy file's audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its rows and unparsable lines, in line order.
    pub rows: Vec<RowReport>,
    /// Why it could not be read, if it could not.
    pub error: Option<String>,
}

/// The whole audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The providers file.
    pub providers: PathBuf,
    /// Why the providers file is unusable for verify (a duplicate issuer, a bad keyword), if so.
    pub providers_error: Option<String>,
    /// The system policy.
    pub system: FileReport,
    /// Each user's home policy that exists.
    pub homes: Vec<FileReport>,
}

impl Report {
    /// The worst status anywhere (an unreadable file or an unusable providers file is an error).
    pub fn worst(&self) -> Status {
        let files = std::iter::once(&self.system).chain(&self.homes);
        let mut worst = if self.providers_error.is_some() {
            Status::Error
        } else {
            Status::Success
        };
        for f in files {
            if f.error.is_some() {
                worst = Status::Error;
            }
            for r in &f.rows {
                worst = worst.max(r.status);
            }
        }
        worst
    }

    /// opkssh's exit rule: 1 if anything is a warning or an error.
    pub fn ok(&self) -> bool {
        self.worst() == Status::Success
    }

    /// The `--json` report, with opkssh's keys.
    pub fn to_json(&self) -> Value {
        let file = |f: &FileReport| {
            json!({
                "file_path": f.path.display().to_string(),
                "error": f.error.clone().unwrap_or_default(),
                "rows": f.rows.iter().map(|r| json!({
                    "status": r.status.word(),
                    "hints": r.hints,
                    "principal": r.principal,
                    "identity_attr": r.identity,
                    "issuer": r.issuer,
                    "reason": r.reason,
                    "line_number": r.line_number,
                })).collect::<Vec<_>>(),
            })
        };
        json!({
            "ok": self.ok(),
            "providers_file": {
                "file_path": self.providers.display().to_string(),
                "error": self.providers_error.clone().unwrap_or_default(),
            },
            "system_policy": file(&self.system),
            "home_policy": self.homes.iter().map(file).collect::<Vec<_>>(),
            "opk_version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// The text report: one `[OK] SUCCESS : row (reason)` line per row, then a summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(e) = &self.providers_error {
            out.push_str(&format!("[ERR] {}: {e}\n", self.providers.display()));
        }
        let mut counts = [0usize; 3];
        for f in std::iter::once(&self.system).chain(&self.homes) {
            out.push_str(&format!("\n{}:\n", f.path.display()));
            if let Some(e) = &f.error {
                out.push_str(&format!("[ERR] {e}\n"));
                counts[2] += 1;
            }
            for r in &f.rows {
                counts[r.status as usize] += 1;
                out.push_str(&format!(
                    "{} {} : {} {} {} (line {}: {})\n",
                    r.status.tag(),
                    r.status.word(),
                    r.principal,
                    r.identity,
                    r.issuer,
                    r.line_number,
                    r.reason
                ));
                for h in &r.hints {
                    out.push_str(&format!("      hint: {h}\n"));
                }
            }
        }
        out.push_str(&format!(
            "\n=== SUMMARY ===\nTotal rows: {}\nSuccessful: {}\nWarnings: {}\nErrors: {}\nExit Code: {}\n",
            counts.iter().sum::<usize>(),
            counts[0],
            counts[1],
            counts[2],
            u8::from(!self.ok())
        ));
        out
    }
}

const MATCH_END: &str = "oidc-match-end:email:";

/// The verdict on one row, given the issuers the providers file lists.
pub fn check_row(row: &AuthIdRow, issuers: &[&str], providers: &Path) -> RowReport {
    let mut report = RowReport {
        status: Status::Success,
        principal: row.principal.clone(),
        identity: row.identity.clone(),
        issuer: row.issuer.clone(),
        reason: "issuer found in providers".into(),
        hints: Vec::new(),
        line_number: row.line_number,
    };
    let mut flag = |status: Status, reason: String, hint: Option<String>| {
        if status > report.status {
            report.status = status;
            report.reason = reason;
        }
        report.hints.extend(hint);
    };
    let id = row.identity.as_str();
    let lower = id.to_ascii_lowercase();
    if row.issuer.is_empty() {
        flag(Status::Error, "issuer is empty".into(), None);
    } else if !issuers.contains(&row.issuer.as_str()) {
        let trimmed = row.issuer.trim_end_matches('/');
        let near = issuers.iter().find(|i| {
            i.trim_end_matches('/') == trimmed
                || i.strip_prefix("https://") == row.issuer.strip_prefix("http://")
                || i.strip_prefix("http://") == row.issuer.strip_prefix("https://")
        });
        flag(
            Status::Error,
            format!("issuer not found in {}", providers.display()),
            Some(match near {
                Some(near) => format!(
                    "providers has {near:?}: issuers must match byte for byte (trailing slash, http/https)"
                ),
                None => "add the issuer to providers, or fix the row".into(),
            }),
        );
    } else if row.issuer.ends_with('/') {
        flag(
            Status::Warning,
            "issuer ends in /".into(),
            Some(
                "OPs rarely put a trailing slash in iss; check the OP's discovery document".into(),
            ),
        );
    }
    if !row.issuer.is_empty() && !row.issuer.starts_with("https://") {
        flag(
            Status::Warning,
            "issuer is not https".into(),
            Some("only loopback test OPs may use http".into()),
        );
    }
    if opk_policy::check_principal(&row.principal).is_err() {
        flag(
            Status::Error,
            "principal verify refuses (H-1)".into(),
            Some("use a user name: letters, digits, . _ + @ -".into()),
        );
    }
    if id.is_empty() {
        flag(
            Status::Error,
            "empty identity never matches (O-3)".into(),
            Some("name an email, a sub or oidc:CLAIM:VALUE".into()),
        );
    } else if [MATCH_END, "oidc:", "repo:"].contains(&lower.as_str()) {
        flag(
            Status::Error,
            "bare prefix never matches (H-2)".into(),
            Some(format!("add a value after {id}")),
        );
    } else if let Some(suffix) = lower.strip_prefix(MATCH_END) {
        if !suffix.contains('@') {
            flag(
                Status::Warning,
                format!("suffix without @: opkssh also lets in anyone at evil{suffix} (O-8)"),
                Some(format!("write oidc-match-end:email:@{suffix}")),
            );
        }
    } else if id.starts_with("oidc:") && id.split(':').filter(|f| !f.is_empty()).count() < 3 {
        flag(
            Status::Error,
            "oidc: row without a value never matches (H-3)".into(),
            Some("write oidc:CLAIM:VALUE".into()),
        );
    }
    report
}

fn audit_file(
    path: &Path,
    issuers: &[&str],
    providers: &Path,
    home_of: Option<&str>,
) -> FileReport {
    let mut report = FileReport {
        path: path.to_owned(),
        rows: Vec::new(),
        error: None,
    };
    let parsed = std::fs::read(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|bytes| AuthId::parse(&bytes).map_err(|e| e.to_string()));
    let policy = match parsed {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    for row in policy.rows() {
        let mut r = check_row(row, issuers, providers);
        if let Some(user) = home_of
            && row.principal != user
        {
            r.status = r.status.max(Status::Warning);
            r.reason = format!("ignored: a home policy only grants its owner {user:?}");
        }
        report.rows.push(r);
    }
    for p in policy.problems() {
        report.rows.push(RowReport {
            status: Status::Error,
            principal: String::new(),
            identity: String::new(),
            issuer: String::new(),
            reason: p.kind.to_string(),
            hints: Vec::new(),
            line_number: p.line_number,
        });
    }
    report.rows.sort_by_key(|r| r.line_number);
    report
}

/// Audits the system policy and (unless `skip_home`) every `~/.opk/auth_id` of the passwd file's
/// users against the providers file. Fails only when the providers file cannot be read at all.
pub fn audit(files: &ServerFiles, skip_home: bool) -> Result<Report, Error> {
    let bytes = std::fs::read(&files.providers).map_err(|source| Error::ReadProviders {
        path: files.providers.clone(),
        source,
    })?;
    let (issuers, providers_error): (Vec<String>, Option<String>) = match Providers::parse(&bytes) {
        Ok(p) => (p.rows().iter().map(|r| r.issuer.clone()).collect(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let issuers: Vec<&str> = issuers.iter().map(String::as_str).collect();
    let system = audit_file(&files.auth_id, &issuers, &files.providers, None);
    let mut homes = Vec::new();
    if !skip_home {
        let passwd = std::fs::read_to_string(&files.passwd).unwrap_or_default();
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 || f[5].is_empty() {
                continue;
            }
            let path = Path::new(f[5]).join(".opk/auth_id");
            if path.is_file() {
                homes.push(audit_file(&path, &issuers, &files.providers, Some(f[0])));
            }
        }
    }
    Ok(Report {
        providers: files.providers.clone(),
        providers_error,
        system,
        homes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(providers: &str, auth_id: &str) -> (tempfile::TempDir, ServerFiles) {
        let dir = tempfile::tempdir().expect("tmp");
        let files = ServerFiles {
            providers: dir.path().join("providers"),
            auth_id: dir.path().join("auth_id"),
            config: dir.path().join("config.yml"),
            policy_d: dir.path().join("policy.d"),
            passwd: dir.path().join("passwd"),
        };
        std::fs::write(&files.providers, providers).expect("w");
        std::fs::write(&files.auth_id, auth_id).expect("w");
        (dir, files)
    }

    const PROVIDERS: &str = "https://op.example client 24h\nhttp://localhost:9000 c 24h\n";

    #[test]
    fn a_clean_policy_is_ok() {
        let (_d, f) = setup(
            PROVIDERS,
            "# ok\nalice alice@example.com https://op.example\ndev oidc-match-end:email:@example.com https://op.example\n",
        );
        let report = audit(&f, true).expect("audit");
        assert!(report.ok(), "{}", report.to_text());
        assert_eq!(report.system.rows.len(), 2);
        assert_eq!(report.system.rows[1].line_number, 3);
        assert!(report.to_text().contains("Exit Code: 0"));
        assert_eq!(report.to_json()["ok"], true);
    }

    #[test]
    fn risky_and_broken_rows_are_flagged() {
        let (_d, f) = setup(
            PROVIDERS,
            "a x@example.com https://op.example/\n\
             b oidc-match-end:email:example.com https://op.example\n\
             c '' https://op.example\n\
             d oidc-match-end:email: https://op.example\n\
             e oidc:groups https://op.example\n\
             f x@example.com https://unknown.example\n\
             g x@example.com http://localhost:9000\n\
             h x@example.com\n\
             'guest,root' x@example.com https://op.example\n",
        );
        let report = audit(&f, true).expect("audit");
        let got: Vec<(usize, Status, &str)> = report
            .system
            .rows
            .iter()
            .map(|r| (r.line_number, r.status, r.reason.as_str()))
            .collect();
        let want = |n: usize| got.iter().find(|g| g.0 == n).copied().expect("row");
        assert_eq!(want(1).1, Status::Error, "{got:?}");
        assert!(report.system.rows[0].hints[0].contains("\"https://op.example\""));
        assert_eq!(want(2).1, Status::Warning);
        assert!(want(2).2.contains("O-8"), "{got:?}");
        assert!(report.system.rows[1].hints[0].ends_with("oidc-match-end:email:@example.com"));
        assert!(want(3).2.contains("O-3"));
        assert!(want(4).2.contains("H-2"));
        assert!(want(5).2.contains("H-3"));
        assert!(want(6).2.starts_with("issuer not found in"));
        assert_eq!(want(7), (7, Status::Warning, "issuer is not https"));
        assert!(want(8).2.starts_with("wrong number of arguments"));
        assert!(want(9).2.contains("H-1"));
        assert!(!report.ok());
        let text = report.to_text();
        assert!(
            text.contains("[WARN] WARNING : b oidc-match-end:email:example.com"),
            "{text}"
        );
        assert!(text.contains("Exit Code: 1"), "{text}");
        let json = report.to_json();
        assert_eq!(json["ok"], false);
        assert_eq!(json["system_policy"]["rows"][1]["status"], "WARNING");
        assert_eq!(
            json["system_policy"]["rows"][1]["identity_attr"],
            "oidc-match-end:email:example.com"
        );
    }

    #[test]
    fn home_policies_and_an_unusable_providers_file() {
        let (d, f) = setup("https://op.example a 24h\nhttps://op.example b 24h\n", "");
        let home = d.path().join("home-alice");
        std::fs::create_dir_all(home.join(".opk")).expect("mkdir");
        std::fs::write(
            home.join(".opk/auth_id"),
            "alice a@example.com https://op.example\nroot a@example.com https://op.example\n",
        )
        .expect("w");
        std::fs::write(
            &f.passwd,
            format!(
                "alice:x:1000:1000::{}:/bin/sh\nnohome:x:1:1:::/bin/sh\n",
                home.display()
            ),
        )
        .expect("w");
        let report = audit(&f, false).expect("audit");
        assert!(
            report
                .providers_error
                .as_deref()
                .is_some_and(|e| e.contains("duplicate issuer"))
        );
        assert_eq!(report.homes.len(), 1);
        assert!(
            report.homes[0].rows[1]
                .reason
                .starts_with("ignored: a home policy")
        );
        assert!(!report.ok());
        assert!(audit(&f, true).expect("audit").homes.is_empty());
        std::fs::remove_file(&f.providers).expect("rm");
        assert!(matches!(audit(&f, true), Err(Error::ReadProviders { .. })));
    }
}
