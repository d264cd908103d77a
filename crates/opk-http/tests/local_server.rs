//! opk-http against a real HTTP server on 127.0.0.1 (opk-testkit's stub, canned answers).

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use opk_http::{Error, HttpClient, HttpOptions};
use opk_testkit::{Response, StubServer};

fn client(opts: HttpOptions) -> HttpClient {
    // No system roots needed for loopback http; keeps the test independent of the machine.
    HttpClient::with_roots(opts, &[], None).expect("client")
}

#[test]
fn get_json_returns_object_and_sends_accept() {
    let srv = StubServer::routes([("/doc", Response::json(200, r#"{"issuer":"x","n":[1,2]}"#))]);
    let v = client(HttpOptions::default())
        .get_json(&srv.url("/doc"))
        .expect("get");
    assert_eq!(v["issuer"], "x");
    assert_eq!(v["n"][1], 2);
    let seen = srv.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].header("accept"), Some("application/json"));
    assert!(
        seen[0]
            .header("user-agent")
            .is_some_and(|u| u.starts_with("opk/"))
    );
}

#[test]
fn get_json_requires_200() {
    let srv = StubServer::routes([("/created", Response::json(201, "{}"))]);
    let c = client(HttpOptions::default());
    for (path, status) in [("/missing", 404), ("/created", 201)] {
        match c.get_json(&srv.url(path)) {
            Err(Error::Status { status: s, .. }) => assert_eq!(s, status),
            other => panic!("{path}: expected status error, got {other:?}"),
        }
    }
}

#[test]
fn redirects_are_not_followed() {
    let srv = StubServer::routes([
        ("/target", Response::json(200, "{}")),
        ("/start", Response::redirect("/target")),
    ]);
    let err = client(HttpOptions::default())
        .get_json(&srv.url("/start"))
        .expect_err("redirect must not be followed");
    assert!(matches!(err, Error::Status { status: 302, .. }), "{err:?}");
    assert!(srv.requests().iter().all(|s| s.target != "/target"));
}

#[test]
fn body_cap_is_enforced() {
    let big = format!("{{\"k\":\"{}\"}}", "a".repeat(200));
    let srv = StubServer::routes([("/big", Response::json(200, &big))]);
    let opts = HttpOptions {
        max_body: 100,
        ..HttpOptions::default()
    };
    let err = client(opts)
        .get_json(&srv.url("/big"))
        .expect_err("too big");
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 100, .. }),
        "{err:?}"
    );
    // Exactly at the cap is fine.
    let opts = HttpOptions {
        max_body: big.len(),
        ..HttpOptions::default()
    };
    assert!(client(opts).get_json(&srv.url("/big")).is_ok());
}

#[test]
fn non_object_and_invalid_json_are_rejected() {
    let srv = StubServer::routes([
        ("/array", Response::json(200, "[1,2]")),
        ("/torn", Response::json(200, "{\"keys\": [")),
        ("/html", Response::json(200, "<html></html>")),
    ]);
    let c = client(HttpOptions::default());
    assert!(matches!(
        c.get_json(&srv.url("/array")),
        Err(Error::NotObject { .. })
    ));
    assert!(matches!(
        c.get_json(&srv.url("/torn")),
        Err(Error::Json { .. })
    ));
    assert!(matches!(
        c.get_json(&srv.url("/html")),
        Err(Error::Json { .. })
    ));
}

#[test]
fn post_form_returns_oauth_error_json_with_status() {
    let srv = StubServer::routes([
        (
            "/token",
            Response::json(400, r#"{"error":"invalid_grant"}"#),
        ),
        ("/ok", Response::json(200, r#"{"id_token":"a.b.c"}"#)),
        ("/gateway", Response::new(502).body("<h1>Bad gateway</h1>")),
    ]);
    let c = client(HttpOptions::default());
    let (status, v) = c
        .post_form(
            &srv.url("/token"),
            &[("grant_type", "authorization_code"), ("code", "a b&c=d")],
        )
        .expect("post");
    assert_eq!(status, 400);
    assert_eq!(v["error"], "invalid_grant");
    let seen = srv.requests();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].body_text(),
        "grant_type=authorization_code&code=a+b%26c%3Dd"
    );
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let (status, v) = c.post_form(&srv.url("/ok"), &[]).expect("post ok");
    assert_eq!((status, v["id_token"].as_str()), (200, Some("a.b.c")));
    assert!(matches!(
        c.post_form(&srv.url("/gateway"), &[]),
        Err(Error::Status { status: 502, .. })
    ));
}

#[test]
fn refused_urls_make_no_request() {
    let srv = StubServer::routes([]);
    let c = client(HttpOptions::default());
    let port = srv.port();
    for url in [
        format!("http://localhost.evil.com:{port}/x"),
        format!("http://localhost@127.0.0.1:{port}/x"),
        format!("ftp://127.0.0.1:{port}/x"),
    ] {
        assert!(
            matches!(c.get_json(&url), Err(Error::BadUrl { .. })),
            "{url}"
        );
        assert!(
            matches!(c.post_form(&url, &[]), Err(Error::BadUrl { .. })),
            "{url}"
        );
    }
    assert!(srv.requests().is_empty());
}

#[test]
fn https_without_roots_fails_clearly() {
    let c = client(HttpOptions::default());
    let err = c.get_json("https://127.0.0.1:1/x").expect_err("no roots");
    assert!(matches!(err, Error::NoRootCerts { .. }), "{err:?}");
    assert!(err.to_string().contains("SSL_CERT_FILE"));
}

#[test]
fn total_timeout_applies() {
    let srv = StubServer::routes([("/hang", Response::hang())]);
    let opts = HttpOptions {
        total_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    };
    let start = Instant::now();
    let err = client(opts)
        .get_json(&srv.url("/hang"))
        .expect_err("must time out");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn connection_refused_is_a_request_error() {
    // Bind then drop to get a port that is (almost certainly) closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let err = client(HttpOptions::default())
        .get_json(&format!("http://127.0.0.1:{port}/"))
        .expect_err("refused");
    assert!(matches!(err, Error::Request { .. }), "{err:?}");
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn new_reads_system_bundle() {
    // The real constructor must succeed on a machine with a CA bundle (this one has one), and
    // with an explicit bundle file the https path is admitted (it then fails to connect).
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    assert!(
        bundle.exists(),
        "{} is missing: install the system CA bundle (apt-get install ca-certificates)",
        bundle.display()
    );
    let c = HttpClient::with_roots(
        HttpOptions {
            connect_timeout: Duration::from_millis(500),
            ..HttpOptions::default()
        },
        &[bundle],
        None,
    )
    .expect("client");
    let err = c
        .get_json("https://127.0.0.1:1/x")
        .expect_err("nothing listens on port 1");
    assert!(
        matches!(err, Error::Request { .. } | Error::Timeout { .. }),
        "{err:?}"
    );
}
