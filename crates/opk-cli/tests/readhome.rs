//! `opk readhome` as verify would run it (`sudo -n opk readhome %u`): the raw policy on stdout,
//! or one `Error: Failed to read user's home policy file: …` line and exit 1 (hazard H-6).

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

const OPK: &str = env!("CARGO_BIN_EXE_opk");

#[test]
fn readhome_prints_a_safe_home_policy_and_refuses_an_unsafe_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".opk")).expect("mkdir");
    let uid = current_uid();
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        format!("carol:x:{uid}:{uid}::{}:/bin/sh\n", home.display()),
    )
    .expect("passwd");
    let file = home.join(".opk/auth_id");
    let policy = "# mine\ncarol carol@example.com https://op.example\n";
    std::fs::write(&file, policy).expect("w");
    let run = || {
        Command::new(OPK)
            .args(["readhome", "carol", "--passwd-file"])
            .arg(&passwd)
            .output()
            .expect("opk readhome")
    };
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let ok = run();
    assert!(ok.status.success(), "{ok:?}");
    assert_eq!(String::from_utf8_lossy(&ok.stdout), policy);

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let bad = run();
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        format!(
            "Error: Failed to read user's home policy file: {0} has mode 0644, not 0600; fix: chmod 0600 {0}\n",
            file.display()
        )
    );
}

/// The uid the test runs as (the file's owner).
fn current_uid() -> String {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
