//! Interop with the reference implementation: the real opkssh binary (Go, pinned release, installed
//! by `bash scripts/test.sh` → `opk_setup` → `opk_install_opkssh`) against opk, both ways, with
//! the OP served over https by a test CA (opkssh only accepts https issuers; both sides trust the
//! CA through SSL_CERT_FILE). opkssh verify runs in a private mount namespace where /etc/opk and
//! /var/log are per-test directories (see scripts/opkssh-ns.sh): the machine's /etc/opk and
//! /var/log are never touched. A missing opkssh binary fails the tests; it never skips them.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use opk_e2e::{BrowserLogin, LoginRun, OpksshHost, VerifyHost, opkssh_bin, show};
use opk_pktoken::PkToken;
use opk_sshcert::OpkCert;

mod common;

use common::*;

/// The world of an interop test: [`World::https`], since opkssh only accepts https issuers, and
/// the opkssh binary. Fails first, with the install hint, when opkssh is missing.
fn world() -> (World, PathBuf) {
    let opkssh = opkssh_bin();
    assert!(opkssh.is_file());
    (World::https(), opkssh)
}

impl World {
    fn providers(&self, client: &str) -> String {
        format!("{} {client} 24h\n", self.op.issuer)
    }

    fn auth_id(&self, user: &str, identity: &str) -> String {
        policy(user, identity, &self.op.issuer)
    }

    /// `opkssh-host` and `opk-host` trusting `client` and letting alice in as the world's user.
    fn hosts_allowing_alice(&self, client: &str) -> (OpksshHost, VerifyHost) {
        let allow = self.auth_id(&self.user, USER_EMAIL);
        self.hosts("host", &self.providers(client), &allow)
    }

    /// `opkssh-{name}` and `opk-{name}`: the reference verifier and ours, reading the same
    /// providers and auth_id files.
    fn hosts(&self, name: &str, providers: &str, auth_id: &str) -> (OpksshHost, VerifyHost) {
        (
            OpksshHost::new(&self.dir, &format!("opkssh-{name}"), providers, auth_id),
            VerifyHost::new(
                &self.dir,
                &format!("opk-{name}"),
                Path::new(OPK),
                providers,
                auth_id,
            ),
        )
    }

    /// `opk login` through headless Chromium.
    fn opk_login(&self, home: &Path, client: &str, extra: &[&str]) -> LoginRun {
        login(&self.op, home, client, extra, &self.env())
    }

    /// `opkssh login` through headless Chromium (which cannot be pinned to the OP's certificate:
    /// see [`BrowserLogin::ignore_https_errors`]).
    fn opkssh_login(&self, home: &Path, client: &str) -> LoginRun {
        BrowserLogin::new(opkssh_bin(), home)
            .user(USER_EMAIL)
            .args(["--provider", &provider(&self.op, client)])
            .envs(self.env())
            .ignore_https_errors()
            .run()
            .assert_success("opkssh login")
    }
}

/// (`%t`, `%k`) of a cert file as written by either tool (`<type> <b64> <comment>`).
fn type_and_b64(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).expect("cert file");
    let mut words = text.split_whitespace();
    (
        words.next().expect("type").to_owned(),
        words.next().expect("b64").to_owned(),
    )
}

fn assert_allowed(out: &Output, who: &str) {
    assert!(out.status.success(), "{who} denied:\n{}", show(out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("cert-authority,principals=\"opkssh-wildcard\" ")
            && line.ends_with('\n')
            && line.lines().count() == 1,
        "{who} printed {line:?}"
    );
}

fn assert_denied(out: &Output, who: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{who} did not deny:\n{}",
        show(out)
    );
    assert!(
        out.stdout.is_empty(),
        "{who} printed on deny:\n{}",
        show(out)
    );
}

/// The structural layout of a certificate: everything but the per-login randomness (nonce, keys,
/// signature, PK Token contents).
fn layout(cert: &OpkCert) -> String {
    let ext: Vec<String> = cert
        .extensions()
        .map(|(k, v)| {
            if k == "openpubkey-pkt" {
                format!("{k}=<pkt>")
            } else {
                format!("{k}={v:?}")
            }
        })
        .collect();
    let crit: Vec<String> = cert
        .critical_options()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!(
        "type={} user={} key_id={:?} principals={:?} serial={} valid={}..{} critical={crit:?} extensions={ext:?} \
         self_signed={} comment={:?} self_signature_ok={}",
        cert.cert_type(),
        cert.is_user_cert(),
        cert.key_id(),
        cert.principals(),
        cert.serial(),
        cert.valid_after(),
        cert.valid_before(),
        cert.is_self_signed(),
        cert.comment(),
        cert.verify_self_signature().is_ok(),
    )
}

/// The claim and header names of a PK Token (values differ per login).
fn pkt_shape(compact: &str) -> String {
    let pkt = PkToken::from_compact(compact).expect("PK Token parses");
    let mut claims: Vec<&String> = pkt.claims().keys().collect();
    claims.sort();
    let parts: Vec<&str> = compact.split(':').collect();
    let header_keys = |i: usize| {
        let h: serde_json::Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[i]).expect("b64"))
                .expect("json");
        let mut k: Vec<String> = h.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    format!(
        "segments={} claims={claims:?} op_header={:?} cic_header={:?}",
        parts.len(),
        header_keys(1),
        header_keys(3)
    )
}

#[test]
fn opk_login_then_opkssh_verify_accepts_and_prints_the_same_line() {
    let etc_opk_existed = Path::new("/etc/opk").exists();
    let (w, opkssh) = world();
    let (user, home) = (&w.user, &w.home);
    w.opk_login(home, "opk-rs256", &[]);
    let cert_path = home.join(".ssh/id_ecdsa-cert.pub");
    let (key_type, b64) = type_and_b64(&cert_path);
    assert_eq!(key_type, "ecdsa-sha2-nistp256-cert-v01@openssh.com");

    let (reference, ours) = w.hosts_allowing_alice("opk-rs256");

    let theirs = reference.verify(&opkssh, user, &b64, &key_type, &w.env());
    assert_allowed(&theirs, "opkssh verify");
    assert_says(&reference.log_text(), "successfully verified");
    let mine = ours.verify(user, &b64, &key_type, &w.env());
    assert_allowed(&mine, "opk verify");
    assert_eq!(
        String::from_utf8_lossy(&mine.stdout),
        String::from_utf8_lossy(&theirs.stdout),
        "opk and opkssh print different authorized_keys lines"
    );
    assert_eq!(mine.stdout, theirs.stdout);
    // The line names the cert's own (self-signing) key, as ssh-keygen sees it.
    let cert = read_cert(&cert_path);
    let expected = format!(
        "cert-authority,principals=\"opkssh-wildcard\" {}\n",
        cert.signature_key().to_openssh_line().expect("key line")
    );
    assert_eq!(String::from_utf8_lossy(&theirs.stdout), expected);

    // The email is no longer allowed: both deny, with nothing on stdout.
    let deny = w.auth_id(user, "bob@example.com");
    reference.write("auth_id", &deny);
    std::fs::write(&ours.auth_id, &deny).expect("write auth_id");
    assert_denied(
        &reference.verify(&opkssh, user, &b64, &key_type, &w.env()),
        "opkssh verify",
    );
    assert_denied(&ours.verify(user, &b64, &key_type, &w.env()), "opk verify");
    assert_says(&reference.log_text(), "no policy to allow");
    assert_says(&ours.log_text(), "no policy to allow");

    // The namespace trick left the machine's /etc alone.
    assert_eq!(
        Path::new("/etc/opk").exists(),
        etc_opk_existed,
        "/etc/opk appeared or vanished"
    );
    w.dir.keep_if_asked();
}

#[test]
fn opkssh_login_then_opk_verify_accepts_through_sshd() {
    let (w, opkssh) = world();
    let user = &w.user;
    let home = w.dir.join("home-opkssh");
    let run = w.opkssh_login(&home, "opk-rs256");
    assert_says(&run.stdout, "Keys generated for identity");
    assert!(
        run.stdout.contains(&format!(
            "{USER_EMAIL} {USER_EMAIL} {} opk-rs256",
            w.op.issuer
        )),
        "{}",
        run.stdout
    );
    let key = home.join(".ssh/id_ecdsa");
    let cert_path = home.join(".ssh/id_ecdsa-cert.pub");
    let cert_text = std::fs::read_to_string(&cert_path).expect("opkssh wrote the cert");
    let theirs = OpkCert::from_line(&cert_text).expect("opk parses opkssh's cert");

    // The same layout as a cert opk makes for the same login.
    let opk_home = w.dir.join("home-opk");
    w.opk_login(&opk_home, "opk-rs256", &[]);
    let ours_text =
        std::fs::read_to_string(opk_home.join(".ssh/id_ecdsa-cert.pub")).expect("opk cert");
    let ours = OpkCert::from_line(&ours_text).expect("parses");
    assert_eq!(theirs.key_id(), USER_EMAIL);
    assert_eq!(theirs.principals(), ["opkssh-wildcard".to_owned()]);
    assert_eq!(layout(&theirs), layout(&ours));
    assert_eq!(
        pkt_shape(theirs.pk_token().expect("pkt")),
        pkt_shape(ours.pk_token().expect("pkt"))
    );
    assert_eq!(theirs.nonce().len(), 32);
    assert_eq!(ours.nonce().len(), 32);
    // Both files: `<type> <b64> openpubkey`, no trailing newline; key 0600.
    assert!(
        cert_text.ends_with(" openpubkey") && ours_text.ends_with(" openpubkey"),
        "{cert_text:?} / {ours_text:?}"
    );
    assert_eq!(mode(&key), 0o600);

    // opk verify accepts it, printing what opkssh verify prints for it.
    let (key_type, b64) = type_and_b64(&cert_path);
    let (reference, host) = w.hosts_allowing_alice("opk-rs256");
    let mine = host.verify(user, &b64, &key_type, &w.env());
    assert_allowed(&mine, "opk verify");
    let reference_out = reference.verify(&opkssh, user, &b64, &key_type, &w.env());
    assert_allowed(&reference_out, "opkssh verify");
    assert_eq!(mine.stdout, reference_out.stdout);

    // And through a real sshd with opk verify as AuthorizedKeysCommand, using opkssh's key files
    // with the stock ssh client.
    let sshd = host.start_sshd(&w.env());
    assert_ssh_ok(
        &sshd.ssh(&key, user, "echo opkssh-cert-ok"),
        "opkssh-cert-ok",
    );
    assert_says(&host.log_text(), &format!("allowed {USER_EMAIL}"));
    w.dir.keep_if_asked();
}

/// Parses the pretty JSON block that follows `title` in `opkssh inspect` output.
fn json_after(text: &str, title: &str) -> serde_json::Value {
    let start = text
        .find(title)
        .unwrap_or_else(|| panic!("no {title:?} in:\n{text}"))
        + title.len();
    let rest = &text[start..];
    let open = rest.find('{').expect("json start");
    let mut depth = 0usize;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return serde_json::from_str(&rest[open..=open + i]).expect("json");
                }
            }
            _ => {}
        }
    }
    panic!("unterminated json after {title:?}");
}

#[test]
fn opk_pk_token_round_trips_through_opkssh_inspect() {
    let (w, opkssh) = world();
    let (user, home) = (&w.user, &w.home);
    // ES256 OP signature, Ed25519 user key: the other algorithm pair.
    let key = w.dir.join("keys/opk_ed25519");
    w.opk_login(
        home,
        "opk-es256",
        &["-t", "ed25519", "-i", key.to_str().expect("utf8")],
    );
    let cert_path = w.dir.join("keys/opk_ed25519-cert.pub");
    let cert = read_cert(&cert_path);
    let compact = cert.pk_token().expect("pkt");
    let pkt = PkToken::from_compact(compact).expect("pkt");

    let out = Command::new(&opkssh)
        .arg("inspect")
        .arg(&cert_path)
        .env("HOME", home)
        .output()
        .expect("opkssh inspect");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "opkssh inspect: {}", show(&out));
    let field = |name: &str| -> String {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name:?} in:\n{text}"))
            .trim()
            .to_owned()
    };
    assert_eq!(field("Key ID:"), USER_EMAIL);
    assert_eq!(field("Principals:"), "[opkssh-wildcard]");
    assert_eq!(field("Valid Before:"), "Forever");
    assert_eq!(
        field("openpubkey-pkt:"),
        format!("[PKToken data] {} bytes", compact.len())
    );
    assert_eq!(field("Issuer:"), w.op.issuer);
    assert_eq!(field("Audience:"), "opk-es256");
    assert_eq!(field("Subject:"), USER_EMAIL);
    assert_eq!(field("Identity:"), format!("{USER_EMAIL} {}", w.op.issuer));
    assert_eq!(field("Provider Algorithm:"), "ES256");
    // opkssh decoded exactly the payload and CIC header opk encoded.
    assert_eq!(
        json_after(&text, "Payload:"),
        serde_json::Value::Object(pkt.claims().clone())
    );
    let cic_b64 = compact.split(':').nth(3).expect("cic header");
    let cic: serde_json::Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(cic_b64).expect("b64"))
            .expect("json");
    assert_eq!(json_after(&text, "Client Signature (CIC) exists"), cic);
    assert_eq!(cic["upk"]["kty"], "OKP");

    // And opkssh verify accepts this algorithm pair too, printing what opk verify prints.
    let (key_type, b64) = type_and_b64(&cert_path);
    assert_eq!(key_type, "ssh-ed25519-cert-v01@openssh.com");
    let (reference, ours) = w.hosts_allowing_alice("opk-es256");
    let theirs = reference.verify(&opkssh, user, &b64, &key_type, &w.env());
    assert_allowed(&theirs, "opkssh verify");
    let mine = ours.verify(user, &b64, &key_type, &w.env());
    assert_allowed(&mine, "opk verify");
    assert_eq!(mine.stdout, theirs.stdout);
    w.dir.keep_if_asked();
}

/// `opk login --send-access-token` puts the OAuth access token into `openpubkey-act`, which
/// OpenSSH lists and both verifiers accept (both call the OP's userinfo with it, once per
/// verify): through a real sshd with opk verify, and with the reference `opkssh verify`
/// printing the same line. Fails if the flag is ignored (no `openpubkey-act`), if the extension breaks the
/// certificate for OpenSSH, opk or opkssh, or if the two verifiers disagree.
#[test]
fn send_access_token_is_accepted_by_sshd_opk_and_opkssh() {
    let (w, opkssh) = world();
    let (user, home) = (&w.user, &w.home);
    w.opk_login(home, "opk-rs256", &["--send-access-token"]);
    let key = home.join(".ssh/id_ecdsa");
    let cert_path = home.join(".ssh/id_ecdsa-cert.pub");
    let listing = opk_e2e::ssh_keygen_list(&cert_path);
    let extensions = listing
        .split("Extensions:")
        .nth(1)
        .unwrap_or_else(|| panic!("no extensions in:\n{listing}"));
    // One extension a line: the name, then (for values OpenSSH does not know) its hex dump.
    let names: Vec<&str> = extensions
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let expected: Vec<&str> = ["openpubkey-act", "openpubkey-pkt"]
        .into_iter()
        .chain(PERMISSIONS)
        .collect();
    assert_eq!(names, expected, "{listing}");
    let cert = read_cert(&cert_path);
    let act = cert.access_token().expect("openpubkey-act");
    assert!(act.len() > 10, "{act:?}");

    let (reference, host) = w.hosts_allowing_alice("opk-rs256");
    let sshd = host.start_sshd(&w.env());
    assert_ssh_ok(&sshd.ssh(&key, user, "echo act-ok"), "act-ok");
    assert_says(&host.log_text(), &format!("allowed {USER_EMAIL}"));

    let (key_type, b64) = type_and_b64(&cert_path);
    // Both call userinfo with the access token, once per verify (sshd asked opk at least once).
    let asked = w.op.requests_settled("/me");
    assert!(asked > 0, "opk verify did not call userinfo");
    let theirs = reference.verify(&opkssh, user, &b64, &key_type, &w.env());
    assert_allowed(&theirs, "opkssh verify");
    assert_eq!(
        w.op.requests_settled("/me"),
        asked + 1,
        "opkssh did not call userinfo with the access token"
    );
    let mine = host.verify(user, &b64, &key_type, &w.env());
    assert_allowed(&mine, "opk verify");
    assert_eq!(
        w.op.requests_settled("/me"),
        asked + 2,
        "opk verify did not call userinfo"
    );
    assert_eq!(mine.stdout, theirs.stdout);
    w.dir.keep_if_asked();
}

/// In a HOME configured by `opkssh login --configure`, opk and opkssh write the same provider's
/// key under the same name in `~/.ssh/opkssh`, with the same cert comment, and share one
/// `IdentityFile` line. Fails if opk's name or comment differs from the reference's (opkssh's
/// login would then add a second key and a second IdentityFile line).
#[test]
fn opkssh_identity_directory_names_match_opkssh() {
    let (w, opkssh) = world();
    let home = &w.home;
    let configure = Command::new(&opkssh)
        .args(["login", "--configure"])
        .env("HOME", home)
        .output()
        .expect("opkssh login --configure");
    assert!(configure.status.success(), "{}", show(&configure));
    let config = home.join(".ssh/opkssh/config");
    assert!(config.is_file(), "{}", show(&configure));

    w.opk_login(home, "opk-rs256", &[]);
    let after_opk = names_in(&home.join(".ssh/opkssh"));
    assert_eq!(after_opk.len(), 3, "{after_opk:?}");
    let name = after_opk
        .iter()
        .find(|n| n.as_str() != "config" && !n.ends_with("-cert.pub"))
        .expect("key")
        .clone();
    // https://localhost:PORT → localhost_PORT, then -<aud>.
    let port = w.op.issuer.rsplit(':').next().expect("port");
    assert_eq!(name, format!("localhost_{port}-opk-rs256"));
    let cert_path = home.join(format!(".ssh/opkssh/{name}-cert.pub"));
    let ours = std::fs::read_to_string(&cert_path).expect("opk cert");

    w.opkssh_login(home, "opk-rs256");
    assert_eq!(
        names_in(&home.join(".ssh/opkssh")),
        after_opk,
        "opkssh chose another name than opk"
    );
    let theirs = std::fs::read_to_string(&cert_path).expect("opkssh cert");
    assert_ne!(ours, theirs, "opkssh did not write the same file");
    let comment = |line: &str| {
        line.split_once(' ')
            .expect("type")
            .1
            .split_once(' ')
            .expect("b64")
            .1
            .to_owned()
    };
    assert_eq!(comment(&ours), comment(&theirs));
    assert_eq!(
        comment(&theirs),
        format!(" openpubkey: {} opk-rs256", w.op.issuer)
    );
    let config_text = std::fs::read_to_string(&config).expect("config");
    assert_eq!(
        config_text.matches("IdentityFile ").count(),
        1,
        "{config_text:?}"
    );
    assert!(
        config_text.starts_with(&format!(
            "IdentityFile {}",
            home.join(".ssh/opkssh").join(&name).display()
        )),
        "{config_text:?}"
    );
    w.dir.keep_if_asked();
}

/// opk's authentication-context column is a fourth word on the row. The reference opkssh skips
/// rows without exactly three words, so it reads `<user> <email> <issuer> amr=mfa` as granting
/// nothing, never as the three-word row that would let the email in without a second factor.
/// Same files, same token (signed in with the test OP's `mfa`): opkssh allows the three-word row
/// and denies the four-word ones; opk allows the row whose requirement the token meets. Fails if
/// opkssh ever reads such a row as the row without its requirement (first opkssh run allowed).
#[test]
fn auth_context_rows_are_never_broader_in_opkssh() {
    let (w, opkssh) = world();
    let (user, home) = (&w.user, &w.home);
    browser_login(home)
        .args(["--provider", &provider(&w.op, "opk-rs256")])
        .envs(w.env())
        .password("mfa")
        .run()
        .assert_success("opk login with mfa");
    let (key_type, b64) = type_and_b64(&home.join(".ssh/id_ecdsa-cert.pub"));
    let providers = w.providers("opk-rs256");
    let iss = &w.op.issuer;
    for (i, (rows, opk_allows, opkssh_allows)) in [
        (format!("{user} {USER_EMAIL} {iss} amr=mfa\n"), true, false),
        (
            format!("{user} {USER_EMAIL} {iss} amr=mfa,auth_age=15m,acr=mfa\n"),
            true,
            false,
        ),
        (format!("{user} {USER_EMAIL} {iss} amr=hwk\n"), false, false),
        (format!("{user} {USER_EMAIL} {iss}\n"), true, true),
    ]
    .into_iter()
    .enumerate()
    {
        let (reference, ours) = w.hosts(&i.to_string(), &providers, &rows);
        let theirs = reference.verify(&opkssh, user, &b64, &key_type, &w.env());
        let mine = ours.verify(user, &b64, &key_type, &w.env());
        // The last row, identical but for the fourth word, is the control: opkssh allows it.
        match opkssh_allows {
            true => assert_allowed(&theirs, "opkssh verify"),
            false => assert_denied(&theirs, "opkssh verify"),
        }
        match opk_allows {
            true => assert_allowed(&mine, "opk verify"),
            false => assert_denied(&mine, "opk verify"),
        }
    }
}
