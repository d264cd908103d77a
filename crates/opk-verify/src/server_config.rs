//! opkssh's `/etc/opk/config.yml`. opk does not implement its deny lists yet, and opkssh's way of
//! silently ignoring a config it cannot use turns deny lists off without a word (hazard O-2 in
//! docs/hazards.md). So: a config that sets `deny_emails` or `deny_users` makes verify fail
//! closed, with a reason.

use std::path::Path;

use crate::Error;

/// The keys whose loss would widen access.
const DENY_KEYS: [&str; 2] = ["deny_emails", "deny_users"];

/// Checks the server config at `path` (absent is fine).
pub(crate) fn check(path: &Path) -> Result<(), Error> {
    let text = match crate::files::read_checked(path, crate::files::Owner::System) {
        Ok(t) => t,
        Err(Error::Read { error: source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim_end())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(key) = DENY_KEYS.iter().find(|k| {
            line.strip_prefix(**k)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        }) else {
            continue;
        };
        let value = line.split_once(':').map_or("", |(_, v)| v.trim());
        let has_items = match value {
            "" => lines[i + 1..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|next| {
                    next.trim_start().starts_with('-') && next.starts_with([' ', '-'])
                }),
            "[]" | "null" | "~" => false,
            _ => true,
        };
        if has_items {
            return Err(Error::UnsupportedConfig {
                path: path.to_owned(),
                key,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str) -> Result<(), Error> {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("config.yml");
        std::fs::write(&p, text).expect("write");
        check(&p)
    }

    #[test]
    fn o2_deny_lists_fail_closed() {
        assert!(check_text("deny_emails:\n  - mallory@example.com\n").is_err());
        assert!(check_text("deny_users: [root]\n").is_err());
        assert!(
            check_text("env_vars:\n  HTTPS_PROXY: http://proxy:3128\ndeny_users:\n- root\n")
                .is_err()
        );
    }

    #[test]
    fn empty_or_commented_lists_are_fine() {
        assert!(check_text("").is_ok());
        assert!(check_text("# deny_users:\n#   - root\n").is_ok());
        assert!(check_text("deny_emails: []\ndeny_users:\n").is_ok());
        assert!(check(Path::new("/nonexistent/config.yml")).is_ok());
    }
}
