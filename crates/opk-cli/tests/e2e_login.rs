//! End to end for `opk login`'s options with the real parts: npm oidc-provider, headless Chromium,
//! the built `opk`, Debian's ssh, ssh-keygen and sshd with `opk verify` as AuthorizedKeysCommand.
//! Each test says in its comment how it fails when the feature breaks.

use std::process::Command;

use opk_e2e::{run_ok, ssh_keygen_list};
use opk_sshcert::OpkCert;

mod common;

use common::*;

/// `--principals` puts exactly the listed principals in the certificate, `opk verify` echoes them
/// in `principals="…"`, and sshd accepts the certificate for the current user (one of them).
/// `--principals ""` makes a certificate without principals. Fails if the flag is ignored (the
/// cert says opkssh-wildcard), if verify prints other principals, or if sshd's handling of a
/// principal-less cert changes.
#[test]
fn principals_flag_reaches_the_cert_verify_and_sshd() {
    let (op, dir, home, user) = World::start().into_parts();
    let listed = format!("{user},deploy");
    login(&op, &home, "opk-rs256", &["--principals", &listed], &[]);
    let key = home.join(".ssh/id_ecdsa");
    let cert_path = home.join(".ssh/id_ecdsa-cert.pub");
    let listing = ssh_keygen_list(&cert_path);
    let principals_block = listing
        .split("Principals:")
        .nth(1)
        .and_then(|rest| rest.split("Critical Options:").next())
        .unwrap_or_else(|| panic!("no principals in:\n{listing}"));
    let shown: Vec<&str> = principals_block.split_whitespace().collect();
    assert_eq!(shown, [user.as_str(), "deploy"], "{listing}");
    assert!(!listing.contains("opkssh-wildcard"), "{listing}");

    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(
        &host.sshd.ssh(&key, &user, "echo principals-ok"),
        "principals-ok",
    );
    let cert = read_cert(&cert_path);
    assert_eq!(
        allowed_line(&host, &user, &cert),
        format!(
            "cert-authority,principals=\"{user},deploy\" {}\n",
            cert.signature_key().to_openssh_line().expect("key line")
        )
    );

    // No principals at all.
    let empty_home = dir.join("home-empty");
    login(&op, &empty_home, "opk-rs256", &["--principals", ""], &[]);
    let empty_key = empty_home.join(".ssh/id_ecdsa");
    let empty_cert_path = empty_home.join(".ssh/id_ecdsa-cert.pub");
    let empty_cert = read_cert(&empty_cert_path);
    assert!(
        empty_cert.principals().is_empty(),
        "{:?}",
        empty_cert.principals()
    );
    let listing = ssh_keygen_list(&empty_cert_path);
    assert!(
        listing.contains("Principals: (none)"),
        "ssh-keygen -L:\n{listing}"
    );
    // opk verify allows the identity and prints the bare line, as opkssh does for such certs.
    assert_eq!(
        allowed_line(&host, &user, &empty_cert),
        format!(
            "cert-authority {}\n",
            empty_cert
                .signature_key()
                .to_openssh_line()
                .expect("key line")
        )
    );
    // Observed with OpenSSH 9.2 (Debian 12): for a `cert-authority` line without `principals=`
    // sshd still matches the target user against the cert's principals, but a cert with an
    // EMPTY principal list is not checked at all — it is accepted for any account the line is
    // offered for. (Hazard H-5 in docs/hazards.md: later OpenSSH releases stopped treating
    // empty-principal certs as wildcards, which is why opkssh's default is the explicit
    // `opkssh-wildcard` principal echoed back in `principals=`; with 9.2 the bare line still
    // works.)
    assert_ssh_ok(
        &host.sshd.ssh(&empty_key, &user, "echo no-principals-ok"),
        "no-principals-ok",
    );
    let sshd_log = host.sshd_log();
    let last_connection = sshd_log
        .rsplit("Connection from")
        .next()
        .unwrap_or_default();
    assert!(
        last_connection.contains(&format!("Accepted publickey for {user} "))
            && last_connection.contains("ECDSA-CERT"),
        "sshd log:\n{sshd_log}"
    );
    dir.keep_if_asked();
}

/// `OPKSSH_PROVIDERS` + a positional alias (which beats `OPKSSH_DEFAULT`), then `OPKSSH_DEFAULT`
/// alone, choose the provider. Fails if the alias is ignored or resolved to the wrong entry: the
/// PK Token's OP header alg and `aud` tell the two clients apart (RS256/opk-rs256 vs
/// ES256/opk-es256).
#[test]
fn opkssh_providers_alias_and_default() {
    let (op, dir, home, user) = World::start().into_parts();
    let list = format!("a,{iss},opk-es256;b,{iss},opk-rs256", iss = op.issuer);
    let cert_path = home.join(".ssh/id_ecdsa-cert.pub");

    let providers_env = [("OPKSSH_PROVIDERS", list.as_str()), ("OPKSSH_DEFAULT", "a")];
    browser_login(&home)
        .args(["b"])
        .envs(providers_env)
        .run()
        .assert_success("opk login b");
    let cert = read_cert(&cert_path);
    assert_eq!(op_header(&cert)["alg"], "RS256");
    assert_eq!(claims(&cert)["aud"], "opk-rs256");
    let rs = Host::allowing_alice(&dir, "rs", &op, "opk-rs256");
    assert_ssh_ok(
        &rs.sshd
            .ssh(&home.join(".ssh/id_ecdsa"), &user, "echo alias-ok"),
        "alias-ok",
    );

    browser_login(&home)
        .envs(providers_env)
        .run()
        .assert_success("opk login with OPKSSH_DEFAULT");
    let cert = read_cert(&cert_path);
    assert_eq!(op_header(&cert)["alg"], "ES256");
    assert_eq!(claims(&cert)["aud"], "opk-es256");
    dir.keep_if_asked();
}

/// `--print-key` writes nothing; what it prints is a working key pair: `ssh-keygen -y` derives the
/// certificate's public key from the printed private key, and ssh logs in with the pair. Fails if
/// the printed key and cert do not belong together or are not in a form OpenSSH loads.
#[test]
fn print_key_output_is_a_working_pair() {
    let (op, dir, home, user) = World::start().into_parts();
    let run = login(&op, &home, "opk-rs256", &["--print-key"], &[]);
    assert!(!home.join(".ssh").exists(), "--print-key wrote to ~/.ssh");
    let (cert_line, pem) = run.stdout.split_once('\n').expect("two parts");
    let cert = OpkCert::from_line(cert_line).expect("printed cert line parses");
    assert!(
        pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")
            && pem
                .trim_end()
                .ends_with("-----END OPENSSH PRIVATE KEY-----"),
        "{pem}"
    );
    let key = dir.write("printed/key", pem, 0o600);
    dir.write("printed/key-cert.pub", &format!("{cert_line}\n"), 0o600);
    let derived = run_ok(Command::new("ssh-keygen").arg("-y").arg("-f").arg(&key));
    let derived = String::from_utf8_lossy(&derived.stdout);
    let derived: Vec<&str> = derived.split_whitespace().take(2).collect();
    assert_eq!(
        derived.join(" "),
        cert.public_key().to_openssh_line().expect("key line")
    );

    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo printed-ok"), "printed-ok");
    dir.keep_if_asked();
}

/// `-t ed25519` without `-i` uses opkssh's default name `~/.ssh/id_ed25519`. Fails if the key goes
/// elsewhere (e.g. `id_ecdsa`), is not Ed25519, or does not work with ssh.
#[test]
fn ed25519_default_key_name() {
    let (op, dir, home, user) = World::start().into_parts();
    let run = login(&op, &home, "opk-rs256", &["-t", "ed25519"], &[]);
    let key = home.join(".ssh/id_ed25519");
    let cert_path = home.join(".ssh/id_ed25519-cert.pub");
    assert!(
        run.stdout.contains(&format!(
            "Writing opk ssh public key to {} and corresponding secret key to {}",
            cert_path.display(),
            key.display()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        names_in(&home.join(".ssh")),
        ["id_ed25519", "id_ed25519-cert.pub"]
    );
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&home.join(".ssh")), 0o700);
    let cert = read_cert(&cert_path);
    assert_eq!(cert.cert_type(), "ssh-ed25519-cert-v01@openssh.com");
    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo ed-ok"), "ed-ok");
    dir.keep_if_asked();
}

/// The user's own `~/.ssh/id_ecdsa` (no certificate) is never overwritten: the login takes the
/// next name, `id_ecdsa_sk`, and a second login replaces that pair (its cert says `openpubkey`).
/// Fails if the user's key is touched, if the second login picks yet another name or refuses, or
/// if the `_sk` pair does not work with ssh.
#[test]
fn users_own_id_ecdsa_is_kept_and_the_sk_slot_is_reused() {
    let (op, dir, home, user) = World::start().into_parts();
    let own = dir.write("home/.ssh/id_ecdsa", "MY OWN KEY", 0o600);
    dir.write("home/.ssh/id_ecdsa.pub", "MY OWN PUBLIC KEY", 0o644);
    let key = home.join(".ssh/id_ecdsa_sk");
    let cert_path = home.join(".ssh/id_ecdsa_sk-cert.pub");

    login(&op, &home, "opk-rs256", &[], &[]);
    let expected = [
        "id_ecdsa",
        "id_ecdsa.pub",
        "id_ecdsa_sk",
        "id_ecdsa_sk-cert.pub",
    ];
    assert_eq!(names_in(&home.join(".ssh")), expected);
    assert_eq!(std::fs::read_to_string(&own).expect("own"), "MY OWN KEY");
    let first = std::fs::read_to_string(&cert_path).expect("cert");
    assert!(first.ends_with(" openpubkey"), "{first:?}");
    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo sk-ok"), "sk-ok");

    // The second login finds its own pair in the _sk slot and replaces it.
    let first_key = std::fs::read_to_string(&key).expect("key");
    login(&op, &home, "opk-rs256", &[], &[]);
    assert_eq!(names_in(&home.join(".ssh")), expected);
    assert_eq!(std::fs::read_to_string(&own).expect("own"), "MY OWN KEY");
    let second = std::fs::read_to_string(&cert_path).expect("cert");
    assert_ne!(first, second, "the second login did not replace the cert");
    assert_ne!(
        first_key,
        std::fs::read_to_string(&key).expect("key"),
        "the second login did not replace the key"
    );
    assert!(second.ends_with(" openpubkey"), "{second:?}");
    assert_ssh_ok(&host.sshd.ssh(&key, &user, "echo sk-again"), "sk-again");
    dir.keep_if_asked();
}

/// opkssh's identity-file name for a provider in `~/.ssh/opkssh`: the issuer without `https://`,
/// `-`, the first 20 characters of the audience, each run of characters outside
/// `[A-Za-z0-9_.-]` replaced by `_`. (Written from the description, independently of opk-login.)
fn opkssh_identity_name(iss: &str, aud: &str) -> String {
    let raw = format!(
        "{}-{}",
        iss.strip_prefix("https://").unwrap_or(iss),
        aud.chars().take(20).collect::<String>()
    );
    let mut name = String::new();
    let mut previous_replaced = false;
    for c in raw.chars() {
        let keep = c.is_ascii_alphanumeric() || "_.-".contains(c);
        if keep {
            name.push(c);
        } else if !previous_replaced {
            name.push('_');
        }
        previous_replaced = !keep;
    }
    name
}

/// A configured `~/.ssh/opkssh` (the Include line in `~/.ssh/config` and an existing
/// `~/.ssh/opkssh/config`) receives the key under opkssh's per-provider name, with the
/// `  openpubkey: <iss> <aud>` comment, and its config lists the key, so `ssh -F` that config
/// logs in. Fails if the key lands in `~/.ssh/id_ecdsa`, under another name, without the
/// IdentityFile line, or with a comment opkssh would not write.
#[test]
fn opkssh_identity_directory() {
    let (op, dir, home, user) = World::start().into_parts();
    dir.write(
        "home/.ssh/config",
        "Include ~/.ssh/opkssh/config\n\nHost *\n",
        0o600,
    );
    let config = dir.write("home/.ssh/opkssh/config", "", 0o600);
    login(&op, &home, "opk-rs256", &[], &[]);

    let name = opkssh_identity_name(&op.issuer, "opk-rs256");
    // http://localhost:PORT: the `://` and `:` runs each become one `_`.
    assert!(name.starts_with("http_localhost_"), "{name}");
    assert!(name.ends_with("-opk-rs256"), "{name}");
    let key = home.join(".ssh/opkssh").join(&name);
    let cert_path = home.join(format!(".ssh/opkssh/{name}-cert.pub"));
    assert_eq!(
        names_in(&home.join(".ssh/opkssh")),
        [
            "config".to_owned(),
            name.clone(),
            format!("{name}-cert.pub")
        ]
    );
    assert!(!home.join(".ssh/id_ecdsa").exists());
    assert_eq!(mode(&key), 0o600);
    let cert_text = std::fs::read_to_string(&cert_path).expect("cert");
    let (line, comment) = cert_text.split_once("  ").expect("two spaces");
    assert_eq!(comment, format!("openpubkey: {} opk-rs256", op.issuer));
    assert!(OpkCert::from_line(line).is_ok(), "{line}");
    let config_text = std::fs::read_to_string(&config).expect("config");
    assert!(
        config_text.starts_with(&format!("IdentityFile {}\n", key.display())),
        "{config_text:?}"
    );
    // The user's own config is left as it was.
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/config")).expect("config"),
        "Include ~/.ssh/opkssh/config\n\nHost *\n"
    );

    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(
        &host
            .sshd
            .ssh_with_config(&config, &user, "echo identity-dir-ok"),
        "identity-dir-ok",
    );

    // A second login for the same provider reuses the name and does not repeat the line.
    login(&op, &home, "opk-rs256", &[], &[]);
    assert_eq!(names_in(&home.join(".ssh/opkssh")).len(), 3);
    let config_text = std::fs::read_to_string(&config).expect("config");
    assert_eq!(
        config_text.matches("IdentityFile ").count(),
        1,
        "{config_text:?}"
    );
    dir.keep_if_asked();
}

/// The OP refuses the login (password `reject` → `error=access_denied` at the redirect URI):
/// `opk login` exits 1 with one `Error:` line naming access_denied and writes no key. Fails if
/// opk hangs until its timeout, reports success, hides the OP's error code, or writes files.
#[test]
fn op_denial_fails_cleanly_and_writes_nothing() {
    let (op, dir, home, _) = World::start().into_parts();
    let started = std::time::Instant::now();
    let run = browser_login(&home)
        .args([
            "--provider",
            &provider(&op, "opk-rs256"),
            "--timeout",
            "120",
        ])
        .password("reject")
        .run();
    // Decided by the OP's answer, not by --timeout.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(100),
        "took {:?}",
        started.elapsed()
    );
    let error = the_one_error_line(&run);
    assert!(error.starts_with("Error: "), "{error}");
    assert!(error.contains("access_denied"), "{error}");
    assert!(!run.stdout.contains("Keys generated"), "{}", run.stdout);
    assert!(
        !home.join(".ssh").exists() || names_in(&home.join(".ssh")).is_empty(),
        "files written: {:?}",
        names_in(&home.join(".ssh"))
    );
    dir.keep_if_asked();
}
