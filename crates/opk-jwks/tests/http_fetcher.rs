//! HttpJwksFetcher end to end against a real HTTP server on 127.0.0.1 (opk-testkit's stub).

use std::time::{Duration, SystemTime};

use opk_http::HttpOptions;
use opk_jwks::{CacheOptions, Endpoint, Error, HttpJwksFetcher, JwksCache, JwksFetcher, Source};
use opk_testkit::{Response, StubServer};

/// One Ed25519 key (RFC 8037 A.2) with kid k1, and one key opk cannot use.
const JWKS: &str = r#"{"keys":[{"kid":"k1","kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kid":"k0","kty":"oct","k":"AAAA"}]}"#;

fn discovery(issuer: &str, jwks_uri: &str) -> String {
    format!(r#"{{"issuer":"{issuer}","jwks_uri":"{jwks_uri}","authorization_endpoint":"x"}}"#)
}

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// An OP at `base`: discovery naming `base` as issuer and `base/keys` as jwks_uri, and `keys`.
fn op_routes(base: &str, keys: Response) -> Vec<(&'static str, Response)> {
    vec![
        (
            WELL_KNOWN,
            Response::json(200, &discovery(base, &format!("{base}/keys"))),
        ),
        ("/keys", keys),
    ]
}

fn fetcher() -> HttpJwksFetcher {
    HttpJwksFetcher::new(HttpOptions::default())
}

#[test]
fn discovery_then_jwks() {
    let srv = StubServer::routes_at(|base| op_routes(base, Response::json(200, JWKS)));
    let f = fetcher();
    assert!(!f.client_built());
    let jwks = f.fetch(srv.base()).expect("fetch");
    assert_eq!(jwks.keys().len(), 1);
    assert!(jwks.has_kid("k1"));
    assert!(f.client_built());
    assert_eq!(srv.targets(), [WELL_KNOWN, "/keys"]);
}

#[test]
fn trailing_slash_issuer_is_matched_exactly() {
    let srv = StubServer::routes_at(|base| {
        vec![
            (
                WELL_KNOWN,
                Response::json(
                    200,
                    &discovery(&format!("{base}/"), &format!("{base}/keys")),
                ),
            ),
            ("/keys", Response::json(200, JWKS)),
        ]
    });
    // Configured with the slash: discovery URL has no "//", issuer matches.
    let jwks = fetcher().fetch(&format!("{}/", srv.base())).expect("fetch");
    assert!(jwks.has_kid("k1"));
    // Configured without it: byte-exact comparison fails, JWKS is not fetched.
    let err = fetcher().fetch(srv.base()).expect_err("mismatch");
    assert!(matches!(err, Error::IssuerMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("trailing"), "{err}");
    assert_eq!(srv.targets(), [WELL_KNOWN, "/keys", WELL_KNOWN]);
}

#[test]
fn issuer_mismatch_is_rejected() {
    let srv = StubServer::routes_at(|base| {
        vec![
            (
                WELL_KNOWN,
                Response::json(
                    200,
                    &discovery("https://accounts.google.com", &format!("{base}/keys")),
                ),
            ),
            ("/keys", Response::json(200, JWKS)),
        ]
    });
    match fetcher().fetch(srv.base()) {
        Err(Error::IssuerMismatch {
            expected, found, ..
        }) => {
            assert_eq!(expected, srv.base());
            assert_eq!(found, "https://accounts.google.com");
        }
        other => panic!("expected mismatch, got {other:?}"),
    }
    assert!(!srv.targets().contains(&"/keys".to_owned()));
}

#[test]
fn non_200_statuses_are_errors() {
    let keys_500 =
        StubServer::routes_at(|base| op_routes(base, Response::json(500, r#"{"error":"boom"}"#)));
    // Discovery itself missing: 404.
    let no_discovery = StubServer::routes([]);
    for (srv, want) in [(keys_500, 500), (no_discovery, 404)] {
        let err = fetcher().fetch(srv.base()).expect_err("non-200");
        assert!(
            matches!(err, Error::Http(opk_http::Error::Status { status, .. }) if status == want),
            "{want}: {err:?}"
        );
    }
}

#[test]
fn bad_discovery_documents_are_rejected() {
    let no_jwks_uri = StubServer::routes_at(|base| {
        vec![(
            WELL_KNOWN,
            Response::json(200, &format!(r#"{{"issuer":"{base}"}}"#)),
        )]
    });
    let no_issuer =
        StubServer::routes_at(|_| vec![(WELL_KNOWN, Response::json(200, r#"{"jwks_uri":"x"}"#))]);
    for (srv, missing) in [(no_jwks_uri, "jwks_uri"), (no_issuer, "issuer")] {
        let err = fetcher().fetch(srv.base()).expect_err(missing);
        assert!(
            matches!(err, Error::Discovery { field, .. } if field == missing),
            "{missing}: {err:?}"
        );
    }
}

#[test]
fn jwks_uri_must_pass_check_url() {
    let srv = StubServer::routes_at(|base| {
        vec![(
            WELL_KNOWN,
            Response::json(200, &discovery(base, "http://localhost.evil.example/keys")),
        )]
    });
    let err = fetcher()
        .fetch(srv.base())
        .expect_err("look-alike jwks_uri");
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
    assert_eq!(srv.targets(), [WELL_KNOWN]);
}

#[test]
fn jwks_without_keys_is_rejected() {
    let srv = StubServer::routes_at(|base| op_routes(base, Response::json(200, r#"{"kes":[]}"#)));
    let err = fetcher().fetch(srv.base()).expect_err("no keys");
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
    let srv = StubServer::routes_at(|base| op_routes(base, Response::json(200, JWKS)));
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = CacheOptions {
        dir: Some(dir.path().to_path_buf()),
        ..CacheOptions::default()
    };
    let now = SystemTime::now();

    let cold = fetcher();
    let out = JwksCache::new(opts.clone())
        .get(srv.base(), Some("k1"), now, &cold)
        .expect("cold");
    assert_eq!(out.source, Source::Fetched);
    assert!(cold.client_built());
    assert_eq!(srv.targets().len(), 2);

    // A new "process": fresh cache handle and fetcher.
    let warm = fetcher();
    let out = JwksCache::new(opts)
        .get(srv.base(), Some("k1"), now + Duration::from_secs(60), &warm)
        .expect("warm");
    assert_eq!(out.source, Source::Cache);
    assert!(out.jwks.has_kid("k1"));
    assert!(!warm.client_built(), "warm path built an HTTP/TLS client");
    assert_eq!(srv.targets().len(), 2, "warm path hit the network");
}
