//! Child processes and facts about the machine the tests run on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use opk_testkit::{Guard, run_ok, show};

/// The repository root (this crate is at crates/opk-e2e).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A free TCP port on 127.0.0.1 (released before return: a small race, fine for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The current user's name: sshd lets us log in only as ourselves when not root, and tests use
/// it as the principal.
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The home directory of `user` from the passwd database.
pub fn user_home(user: &str) -> Option<PathBuf> {
    let out = Command::new("getent")
        .args(["passwd", user])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    line.split(':')
        .nth(5)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}
