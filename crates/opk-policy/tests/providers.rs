//! `providers` parsing and hazards H-13, O-4, O-6 (`docs/hazards.md`).

use opk_pktoken::ExpiryPolicy;
use opk_policy::{Error, ProblemKind, Providers};

const DEFAULTS: &str = "\
# issuer client_id expiry
https://accounts.google.com 206584157355-7cbe4s640tvm7naoludob4ut1emii7sf.apps.googleusercontent.com 24h
https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0 096ce0a3-5e72-4da8-9c86-12924b294a01 24h
https://gitlab.com 8d8b7024572c7fd501f64374dec6bba37096783dfcd792b3988104be08cb6923 24h
https://issuer.hello.coop app_xejobTKEsDNSRd5vofKB2iay_2rN 24h
https://token.actions.githubusercontent.com github oidc
https://codeberg.org/api/actions codeberg oidc_refreshed
";

#[test]
fn parses_installer_defaults() {
    let p = Providers::parse(DEFAULTS.as_bytes()).expect("valid providers");
    assert_eq!(p.rows().len(), 6);
    assert!(p.problems().is_empty());
    let g = p.find("https://accounts.google.com").expect("google row");
    assert_eq!(
        g.client_id,
        "206584157355-7cbe4s640tvm7naoludob4ut1emii7sf.apps.googleusercontent.com"
    );
    assert_eq!(g.expiry, ExpiryPolicy::Hours24);
    assert_eq!(g.line_number, 2);
    let gh = p
        .find("https://token.actions.githubusercontent.com")
        .expect("gh");
    assert_eq!(gh.expiry, ExpiryPolicy::Oidc);
    assert_eq!(
        p.find("https://codeberg.org/api/actions").map(|r| r.expiry),
        Some(ExpiryPolicy::OidcRefreshed)
    );
}

#[test]
fn find_is_byte_exact() {
    let p = Providers::parse(DEFAULTS.as_bytes()).expect("valid");
    assert!(p.find("https://accounts.google.com/").is_none());
    assert!(p.find("https://Accounts.google.com").is_none());
    assert!(p.find("https://accounts.google.com ").is_none());
    assert!(p.find("").is_none());
}

#[test]
fn every_expiry_keyword() {
    for (kw, want) in [
        ("12h", ExpiryPolicy::Hours12),
        ("24h", ExpiryPolicy::Hours24),
        ("48h", ExpiryPolicy::Hours48),
        ("1week", ExpiryPolicy::Week),
        ("oidc", ExpiryPolicy::Oidc),
        ("oidc_refreshed", ExpiryPolicy::OidcRefreshed),
        ("never", ExpiryPolicy::Never),
    ] {
        let p = Providers::parse(format!("https://i c {kw}\n").as_bytes()).expect(kw);
        assert_eq!(p.rows()[0].expiry, want);
    }
}

#[test]
fn bad_expiry_keyword_is_fatal() {
    for kw in ["oidc-refreshed", "24H", "1d", "", "'24h '"] {
        let text = format!("https://ok c 24h\nhttps://i c {kw}\n");
        match Providers::parse(text.as_bytes()) {
            Err(Error::InvalidExpiry { line_number, .. }) => assert_eq!(line_number, 2, "{kw}"),
            // An empty keyword makes the row 2 columns: skipped, not fatal.
            Ok(p) if kw.is_empty() => assert_eq!(p.problems().len(), 1),
            other => panic!("{kw:?}: {other:?}"),
        }
    }
    let e = Providers::parse(b"https://i c 1d\n").expect_err("fatal");
    let msg = e.to_string();
    assert!(
        msg.contains("1d") && msg.contains("oidc_refreshed") && !msg.contains('\n'),
        "{msg}"
    );
}

#[test]
fn o6_duplicate_issuer_is_fatal() {
    let text = "https://i a 24h\n# comment\nhttps://other b 24h\nhttps://i b 12h\n";
    let e = Providers::parse(text.as_bytes()).expect_err("duplicate issuer");
    assert_eq!(
        e,
        Error::DuplicateIssuer {
            issuer: "https://i".into(),
            first_line_number: 1,
            line_number: 4
        }
    );
    // Same issuer spelled differently is not a duplicate (byte-exact).
    assert!(Providers::parse(b"https://i a 24h\nhttps://i/ a 24h\n").is_ok());
}

#[test]
fn empty_or_all_skipped_is_fatal() {
    for text in [
        "",
        "\n\n",
        "# only comments\n",
        "https://i c\n",
        "a b c d\n",
        "'unterminated c 24h\n",
        "\u{feff}",
    ] {
        assert_eq!(
            Providers::parse(text.as_bytes()),
            Err(Error::NoProviders),
            "{text:?}"
        );
    }
}

#[test]
fn wrong_column_count_rows_are_skipped_problems() {
    let text = "https://a c 24h extra\nhttps://b c 24h\nhttps://c c\n";
    let p = Providers::parse(text.as_bytes()).expect("one good row");
    assert_eq!(p.rows().len(), 1);
    assert_eq!(p.rows()[0].issuer, "https://b");
    let probs: Vec<_> = p
        .problems()
        .iter()
        .map(|x| (x.line_number, x.kind.clone()))
        .collect();
    assert_eq!(
        probs,
        vec![
            (
                1,
                ProblemKind::WrongColumnCount {
                    expected: 3,
                    got: 4
                }
            ),
            (
                3,
                ProblemKind::WrongColumnCount {
                    expected: 3,
                    got: 2
                }
            ),
        ]
    );
    assert!(
        p.problems()[0]
            .to_string()
            .contains("wrong number of arguments (expected=3, got=4)")
    );
}

#[test]
fn bom_crlf_and_quotes() {
    let text = "\u{feff}'https://i' \"client id\" 24h\r\nhttps://j c never # c\r\n";
    let p = Providers::parse(text.as_bytes()).expect("valid");
    assert_eq!(p.rows()[0].issuer, "https://i");
    assert_eq!(p.rows()[0].client_id, "client id");
    assert_eq!(p.rows()[1].expiry, ExpiryPolicy::Never);
}

#[test]
fn oversized_file_is_an_error() {
    let mut text = "https://i c 24h\n".repeat(70_000);
    assert!(text.len() > opk_policy::MAX_FILE_BYTES);
    assert!(matches!(
        Providers::parse(text.as_bytes()),
        Err(Error::TooLarge { .. })
    ));
    text.truncate(16);
    assert!(Providers::parse(text.as_bytes()).is_ok());
}
