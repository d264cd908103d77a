//! HttpJwksFetcher end to end against a real HTTP server on 127.0.0.1.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use opk_http::HttpOptions;
use opk_jwks::{CacheOptions, Endpoint, Error, HttpJwksFetcher, JwksCache, JwksFetcher, Source};

struct Server {
    base: String,
    paths: Arc<Mutex<Vec<String>>>,
}

/// Serves `routes(base)`: path -> (status, body). Unknown paths are 404.
fn serve(routes: impl FnOnce(&str) -> Vec<(String, u16, String)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let routes: HashMap<String, (u16, String)> = routes(&base)
        .into_iter()
        .map(|(p, s, b)| (p, (s, b)))
        .collect();
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&paths);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream, &routes, &seen);
        }
    });
    Server { base, paths }
}

fn answer(stream: TcpStream, routes: &HashMap<String, (u16, String)>, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
    }
    seen.lock().expect("lock").push(path.clone());
    let (status, body) = routes.get(&path).cloned().unwrap_or((404, "{}".into()));
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// One Ed25519 key (RFC 8037 A.2) with kid k1, and one key opk cannot use.
const JWKS: &str = r#"{"keys":[{"kid":"k1","kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kid":"k0","kty":"oct","k":"AAAA"}]}"#;

fn discovery(issuer: &str, jwks_uri: &str) -> String {
    format!(r#"{{"issuer":"{issuer}","jwks_uri":"{jwks_uri}","authorization_endpoint":"x"}}"#)
}

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

fn fetcher() -> HttpJwksFetcher {
    HttpJwksFetcher::new(HttpOptions::default())
}

#[test]
fn discovery_then_jwks() {
    let srv = serve(|base| {
        vec![
            (
                WELL_KNOWN.into(),
                200,
                discovery(base, &format!("{base}/keys")),
            ),
            ("/keys".into(), 200, JWKS.into()),
        ]
    });
    let f = fetcher();
    assert!(!f.client_built());
    let jwks = f.fetch(&srv.base).expect("fetch");
    assert_eq!(jwks.keys().len(), 1);
    assert!(jwks.has_kid("k1"));
    assert!(f.client_built());
    assert_eq!(*srv.paths.lock().expect("lock"), [WELL_KNOWN, "/keys"]);
}

#[test]
fn trailing_slash_issuer_is_matched_exactly() {
    let srv = serve(|base| {
        vec![
            (
                WELL_KNOWN.into(),
                200,
                discovery(&format!("{base}/"), &format!("{base}/keys")),
            ),
            ("/keys".into(), 200, JWKS.into()),
        ]
    });
    // Configured with the slash: discovery URL has no "//", issuer matches.
    let jwks = fetcher().fetch(&format!("{}/", srv.base)).expect("fetch");
    assert!(jwks.has_kid("k1"));
    // Configured without it: byte-exact comparison fails, JWKS is not fetched.
    let err = fetcher().fetch(&srv.base).expect_err("mismatch");
    assert!(matches!(err, Error::IssuerMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("trailing"), "{err}");
    assert_eq!(
        *srv.paths.lock().expect("lock"),
        [WELL_KNOWN, "/keys", WELL_KNOWN]
    );
}

#[test]
fn issuer_mismatch_is_rejected() {
    let srv = serve(|base| {
        vec![
            (
                WELL_KNOWN.into(),
                200,
                discovery("https://accounts.google.com", &format!("{base}/keys")),
            ),
            ("/keys".into(), 200, JWKS.into()),
        ]
    });
    match fetcher().fetch(&srv.base) {
        Err(Error::IssuerMismatch {
            expected, found, ..
        }) => {
            assert_eq!(expected, srv.base);
            assert_eq!(found, "https://accounts.google.com");
        }
        other => panic!("expected mismatch, got {other:?}"),
    }
    assert!(
        !srv.paths
            .lock()
            .expect("lock")
            .contains(&"/keys".to_owned())
    );
}

#[test]
fn non_200_statuses_are_errors() {
    let srv = serve(|base| {
        vec![
            (
                WELL_KNOWN.into(),
                200,
                discovery(base, &format!("{base}/keys")),
            ),
            ("/keys".into(), 500, r#"{"error":"boom"}"#.into()),
        ]
    });
    let err = fetcher().fetch(&srv.base).expect_err("500");
    assert!(
        matches!(
            err,
            Error::Http(opk_http::Error::Status { status: 500, .. })
        ),
        "{err:?}"
    );
    // Discovery itself missing: 404.
    let srv = serve(|_| vec![]);
    let err = fetcher().fetch(&srv.base).expect_err("404");
    assert!(
        matches!(
            err,
            Error::Http(opk_http::Error::Status { status: 404, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn bad_discovery_documents_are_rejected() {
    let srv = serve(|base| vec![(WELL_KNOWN.into(), 200, format!(r#"{{"issuer":"{base}"}}"#))]);
    let err = fetcher().fetch(&srv.base).expect_err("no jwks_uri");
    assert!(
        matches!(
            err,
            Error::Discovery {
                field: "jwks_uri",
                ..
            }
        ),
        "{err:?}"
    );

    let srv = serve(|_| vec![(WELL_KNOWN.into(), 200, r#"{"jwks_uri":"x"}"#.into())]);
    let err = fetcher().fetch(&srv.base).expect_err("no issuer");
    assert!(
        matches!(
            err,
            Error::Discovery {
                field: "issuer",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn jwks_uri_must_pass_check_url() {
    let srv = serve(|base| {
        vec![(
            WELL_KNOWN.into(),
            200,
            discovery(base, "http://localhost.evil.example/keys"),
        )]
    });
    let err = fetcher().fetch(&srv.base).expect_err("look-alike jwks_uri");
    assert!(
        matches!(
            err,
            Error::BadEndpoint {
                endpoint: Endpoint::Jwks,
                ..
            }
        ),
        "{err:?}"
    );
    // Refused before any request to it.
    assert_eq!(*srv.paths.lock().expect("lock"), [WELL_KNOWN]);
}

#[test]
fn jwks_without_keys_is_rejected() {
    let srv = serve(|base| {
        vec![
            (
                WELL_KNOWN.into(),
                200,
                discovery(base, &format!("{base}/keys")),
            ),
            ("/keys".into(), 200, r#"{"kes":[]}"#.into()),
        ]
    });
    let err = fetcher().fetch(&srv.base).expect_err("no keys");
    assert!(matches!(err, Error::InvalidJwks { .. }), "{err:?}");
}

#[test]
fn non_loopback_http_issuer_is_refused_before_building_a_client() {
    let f = fetcher();
    let err = f.fetch("http://op.example").expect_err("plain http");
    assert!(
        matches!(err, Error::Http(opk_http::Error::BadUrl { .. })),
        "{err:?}"
    );
    assert!(!f.client_built());
}

#[test]
fn warm_cache_builds_no_client_and_makes_no_request() {
    let srv = serve(|base| {
        vec![
            (
                WELL_KNOWN.into(),
                200,
                discovery(base, &format!("{base}/keys")),
            ),
            ("/keys".into(), 200, JWKS.into()),
        ]
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = CacheOptions {
        dir: Some(dir.path().to_path_buf()),
        ..CacheOptions::default()
    };
    let now = SystemTime::now();

    let cold = fetcher();
    let out = JwksCache::new(opts.clone())
        .get(&srv.base, Some("k1"), now, &cold)
        .expect("cold");
    assert_eq!(out.source, Source::Fetched);
    assert!(cold.client_built());
    assert_eq!(srv.paths.lock().expect("lock").len(), 2);

    // A new "process": fresh cache handle and fetcher.
    let warm = fetcher();
    let out = JwksCache::new(opts)
        .get(&srv.base, Some("k1"), now + Duration::from_secs(60), &warm)
        .expect("warm");
    assert_eq!(out.source, Source::Cache);
    assert!(out.jwks.has_kid("k1"));
    assert!(!warm.client_built(), "warm path built an HTTP/TLS client");
    assert_eq!(
        srv.paths.lock().expect("lock").len(),
        2,
        "warm path hit the network"
    );
}
