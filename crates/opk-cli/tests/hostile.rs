//! Hostile input to the built `opk verify`: the catalog in `tests/hostile/` (one JSON file per
//! case, made by `opk_e2e::hostile`), special files where server files should be, and a verify
//! that cannot finish (R-3 in docs/hazards.md).
//!
//! Every catalog case runs through the built binary with `--deadline 10` (the bound on its time,
//! by construction) and must: exit 1, print nothing on stdout, print one line `Error: <reason>`
//! on stderr whose reason, at most 4 KiB, is of the case's class (and contains its `reason` text), log
//! `denied: <reason>`, and append exactly one audit record with that reason. A case with a
//! `parser` also runs the pure parser it names (and its fuzzing hook) on the same input.
//!
//! The OP is [`PlantedOp`]: its JWKS is planted in verify's cache and its issuer
//! (`https://127.0.0.1:1/planted`) refuses connections, so verify makes no request that could
//! succeed and every case is decided by the files and the offered key alone.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding as _};
use opk_e2e::{PLANTED_CLIENT, PLANTED_ISSUER, PlantedOp, TestDir, VerifyHost};
use opk_sshcert::OpkCert;
use opk_testkit::{Response, StubServer};
use serde_json::Value;

mod common;

use common::{OPK, TMP, assert_ssh_denied, assert_ssh_ok, write_pair};

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
        &format!("alice alice@example.com {PLANTED_ISSUER}\n"),
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
        format!("alice alice@example.com {PLANTED_ISSUER}\n"),
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

/// A content value of a case file: a string, `{"repeat", "times", "prefix"?, "suffix"?}`,
/// `{"base64"}`, or `{"text", "mode"}` (the mode is applied by [`write_file`]).
fn expand(value: &Value, issuer: &str) -> Vec<u8> {
    match value {
        Value::String(s) => s.replace("{issuer}", issuer).into_bytes(),
        Value::Object(o) if o.contains_key("repeat") => {
            let unit = o["repeat"].as_str().expect("repeat unit");
            let times = o["times"].as_u64().expect("times") as usize;
            let part = |k: &str| {
                o.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            format!("{}{}{}", part("prefix"), unit.repeat(times), part("suffix")).into_bytes()
        }
        Value::Object(o) if o.contains_key("base64") => {
            Base64::decode_vec(o["base64"].as_str().expect("base64")).expect("base64 content")
        }
        Value::Object(o) if o.contains_key("text") => expand(&o["text"], issuer),
        other => panic!("cannot expand {other}"),
    }
}

/// Puts a case's `content` at `path`: a file (mode 0640 unless given), or a special file.
fn write_file(path: &Path, content: &Value, issuer: &str) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir(path).expect("rmdir");
    } else {
        let _ = std::fs::remove_file(path);
    }
    match content.get("special").and_then(Value::as_str) {
        Some("fifo") => return mkfifo(path),
        Some("directory") => return std::fs::create_dir(path).expect("mkdir"),
        Some(target) => return std::os::unix::fs::symlink(target, path).expect("symlink"),
        None => {}
    }
    std::fs::write(path, expand(content, issuer)).expect("write");
    let mode = content
        .get("mode")
        .and_then(Value::as_str)
        .map_or(0o640, |m| u32::from_str_radix(m, 8).expect("octal mode"));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The stub OP of a `stub` case: discovery and `/jwks` as the case says, `{issuer}` replaced by
/// the stub's own base URL.
fn stub_op(stub: &Value) -> StubServer {
    let answer = |spec: &Value, base: &str| {
        let status = spec["status"].as_u64().expect("status") as u16;
        let mut r = Response::new(status).header("Content-Type: application/json");
        if let Some(location) = spec.get("location").and_then(Value::as_str) {
            r = r.header(&format!("Location: {}", location.replace("{issuer}", base)));
        }
        if let Some(body) = spec.get("body") {
            r = r.body(expand(body, base));
        }
        r
    };
    let (discovery, jwks) = (stub["discovery"].clone(), stub["jwks"].clone());
    StubServer::routes_at(move |base| {
        vec![
            (
                "/.well-known/openid-configuration",
                answer(&discovery, base),
            ),
            ("/jwks", answer(&jwks, base)),
        ]
    })
}

/// Whether `reason` is of `class` (see the catalog's `class` field); `files` maps a server
/// file's name to its path.
fn of_class(class: &str, reason: &str, files: &BTreeMap<&str, PathBuf>) -> bool {
    let path = |name: &str| files[name].display().to_string();
    match class {
        "cert" => reason.starts_with("offered key is not an opk certificate: "),
        "host-cert" => reason == "certificate is not a user certificate",
        "not-self-signed" => reason == "certificate is not self-signed by its own key",
        "no-pkt" => reason == "certificate has no openpubkey-pkt extension",
        "pktoken" => reason.starts_with("PK Token rejected: "),
        "issuer" => reason.starts_with("unrecognized issuer "),
        "jwks" => reason.starts_with("cannot get the OP's signing keys: "),
        "binding" => reason == "certificate key does not match the PK Token's user key (upk)",
        "principal" => reason.starts_with("certificate principal "),
        "policy" => reason.starts_with("no policy to allow ") || reason.starts_with("policy line "),
        "config" => {
            reason.starts_with(&format!("{} line ", path("config.yml")))
                && reason.contains("refusing all logins")
        }
        "deny" => reason.contains(" is in deny_") && reason.contains(&path("config.yml")),
        file => match file.strip_prefix("file:") {
            Some(name) => reason.contains(&path(name)),
            None => panic!("unknown class {class:?}"),
        },
    }
}

/// The pure parser a case names, on the case's input: whether it parsed (its fuzzing hook runs
/// on the same bytes, which must not panic).
fn parses(hook: &str, input: &[u8], key_type: &str) -> bool {
    let text = String::from_utf8_lossy(input);
    match hook {
        "cert_parse" => {
            opk_sshcert::fuzzing::fuzz_parse(format!("{key_type} {text}").as_bytes());
            OpkCert::parse(key_type, &text).is_ok()
        }
        "pktoken_compact" => {
            opk_pktoken::fuzzing::fuzz_compact(input);
            opk_pktoken::PkToken::from_compact(&text).is_ok()
        }
        "providers" => {
            opk_policy::fuzzing::fuzz_providers(input);
            opk_policy::Providers::parse(input).is_ok()
        }
        "auth_id" => {
            opk_policy::fuzzing::fuzz_auth_id(input);
            opk_policy::AuthId::parse(input).is_ok()
        }
        "jwks" => {
            opk_pktoken::fuzzing::fuzz_jwks(input);
            serde_json::from_slice(input)
                .ok()
                .is_some_and(|v| opk_pktoken::Jwks::from_json(&v).is_ok())
        }
        other => panic!("unknown parser {other:?}"),
    }
}

/// Runs one case; `Err` says what went wrong. Returns the reason.
fn run_case(dir: &TestDir, name: &str, case: &Value) -> Result<String, String> {
    let planted = PlantedOp::default();
    let stub = case.get("stub").map(stub_op);
    let issuer = stub
        .as_ref()
        .map_or(PLANTED_ISSUER.to_owned(), |s| s.base().to_owned());
    let mut host = VerifyHost::new(
        dir,
        name,
        Path::new(OPK),
        &format!("{issuer} {PLANTED_CLIENT} never\n"),
        &format!("alice alice@example.com {issuer}\n"),
    );
    host.deadline = Some(10.0);
    let files: BTreeMap<&str, PathBuf> = [
        ("providers", host.providers.clone()),
        ("auth_id", host.auth_id.clone()),
        ("config.yml", host.config.clone()),
    ]
    .into();
    if let Some(overrides) = case.get("files").and_then(Value::as_object) {
        for (file, content) in overrides {
            write_file(&files[file.as_str()], content, &issuer);
        }
    }
    let (key_type, key) = match &stub {
        Some(_) => {
            let cert =
                opk_e2e::hostile::baseline_cert(&planted.key, &issuer, opk_e2e::hostile::FIXED_IAT);
            (cert.cert_type().to_owned(), cert.to_b64())
        }
        None => {
            PlantedOp::plant(&host.cache, case.get("jwks").unwrap_or(&planted.jwks()));
            let key = String::from_utf8(expand(&case["key"], &issuer)).expect("utf-8 key");
            (case["key_type"].as_str().expect("key_type").to_owned(), key)
        }
    };
    let principal = case
        .get("principal")
        .and_then(Value::as_str)
        .unwrap_or("alice");
    let out = host.verify(principal, &key, &key_type, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.code() != Some(1) || !out.stdout.is_empty() {
        return Err(format!(
            "exit {:?}, stdout {:?}, stderr {stderr:?}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let reason = match stderr
        .strip_prefix("Error: ")
        .and_then(|r| r.strip_suffix('\n'))
    {
        Some(r) if !r.contains('\n') => r.to_owned(),
        _ => return Err(format!("not one Error: line: {stderr:?}")),
    };
    // Bounded whatever the input (a catalog key or file is up to 3 MB).
    if reason.len() > 4096 {
        return Err(format!("a {}-byte reason", reason.len()));
    }
    if reason.contains("panic") {
        return Err(format!("panicked: {reason}"));
    }
    let class = case["class"].as_str().expect("class");
    if !of_class(class, &reason, &files) {
        return Err(format!("reason is not of class {class}: {reason}"));
    }
    let want = case["reason"].as_str().unwrap_or_default();
    if !reason.contains(want) {
        return Err(format!("{want:?} not in {reason}"));
    }
    if !host.log_text().contains(&format!("denied: {reason}")) {
        return Err(format!("log lacks the reason: {}", host.log_text()));
    }
    let records = host.audit_records();
    let escaped = opk_verify::escape_controls(
        records
            .first()
            .and_then(|r| r["reason"].as_str())
            .unwrap_or_default(),
    )
    .into_owned();
    if records.len() != 1 || records[0]["decision"] != "deny" || escaped != reason {
        return Err(format!("audit records: {records:?}"));
    }
    if let Some(parser) = case.get("parser") {
        let input = match parser["input"].as_str().expect("input") {
            "key" => key.into_bytes(),
            "pkt" => OpkCert::parse(&key_type, &key)
                .map_err(|e| format!("the case's certificate does not parse: {e}"))?
                .pk_token()
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
            "jwks" => case["jwks"].to_string().into_bytes(),
            file => expand(
                &case["files"][file.strip_prefix("file:").expect("file:")],
                &issuer,
            ),
        };
        let hook = parser["hook"].as_str().expect("hook");
        let ok = parser["ok"].as_bool().expect("ok");
        if parses(hook, &input, &key_type) != ok {
            return Err(format!(
                "parser {hook} did not {} it",
                if ok { "accept" } else { "refuse" }
            ));
        }
    }
    Ok(reason)
}

#[test]
fn hostile_catalog_every_case_is_denied_with_its_reason() {
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&catalog)
        .expect("tests/hostile")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 80, "only {} cases", paths.len());
    let filter = std::env::var("OPK_HOSTILE_FILTER").unwrap_or_default();
    let dir = TestDir::new(TMP);
    let (mut failed, mut by_class) = (Vec::new(), BTreeMap::<String, usize>::new());
    for path in &paths {
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        if !name.contains(&filter) {
            continue;
        }
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match run_case(&dir, &name, &case) {
            Ok(reason) => {
                println!("ok    {name}: {reason}");
                *by_class
                    .entry(case["class"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
            Err(why) => {
                println!("FAIL  {name}: {why}");
                failed.push(name);
            }
        }
    }
    println!(
        "hostile catalog: {} cases by class: {by_class:?}",
        paths.len()
    );
    assert!(failed.is_empty(), "failed cases: {failed:?}");
    dir.keep_if_asked();
}

/// A plugin that hangs past the whole-verify deadline (its own timeout is longer) is killed,
/// with what it started, just before the deadline: verify decides by the rows and no plugin
/// process outlives it.
#[test]
fn r3_a_hung_plugin_is_killed_before_the_deadline_and_outlives_nothing() {
    let dir = TestDir::new(TMP);
    let (mut host, cert) = planted_host(&dir, "plugin");
    std::fs::write(&host.auth_id, "").expect("no rows");
    let pid_file = dir.join("plugin.pid");
    let script = dir.write(
        "plugin/hang.sh",
        &format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 600\n",
            pid_file.display()
        ),
        0o755,
    );
    let rel = host
        .plugins
        .strip_prefix(dir.path())
        .expect("in dir")
        .join("hang.yml");
    dir.write(
        &rel.display().to_string(),
        &format!("name: hangs\ncommand: {}\n", script.display()),
        0o640,
    );
    host.plugin_timeout = Some(600.0);
    host.deadline = Some(2.0);
    let reason = one_line_denial(&verify(&host, &cert));
    assert!(reason.starts_with("no policy to allow"), "{reason}");
    assert!(
        host.log_text()
            .contains("allowed: false, error: timed out after"),
        "{}",
        host.log_text()
    );
    let pid = std::fs::read_to_string(&pid_file).expect("the plugin ran");
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "plugin process {} outlived verify",
        pid.trim()
    );
}

/// Through a real sshd: a FIFO as the system policy, and then a verify stuck on a FIFO passwd
/// file, each deny the login promptly (sshd runs opk verify for the offered certificate and
/// goes on), and sshd still lets the user in once the files are regular again.
#[test]
fn r3_through_sshd_special_files_deny_without_hanging_the_login() {
    let dir = TestDir::new(TMP);
    let user = opk_e2e::current_user();
    let op = PlantedOp::default();
    let row = format!("{user} alice@example.com {PLANTED_ISSUER}\n");
    let host = VerifyHost::new(
        &dir,
        "sshd",
        Path::new(OPK),
        &PlantedOp::providers_row("24h"),
        &row,
    );
    PlantedOp::plant(&host.cache, &op.jwks());
    let (key, cert) = op
        .key
        .certificate(op.claims(unix_now() - 60), vec![user.clone()]);
    let key_file = write_pair(&dir, "alice", &key, &cert);
    let sshd = host.start_sshd(&[]);
    assert_ssh_ok(&sshd.ssh(&key_file, &user, "echo r3-ok"), "r3-ok");
    std::fs::remove_file(&host.auth_id).expect("rm");
    mkfifo(&host.auth_id);
    assert_ssh_denied(&sshd.ssh(&key_file, &user, "echo r3-ok"));
    assert!(
        host.log_text().contains("a FIFO, not a regular file"),
        "{}",
        host.log_text()
    );
    std::fs::remove_file(&host.auth_id).expect("rm");
    std::fs::write(&host.auth_id, &row).expect("write");
    std::fs::set_permissions(&host.auth_id, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    assert_ssh_ok(&sshd.ssh(&key_file, &user, "echo r3-ok"), "r3-ok");
    drop(sshd);

    // A passwd FIFO (read for the home policy, after the token is verified): the deadline.
    let passwd = dir.join("passwd-fifo");
    mkfifo(&passwd);
    let mut stuck = host.with_home_policy(&passwd);
    stuck.deadline = Some(1.0);
    let sshd = stuck.start_sshd(&[]);
    assert_ssh_denied(&sshd.ssh(&key_file, &user, "echo r3-ok"));
    assert!(
        stuck
            .log_text()
            .contains("denied: verify did not finish within 1 s (--deadline)"),
        "{}",
        stuck.log_text()
    );
}
