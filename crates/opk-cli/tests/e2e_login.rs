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

/// `-t ed25519` without `-i` uses opkssh's default name `~/.ssh/id_ed25519`; `-v` shows the new
/// certificate as `opk inspect` does. Fails if the key goes elsewhere (e.g. `id_ecdsa`), is not
/// Ed25519, does not work with ssh, or `-v` prints no inspection.
#[test]
fn ed25519_default_key_name() {
    let (op, dir, home, user) = World::start().into_parts();
    let run = login(&op, &home, "opk-rs256", &["-t", "ed25519", "-v"], &[]);
    // -v is opkssh's --inspect-cert: `opk inspect`'s view of the new certificate.
    assert!(
        run.stdout.contains("--- SSH Certificate Information ---")
            && run.stdout.contains("Key ID:           alice@example.com")
            && run.stdout.contains("ssh-ed25519-cert-v01@openssh.com"),
        "{}",
        run.stdout
    );
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

/// The login loads key and certificate into a real `ssh-agent` (SSH_AUTH_SOCK), with a lifetime
/// of the token's useful life on a 24h server; stock ssh then logs in with the agent alone (the
/// key files are deleted first). A second login for the same provider replaces its identity and
/// leaves a plain key and another client's certificate alone; `--lifetime 3s` makes the agent
/// drop it after 3 seconds. Fails if nothing reaches the agent, if `ssh-add -l` shows a plain key
/// instead of a certificate, if ssh cannot log in through the agent, if old identities pile up
/// or others are removed, or if the lifetime is not passed.
#[test]
fn login_loads_ssh_agent_and_ssh_logs_in_through_it() {
    let (op, dir, home, user) = World::start().into_parts();
    let agent = opk_e2e::Agent::start(dir.path(), "agent");
    let sock = agent.socket.display().to_string();
    let env = [("SSH_AUTH_SOCK", sock.as_str())];
    let key = dir.join("k");
    let key_arg = key.display().to_string();
    let run = login(&op, &home, "opk-rs256", &["-i", &key_arg], &env);
    assert!(
        run.stdout
            .contains("Added the key and certificate to ssh-agent for 23h 59m")
            || run
                .stdout
                .contains("Added the key and certificate to ssh-agent for 1d"),
        "{}",
        run.stdout
    );
    let listed = agent.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let comment = format!("openpubkey: {} opk-rs256", op.issuer);
    assert!(
        listed[0].contains(&comment) && listed[0].ends_with("(ECDSA-CERT)"),
        "{listed:?}"
    );
    // The agent holds exactly the pair written to the files.
    let fingerprint = |path: &std::path::Path| {
        let out = run_ok(Command::new("ssh-keygen").arg("-l").arg("-f").arg(path));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .expect("fingerprint")
            .to_owned()
    };
    let cert_path = dir.join("k-cert.pub");
    assert!(listed[0].contains(&fingerprint(&cert_path)), "{listed:?}");
    std::fs::remove_file(&key).expect("rm key");
    std::fs::remove_file(&cert_path).expect("rm cert");

    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(
        &host
            .sshd
            .ssh_with_agent(&agent.socket, &user, "echo agent-ok"),
        "agent-ok",
    );
    assert!(
        host.sshd_log()
            .contains(&format!("Accepted publickey for {user} "))
            && host.sshd_log().contains("ECDSA-CERT"),
        "{}",
        host.sshd_log()
    );

    // A plain key and another client's certificate stay when this provider logs in again.
    let plain = dir.join("plain");
    opk_e2e::keygen(&plain);
    let added = agent.ssh_add(&[&plain.display().to_string()]);
    assert!(added.status.success(), "{added:?}");
    login(&op, &home, "opk-es256", &["-i", &key_arg], &env);
    assert_eq!(agent.list().len(), 3, "{:?}", agent.list());
    let run = login(
        &op,
        &home,
        "opk-rs256",
        &["-i", &key_arg, "-t", "ed25519", "--lifetime", "3s"],
        &env,
    );
    assert!(
        run.stdout
            .contains("ssh-agent for 3s, replacing 1 older opk identity(ies) of this provider"),
        "{}",
        run.stdout
    );
    let listed = agent.list();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        listed
            .iter()
            .filter(|l| l.ends_with("(ECDSA-CERT)"))
            .count(),
        1,
        "the older opk-rs256 certificate is still there: {listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|l| l.contains(&comment) && l.ends_with("(ED25519-CERT)")),
        "{listed:?}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while agent.list().iter().any(|l| l.ends_with("(ED25519-CERT)")) {
        assert!(
            std::time::Instant::now() < deadline,
            "--lifetime 3s: still listed {:?}",
            agent.list()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(agent.list().len(), 2, "{:?}", agent.list());
    dir.keep_if_asked();
}

/// `-i PATH` naming a key that `ssh-keygen` made (no opk certificate beside it) is refused before
/// anything is asked of the OP, and left as it was; `--force` replaces it, and once the pair is
/// opk's a later login replaces it without `--force`. Fails if the user's key is overwritten
/// silently, if the refusal comes only after the browser step (the OP sees a discovery
/// request), or if `--force` or opk's own pair are refused.
#[test]
fn explicit_key_path_keeps_a_foreign_key_unless_forced() {
    let (op, dir, home, user) = World::start().into_parts();
    let mine = dir.join("mine");
    opk_e2e::keygen(&mine);
    let original = std::fs::read_to_string(&mine).expect("key");
    let mine_arg = mine.display().to_string();
    let provider_arg = provider(&op, "opk-rs256");
    let args = [
        "--disable-browser-open",
        "--provider",
        &provider_arg,
        "-i",
        &mine_arg,
    ];
    let out = run_login(&home, &args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "Error: {mine_arg} holds a private key that opk did not write (no opk certificate beside it): pass --force to replace it, or choose another -i PATH"
        )
    );
    assert_eq!(op.requests("/.well-known/openid-configuration"), 0);
    assert_eq!(std::fs::read_to_string(&mine).expect("key"), original);

    login(&op, &home, "opk-rs256", &["-i", &mine_arg, "--force"], &[]);
    assert_ne!(std::fs::read_to_string(&mine).expect("key"), original);
    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(&host.sshd.ssh(&mine, &user, "echo forced-ok"), "forced-ok");
    let run = login(&op, &home, "opk-rs256", &["-i", &mine_arg], &[]);
    // "Writing …" is said once the files are there.
    assert!(
        run.stdout.contains(&format!("secret key to {mine_arg}")),
        "{}",
        run.stdout
    );
    dir.keep_if_asked();
}

/// The client config in opkssh's format: `--create-config` writes the built-in one (opkssh's
/// four providers) to `~/.opk/config.yml` and exits without a login; a config naming the test OP
/// as `default_provider`, with its own redirect port, is then used with no alias at all, and the
/// authorization request carries that port. Fails if `--create-config` logs in or writes
/// something else, if the config's default or redirect URIs are ignored, or if the key does not
/// work with sshd.
#[test]
fn client_config_default_provider_and_redirect_port() {
    let (op, dir, home, user) = World::start().into_parts();
    let out = run_login(&home, &["--create-config"], &[]);
    assert!(out.status.success(), "{out:?}");
    let written = std::fs::read_to_string(home.join(".opk/config.yml")).expect("config");
    assert_eq!(written, opk_login::DEFAULT_CONFIG);
    assert_eq!(mode(&home.join(".opk/config.yml")), 0o644);
    assert!(!home.join(".ssh").exists(), "--create-config logged in");

    let port = opk_e2e::free_port();
    let config = dir.write(
        "client.yml",
        &format!(
            "default_provider: test\nproviders:\n  - alias: test other\n    issuer: {}\n    \
             client_id: opk-rs256\n    scopes: openid email\n    redirect_uris:\n      \
             - http://localhost:{port}/login-callback\n",
            op.issuer
        ),
        0o600,
    );
    let run = browser_login(&home)
        .args(["--config-path", &config.display().to_string()])
        .run()
        .assert_success("opk login with the config's default provider");
    assert!(
        run.stderr.contains(&format!(
            "redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Flogin-callback"
        )),
        "{}",
        run.stderr
    );
    let cert = read_cert(&home.join(".ssh/id_ecdsa-cert.pub"));
    assert_eq!(claims(&cert)["aud"], "opk-rs256");
    let host = Host::allowing_alice(&dir, "host", &op, "opk-rs256");
    assert_ssh_ok(
        &host
            .sshd
            .ssh(&home.join(".ssh/id_ecdsa"), &user, "echo config-ok"),
        "config-ok",
    );
    dir.keep_if_asked();
}

/// opkssh's `--remote-redirect-uri`, `--print-id-token` and `--log-dir` against the real OP and
/// Chromium. The OP's client `opk-remote` has one registered redirect URI, a relay on another
/// port that passes the callback's query on to opk's loopback listener (what a web terminal's
/// server does). The config's `remote_redirect_uri` takes the first login through the relay; the
/// second gives the flag, which must win over a config value the OP would refuse. Fails if opk
/// sends its loopback URI to the OP (unregistered: the OP refuses) or in the code exchange (the
/// OP refuses the code), if the listener no longer answers, if the flag loses to the config, if
/// `--print-id-token` does not print the token's claims, or if the log is not appended to, has
/// no timestamps, or receives the key, the certificate or the ID token.
#[test]
fn remote_redirect_uri_print_id_token_and_log_dir() {
    let dir = opk_e2e::TestDir::new(TMP);
    // opk's loopback listener, from the config's redirect_uris.
    let port = opk_e2e::free_port();
    let relay = opk_testkit::http::StubServer::start(move |req| {
        if req.path() != "/remote-callback" {
            return opk_testkit::http::Response::new(404);
        }
        opk_testkit::http::Response::redirect(&format!(
            "http://localhost:{port}/login-callback?{}",
            req.query()
        ))
    });
    let remote = relay.url("/remote-callback");
    let clients = dir.write(
        "op-clients.json",
        &serde_json::json!([{
            "client_id": "opk-remote",
            "application_type": "web",
            "redirect_uris": [remote],
        }])
        .to_string(),
        0o600,
    );
    let op = opk_e2e::Op::start_with(None, &["--clients", clients.to_str().expect("utf-8")]);
    let (op, dir, home, user) = World::with(op, dir, None).into_parts();
    let config_text = |remote_uri: &str| {
        format!(
            "default_provider: remote\nproviders:\n  - alias: remote\n    issuer: {}\n    \
             client_id: opk-remote\n    scopes: openid email\n    remote_redirect_uri: {remote_uri}\n    \
             redirect_uris:\n      - http://localhost:{port}/login-callback\n",
            op.issuer
        )
    };
    let config = dir.write("client.yml", &config_text(&remote), 0o600);
    let config_arg = config.display().to_string();
    let logs = dir.join("logs");
    std::fs::create_dir(&logs).expect("log dir");
    let logs_arg = logs.display().to_string();

    let run = browser_login(&home)
        .args(["--config-path", &config_arg, "--print-id-token"])
        .args(["--log-dir", &logs_arg])
        .run()
        .assert_success("opk login through the remote redirect URI");
    assert!(
        run.stderr
            .contains(&format!("redirect_uri={}", pct(&remote))),
        "{}",
        run.stderr
    );
    assert_eq!(
        relay.requests().len(),
        1,
        "the OP did not redirect to the relay"
    );
    let cert = read_cert(&home.join(".ssh/id_ecdsa-cert.pub"));
    let token = claims(&cert);
    assert_eq!(token["aud"], "opk-remote");
    // --print-id-token: `id_token:` and the claims as JSON, as opkssh prints them.
    let json = run
        .stdout
        .split_once("id_token:\n")
        .map(|(_, rest)| rest.split_once("\n}\n").map(|(j, _)| format!("{j}\n}}")))
        .and_then(|j| j)
        .unwrap_or_else(|| panic!("no id_token: block in\n{}", run.stdout));
    let printed: serde_json::Value = serde_json::from_str(&json).expect("printed claims");
    assert_eq!(printed, serde_json::Value::Object(token.clone()));
    assert_eq!(printed["email"], USER_EMAIL);

    let host = Host::allowing_alice(&dir, "host", &op, "opk-remote");
    assert_ssh_ok(
        &host
            .sshd
            .ssh(&home.join(".ssh/id_ecdsa"), &user, "echo remote-ok"),
        "remote-ok",
    );

    // The flag beats the config's value (one the OP has not registered).
    std::fs::write(&config, config_text("https://unregistered.example/cb")).expect("config");
    browser_login(&home)
        .args([
            "--config-path",
            &config_arg,
            "--remote-redirect-uri",
            &remote,
        ])
        .args(["--log-dir", &logs_arg])
        .run()
        .assert_success("opk login with --remote-redirect-uri over the config");
    assert_eq!(relay.requests().len(), 2);

    // A failed login leaves its error in the log too.
    let out = run_login(
        &home,
        &["--provider", "http://example.com,x", "--log-dir", &logs_arg],
        &[],
    );
    assert!(!out.status.success());

    let log = std::fs::read_to_string(logs.join("opkssh.log")).expect("opkssh.log");
    assert_eq!(mode(&logs.join("opkssh.log")) & !0o660, 0);
    assert_eq!(
        log.matches("Keys generated for identity").count(),
        2,
        "{log}"
    );
    assert!(
        log.contains(&format!("Logging in at {} as client opk-remote", op.issuer)),
        "{log}"
    );
    let error_line = log.lines().last().expect("a line");
    assert!(
        error_line.contains(" Error: ") && error_line.contains("http://example.com"),
        "{log}"
    );
    for line in log.lines() {
        let (stamp, _) = line.split_at(20);
        assert!(
            stamp.len() == 20
                && stamp.as_bytes()[4] == b'/'
                && stamp.as_bytes()[13] == b':'
                && stamp.ends_with(' '),
            "{line:?}"
        );
    }
    let pk_token = cert.pk_token().expect("pkt");
    for secret in [
        "PRIVATE KEY",
        "ecdsa-sha2-nistp256-cert",
        "id_token",
        "state=",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(!log.contains(pk_token.split(':').next().expect("payload")));
    dir.keep_if_asked();
}

/// Percent-encoding as opk writes the authorize URL's query.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `opk logout` after real logins, with a real `ssh-agent`: the default login's pair in `~/.ssh`
/// and the `-i` pair go, with their agent identities, while the user's own `ssh-keygen` key in
/// `~/.ssh` and a plain key in the agent stay; `-i` on the user's key is refused and leaves it;
/// a second logout finds nothing and succeeds. Fails if a foreign key is removed, if an opk pair
/// or its agent identity survives, or if a repeated logout fails.
#[test]
fn logout_removes_opks_pairs_and_agent_identities_only() {
    let (op, dir, home, _) = World::start().into_parts();
    let agent = opk_e2e::Agent::start(dir.path(), "agent");
    let sock = agent.socket.display().to_string();
    let env = [("SSH_AUTH_SOCK", sock.as_str())];
    let own = home.join(".ssh/id_ed25519");
    std::fs::create_dir_all(home.join(".ssh")).expect("mkdir");
    opk_e2e::keygen(&own);
    let own_text = std::fs::read_to_string(&own).expect("own key");
    let plain = dir.join("plain");
    opk_e2e::keygen(&plain);
    assert!(
        agent
            .ssh_add(&[&plain.display().to_string()])
            .status
            .success()
    );
    login(&op, &home, "opk-rs256", &[], &env);
    let explicit = dir.join("work");
    let explicit_arg = explicit.display().to_string();
    login(&op, &home, "opk-es256", &["-i", &explicit_arg], &env);
    assert_eq!(agent.list().len(), 3, "{:?}", agent.list());

    let logout = |args: &[&str]| {
        let out = Command::new(OPK)
            .arg("logout")
            .args(args)
            .env("HOME", &home)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .output()
            .expect("opk logout");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let own_arg = own.display().to_string();
    let (ok, _, stderr) = logout(&["-i", &own_arg]);
    assert!(!ok, "logout -i removed the user's own key");
    assert!(stderr.contains("is not opk's to remove"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&own).expect("own"), own_text);

    let (ok, stdout, stderr) = logout(&["-v"]);
    assert!(ok, "{stdout}{stderr}");
    let key = home.join(".ssh/id_ecdsa");
    assert!(
        stdout.contains(&format!(
            "Removed {} and {}-cert.pub",
            key.display(),
            key.display()
        )) && stdout.contains("Removed 1 identity(ies) from ssh-agent")
            && stdout.contains("Successfully removed 1 opkssh key pair(s)"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("Skipping {own_arg}: no certificate")),
        "{stderr}"
    );
    assert_eq!(
        names_in(&home.join(".ssh")),
        ["id_ed25519", "id_ed25519.pub"]
    );
    assert_eq!(std::fs::read_to_string(&own).expect("own"), own_text);
    let listed = agent.list();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|l| l.contains("opk-es256")), "{listed:?}");

    let (ok, stdout, _) = logout(&["-i", &explicit_arg]);
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "Successfully removed opkssh key pair: {explicit_arg}"
        )),
        "{stdout}"
    );
    assert!(!explicit.exists() && !dir.join("work-cert.pub").exists());
    let listed = agent.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(!listed[0].contains("CERT"), "{listed:?}");

    for args in [&[][..], &["-i", &explicit_arg][..]] {
        let (ok, stdout, stderr) = logout(args);
        assert!(ok, "{args:?}: {stderr}");
        assert_eq!(stdout, "No opkssh keys found to remove\n", "{args:?}");
    }
    dir.keep_if_asked();
}

/// `--auto-refresh` against the real OP (client opk-short: ID tokens live 5 s, refresh tokens
/// are issued): the process keeps running and rewrites the certificate with the refreshed ID
/// token appended to the same PK Token, for the same key. Once the original token has expired
/// an `oidc_refreshed` sshd still lets the key in and an `oidc` one refuses it; with the OP
/// stopped the refreshes fail, and after its bounded retries login exits 1 with one error line.
/// Fails if nothing is refreshed, the key changes, a refreshed cert is refused by the
/// `oidc_refreshed` host or accepted by the `oidc` one, or login never gives up.
#[test]
fn auto_refresh_keeps_an_oidc_refreshed_server_open_and_stops_when_the_op_is_gone() {
    let (mut op, dir, home, user) = World::start().into_parts();
    let auth = policy(&user, USER_EMAIL, &op.issuer);
    let host = |name: &str, expiry: &str| {
        let providers = format!("{} opk-short {expiry}\n", op.issuer);
        Host::start(&dir, name, &providers, &auth, &[])
    };
    let (refreshed_host, oidc_host) = (host("refreshed", "oidc_refreshed"), host("oidc", "oidc"));
    let key = home.join(".ssh/id_ecdsa");
    let cert_path = home.join(".ssh/id_ecdsa-cert.pub");
    let provider_arg = provider(&op, "opk-short");
    let started = std::time::Instant::now();
    let run = std::thread::scope(|scope| {
        let login = scope.spawn(|| {
            browser_login(&home)
                .args(["--provider", &provider_arg, "--auto-refresh"])
                .run()
        });
        // A refreshed certificate: the PK Token gains a `.`-appended ID token.
        let refreshed_cert = |previous: Option<&str>| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                if let Ok(line) = std::fs::read_to_string(&cert_path)
                    && let Ok(cert) = OpkCert::from_line(&line)
                    && let Some(fresh) = cert
                        .pk_token()
                        .and_then(|p| p.split_once('.'))
                        .map(|(_, f)| f.to_owned())
                    && previous != Some(fresh.as_str())
                {
                    return (cert, fresh);
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no refreshed certificate"
                );
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        };
        let (first, fresh) = refreshed_cert(None);
        let original = claims(&first);
        // Past the original token's exp: only the refreshed token keeps the door open.
        let exp = original["exp"].as_i64().expect("exp");
        while std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64
            <= exp + 1
        {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let (latest, _) = refreshed_cert(Some(&fresh));
        assert_eq!(
            latest.public_key(),
            first.public_key(),
            "refresh changed the key"
        );
        assert_eq!(
            claims(&latest)["iat"],
            original["iat"],
            "the original token must stay"
        );
        assert_ssh_ok(
            &refreshed_host.sshd.ssh(&key, &user, "echo refreshed-ok"),
            "refreshed-ok",
        );
        assert_ssh_denied(&oidc_host.sshd.ssh(&key, &user, "true"));
        op.stop();
        login.join().expect("login thread")
    });
    let error = the_one_error_line(&run);
    assert!(
        error.contains("--auto-refresh stopped after 5 attempt(s)"),
        "{error}\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Refreshed the ID token (valid until"),
        "{}",
        run.stdout
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(150));
    dir.keep_if_asked();
}
