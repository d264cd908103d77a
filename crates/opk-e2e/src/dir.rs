//! Per-test directories.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// A per-test directory whose parents are not group/world-writable (sshd refuses an
/// AuthorizedKeysCommand below such a directory, so /tmp will not do). Removed on drop unless
/// [`TestDir::keep_if_asked`] keeps it.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// Creates one under `base` (pass `env!("CARGO_TARGET_TMPDIR")`).
    pub fn new(base: &str) -> Self {
        std::fs::create_dir_all(base).expect("base dir");
        let dir = tempfile::Builder::new()
            .prefix("opk-e2e-")
            .tempdir_in(base)
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        Self { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside it.
    pub fn join(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Writes a file with a mode, creating its parent directories.
    pub fn write(&self, name: &str, contents: &str, mode: u32) -> PathBuf {
        let p = self.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, contents).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    /// Keeps the directory for inspection when `OPK_E2E_KEEP` is set.
    pub fn keep_if_asked(self) {
        if std::env::var_os("OPK_E2E_KEEP").is_some() {
            let p = self.dir.keep();
            eprintln!("kept {}", p.display());
        }
    }
}
