//! HTTPS against `openssl s_server` with a throwaway CA. Skipped when `openssl` is missing.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opk_http::{Error, HttpClient, HttpOptions};

const CHILD_ENV: &str = "OPK_HTTP_TEST_TLS_URL";

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=opk test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
}

#[test]
fn https_with_private_ca() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not found; skipping");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    make_ca(d, "ca");
    make_ca(d, "other");
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
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
    let _server = KillOnDrop(
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
                &d.join("srv.pem").to_string_lossy(),
                "-key",
                &d.join("srv.key").to_string_lossy(),
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
    let c = HttpClient::with_roots(HttpOptions::default(), &[], Some(&d.join("ca.pem")))
        .expect("client");
    assert_eq!(c.get_json(&url).expect("https get")["issuer"], "tls-ok");
    // Also by IP, which the certificate names.
    let by_ip = url.replace("localhost", "127.0.0.1");
    assert_eq!(
        c.get_json(&by_ip).expect("https get by ip")["issuer"],
        "tls-ok"
    );

    // Not trusted: a different CA.
    let c = HttpClient::with_roots(HttpOptions::default(), &[&d.join("other.pem")], None)
        .expect("client");
    let err = c.get_json(&url).expect_err("untrusted CA");
    assert!(matches!(err, Error::Request { .. }), "{err:?}");

    // The real constructor honours SSL_CERT_FILE (set in a child: env mutation is unsafe here).
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", "ssl_cert_file_child", "--test-threads=1"])
        .env(CHILD_ENV, &url)
        .env("SSL_CERT_FILE", d.join("ca.pem"))
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "child: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    // And without it the same URL is refused.
    let out = Command::new(std::env::current_exe().expect("exe"))
        .args(["--exact", "ssl_cert_file_child", "--test-threads=1"])
        .env(CHILD_ENV, &url)
        .env_remove("SSL_CERT_FILE")
        .output()
        .expect("child");
    assert!(
        !out.status.success(),
        "trusted a private CA without SSL_CERT_FILE"
    );
}

/// Child of `https_with_private_ca`; does nothing in a normal run.
#[test]
fn ssl_cert_file_child() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    let c = HttpClient::new(HttpOptions::default()).expect("client from env");
    assert_eq!(c.get_json(&url).expect("https get")["issuer"], "tls-ok");
}
