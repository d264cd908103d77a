//! `opk login --log-dir DIR`: opkssh's client log, `DIR/opkssh.log`, appended to (created 0660,
//! as opkssh creates it), one `2006/01/02 15:04:05 message` line per line said, as Go's `log`
//! writes them (in UTC here). The terminal still gets everything; the log never gets the key,
//! the certificate, the ID token or the authorization URL (its `state` belongs to one login).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The log file's name in `--log-dir`, opkssh's.
pub const LOG_FILE_NAME: &str = "opkssh.log";

/// An open client log.
#[derive(Debug)]
pub struct LoginLog {
    file: File,
    path: PathBuf,
}

impl LoginLog {
    /// Opens (or creates) `dir/opkssh.log` for appending. The directory is not created, as in
    /// opkssh.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(LOG_FILE_NAME);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o660)
            .open(&path)
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        Ok(LoginLog { file, path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `message`, each of its lines with the timestamp of `now`, in one write (so lines
    /// of two logins sharing the file do not interleave).
    pub fn write_at(&mut self, message: &str, now: SystemTime) -> Result<(), Error> {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let stamp = opk_pktoken::log_timestamp(secs);
        let mut text = String::new();
        for line in message.lines() {
            text.push_str(&stamp);
            text.push(' ');
            // The messages are opk's own, with OP text already sanitised; a stray control
            // character must still not rewrite a line on a terminal that shows the log.
            text.extend(line.chars().map(|c| if c.is_control() { '?' } else { c }));
            text.push('\n');
        }
        self.file
            .write_all(text.as_bytes())
            .map_err(|source| Error::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// [`LoginLog::write_at`] now.
    pub fn write(&mut self, message: &str) -> Result<(), Error> {
        self.write_at(message, SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Duration;

    use super::*;

    #[test]
    fn appends_timestamped_lines_and_creates_the_file_0660() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(LOG_FILE_NAME);
        std::fs::write(&path, "older line\n").expect("seed");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let mut log = LoginLog::open(dir.path()).expect("open");
        assert_eq!(log.path(), path);
        log.write_at("Keys generated for identity\nEmail: a\x1b[2K", t)
            .expect("write");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "older line\n2026/11/18 11:06:40 Keys generated for identity\n\
             2026/11/18 11:06:40 Email: a?[2K\n"
        );
        // An existing file keeps its mode; a new one is created 0660 (less the umask).
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        let fresh = tempfile::tempdir().expect("tmp");
        LoginLog::open(fresh.path()).expect("create");
        let created = mode(&fresh.path().join(LOG_FILE_NAME));
        assert_eq!(created & !0o660, 0, "{created:o}");
        assert_eq!(created & 0o600, 0o600, "{created:o}");
    }

    #[test]
    fn a_missing_directory_is_not_created() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = dir.path().join("nope");
        let e = LoginLog::open(&missing).expect_err("no dir");
        assert!(
            e.to_string()
                .contains(&missing.join(LOG_FILE_NAME).display().to_string()),
            "{e}"
        );
        assert!(!missing.exists());
    }
}
