//! Principal check (H-1 in docs/hazards.md) and `opk add`.

use opk_policy::{AddOutcome, AuthId, Error, add_row, check_principal, issuer_alias, quote_word};

#[test]
fn h1_principal_injection_denied() {
    let bad = [
        "",
        "evil\",command=\"/bin/sh",
        "guest,root",
        "root\n",
        "root\nssh-ed25519 AAAA",
        "a b",
        "-oProxyCommand",
        ".hidden",
        "+x",
        "@x",
        "$",
        "a$$",
        "a$b",
        "ro\"ot",
        "ro'ot",
        "r\0",
        "é",
        "root\r",
        "a*",
        "a/b",
        "a:b",
    ];
    for p in bad {
        assert!(
            matches!(check_principal(p), Err(Error::InvalidPrincipal { .. })),
            "{p:?} must be rejected"
        );
    }
    let long_ok = format!("a{}", "b".repeat(127));
    let too_long = format!("a{}", "b".repeat(128));
    let good = [
        "root",
        "_svc",
        "0day",
        "alice.smith",
        "a+b",
        "user@DOMAIN",
        "a-b_c.d",
        "machine$",
        "opkssh-wildcard",
        long_ok.as_str(),
    ];
    for p in good {
        assert_eq!(check_principal(p), Ok(()), "{p:?}");
    }
    assert!(check_principal(&format!("{long_ok}$")).is_ok());
    assert!(check_principal(&too_long).is_err());
    let msg = check_principal("a\nb").expect_err("bad").to_string();
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn issuer_aliases() {
    assert_eq!(issuer_alias("google"), "https://accounts.google.com");
    let ms = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0";
    assert_eq!(issuer_alias("azure"), ms);
    assert_eq!(issuer_alias("microsoft"), ms);
    assert_eq!(issuer_alias("gitlab"), "https://gitlab.com");
    assert_eq!(issuer_alias("hello"), "https://issuer.hello.coop");
    assert_eq!(issuer_alias("Google"), "Google");
    assert_eq!(issuer_alias("https://x"), "https://x");
    assert_eq!(issuer_alias(""), "");
}

/// `add_row` on the text `existing`, which must succeed.
fn add(existing: &str, principal: &str, identity: &str, issuer: &str) -> AddOutcome {
    add_row(existing.as_bytes(), principal, identity, issuer).expect("add_row")
}

#[test]
fn add_to_empty_file() {
    let out = add(
        "",
        "alice",
        "alice@example.com",
        "https://accounts.google.com",
    );
    assert!(out.changed);
    assert_eq!(
        out.contents,
        "alice alice@example.com https://accounts.google.com\n"
    );
}

#[test]
fn add_preserves_comments_and_appends() {
    let existing = "# system policy\n\nroot r@x https://i   # trailing comment\n";
    let out = add(
        existing,
        "dev",
        "repo:org/repo:ref:refs/heads/*",
        "https://i",
    );
    assert!(out.changed);
    assert_eq!(
        out.contents,
        format!("{existing}dev repo:org/repo:ref:refs/heads/\\* https://i\n")
    );
    let rows = AuthId::parse(out.contents.as_bytes())
        .expect("valid")
        .into_rows();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].identity, "repo:org/repo:ref:refs/heads/*");
}

#[test]
fn add_dedups_identical_rows() {
    let existing = "# c\nalice 'alice@example.com' \"https://i\"\n";
    let out = add(existing, "alice", "alice@example.com", "https://i");
    assert!(!out.changed);
    assert_eq!(out.contents, existing);
    // Different principal, identity or issuer: appended.
    for (p, id, iss) in [
        ("bob", "alice@example.com", "https://i"),
        ("alice", "Alice@example.com", "https://i"),
        ("alice", "alice@example.com", "https://j"),
    ] {
        let out = add(existing, p, id, iss);
        assert!(out.changed, "{p} {id} {iss}");
        assert_eq!(
            AuthId::parse(out.contents.as_bytes())
                .expect("v")
                .rows()
                .len(),
            2
        );
    }
}

#[test]
fn add_fixes_missing_final_newline_and_keeps_crlf() {
    let out = add("root a https://i", "bob", "b", "https://i");
    assert_eq!(out.contents, "root a https://i\nbob b https://i\n");
    let out = add("root a https://i\r\n", "bob", "b", "https://i");
    assert_eq!(out.contents, "root a https://i\r\nbob b https://i\r\n");
    let out = add("\u{feff}root a https://i", "bob", "b", "https://i");
    assert_eq!(out.contents, "\u{feff}root a https://i\nbob b https://i\n");
}

#[test]
fn add_quotes_like_opkssh() {
    let out = add(
        "",
        "ro",
        "oidc:\"https://acme.com/groups\":ssh-users",
        "https://accounts.google.com",
    );
    assert_eq!(
        out.contents,
        "ro oidc:\\\"https://acme.com/groups\\\":ssh-users https://accounts.google.com\n"
    );
    let out = add("", "ro", "oidc:groups:ssh users", "https://i");
    assert_eq!(out.contents, "ro 'oidc:groups:ssh users' https://i\n");
    let rows = AuthId::parse(out.contents.as_bytes())
        .expect("v")
        .into_rows();
    assert_eq!(rows[0].identity, "oidc:groups:ssh users");
    assert_eq!(quote_word("~alice"), "\\~alice");
}

/// `add_row` refuses to add `identity` (under `issuer`) to an empty file, with an error that `is`.
fn assert_refuses(identity: &str, issuer: &str, is: fn(&Error) -> bool) {
    let got = add_row(b"", "u", identity, issuer);
    assert!(
        got.as_ref().is_err_and(is),
        "{identity:?} {issuer:?}: {got:?}"
    );
}

#[test]
fn add_validates_inputs() {
    let iss = "https://i";
    assert!(matches!(
        add_row(b"", "bad,user", "a@b", iss),
        Err(Error::InvalidPrincipal { .. })
    ));
    assert_eq!(add_row(b"", "u", "", iss), Err(Error::EmptyIdentity));
    for bare in [
        "oidc:",
        "OIDC:",
        "repo:",
        "oidc-match-end:email:",
        "OIDC-MATCH-END:EMAIL:",
    ] {
        assert_refuses(bare, iss, |e| matches!(e, Error::BareIdentityPrefix { .. }));
    }
    for short in ["oidc::", "oidc:groups", "oidc:groups:"] {
        assert_refuses(short, iss, |e| {
            matches!(e, Error::MalformedOidcIdentity { .. })
        });
    }
    assert!(matches!(
        add_row(b"", "u", "repo:a[", iss),
        Err(Error::InvalidGlob { .. })
    ));
    assert_eq!(add_row(b"", "u", "a@b", ""), Err(Error::EmptyIssuer));
    for (id, issuer) in [
        ("a#b", iss),
        ("a\nb", iss),
        ("a\tb", iss),
        ("a@b", "https://i#x"),
        ("a\u{a0}", iss),
    ] {
        assert_refuses(id, issuer, |e| matches!(e, Error::UnwritableWord { .. }));
    }
    assert!(matches!(
        add_row(b"ok a b\n\xff\n", "u", "a@b", iss),
        Err(Error::InvalidUtf8 { line_number: 2 })
    ));
    let big = vec![b'#'; opk_policy::MAX_FILE_BYTES + 1];
    assert!(matches!(
        add_row(&big, "u", "a@b", iss),
        Err(Error::TooLarge { .. })
    ));
    for e in [Error::EmptyIdentity, Error::EmptyIssuer] {
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn add_round_trips_awkward_identities() {
    for id in [
        "o'brien@example.com",
        "$x",
        "a b c",
        "\"q\"",
        "~x",
        "[x]",
        "a\\b",
        "it's a test",
        "*",
    ] {
        let out = add_row(b"# keep\n", "u", id, "https://i").expect(id);
        let rows = AuthId::parse(out.contents.as_bytes())
            .expect("valid")
            .into_rows();
        assert_eq!(rows.len(), 1, "{id}");
        assert_eq!(rows[0].identity, id);
        assert!(out.contents.starts_with("# keep\n"));
        // Adding it again is a no-op.
        let again = add_row(out.contents.as_bytes(), "u", id, "https://i").expect(id);
        assert!(!again.changed, "{id}");
    }
}
