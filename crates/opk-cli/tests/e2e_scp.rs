//! `opk scp` against the real Debian sshd (its internal-sftp subsystem): a tree with odd names
//! both ways, byte for byte, with -p; remote globs; a missing source; permission denied on
//! either side. HOME is a temp dir: the machine's ~/.ssh is never read.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{OPK, TMP};
use opk_e2e::{KeyHost, current_user, show};
use opk_testkit::tree::{ODD_DIRS, ODD_NAMES, listing, make_odd_tree};

/// A plain-key sshd and a HOME that knows its host key.
struct ScpHost {
    host: KeyHost,
    home: PathBuf,
}

impl std::ops::Deref for ScpHost {
    type Target = KeyHost;
    fn deref(&self) -> &KeyHost {
        &self.host
    }
}

impl ScpHost {
    fn start() -> Self {
        let host = KeyHost::start(TMP);
        let home = host.dir.join("home");
        std::fs::create_dir_all(home.join(".ssh")).expect("mkdir");
        std::fs::create_dir_all(home.join("etc-ssh")).expect("mkdir");
        std::fs::write(home.join(".ssh/known_hosts"), host.known_hosts_line())
            .expect("known_hosts");
        Self { host, home }
    }

    fn remote(&self, path: &Path) -> String {
        format!("{}@127.0.0.1:{}", current_user(), path.display())
    }

    fn scp(&self, args: &[&str]) -> Output {
        let port = self.sshd.port.to_string();
        let key = self.key.display().to_string();
        Command::new(OPK)
            .arg("scp")
            .args(["-i", &key, "-P", &port])
            .args(args)
            .env("HOME", &self.home)
            .env("OPK_SSH_SYSTEM_DIR", self.home.join("etc-ssh"))
            .env("USER", current_user())
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .output()
            .expect("opk scp")
    }
}

#[test]
fn tree_with_odd_names_both_ways_byte_identical_with_p() {
    let h = ScpHost::start();
    let local = h.dir.join("local ✓");
    make_odd_tree(&local);
    let remote_dir = h.dir.join("remote side");
    let up = h.scp(&[
        "-r",
        "-p",
        &local.display().to_string(),
        &h.remote(&remote_dir),
    ]);
    assert!(up.status.success(), "upload: {}", show(&up));
    assert!(
        up.stderr.is_empty(),
        "quiet when not on a terminal: {}",
        show(&up)
    );
    assert_eq!(listing(&local), listing(&remote_dir), "upload with -p");
    assert_eq!(listing(&local).len(), ODD_NAMES.len() + ODD_DIRS);

    let back = h.dir.join("back");
    std::fs::create_dir(&back).expect("mkdir");
    let down = h.scp(&[
        "-r",
        "-p",
        &h.remote(&remote_dir),
        &back.display().to_string(),
    ]);
    assert!(down.status.success(), "download: {}", show(&down));
    assert_eq!(
        listing(&local),
        listing(&back.join("remote side")),
        "download with -p"
    );

    // Remote globs, several sources into a directory, a name with spaces as one operand.
    let some = h.dir.join("some");
    std::fs::create_dir(&some).expect("mkdir");
    let glob = h.remote(&remote_dir.join("*.txt"));
    let spaced = h.remote(&remote_dir.join("sub dir/nested file"));
    let out = h.scp(&[&glob, &spaced, &some.display().to_string()]);
    assert!(out.status.success(), "glob: {}", show(&out));
    let mut names: Vec<String> = std::fs::read_dir(&some)
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["nested file", "plain.txt", "with space.txt"]);
    assert_eq!(
        std::fs::read(some.join("with space.txt")).expect("read"),
        std::fs::read(local.join("with space.txt")).expect("read")
    );
}

#[test]
fn missing_source_and_permission_denied_exit_non_zero() {
    let h = ScpHost::start();
    let out_dir = h.dir.join("out");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let missing = h.dir.join("does not exist");
    let out = h.scp(&[&h.remote(&missing), &out_dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "opk scp: cannot read {}: No such file or directory\n",
            missing.display()
        )
    );
    let out = h.scp(&[&missing.display().to_string(), &h.remote(&out_dir)]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such file or directory"),
        "{}",
        show(&out)
    );

    // /sys refuses new files even to root, on the server and here.
    let file = h.dir.write("f.txt", "data\n", 0o644);
    let out = h.scp(&[
        &file.display().to_string(),
        &h.remote(Path::new("/sys/opk-scp-test")),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "opk scp: cannot create /sys/opk-scp-test: Permission denied\n"
    );
    let out = h.scp(&[&h.remote(&file), "/sys/opk-scp-test"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "opk scp: cannot create /sys/opk-scp-test: Permission denied (os error 13)\n"
    );
    // A bad operand pair fails before connecting.
    let out = h.scp(&["a", "b"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no remote operand"),
        "{}",
        show(&out)
    );
}
