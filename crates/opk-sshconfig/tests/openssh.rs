//! opk-sshconfig against the real OpenSSH: `ssh-keygen -F` / `-H` for known_hosts lookups and
//! hashing, `ssh -G` for ssh_config resolution. Never reads the machine's ~/.ssh: `ssh -G -F`
//! reads only the given file, known_hosts files are given with `-f`, HOME is a temp dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use opk_sshconfig::{
    CertProblem, Context, HostKeyStatus, KnownHosts, Location, Proxy, SshConfig, entry_line,
    host_key_name, load_config, resolve,
};
use ssh_key::{Certificate, PublicKey};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn key(name: &str) -> PublicKey {
    let text = std::fs::read_to_string(vectors().join(name)).expect("vector key");
    PublicKey::from_openssh(&text).expect("parse vector key")
}

fn cert(name: &str) -> Certificate {
    let text = std::fs::read_to_string(vectors().join(name)).expect("vector cert");
    Certificate::from_openssh(&text).expect("parse vector cert")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} (OpenSSH client tools must be installed): {e}")
    });
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Line numbers `ssh-keygen -F name -f file` reports, in its order.
fn keygen_find(name: &str, file: &Path) -> Vec<usize> {
    run(Command::new("ssh-keygen")
        .arg("-F")
        .arg(name)
        .arg("-f")
        .arg(file))
    .lines()
    .filter_map(|l| l.split_once(" found: line ").map(|(_, r)| r))
    .map(|r| {
        r.split_whitespace()
            .next()
            .unwrap_or("")
            .parse()
            .expect("line number")
    })
    .collect()
}

const LOOKUPS: &[(&str, u16)] = &[
    ("host.example.com", 22),
    ("HOST.example.com", 22),
    ("alias1", 22),
    ("host.example.com", 2222),
    ("host.example.com", 2200),
    ("x.pattern.example", 22),
    ("bad.pattern.example", 22),
    ("changed.example", 22),
    ("mixedcase.example", 22),
    ("MixedCase.Example", 22),
    ("spaced.example", 22),
    ("192.168.1.7", 22),
    ("192.168.1.17", 22),
    ("10.0.0.1", 22),
    ("127.0.0.1", 2200),
    ("v6::1", 2200),
    ("multi.example", 22),
    ("revoked.example", 22),
    ("y.wild.example", 22),
    ("nowhere.invalid", 22),
    ("oldhost", 22),
];

#[test]
fn lookups_match_ssh_keygen_f_plain_and_hashed() {
    for file in ["known_hosts", "known_hosts.hashed"] {
        let path = vectors().join(file);
        let kh = KnownHosts::load(std::slice::from_ref(&path)).expect("load");
        for &(host, port) in LOOKUPS {
            let ours: Vec<usize> = kh.find(host, port).iter().map(|f| f.at.line).collect();
            // ssh lowercases the host before looking it up; ssh-keygen -F does not.
            let theirs = keygen_find(&host_key_name(host, port), &path);
            assert_eq!(ours, theirs, "{file}: lookup of {host} port {port}");
        }
    }
}

#[test]
fn bad_lines_are_skipped_with_warnings_naming_file_and_line() {
    let path = vectors().join("known_hosts");
    let kh = KnownHosts::load(std::slice::from_ref(&path)).expect("load");
    let lines: Vec<usize> = kh.warnings().iter().map(|w| w.at.line).collect();
    assert_eq!(lines, vec![7, 13, 14, 16]);
    let msg = kh.warnings()[0].to_string();
    assert!(msg.starts_with(&format!("{}:7: ", path.display())), "{msg}");
    assert!(msg.ends_with("; line ignored"), "{msg}");
    let hashed = KnownHosts::load(&[vectors().join("known_hosts.hashed")]).expect("load");
    assert!(hashed.warnings().is_empty(), "{:?}", hashed.warnings());
}

#[test]
fn our_hashed_lines_are_found_by_ssh_keygen_and_theirs_by_us() {
    let dir = tempfile::tempdir().expect("tempdir");
    let k = key("host_ecdsa.pub");
    let names = [
        ("fresh.example", 22),
        ("fresh.example", 2022),
        ("10.1.2.3", 22),
    ];
    // Ours -> ssh-keygen.
    let ours = dir.path().join("ours");
    let text: String = names
        .iter()
        .map(|&(h, p)| entry_line(h, p, &k, true).expect("entry") + "\n")
        .collect();
    assert!(text.lines().all(|l| l.starts_with("|1|")), "{text}");
    std::fs::write(&ours, &text).expect("write");
    for (i, &(h, p)) in names.iter().enumerate() {
        assert_eq!(
            keygen_find(&host_key_name(h, p), &ours),
            vec![i + 1],
            "{h}:{p}"
        );
    }
    // ssh-keygen -H -> ours.
    let theirs = dir.path().join("theirs");
    let plain: String = names
        .iter()
        .map(|&(h, p)| entry_line(h, p, &k, false).expect("entry") + "\n")
        .collect();
    std::fs::write(&theirs, plain).expect("write");
    let st = Command::new("ssh-keygen")
        .arg("-q")
        .arg("-H")
        .arg("-f")
        .arg(&theirs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ssh-keygen -H");
    assert!(st.success());
    let hashed = std::fs::read_to_string(&theirs).expect("read");
    assert!(hashed.lines().all(|l| l.starts_with("|1|")), "{hashed}");
    let kh = KnownHosts::parse(&theirs, &hashed);
    for (i, &(h, p)) in names.iter().enumerate() {
        assert_eq!(
            kh.check(h, p, &k),
            HostKeyStatus::Known {
                at: Location {
                    file: theirs.clone(),
                    line: i + 1
                }
            }
        );
    }
    assert!(matches!(
        kh.check("fresh.example", 2023, &k),
        HostKeyStatus::Unknown { .. }
    ));
}

fn at(file: &Path, line: usize) -> Location {
    Location {
        file: file.to_path_buf(),
        line,
    }
}

#[test]
fn decisions_on_the_vectors() {
    for file in ["known_hosts", "known_hosts.hashed"] {
        let path = vectors().join(file);
        let kh = KnownHosts::load(std::slice::from_ref(&path)).expect("load");
        let hashed = file.ends_with("hashed");
        let line = |plain: usize, hashed_line: usize| if hashed { hashed_line } else { plain };
        let ed = key("host_ed25519.pub");
        let ec = key("host_ecdsa.pub");
        let other = key("other_ed25519.pub");
        let st = |h: &str, p: u16, k: &PublicKey| kh.check(h, p, k);
        assert_eq!(
            st("host.example.com", 22, &ed),
            HostKeyStatus::Known { at: at(&path, 3) }
        );
        assert_eq!(
            st("Host.Example.COM", 22, &ed),
            HostKeyStatus::Known { at: at(&path, 3) }
        );
        match st("host.example.com", 22, &other) {
            HostKeyStatus::Mismatch {
                at: a,
                expected,
                presented,
            } => {
                assert_eq!(a, at(&path, 3));
                assert_eq!(
                    expected,
                    ed.fingerprint(ssh_key::HashAlg::Sha256).to_string()
                );
                assert_eq!(
                    presented,
                    other.fingerprint(ssh_key::HashAlg::Sha256).to_string()
                );
            }
            s => panic!("{file}: expected a mismatch, got {s:?}"),
        }
        // A key of another type on record is a mismatch too (checked against ssh 9.2 by hand:
        // "Offending ECDSA key" when the server offers only Ed25519).
        assert!(matches!(
            st("host.example.com", 22, &ec),
            HostKeyStatus::Mismatch { at: a, .. } if a == at(&path, 3)
        ));
        assert!(matches!(
            st("host.example.com", 2222, &ed),
            HostKeyStatus::Mismatch { .. }
        ));
        let known = |l: usize| HostKeyStatus::Known { at: at(&path, l) };
        let unknown = HostKeyStatus::Unknown {
            cert_rejected: None,
        };
        let revoked = HostKeyStatus::Revoked {
            at: at(&path, line(10, 10)),
        };
        for (host, port, key, expected) in [
            ("host.example.com", 2222, &ec, known(line(4, 5))),
            ("x.pattern.example", 22, &ed, known(line(5, 6))),
            ("bad.pattern.example", 22, &ed, unknown),
            ("revoked.example", 22, &ec, revoked),
            ("multi.example", 22, &ec, known(line(19, 16))),
            ("spaced.example", 22, &ed, known(line(11, 11))),
            ("127.0.0.1", 2200, &ed, known(line(20, 18))),
        ] {
            assert_eq!(st(host, port, key), expected, "{file}: {host}:{port}");
        }
        assert!(matches!(
            st("127.0.0.1", 22, &ed),
            HostKeyStatus::Unknown { .. }
        ));

        // Host certificates: CA line 8 (`*.example.com,host.example.com,*.wild.example`).
        let valid = cert("host_cert_valid.pub");
        let ca = HostKeyStatus::Known { at: at(&path, 8) };
        assert_eq!(kh.check("host.example.com", 22, &valid), ca);
        assert_eq!(kh.check("a.wild.example", 22, &valid), ca);
        assert_eq!(
            kh.check("other.example.com", 22, &valid),
            HostKeyStatus::Unknown {
                cert_rejected: Some((at(&path, 8), CertProblem::WrongHost))
            }
        );
        // Not signed by a listed CA for this host: fall back to the plain key, like OpenSSH.
        assert!(matches!(
            kh.check("nowhere.invalid", 22, &valid),
            HostKeyStatus::Unknown {
                cert_rejected: None,
                ..
            }
        ));
        let expired = cert("host_cert_expired.pub");
        assert_eq!(
            kh.check("host.example.com", 22, &expired),
            HostKeyStatus::Known { at: at(&path, 3) }
        );
        assert_eq!(
            kh.check("z.example.com", 22, &expired),
            HostKeyStatus::Unknown {
                cert_rejected: Some((at(&path, 8), CertProblem::NotValidNow))
            }
        );
        assert_eq!(
            kh.check("z.example.com", 22, &cert("user_cert.pub")),
            HostKeyStatus::Unknown {
                cert_rejected: Some((at(&path, 8), CertProblem::NotHostCert))
            }
        );
        // Signed by the @revoked CA (line 9, `*`).
        assert_eq!(
            kh.check("host.example.com", 22, &cert("host_cert_ca2.pub")),
            HostKeyStatus::Revoked { at: at(&path, 9) }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// ssh_config against `ssh -G`.

struct Local {
    home: PathBuf,
    user: String,
    hostname: String,
    uid: u32,
}

/// What ssh itself uses for %d %u %l %i (from the password database, not $HOME).
fn local(tmp: &Path) -> Local {
    let probe = tmp.join("probe.conf");
    std::fs::write(&probe, "UserKnownHostsFile %d %u %l %i\n").expect("write probe");
    let g = ssh_g(tmp, &probe, "probe", &[]);
    let v: Vec<&str> = g["userknownhostsfile"][0].split(' ').collect();
    Local {
        home: PathBuf::from(v[0]),
        user: v[1].to_owned(),
        hostname: v[2].to_owned(),
        uid: v[3].parse().expect("uid"),
    }
}

fn ssh_g(home: &Path, file: &Path, alias: &str, extra: &[&str]) -> BTreeMap<String, Vec<String>> {
    let out = run(Command::new("ssh")
        .env("HOME", home)
        .arg("-G")
        .args(extra)
        .arg("-F")
        .arg(file)
        .arg(alias)
        .stderr(Stdio::null()));
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in out.lines() {
        if let Some((k, v)) = l.split_once(' ') {
            m.entry(k.to_owned()).or_default().push(v.to_owned());
        }
    }
    assert!(
        m.contains_key("hostname"),
        "ssh -G gave no output for {alias} in {}",
        file.display()
    );
    m
}

fn compare(tmp: &Path, loc: &Local, file: &Path, alias: &str, cli: &[&str]) {
    let mut extra = Vec::new();
    let mut options = Vec::new();
    let (mut user, mut port) = (None, None);
    let mut it = cli.iter();
    while let Some(a) = it.next() {
        let v = *it.next().expect("flag value");
        extra.extend([*a, v]);
        match *a {
            "-o" => options.push(v),
            "-l" => user = Some(v),
            "-p" => port = Some(v.parse().expect("port")),
            _ => panic!("flag {a}"),
        }
    }
    let g = ssh_g(tmp, file, alias, &extra);
    let one = |k: &str| g.get(k).map(|v| v[0].clone());
    let cfg = load_config(file, &tmp.join(".ssh"), &loc.home).expect("load");
    let opts = SshConfig::parse_options(&options, &[]).expect("options");
    let ctx = Context::new(alias, &loc.user, &loc.home)
        .user(user)
        .port(port)
        .uid(loc.uid)
        .local_hostname(&loc.hostname);
    let hc = resolve(&ctx, &[&opts, &cfg]).expect("resolve");
    let what = format!("{} {alias} {cli:?}", file.display());
    assert_eq!(
        Some(hc.hostname.clone()),
        one("hostname"),
        "hostname: {what}"
    );
    assert_eq!(Some(hc.user.clone()), one("user"), "user: {what}");
    assert_eq!(Some(hc.port.to_string()), one("port"), "port: {what}");
    let strict = hc.strict_host_key_checking.map_or("ask", |s| s.as_str());
    assert_eq!(
        Some(strict.to_owned()),
        one("stricthostkeychecking"),
        "strict: {what}"
    );
    let khf = if hc.user_known_hosts_files.is_empty() {
        "none".to_owned()
    } else {
        hc.user_known_hosts_files
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(Some(khf), one("userknownhostsfile"), "known hosts: {what}");
    // ssh -G prints IdentityFile/CertificateFile before ~ and token expansion.
    let expand = |v: &String| match v.strip_prefix("~/") {
        Some(r) => loc.home.join(r),
        None => PathBuf::from(v),
    };
    let theirs_id: Vec<PathBuf> = g
        .get("identityfile")
        .into_iter()
        .flatten()
        .map(expand)
        .collect();
    if hc.identity_files.is_empty() {
        assert!(
            theirs_id
                .iter()
                .all(|p| p.starts_with(loc.home.join(".ssh"))),
            "{what}"
        );
    } else {
        assert_eq!(hc.identity_files, theirs_id, "identity files: {what}");
    }
    let theirs_cert: Vec<PathBuf> = g
        .get("certificatefile")
        .into_iter()
        .flatten()
        .map(expand)
        .collect();
    assert_eq!(
        hc.certificate_files, theirs_cert,
        "certificate files: {what}"
    );
    let (jump, command) = match &hc.proxy {
        Proxy::Direct => (None, None),
        Proxy::Jump(j) => (
            Some(
                j.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            None,
        ),
        Proxy::Command(c) => (None, Some(c.clone())),
    };
    let theirs_jump = one("proxyjump").map(|j| {
        j.split(',')
            .map(|h| h.trim_start_matches("ssh://").to_owned())
            .collect::<Vec<_>>()
            .join(",")
    });
    assert_eq!(jump, theirs_jump, "proxyjump: {what}");
    assert_eq!(command, one("proxycommand"), "proxycommand: {what}");
    assert_eq!(
        hc.host_key_alias,
        one("hostkeyalias"),
        "hostkeyalias: {what}"
    );
    let yn = |b: Option<bool>| Some(if b == Some(true) { "yes" } else { "no" }.to_owned());
    assert_eq!(
        yn(hc.identities_only),
        one("identitiesonly"),
        "identitiesonly: {what}"
    );
    assert_eq!(yn(hc.batch_mode), one("batchmode"), "batchmode: {what}");
    assert_eq!(
        yn(hc.forward_agent),
        one("forwardagent"),
        "forwardagent: {what}"
    );
    let ct = hc
        .connect_timeout
        .map_or("none".to_owned(), |s| s.to_string());
    assert_eq!(Some(ct), one("connecttimeout"), "connecttimeout: {what}");
}

#[test]
fn resolution_matches_ssh_g_for_every_vector_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("conf");
    copy_tree(&vectors().join("ssh_config"), &dir);
    let loc = local(tmp.path());
    let mut n = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(|c: char| c.is_ascii_digit())
            })
        })
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let aliases = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# aliases: "))
            .unwrap_or_else(|| panic!("{} lacks an aliases line", f.display()));
        for alias in aliases.split_whitespace() {
            compare(tmp.path(), &loc, &f, alias, &[]);
            n += 1;
        }
    }
    assert!(n >= 25, "only {n} cases ran");
    // Command-line flags and -o come before the files.
    let basic = dir.join("01-basic.conf");
    compare(
        tmp.path(),
        &loc,
        &basic,
        "web",
        &["-p", "2999", "-l", "zed"],
    );
    compare(
        tmp.path(),
        &loc,
        &basic,
        "web",
        &[
            "-o",
            "User=ouser",
            "-o",
            "Port 3000",
            "-o",
            "StrictHostKeyChecking=accept-new",
        ],
    );
    compare(
        tmp.path(),
        &loc,
        &basic,
        "db",
        &["-o", "UserKnownHostsFile=none", "-o", "ProxyJump=u@h:1"],
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let p = e.expect("entry").path();
        let dest = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            let text = std::fs::read_to_string(&p).expect("read");
            let top = to
                .ancestors()
                .find(|a| a.ends_with("conf"))
                .expect("conf dir");
            std::fs::write(&dest, text.replace("@DIR@", &top.to_string_lossy())).expect("write");
        }
    }
}
