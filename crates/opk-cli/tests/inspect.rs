//! `opk inspect` against the reference `opkssh inspect` on the same certificate: the fields both
//! print agree, and opk adds the expiry under each providers policy. Needs no OP: the token is
//! signed with a key of our own (inspect verifies nothing).

use serde_json::json;
use std::process::Command;

use opk_e2e::{OpKey, opkssh_bin};

const OPK: &str = env!("CARGO_BIN_EXE_opk");

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name:?} in:\n{text}"))
        .trim()
        .to_owned()
}

#[test]
fn inspect_agrees_with_opkssh_inspect_and_adds_expiry_per_policy() {
    let dir = tempfile::tempdir().expect("tmp");
    // A P-256 signing key in op.mjs's --keys format (d = 32 bytes of 0x2a).
    let keys = dir.path().join("keys.json");
    std::fs::write(
        &keys,
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1",
                         "d": "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio"}]})
        .to_string(),
    )
    .expect("keys");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = json!({"iss": "https://op.example", "aud": "client", "sub": "s-1",
        "email": "alice@example.com", "email_verified": true, "iat": now - 7200, "exp": now + 1800,
        "groups": ["ops"]});
    let (_, cert) = OpKey::from_keys_file(&keys).certificate(
        claims.as_object().expect("object").clone(),
        vec!["alice".into(), "deploy".into()],
    );
    let path = dir.path().join("id_ecdsa-cert.pub");
    std::fs::write(&path, cert.to_line(Some("openpubkey"))).expect("cert");

    let ours = Command::new(OPK)
        .arg("inspect")
        .arg(&path)
        .output()
        .expect("opk inspect");
    assert!(ours.status.success(), "{ours:?}");
    let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
    let theirs = Command::new(opkssh_bin())
        .arg("inspect")
        .arg(&path)
        .env("HOME", dir.path())
        .output()
        .expect("opkssh inspect");
    assert!(theirs.status.success(), "{theirs:?}");
    let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
    for name in [
        "Serial:",
        "Key ID:",
        "Principals:",
        "Valid After:",
        "Valid Before:",
        "openpubkey-pkt:",
        "Issuer:",
        "Audience:",
        "Subject:",
        "Identity:",
        "Provider Algorithm:",
    ] {
        assert_eq!(
            field(&ours, name),
            field(&theirs, name),
            "{name}\nopk:\n{ours}\nopkssh:\n{theirs}"
        );
    }
    assert_eq!(field(&ours, "Principals:"), "[alice deploy]");
    // Issued two hours ago: 10 hours left under 12h, 22 under 24h; oidc: exp in 30 minutes.
    assert!(
        field(&ours, "24h").ends_with("(in 21h59m)") || field(&ours, "24h").ends_with("(in 22h0m)"),
        "{ours}"
    );
    assert!(
        field(&ours, "12h").contains("(in 9h59m") || field(&ours, "12h").contains("(in 10h0m"),
        "{ours}"
    );
    assert!(
        field(&ours, "oidc ").contains("(in 29m") || field(&ours, "oidc ").contains("(in 30m"),
        "{ours}"
    );
    assert!(ours.contains("\"groups\": [\n    \"ops\"\n  ]"), "{ours}");

    // The line itself and stdin work too; a plain key is one error line.
    let line = cert.to_line(None);
    let direct = Command::new(OPK)
        .args(["inspect", &line])
        .output()
        .expect("opk inspect");
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout).lines().nth(2),
        ours.lines().nth(2)
    );
    let plain = Command::new(OPK)
        .args([
            "inspect",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxCN4w2PPkQMjeOb4p1D1I3aKh1lqL4fqz1Ib8cKjKT",
        ])
        .output()
        .expect("opk inspect");
    assert_eq!(plain.status.code(), Some(1));
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(err.starts_with("Error: not an SSH certificate"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
