//! HTTPS against `openssl s_server` with a throwaway CA (scripts/lib.sh installs openssl).

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use opk_http::{Error, HttpClient, HttpOptions};
use opk_testkit::{Guard, TestCa};

const CHILD_ENV: &str = "OPK_HTTP_TEST_TLS_URL";

#[test]
fn https_with_private_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let [trusted_dir, other_dir] = [d.join("ca"), d.join("other")];
    for dir in [&trusted_dir, &other_dir] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    // openssl makes the CA and the localhost/127.0.0.1 server certificate (opk_testkit::TestCa).
    let ca = TestCa::generate(&trusted_dir);
    let other = TestCa::generate(&other_dir);
    let www = d.join("www");
    std::fs::create_dir_all(www.join(".well-known")).expect("www");
    std::fs::write(
        www.join(".well-known/openid-configuration"),
        r#"{"issuer":"tls-ok"}"#,
    )
    .expect("doc");

    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let _server = Guard(
        Command::new("openssl")
            .args([
                "s_server",
                "-WWW",
                "-quiet",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "-cert",
                &ca.server_cert.to_string_lossy(),
                "-key",
                &ca.server_key.to_string_lossy(),
            ])
            .current_dir(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s_server"),
    );
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("https://localhost:{port}/.well-known/openid-configuration");

    // Trusted via the extra CA file (the SSL_CERT_FILE slot).
    let c = HttpClient::with_roots(HttpOptions::default(), &[], Some(&ca.ca_cert)).expect("client");
    assert_eq!(c.get_json(&url).expect("https get")["issuer"], "tls-ok");
    // Also by IP, which the certificate names.
    let by_ip = url.replace("localhost", "127.0.0.1");
    assert_eq!(
        c.get_json(&by_ip).expect("https get by ip")["issuer"],
        "tls-ok"
    );

    // Not trusted: a different CA.
    let c =
        HttpClient::with_roots(HttpOptions::default(), &[&other.ca_cert], None).expect("client");
    let err = c.get_json(&url).expect_err("untrusted CA");
    assert!(
        matches!(err, Error::Tls { problem: opk_http::TlsProblem::UnknownIssuer, ref host, .. } if host.starts_with("localhost:")),
        "{err:?}"
    );
    // Said for a user: what is wrong, with the host, and what to do; no rustls names.
    let text = err.to_string();
    assert!(
        text.starts_with("the TLS certificate of localhost:")
            && text.ends_with("set SSL_CERT_FILE to the CA bundle that signed it")
            && !text.contains("UnknownIssuer"),
        "{text}"
    );

    // The real constructor honours SSL_CERT_FILE (set in a child: env mutation is unsafe here).
    let out = run_child(&url, Some(&ca.ca_cert));
    assert!(
        out.status.success(),
        "child with SSL_CERT_FILE: {}",
        out.text
    );
    assert!(out.text.contains("1 passed"), "{}", out.text);
    // And without it the same URL is refused, for want of a trusted issuer.
    let out = run_child(&url, None);
    assert!(
        !out.status.success(),
        "trusted a private CA without SSL_CERT_FILE: {}",
        out.text
    );
    assert!(out.text.contains("1 failed"), "{}", out.text);
    assert!(
        out.text.contains("problem: UnknownIssuer"),
        "not a certificate issuer error: {}",
        out.text
    );
}

struct ChildOutput {
    status: std::process::ExitStatus,
    /// stdout then stderr.
    text: String,
}

/// Runs `ssl_cert_file_child` in a fresh process with `SSL_CERT_FILE` set to `ca` or unset.
fn run_child(url: &str, ca: Option<&std::path::Path>) -> ChildOutput {
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.args([
        "--ignored",
        "--exact",
        "ssl_cert_file_child",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, url);
    match ca {
        Some(ca) => cmd.env("SSL_CERT_FILE", ca),
        None => cmd.env_remove("SSL_CERT_FILE"),
    };
    let out = cmd.output().expect("child");
    ChildOutput {
        status: out.status,
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Child of `https_with_private_ca`, which sets the URL and `SSL_CERT_FILE`.
#[test]
#[ignore = "run by its parent test"]
fn ssl_cert_file_child() {
    let url = std::env::var(CHILD_ENV)
        .unwrap_or_else(|_| panic!("{CHILD_ENV} unset: run https_with_private_ca instead"));
    let c = HttpClient::new(HttpOptions::default()).expect("client from env");
    assert_eq!(c.get_json(&url).expect("https get")["issuer"], "tls-ok");
}

/// opkssh's `env_vars` reach the client as [`HttpOptions::env`], not the process environment:
/// `HTTPS_PROXY` sends https requests through the proxy as CONNECT; `NO_PROXY` names and
/// loopback hosts go direct, as in Go.
#[test]
fn env_overrides_choose_the_proxy() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = TestCa::generate(dir.path());
    let proxy = opk_testkit::StubServer::start(|_| opk_testkit::Response::new(403));
    let client = |extra: &[(&str, &str)]| {
        let mut env = vec![
            ("SSL_CERT_FILE".to_owned(), ca.ca_cert.display().to_string()),
            ("HTTPS_PROXY".to_owned(), proxy.base().to_owned()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        HttpClient::new(HttpOptions {
            connect_timeout: Duration::from_secs(2),
            env,
            ..HttpOptions::default()
        })
        .expect("client")
    };
    let err = client(&[])
        .get_json("https://op.example/.well-known/openid-configuration")
        .expect_err("the proxy refuses");
    let seen = proxy.requests();
    assert_eq!(seen.len(), 1, "{err}");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("CONNECT", "op.example:443")
    );
    // Listed in NO_PROXY, or a loopback host: never through the proxy.
    let _ = client(&[("NO_PROXY", "example")]).get_json("https://op.example/x");
    let _ = client(&[]).get_json(&format!("https://127.0.0.1:{}/x", proxy.port()));
    assert_eq!(proxy.requests().len(), 1);
    // A value that is no proxy URL fails the client, naming it.
    let bad = HttpClient::new(HttpOptions {
        env: vec![("https_proxy".to_owned(), "http://[x".to_owned())],
        ..HttpOptions::default()
    });
    assert!(matches!(bad, Err(Error::BadProxy { value }) if value == "http://[x"));
}
