//! Hostile input to the built `opk verify`: special files where server files should be and a
//! verify that cannot finish (R-3 in docs/hazards.md).
//!
//! The OP is [`PlantedOp`]: its JWKS is planted in verify's cache and its issuer
//! (`https://127.0.0.1:1/planted`) refuses connections, so verify makes no request that could
//! succeed and every case is decided by the files and the offered key alone.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use opk_e2e::{PlantedOp, TestDir, VerifyHost};
use opk_sshcert::OpkCert;

const OPK: &str = env!("CARGO_BIN_EXE_opk");
const TMP: &str = env!("CARGO_TARGET_TMPDIR");

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("640")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A host for the planted OP with `alice`'s row, its JWKS planted, and alice@example.com's
/// certificate.
fn planted_host(dir: &TestDir, name: &str) -> (VerifyHost, OpkCert) {
    let op = PlantedOp::default();
    let host = VerifyHost::new(
        dir,
        name,
        Path::new(OPK),
        &PlantedOp::providers_row("24h"),
        &format!("alice alice@example.com {}\n", opk_e2e::PLANTED_ISSUER),
    );
    PlantedOp::plant(&host.cache, &op.jwks());
    let (_, cert) = op
        .key
        .certificate(op.claims(unix_now() - 60), vec!["alice".into()]);
    (host, cert)
}

/// Exit 1, nothing on stdout, and exactly the one line `Error: <reason>` on stderr.
fn one_line_denial(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
        .trim_end()
        .strip_prefix("Error: ")
        .unwrap_or_else(|| panic!("no Error: prefix: {stderr}"))
        .to_owned()
}

fn verify(host: &VerifyHost, cert: &OpkCert) -> Output {
    host.verify("alice", &cert.to_b64(), cert.cert_type(), &[])
}

#[test]
fn r3_special_files_as_policies_are_refused_by_the_binary() {
    let dir = TestDir::new(TMP);
    let (host, cert) = planted_host(&dir, "system");
    assert_eq!(verify(&host, &cert).status.code(), Some(0), "baseline");
    // /etc/opk/auth_id as a FIFO nobody writes to, a directory, a symlink to /dev/zero.
    type Make = fn(&Path);
    let makes: [(&str, Make); 3] = [
        ("a FIFO", mkfifo),
        ("a directory", |p| std::fs::create_dir(p).expect("mkdir")),
        ("a character device", |p| {
            std::os::unix::fs::symlink("/dev/zero", p).expect("symlink")
        }),
    ];
    for (kind, make) in makes {
        std::fs::remove_file(&host.auth_id).expect("rm");
        make(&host.auth_id);
        let reason = one_line_denial(&verify(&host, &cert));
        assert_eq!(
            reason,
            format!(
                "refusing {}: {kind}, not a regular file; replace it with a regular file",
                host.auth_id.display()
            )
        );
        assert!(host.log_text().contains(&reason), "{}", host.log_text());
        if kind == "a directory" {
            std::fs::remove_dir(&host.auth_id).expect("rmdir");
            std::fs::write(&host.auth_id, "").expect("placeholder");
        }
    }

    // ~alice/.opk/auth_id as a FIFO: skipped with its reason logged; the denial says the policy
    // did not allow alice.
    let passwd = dir.join("passwd");
    let home = dir.join("home/alice");
    std::fs::create_dir_all(home.join(".opk")).expect("mkdir");
    let uid = std::fs::metadata(dir.path()).expect("meta").uid();
    std::fs::write(
        &passwd,
        format!("alice:x:{uid}:{uid}::{}:/bin/sh\n", home.display()),
    )
    .expect("passwd");
    let (host, cert) = planted_host(&dir, "home");
    std::fs::write(&host.auth_id, "").expect("empty system policy");
    let host = host.with_home_policy(&passwd);
    let home_policy = home.join(".opk/auth_id");
    for (kind, make) in makes {
        make(&home_policy);
        let reason = one_line_denial(&verify(&host, &cert));
        assert!(reason.starts_with("no policy to allow"), "{reason}");
        // The home file is never followed: the /dev/zero link is refused as a link.
        let kind = if kind == "a character device" {
            "a symbolic link"
        } else {
            kind
        };
        let want = format!(
            "home policy skipped: refusing {}: {kind}, not a regular file",
            home_policy.display()
        );
        assert!(
            host.log_text().contains(&want),
            "{want:?} not in {}",
            host.log_text()
        );
        if kind == "a directory" {
            std::fs::remove_dir(&home_policy).expect("rmdir");
        } else {
            std::fs::remove_file(&home_policy).expect("rm");
        }
    }
    std::fs::write(
        &home_policy,
        format!("alice alice@example.com {}\n", opk_e2e::PLANTED_ISSUER),
    )
    .expect("write");
    std::fs::set_permissions(&home_policy, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(
        verify(&host, &cert).status.code(),
        Some(0),
        "a regular home policy"
    );
}

/// Whatever verify is stuck on (here: a FIFO as the passwd file, read after the token is
/// verified), the deadline denies with its own reason, in the log and the audit record too.
#[test]
fn r3_the_deadline_denies_a_verify_that_cannot_finish() {
    let dir = TestDir::new(TMP);
    let passwd = dir.join("passwd");
    mkfifo(&passwd);
    let (mut host, cert) = planted_host(&dir, "stuck");
    host = host.with_home_policy(&passwd);
    host.deadline = Some(0.5);
    let reason = one_line_denial(&verify(&host, &cert));
    assert!(
        reason.starts_with("verify did not finish within 0.5 s (--deadline); denied"),
        "{reason}"
    );
    assert!(
        host.log_text().contains(&format!("denied: {reason}")),
        "{}",
        host.log_text()
    );
    let records = host.audit_records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["decision"], "deny", "{records:?}");
    assert_eq!(records[0]["reason"], reason.as_str());
    // What verify knew when it was stopped: the token had been verified.
    assert_eq!(records[0]["token_verified"], true, "{records:?}");
}
