//! End to end for `opk install`: installs into a tree (`--root`), then a real sshd reads the
//! installed sshd_config and drop-in and runs the built opk as opkssh's unprivileged
//! `AuthorizedKeysCommandUser opksshuser` (created by scripts/lib.sh's `opk_setup`, as opkssh's
//! installer creates it); the client logs in through the test OP and Chromium.
//!
//! The trees live under /run/opk-e2e, not the cargo tmp dir: that is under /root (0700), which
//! opksshuser cannot enter, and sshd refuses an AuthorizedKeysCommand below a group- or
//! world-writable directory such as /tmp.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opk_e2e::{Sshd, TestDir, install_opk, opkssh_bin};

mod common;

use common::*;

const TREES: &str = "/run/opk-e2e";

/// A tree to install into: `DIR/root` with an sshd_config that includes its drop-ins, and opk
/// copied to `DIR/bin/opk` (the binary the drop-in and sudoers name).
struct Tree {
    dir: TestDir,
    root: PathBuf,
    opk: PathBuf,
}

impl Tree {
    fn new() -> Self {
        let dir = TestDir::new(TREES);
        let opk = install_opk(&dir, Path::new(OPK));
        let root = dir.join("root");
        let tree = Self { dir, root, opk };
        tree.write(
            "etc/ssh/sshd_config",
            &format!(
                "Include {}/etc/ssh/sshd_config.d/*.conf\n",
                tree.root.display()
            ),
            0o644,
        );
        tree
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn write(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    /// `opk install --root <tree> ARGS`, run as the copied binary.
    fn install(&self, args: &[&str]) -> Output {
        opk_e2e::run_ok(
            Command::new(&self.opk)
                .arg("install")
                .arg("--root")
                .arg(&self.root)
                .args(args)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        )
    }

    /// Every path under the tree with its type, mode, owner, mtime and content.
    fn snapshot(&self) -> BTreeMap<PathBuf, (u32, u32, u32, i64, Vec<u8>)> {
        let mut out = BTreeMap::new();
        let mut todo = vec![self.root.clone()];
        while let Some(p) = todo.pop() {
            let meta = std::fs::symlink_metadata(&p).expect("meta");
            let content = if meta.is_file() {
                std::fs::read(&p).expect("read")
            } else {
                Vec::new()
            };
            if meta.is_dir() {
                todo.extend(
                    std::fs::read_dir(&p)
                        .expect("ls")
                        .map(|e| e.expect("e").path()),
                );
            }
            out.insert(
                p,
                (meta.mode(), meta.uid(), meta.gid(), meta.mtime(), content),
            );
        }
        out
    }

    /// The drop-in, as sshd reads it.
    fn drop_in(&self) -> String {
        std::fs::read_to_string(self.path("etc/ssh/sshd_config.d/60-opk-ssh.conf"))
            .expect("drop-in")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("var/log/opkssh.log")).unwrap_or_default()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The verify user's ids (the account `opk_setup` creates).
fn opksshuser() -> (u32, u32) {
    let text = std::fs::read_to_string("/etc/passwd").expect("passwd");
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == "opksshuser").then(|| (f[2].parse().expect("uid"), f[3].parse().expect("gid")))
        })
        .expect("no opksshuser: run `source scripts/lib.sh; opk_setup` (it creates the account)")
}

/// `--dry-run` lists every change and makes none; the install makes them with opkssh's modes and
/// owners; a second run changes nothing and says so; then a real sshd that reads only the
/// installed sshd_config and drop-in for its AuthorizedKeysCommand lets the user in with a
/// certificate from a real login, verify running as opksshuser and logging to the installed log.
/// Fails if the drop-in is not what sshd can use, if a mode or owner is not the installer's, if a
/// dry run writes or a second run rewrites anything.
#[test]
fn install_into_a_tree_then_sshd_uses_it() {
    let (op, dir, user, key) = World::logged_in();
    let (_, gid) = opksshuser();
    let tree = Tree::new();

    let before = tree.snapshot();
    let dry = stdout(&tree.install(&["--dry-run"]));
    assert_eq!(tree.snapshot(), before, "--dry-run changed the tree");
    let changes: Vec<&str> = dry
        .lines()
        .filter(|l| l.starts_with("mkdir ") || l.starts_with("write "))
        .collect();
    assert!(
        dry.contains(&format!(
            "dry run: nothing changed ({} changes)",
            changes.len()
        )),
        "{dry}"
    );
    for path in [
        "etc/ssh/sshd_config.d/60-opk-ssh.conf",
        "etc/opk/auth_id",
        "etc/opk/providers",
        "etc/opk/config.yml",
        "etc/sudoers.d/opk",
        "var/log/opkssh.log",
    ] {
        let want = format!("write {}", tree.path(path).display());
        assert!(
            changes.iter().any(|l| l.starts_with(&want)),
            "{want}: {dry}"
        );
    }

    let first = stdout(&tree.install(&[]));
    // The same lines as the dry run, then the summary.
    for line in &changes {
        assert!(first.contains(line), "{line}: {first}");
    }
    for (rel, mode, uid, group) in [
        ("etc/opk", 0o750, 0, gid),
        ("etc/opk/policy.d", 0o750, 0, gid),
        ("etc/opk/auth_id", 0o640, 0, gid),
        ("etc/opk/providers", 0o640, 0, gid),
        ("etc/opk/config.yml", 0o640, 0, gid),
        ("var/log/opkssh.log", 0o660, 0, gid),
        ("etc/sudoers.d/opk", 0o440, 0, 0),
        ("etc/ssh/sshd_config.d/60-opk-ssh.conf", 0o644, 0, 0),
    ] {
        let meta = std::fs::metadata(tree.path(rel)).expect(rel);
        assert_eq!(
            (meta.mode() & 0o7777, meta.uid(), meta.gid()),
            (mode, uid, group),
            "{rel}"
        );
    }
    let drop_in = tree.drop_in();
    assert!(
        drop_in.starts_with(&format!(
            "AuthorizedKeysCommand {} verify --providers-file {}",
            tree.opk.display(),
            tree.path("etc/opk/providers").display()
        )) && drop_in.ends_with(" %u %k %t\nAuthorizedKeysCommandUser opksshuser\n"),
        "{drop_in}"
    );
    assert_eq!(
        std::fs::read_to_string(tree.path("etc/sudoers.d/opk"))
            .expect("sudoers")
            .lines()
            .nth(1),
        Some(
            format!(
                "opksshuser ALL=(ALL) NOPASSWD: {} readhome *",
                tree.opk.display()
            )
            .as_str()
        )
    );
    assert!(
        std::fs::read_to_string(tree.path("etc/opk/providers"))
            .expect("providers")
            .starts_with("https://accounts.google.com 206584157355-")
    );

    let installed = tree.snapshot();
    let second = stdout(&tree.install(&[]));
    assert!(second.contains("nothing to change"), "{second}");
    assert_eq!(
        tree.snapshot(),
        installed,
        "a second install changed the tree"
    );

    // The admin's part: the providers row and a policy row (opk add, into the installed file).
    std::fs::write(
        tree.path("etc/opk/providers"),
        format!("{} opk-rs256 24h\n", op.issuer),
    )
    .expect("providers");
    opk_e2e::run_ok(
        Command::new(&tree.opk)
            .args(["add", &user, USER_EMAIL, &op.issuer, "--auth-id-file"])
            .arg(tree.path("etc/opk/auth_id")),
    );

    let sshd = Sshd::start_including(&dir, &tree.path("etc/ssh/sshd_config"));
    assert_ssh_ok(&sshd.ssh(&key, &user, "echo installed-ok"), "installed-ok");
    let log = tree.log();
    assert!(log.contains(&format!("allowed {USER_EMAIL}")), "{log}");
    // verify ran as opksshuser: it filled the cache directory install gave that user.
    let cache = tree.path("var/cache/opk/jwks");
    let (uid, _) = opksshuser();
    assert!(
        names_in(&cache).iter().any(|n| n.ends_with(".json")),
        "{:?}",
        names_in(&cache)
    );
    for entry in std::fs::read_dir(&cache).expect("ls") {
        assert_eq!(entry.expect("e").metadata().expect("m").uid(), uid);
    }
    tree.dir.keep_if_asked();
    dir.keep_if_asked();
}

/// A tree as opkssh's installer leaves it (drop-in running the reference opkssh, /etc/opk files
/// root:opksshuser 0640, its sudoers file): `opk install` migrates it, printing what it did,
/// rewrites only the program on the AuthorizedKeysCommand line (old drop-in kept as a backup),
/// keeps every /etc/opk file byte for byte with its mode and owner, and the same providers and
/// auth_id let the user in through sshd. Fails if a kept file changes or the login breaks.
#[test]
fn migrates_an_opkssh_install_and_login_still_works() {
    let (op, dir, user, key) = World::logged_in();
    let (_, gid) = opksshuser();
    let opkssh = opkssh_bin();
    let tree = Tree::new();
    // What install-linux.sh writes (configure_opkssh, configure_openssh_server, configure_sudo,
    // log_opkssh_installation), with the test OP's row and a policy row in its files.
    let old_drop_in = format!(
        "AuthorizedKeysCommand {} verify %u %k %t\nAuthorizedKeysCommandUser opksshuser\n",
        opkssh.display()
    );
    tree.write("etc/ssh/sshd_config.d/60-opk-ssh.conf", &old_drop_in, 0o644);
    let group = |rel: &str, mode: u32| {
        let p = tree.path(rel);
        std::os::unix::fs::chown(&p, Some(0), Some(gid)).expect("chown");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    std::fs::create_dir_all(tree.path("etc/opk/policy.d")).expect("mkdir");
    group("etc/opk", 0o750);
    group("etc/opk/policy.d", 0o750);
    for (rel, text) in [
        (
            "etc/opk/providers",
            format!("{} opk-rs256 24h\n", op.issuer),
        ),
        ("etc/opk/auth_id", policy(&user, USER_EMAIL, &op.issuer)),
        ("etc/opk/config.yml", String::new()),
    ] {
        tree.write(rel, &text, 0o640);
        group(rel, 0o640);
    }
    tree.write(
        "var/log/opkssh.log",
        "Successfully installed opkssh (...)\n",
        0o660,
    );
    group("var/log/opkssh.log", 0o660);
    let opkssh_rule = format!(
        "# This allows opkssh to call opkssh readhome <username> to read the user's policy file in /home/<username>/auth_id\nopksshuser ALL=(ALL) NOPASSWD: {} readhome *\n",
        opkssh.display()
    );
    tree.write("etc/sudoers.d/opkssh", &opkssh_rule, 0o440);
    let before = tree.snapshot();

    let out = stdout(&tree.install(&[]));
    assert!(out.contains("migrating from opkssh: "), "{out}");
    for kept in ["providers", "auth_id", "config.yml"] {
        let want = format!(
            "kept {} unchanged",
            tree.path(&format!("etc/opk/{kept}")).display()
        );
        assert!(out.contains(&want), "{want}: {out}");
    }
    assert!(out.contains("etc/sudoers.d/opkssh (opkssh's rule"), "{out}");
    let after = tree.snapshot();
    // Every file but the drop-in, byte for byte with its mode, owner and mtime (directories
    // gain entries).
    for (path, was) in &before {
        if was.0 & 0o170000 == 0o100000 && !path.ends_with("60-opk-ssh.conf") {
            assert_eq!(after.get(path), Some(was), "{} changed", path.display());
        }
    }
    let backup = tree.path("etc/ssh/sshd_config.d/60-opk-ssh.conf.opkssh-backup");
    assert_eq!(
        std::fs::read_to_string(&backup).expect("backup"),
        old_drop_in
    );
    let new_drop_in = tree.drop_in();
    assert!(
        new_drop_in.starts_with(&format!(
            "AuthorizedKeysCommand {} verify --providers-file ",
            tree.opk.display()
        )) && new_drop_in.ends_with(" %u %k %t\nAuthorizedKeysCommandUser opksshuser\n")
            && !new_drop_in.contains("opkssh verify"),
        "{new_drop_in}"
    );
    assert!(stdout(&tree.install(&[])).contains("nothing to change"));

    let sshd = Sshd::start_including(&dir, &tree.path("etc/ssh/sshd_config"));
    assert_ssh_ok(&sshd.ssh(&key, &user, "echo migrated-ok"), "migrated-ok");
    assert_says(&tree.log(), &format!("allowed {USER_EMAIL}"));
    tree.dir.keep_if_asked();
    dir.keep_if_asked();
}

/// A sudoers file in the machine's /etc/sudoers.d, removed on drop. sudo reads only /etc/sudoers
/// (and what it includes), so the rule `opk install` wrote into the tree has to be put there
/// for sudo to apply it; the name is unique to this run and has no dot (sudo skips such names).
struct MachineSudoers(PathBuf);

impl MachineSudoers {
    fn install(from: &Path) -> Self {
        let name = format!(
            "opk-e2e-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .subsec_nanos()
        );
        let path = Path::new("/etc/sudoers.d").join(name);
        let text = std::fs::read_to_string(from).expect("installed sudoers");
        std::fs::write(&path, text).expect("write sudoers");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).expect("chmod");
        let check = Command::new("visudo")
            .arg("-cf")
            .arg(&path)
            .output()
            .expect("visudo");
        let guard = Self(path);
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
        guard
    }
}

impl Drop for MachineSudoers {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The home policy through `sudo readhome`: sshd runs verify as opksshuser, which cannot enter
/// the user's 0700 home, so verify runs `sudo -n <opk> readhome <user>` under the rule opk
/// install wrote; the home auth_id lets the user in (the system policy has no row). A home
/// auth_id that is group-writable is refused by readhome (H-6) and the login denied. Fails if
/// verify does not fall back to sudo, if sudo's rule does not match what verify runs, or if
/// readhome's checks are skipped.
#[test]
fn home_policy_through_sudo_readhome() {
    let (op, dir, user, key) = World::logged_in();
    let tree = Tree::new();
    tree.install(&[]);
    std::fs::write(
        tree.path("etc/opk/providers"),
        format!("{} opk-rs256 24h\n", op.issuer),
    )
    .expect("providers");
    // The user's home, in the tree: 0700, so only root (readhome through sudo) can read in it.
    let user_home = tree.path("home/user");
    let home_policy = tree.write(
        "home/user/.opk/auth_id",
        &policy(&user, USER_EMAIL, &op.issuer),
        0o600,
    );
    std::fs::set_permissions(&user_home, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let uid = std::fs::metadata(&home_policy).expect("meta").uid();
    let passwd = tree.write(
        "passwd",
        &format!(
            "{user}:x:{uid}:{uid}:test:{}:/bin/sh\n",
            user_home.display()
        ),
        0o644,
    );
    // The test's one edit to the installed drop-in: homes come from the tree's passwd file (the
    // hidden flag verify passes on to readhome), not the machine's.
    let drop_in = tree.path("etc/ssh/sshd_config.d/60-opk-ssh.conf");
    let text = tree.drop_in().replace(
        " %u %k %t",
        &format!(" --passwd-file {} %u %k %t", passwd.display()),
    );
    std::fs::write(&drop_in, text).expect("drop-in");
    let _sudoers = MachineSudoers::install(&tree.path("etc/sudoers.d/opk"));

    let sshd = Sshd::start_including(&dir, &tree.path("etc/ssh/sshd_config"));
    assert_ssh_ok(&sshd.ssh(&key, &user, "echo home-ok"), "home-ok");
    let log = tree.log();
    assert!(log.contains("asking sudo readhome"), "{log}");
    assert!(log.contains(&format!("allowed {USER_EMAIL}")), "{log}");

    std::fs::set_permissions(&home_policy, std::fs::Permissions::from_mode(0o620)).expect("chmod");
    let allowed_before = tree.log().matches("allowed ").count();
    assert_ssh_denied(&sshd.ssh(&key, &user, "true"));
    let log = tree.log();
    assert!(log.contains("has mode 0620, not 0600"), "{log}");
    assert_eq!(log.matches("allowed ").count(), allowed_before, "{log}");
    tree.dir.keep_if_asked();
    dir.keep_if_asked();
}
