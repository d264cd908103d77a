//! The equivalence table (issue 8, item 10): every case in `tests/equivalence-cases/*.case` is a
//! set of server files (providers, auth_id, a home `~/.opk/auth_id`, their modes) and a token
//! (claims, `iat`, `exp`), run through the built `opk verify` and the reference `opkssh verify`
//! v0.16.0 with the very same files. Each case states the decision both must reach, or, for a
//! deliberate difference, each one's decision and the hazard id (docs/hazards.md) explaining it.
//!
//! Tokens are signed with the real test OP's own key (`op.mjs --keys`), so both verifiers fetch
//! discovery and JWKS from the running OP over https; cases with `token: login` use a certificate
//! from a real `opk login` through Chromium instead. opkssh runs in a private mount namespace
//! (scripts/opkssh-ns.sh) where /etc/opk, /var/log and /etc/passwd are the case's own: the
//! machine's files are never read or written.
//!
//! Case file: `# description` lines, `key: value` lines, then `--- auth_id`, `--- providers`
//! (default `{issuer} {client} {expiry}`), `--- home` (the principal's `~/.opk/auth_id`) and
//! `--- config` (`/etc/opk/config.yml`, absent by default) sections. Keys: `expect` (allow|deny, both verifiers), or `opk`, `opkssh` and `hazard`;
//! `token` (login), `claims` (JSON merged over the defaults, `null` removes one), `iat`, `exp`,
//! `auth_time` (seconds from now), `expiry` (the providers policy, default 24h), `principals` (the cert's,
//! comma-separated), `providers_mode`, `auth_id_mode`, `config_mode`, `home_mode` (octal),
//! `home_owner` (uid), `config_group` (a group name: opkssh reads config.yml only when it is
//! root:opksshuser),
//! `home_symlink` (yes: `auth_id` is a symlink to the file). Placeholders: `{user}` (the
//! principal: the current user), `{issuer}`, `{client}`, `{expiry}`, `{bom}`, `{cr}`.
//!
//! Run: `cargo test -p opk-cli --test equivalence [NAME-FILTER]`. A custom harness, so the
//! counts are printed in every test run, not only with `--nocapture`.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use opk_e2e::{Op, OpKey, OpksshHost, TestCa, TestDir, VerifyHost, current_user, opkssh_bin};
use opk_sshcert::OpkCert;

mod common;

use common::{OPK, TMP, USER_EMAIL, login, read_cert};

/// The client ID of minted tokens (neither verifier asks the OP about it).
const CLIENT: &str = "opk-table";
/// The client of the real login.
const LOGIN_CLIENT: &str = "opk-rs256";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Allow,
    Deny,
}

impl Decision {
    fn parse(s: &str, case: &str) -> Self {
        match s {
            "allow" => Self::Allow,
            "deny" => Self::Deny,
            _ => panic!("{case}: decision must be allow or deny, not {s:?}"),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// One case file.
struct Case {
    name: String,
    about: String,
    keys: BTreeMap<String, String>,
    sections: BTreeMap<String, String>,
}

impl Case {
    fn load(path: &Path) -> Self {
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(path).expect("case file");
        let mut about = Vec::new();
        let mut keys = BTreeMap::new();
        let mut sections: BTreeMap<String, String> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(section) = line.strip_prefix("--- ") {
                current = Some(section.trim().to_owned());
                sections.entry(section.trim().to_owned()).or_default();
            } else if let Some(section) = &current {
                let body = sections.get_mut(section).expect("section");
                body.push_str(line);
                body.push('\n');
            } else if let Some(c) = line.strip_prefix('#') {
                about.push(c.trim().to_owned());
            } else if let Some((k, v)) = line.split_once(':') {
                let known = [
                    "expect",
                    "opk",
                    "opkssh",
                    "hazard",
                    "token",
                    "claims",
                    "iat",
                    "exp",
                    "auth_time",
                    "expiry",
                    "principals",
                    "providers_mode",
                    "auth_id_mode",
                    "config_mode",
                    "config_group",
                    "home_mode",
                    "home_owner",
                    "home_symlink",
                ];
                assert!(known.contains(&k.trim()), "{name}: unknown key {k:?}");
                keys.insert(k.trim().to_owned(), v.trim().to_owned());
            } else {
                assert!(line.trim().is_empty(), "{name}: cannot read {line:?}");
            }
        }
        for s in sections.keys() {
            assert!(
                ["auth_id", "providers", "home", "config"].contains(&s.as_str()),
                "{name}: unknown section {s:?}"
            );
        }
        assert!(!about.is_empty(), "{name}: say what the case shows");
        Self {
            name,
            about: about.join(" ").trim_end_matches('.').to_owned(),
            keys,
            sections,
        }
    }

    fn key(&self, k: &str) -> Option<&str> {
        self.keys.get(k).map(String::as_str)
    }

    fn mode(&self, k: &str, default: u32) -> u32 {
        self.key(k).map_or(default, |m| {
            u32::from_str_radix(m, 8).unwrap_or_else(|_| panic!("{}: {k} {m:?}", self.name))
        })
    }

    fn secs(&self, k: &str, default: i64) -> i64 {
        self.key(k).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{}: {k} {v:?}", self.name))
        })
    }

    /// (opk's, opkssh's) expected decision and the hazard when they differ.
    fn expected(&self) -> (Decision, Decision, Option<&str>) {
        let d = |k| self.key(k).map(|v| Decision::parse(v, &self.name));
        match (d("expect"), d("opk"), d("opkssh"), self.key("hazard")) {
            (Some(both), None, None, None) => (both, both, None),
            (None, Some(opk), Some(opkssh), Some(h)) if opk != opkssh => (opk, opkssh, Some(h)),
            _ => panic!(
                "{}: give `expect`, or `opk` and `opkssh` that differ plus `hazard`",
                self.name
            ),
        }
    }
}

/// What a verifier did: a decision, or something that is neither a clean allow nor a clean deny.
/// opk must deny with exit 1 (its fail-closed contract); for opkssh any failure status with an
/// empty stdout is a deny, as sshd sees it, and a status other than 1 (a Go panic) is noted.
fn decision(out: &Output, strict: bool) -> Result<(Decision, Option<String>), String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    match out.status.code() {
        Some(0) if stdout.starts_with("cert-authority") && stdout.lines().count() == 1 => {
            Ok((Decision::Allow, None))
        }
        Some(1) if out.stdout.is_empty() => Ok((Decision::Deny, None)),
        Some(code) if code != 0 && !strict && out.stdout.is_empty() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr.lines().next().unwrap_or_default();
            Ok((Decision::Deny, Some(format!("exit {code}: {first}"))))
        }
        _ => Err(format!(
            "status {:?}, stdout {stdout:?}, stderr {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

struct Table {
    dir: TestDir,
    op: Op,
    key: OpKey,
    ca: String,
    user: String,
    login: Option<OpkCert>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

impl Table {
    fn env(&self) -> Vec<(&str, &str)> {
        vec![("SSL_CERT_FILE", self.ca.as_str())]
    }

    /// The real login's certificate, made on first use.
    fn login_cert(&mut self) -> OpkCert {
        if self.login.is_none() {
            let home = self.dir.join("login-home");
            let env = vec![("SSL_CERT_FILE", self.ca.as_str())];
            login(&self.op, &home, LOGIN_CLIENT, &[], &env);
            self.login = Some(read_cert(&home.join(".ssh/id_ecdsa-cert.pub")));
        }
        self.login.clone().expect("login cert")
    }

    fn minted(&self, case: &Case) -> OpkCert {
        let now = unix_now();
        let mut claims: Map<String, Value> = json!({
            "iss": self.op.issuer,
            "aud": CLIENT,
            "sub": "alice-sub-1",
            "email": USER_EMAIL,
            "email_verified": true,
            "iat": now + case.secs("iat", -60),
            "exp": now + case.secs("exp", 3600),
        })
        .as_object()
        .expect("object")
        .clone();
        if case.key("auth_time").is_some() {
            claims.insert("auth_time".into(), json!(now + case.secs("auth_time", 0)));
        }
        if let Some(extra) = case.key("claims") {
            let extra: Value = serde_json::from_str(extra)
                .unwrap_or_else(|e| panic!("{}: claims: {e}", case.name));
            for (k, v) in extra.as_object().expect("claims is an object") {
                if v.is_null() {
                    claims.remove(k);
                } else {
                    claims.insert(k.clone(), v.clone());
                }
            }
        }
        let principals = case
            .key("principals")
            .unwrap_or("opkssh-wildcard")
            .split(',')
            .map(str::to_owned)
            .collect();
        self.key.certificate(claims, principals).1
    }

    fn fill(&self, text: &str, client: &str, expiry: &str) -> String {
        text.replace("{user}", &self.user)
            .replace("{issuer}", &self.op.issuer)
            .replace("{client}", client)
            .replace("{expiry}", expiry)
            .replace("{bom}", "\u{feff}")
            .replace("{cr}", "\r")
    }

    /// /etc/passwd with the principal's home moved to `home`.
    fn passwd(&self, home: &Path) -> String {
        let real = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
        real.lines()
            .map(|line| {
                let mut f: Vec<String> = line.split(':').map(str::to_owned).collect();
                if f.len() == 7 && f[0] == self.user {
                    f[5] = home.display().to_string();
                }
                f.join(":") + "\n"
            })
            .collect()
    }

    /// Runs one case through both verifiers: (opk's, opkssh's) decision.
    fn run(&mut self, case: &Case) -> Result<Outcome, String> {
        let (cert, client) = match case.key("token") {
            Some("login") => {
                for k in ["claims", "iat", "exp", "auth_time", "principals"] {
                    assert!(case.key(k).is_none(), "{}: {k} with a login", case.name);
                }
                (self.login_cert(), LOGIN_CLIENT)
            }
            None => (self.minted(case), CLIENT),
            Some(t) => panic!("{}: token {t:?}", case.name),
        };
        let expiry = case.key("expiry").unwrap_or("24h");
        let section = |s: &str, default: &str| {
            self.fill(
                case.sections.get(s).map_or(default, String::as_str),
                client,
                expiry,
            )
        };
        let providers = section("providers", "{issuer} {client} {expiry}\n");
        let auth_id = section("auth_id", "");
        let base = format!("cases/{}", case.name);
        let reference = OpksshHost::new(&self.dir, &format!("{base}/opkssh"), &providers, &auth_id);
        let etc = reference.etc_opk();
        chmod(&etc.join("providers"), case.mode("providers_mode", 0o640));
        chmod(&etc.join("auth_id"), case.mode("auth_id_mode", 0o640));
        if case.sections.contains_key("config") {
            let config = etc.join("config.yml");
            std::fs::write(&config, section("config", "")).expect("config.yml");
            chmod(&config, case.mode("config_mode", 0o640));
            if let Some(group) = case.key("config_group") {
                std::os::unix::fs::chown(&config, None, Some(group_id(group))).expect("chgrp");
            }
        }

        // The principal's home, in the case's tree; both verifiers find it through a passwd file.
        let home = self.dir.join(&format!("{base}/home"));
        std::fs::create_dir_all(&home).expect("home");
        if let Some(text) = case.sections.get("home") {
            let opk_dir = home.join(".opk");
            std::fs::create_dir_all(&opk_dir).expect(".opk");
            let file = opk_dir.join("auth_id");
            let target = if case.key("home_symlink") == Some("yes") {
                let real = home.join("policy-elsewhere");
                symlink(&real, &file).expect("symlink");
                real
            } else {
                file
            };
            std::fs::write(&target, self.fill(text, client, expiry)).expect("home policy");
            chmod(&target, case.mode("home_mode", 0o600));
            if let Some(uid) = case.key("home_owner") {
                let uid: u32 = uid.parse().expect("home_owner uid");
                std::os::unix::fs::chown(&target, Some(uid), None).expect("chown");
            }
        }
        let passwd = reference.dir.join("passwd");
        std::fs::write(&passwd, self.passwd(&home)).expect("passwd");

        let mut ours = VerifyHost::new(&self.dir, &format!("{base}/opk"), Path::new(OPK), "", "")
            .with_home_policy(&passwd);
        // The very files opkssh reads.
        ours.providers = etc.join("providers");
        ours.auth_id = etc.join("auth_id");
        ours.config = etc.join("config.yml");

        let (b64, key_type) = (cert.to_b64(), cert.cert_type().to_owned());
        let env = self.env();
        let mine = ours.verify(&self.user, &b64, &key_type, &env);
        let theirs = reference.verify(&opkssh_bin(), &self.user, &b64, &key_type, &env);
        let explain = |e: String, who: &str, log: String| format!("{who}: {e}\n{who} log:\n{log}");
        let (opk, _) = decision(&mine, true).map_err(|e| explain(e, "opk", ours.log_text()))?;
        let (opkssh, note) =
            decision(&theirs, false).map_err(|e| explain(e, "opkssh", reference.log_text()))?;
        if opk == Decision::Allow && opkssh == Decision::Allow && mine.stdout != theirs.stdout {
            return Err("both allow but print different lines".into());
        }
        let (want_opk, want_opkssh, _) = case.expected();
        if (opk, opkssh) != (want_opk, want_opkssh) {
            return Err(format!(
                "opk {} (expected {}), opkssh {} (expected {})\nopk stderr: {}\nopk log:\n{}\nopkssh log:\n{}",
                opk.word(),
                want_opk.word(),
                opkssh.word(),
                want_opkssh.word(),
                String::from_utf8_lossy(&mine.stderr).trim(),
                ours.log_text(),
                reference.log_text()
            ));
        }
        Ok(Outcome { opk, opkssh, note })
    }
}

/// Both decisions of a case, and what was odd about opkssh's (a crash).
struct Outcome {
    opk: Decision,
    opkssh: Decision,
    note: Option<String>,
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/equivalence-cases")
}

fn main() -> ExitCode {
    // cargo passes libtest's flags (--quiet, --test-threads=…) to every test binary: skip them.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("cases dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    let all: Vec<Case> = paths.iter().map(|p| Case::load(p)).collect();
    let cases: Vec<&Case> = all
        .iter()
        .filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .collect();
    if filter.is_none() {
        // The table must stay a table: item 10 asks for at least 30 cases.
        assert!(all.len() >= 30, "only {} cases", all.len());
    }
    if cases.is_empty() {
        println!("equivalence: no case matches {filter:?}");
        println!("test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
        return ExitCode::SUCCESS;
    }

    assert!(opkssh_bin().is_file());
    let dir = TestDir::new(TMP);
    let ca = TestCa::generate(dir.path());
    let keys = dir.join("op-keys.json");
    let op = Op::start_with_keys(Some((&ca.server_cert, &ca.server_key)), &keys);
    let mut table = Table {
        key: OpKey::from_keys_file(&keys),
        ca: ca.ca_cert.display().to_string(),
        user: current_user(),
        login: None,
        op,
        dir,
    };

    println!(
        "\nequivalence table: opk verify vs opkssh verify {}",
        opk_e2e::OPKSSH_VERSION
    );
    let (mut same, mut different, mut failed) = (0, 0, Vec::new());
    let mut hazards: BTreeMap<String, u32> = BTreeMap::new();
    for case in &cases {
        match table.run(case) {
            Ok(o) => {
                let note = o.note.map(|n| format!("; opkssh {n}")).unwrap_or_default();
                if o.opk == o.opkssh {
                    same += 1;
                    println!(
                        "  same       {:<5}                  {}  ({}{note})",
                        o.opk.word(),
                        case.name,
                        case.about
                    );
                } else {
                    different += 1;
                    let h = case.expected().2.expect("hazard").to_owned();
                    *hazards.entry(h.clone()).or_default() += 1;
                    println!(
                        "  different  opk {:<5} opkssh {:<5} {h:<5} {}  ({}{note})",
                        o.opk.word(),
                        o.opkssh.word(),
                        case.name,
                        case.about
                    );
                }
            }
            Err(e) => {
                println!("  FAILED     {}  ({})\n{e}", case.name, case.about);
                failed.push(case.name.clone());
            }
        }
    }
    let by_hazard: Vec<String> = hazards.iter().map(|(h, n)| format!("{h} ×{n}")).collect();
    println!(
        "equivalence: {} cases: {same} same decision, {different} deliberate differences ({}), {} failed",
        cases.len(),
        by_hazard.join(", "),
        failed.len()
    );
    table.dir.keep_if_asked();
    // The line scripts/test.sh totals, in libtest's words.
    let status = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "test result: {status}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out",
        same + different,
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failed cases: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

/// The gid of the group `name` (getent, as the machine's NSS resolves it).
fn group_id(name: &str) -> u32 {
    let out = std::process::Command::new("getent")
        .args(["group", name])
        .output()
        .expect("getent");
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    line.split(':')
        .nth(2)
        .and_then(|g| g.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!("no group {name:?} (scripts/lib.sh opk_setup creates opksshuser)")
        })
}
