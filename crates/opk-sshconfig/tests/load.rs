//! The loader: relative Includes from the include dir, `~` from the given home, caps, and the
//! ownership/permission rule. Everything lives in a temp dir.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use opk_sshconfig::{Context, Error, KnownHosts, MAX_CONFIG_LEN, load_config, resolve};

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn relative_and_tilde_includes() {
    let home = tempfile::tempdir().expect("tempdir");
    let ssh = home.path().join(".ssh");
    write(
        &ssh.join("config"),
        "Include conf.d/*\nInclude ~/extra.conf\nHost *\n  User last\n",
    );
    write(&ssh.join("conf.d/20-b"), "Host h\n  Port 2020\n");
    write(&ssh.join("conf.d/10-a"), "Host h\n  Port 1010\n  User a\n");
    write(
        &home.path().join("extra.conf"),
        "Host *\n  Port 3030\n  HostName extra\n",
    );
    let cfg = load_config(&ssh.join("config"), &ssh, home.path()).expect("load");
    let hc = resolve(&Context::new("h", "me", home.path()), &[&cfg]).expect("resolve");
    assert_eq!(
        (hc.port, hc.user.as_str(), hc.hostname.as_str()),
        (1010, "a", "extra")
    );
}

#[test]
fn missing_file_is_empty_and_include_loops_stop() {
    let home = tempfile::tempdir().expect("tempdir");
    let ssh = home.path().join(".ssh");
    assert!(
        load_config(&ssh.join("config"), &ssh, home.path())
            .expect("missing")
            .is_empty()
    );
    write(&ssh.join("config"), "Include config\n");
    let e = load_config(&ssh.join("config"), &ssh, home.path()).expect_err("loop");
    assert!(
        e.to_string()
            .ends_with(":1: Include nested more than 16 deep"),
        "{e}"
    );
}

#[test]
fn writable_by_others_is_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    let ssh = home.path().join(".ssh");
    write(&ssh.join("config"), "Include inc\n");
    write(&ssh.join("inc"), "Port 2\n");
    std::fs::set_permissions(ssh.join("inc"), std::fs::Permissions::from_mode(0o666))
        .expect("chmod");
    let e = load_config(&ssh.join("config"), &ssh, home.path()).expect_err("perm");
    assert!(
        matches!(e, Error::BadPermissions { ref path } if path.ends_with("inc")),
        "{e}"
    );
}

#[test]
fn oversized_files_are_refused() {
    let home = tempfile::tempdir().expect("tempdir");
    let big = home.path().join("big");
    write(
        &big,
        &"#".repeat(usize::try_from(MAX_CONFIG_LEN).expect("usize") + 1),
    );
    assert!(matches!(
        load_config(&big, home.path(), home.path()),
        Err(Error::TooLarge { .. })
    ));
    let kh = KnownHosts::load(&[home.path().join("absent"), big]).expect("comments only");
    assert!(kh.is_empty());
}
