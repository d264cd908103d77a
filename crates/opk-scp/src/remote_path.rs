//! Remote path handling: joining, names, `~`, and glob expansion (scp lets the remote side's
//! wildcards through; over SFTP we expand them ourselves, with glob(3) rules).

use russh_sftp::client::SftpSession;

/// `dir/name`, without doubling a `/`.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The last component (`a/b/` gives `b`); `None` for `/`, `.`, `..`, `` .
pub(crate) fn basename(path: &str) -> Option<&str> {
    let name = path.trim_end_matches('/').rsplit('/').next()?;
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

pub(crate) fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// Turns what the user wrote after `host:` into an SFTP path: empty and `~` are the login
/// directory (SFTP's relative base, the home directory on OpenSSH), `~/x` is `x`, and `~user/x`
/// is asked of the server (`expand-path@openssh.com`) when it supports that.
pub async fn resolve_remote(sftp: &SftpSession, path: &str) -> String {
    if path.is_empty() || path == "~" {
        return ".".to_owned();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        return if rest.is_empty() {
            ".".to_owned()
        } else {
            rest.to_owned()
        };
    }
    if path.starts_with('~')
        && let Ok(Some(p)) = sftp.expand_path(path).await
    {
        return p;
    }
    path.to_owned()
}

/// Expands wildcards in any component, directory by directory, sorted; `*` does not match a
/// leading `.` (glob(3)). Directories that cannot be read just contribute nothing.
pub(crate) async fn glob(sftp: &SftpSession, pattern: &str) -> Vec<String> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut found = vec![if pattern.starts_with('/') {
        "/".to_owned()
    } else {
        String::new()
    }];
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let Some(pat) = has_glob(comp)
            .then(|| glob::Pattern::new(comp).ok())
            .flatten()
        else {
            found = found.iter().map(|p| join(p, comp)).collect();
            continue;
        };
        let mut next = Vec::new();
        for prefix in &found {
            let dir = if prefix.is_empty() {
                "."
            } else {
                prefix.as_str()
            };
            let Ok(rd) = sftp.read_dir(dir).await else {
                continue;
            };
            for e in rd {
                let name = e.file_name();
                // Only directories (or links to them) can lead further.
                let ok_type = last || e.file_type().is_dir() || e.file_type().is_symlink();
                if ok_type && pat.matches_with(&name, opts) {
                    next.push(join(prefix, &name));
                }
            }
        }
        next.sort();
        found = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join(".", "a"), "a");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("d", "a b"), "d/a b");
        assert_eq!(basename("a/b/"), Some("b"));
        assert_eq!(basename("über"), Some("über"));
        assert_eq!(basename("/"), None);
        assert_eq!(basename("x/.."), None);
        assert!(has_glob("*.txt") && has_glob("a?") && has_glob("[ab]") && !has_glob("plain"));
    }
}
