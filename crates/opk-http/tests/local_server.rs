//! opk-http against a real HTTP server on 127.0.0.1 (std TcpListener, canned answers).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use opk_http::{Error, HttpClient, HttpOptions};

/// A canned answer: status, extra header lines, body.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<String>,
    body: Vec<u8>,
}

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        headers: vec!["Content-Type: application/json".into()],
        body: body.as_bytes().to_vec(),
    }
}

/// What the server saw: method, path, headers (lowercased names), body.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(routes: Vec<(&str, Answer)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let routes: HashMap<String, Answer> =
            routes.into_iter().map(|(p, a)| (p.to_owned(), a)).collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let routes = routes.clone();
                let seen = Arc::clone(&seen2);
                thread::spawn(move || serve(stream, &routes, &seen));
            }
        });
        Server { base, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn serve(stream: TcpStream, routes: &HashMap<String, Answer>, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    seen.lock().expect("lock").push(Seen {
        method,
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let Some(a) = routes.get(&path) else {
        let _ = write_answer(stream, &answer(404, "{\"error\":\"not found\"}"));
        return;
    };
    if a.status == 0 {
        // "hang": hold the connection open without answering.
        thread::sleep(Duration::from_secs(5));
        return;
    }
    let _ = write_answer(stream, a);
}

fn write_answer(mut stream: TcpStream, a: &Answer) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        a.status,
        a.body.len()
    );
    for h in &a.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&a.body)?;
    stream.flush()
}

fn client(opts: HttpOptions) -> HttpClient {
    // No system roots needed for loopback http; keeps the test independent of the machine.
    HttpClient::with_roots(opts, &[], None).expect("client")
}

#[test]
fn get_json_returns_object_and_sends_accept() {
    let srv = Server::start(vec![("/doc", answer(200, r#"{"issuer":"x","n":[1,2]}"#))]);
    let v = client(HttpOptions::default())
        .get_json(&srv.url("/doc"))
        .expect("get");
    assert_eq!(v["issuer"], "x");
    assert_eq!(v["n"][1], 2);
    let seen = srv.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].headers.get("accept").map(String::as_str),
        Some("application/json")
    );
    assert!(
        seen[0]
            .headers
            .get("user-agent")
            .is_some_and(|u| u.starts_with("opk/"))
    );
}

#[test]
fn get_json_requires_200() {
    let srv = Server::start(vec![("/created", answer(201, "{}"))]);
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
    let srv = Server::start(vec![
        ("/target", answer(200, "{}")),
        (
            "/start",
            Answer {
                status: 302,
                headers: vec!["Location: /target".into()],
                body: Vec::new(),
            },
        ),
    ]);
    let err = client(HttpOptions::default())
        .get_json(&srv.url("/start"))
        .expect_err("redirect must not be followed");
    assert!(matches!(err, Error::Status { status: 302, .. }), "{err:?}");
    assert!(srv.seen().iter().all(|s| s.path != "/target"));
}

#[test]
fn body_cap_is_enforced() {
    let big = format!("{{\"k\":\"{}\"}}", "a".repeat(200));
    let srv = Server::start(vec![("/big", answer(200, &big))]);
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
    let srv = Server::start(vec![
        ("/array", answer(200, "[1,2]")),
        ("/torn", answer(200, "{\"keys\": [")),
        ("/html", answer(200, "<html></html>")),
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
    let srv = Server::start(vec![
        ("/token", answer(400, r#"{"error":"invalid_grant"}"#)),
        ("/ok", answer(200, r#"{"id_token":"a.b.c"}"#)),
        (
            "/gateway",
            Answer {
                status: 502,
                headers: vec![],
                body: b"<h1>Bad gateway</h1>".to_vec(),
            },
        ),
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
    let seen = srv.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].body,
        "grant_type=authorization_code&code=a+b%26c%3Dd"
    );
    assert_eq!(
        seen[0].headers.get("content-type").map(String::as_str),
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
    let srv = Server::start(vec![]);
    let c = client(HttpOptions::default());
    let port = srv.base.rsplit(':').next().expect("port");
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
    assert!(srv.seen().is_empty());
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
    let srv = Server::start(vec![(
        "/hang",
        Answer {
            status: 0,
            headers: vec![],
            body: vec![],
        },
    )]);
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
