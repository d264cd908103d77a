//! The identity matcher, rule by rule, and the hazards it covers (`docs/hazards.md`).

use opk_policy::{MatchWarning, identity_matches};
use serde_json::{Map, Value, json};

fn claims(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("test claims must be an object"),
    }
}

fn matches(identity: &str, c: Value) -> bool {
    identity_matches(identity, &claims(c)).matched
}

#[test]
fn table_of_rules() {
    let base = json!({
        "iss": "https://issuer.example",
        "sub": "103030642802723203118",
        "email": "Alice@Example.com",
        "email_verified": true,
        "groups": ["developer", "ssh-users", 7, true, null],
        "https://acme.com/groups": ["ssh-users"],
        "team": "blue",
        "level": 12345678,
        "small": 42,
        "admin": true,
        "repo_sub": "x"
    });
    let cases: &[(&str, bool)] = &[
        // Plain email: case-insensitive equality.
        ("alice@example.com", true),
        ("ALICE@EXAMPLE.COM", true),
        ("alice@example.co", false),
        ("bob@example.com", false),
        // Sub: exact, case-sensitive.
        ("103030642802723203118", true),
        ("10303064280272320311", false),
        // oidc: claims.
        ("oidc:groups:developer", true),
        ("oidc:groups:ssh-users", true),
        ("oidc:groups:Developer", false),
        ("oidc:groups:7", true),
        ("oidc:groups:true", true),
        ("oidc:groups:<nil>", true),
        ("oidc:team:blue", true),
        ("oidc:team:Blue", false),
        ("oidc:level:1.2345678e+07", true),
        ("oidc:level:12345678", false),
        ("oidc:small:42", true),
        ("oidc:admin:true", true),
        ("oidc:missing:x", false),
        // The expected value is the LAST field.
        ("oidc:groups:nothing:developer", true),
        ("oidc:groups:developer:nothing", false),
        // Empty fields are dropped.
        ("oidc::groups::developer", true),
        // A quoted claim name may contain ':'; its quotes are trimmed.
        ("oidc:\"https://acme.com/groups\":ssh-users", true),
        ("oidc:\"https://acme.com/groups\":developer", false),
        // Unquoted, that name splits; the claim "https" does not exist.
        ("oidc:https://acme.com/groups:ssh-users", false),
        // The oidc: prefix is case-sensitive: otherwise it is an email/sub comparison.
        ("OIDC:groups:developer", false),
        // The oidc: result is final: no fallback to email or sub.
        ("oidc:email:Alice@Example.com", true),
        ("oidc:email:alice@example.com", false),
        // Email suffix, lower-cased.
        ("oidc-match-end:email:@example.com", true),
        ("oidc-match-end:email:@EXAMPLE.COM", true),
        ("oidc-match-end:email:@other.com", false),
        ("oidc-match-end:email:.com", true),
        // A suffix without a leading @ matches when it starts right after the @ (O-8).
        ("oidc-match-end:email:example.com", true),
        // repo: globs apply to sub, for any issuer; this sub is not a repo: path.
        ("repo:*", false),
    ];
    for (identity, want) in cases {
        assert_eq!(
            matches(identity, base.clone()),
            *want,
            "identity {identity:?}"
        );
    }
}

#[test]
fn repo_glob_on_sub() {
    let c = json!({"sub": "repo:myorg/myrepo:ref:refs/heads/main", "email": "x@y.z"});
    let cases: &[(&str, bool)] = &[
        ("repo:myorg/myrepo:ref:refs/heads/*", true),
        ("repo:myorg/myrepo:ref:refs/heads/main", true),
        ("repo:myorg/*:ref:refs/heads/main", true),
        ("repo:myorg/myrepo:ref:refs/heads/ma?n", true),
        ("repo:myorg/myrepo:ref:refs/heads/[lm]ain", true),
        ("repo:myorg/myrepo:ref:refs/heads/[^m]ain", false),
        ("repo:myorg/myrepo:ref:refs/tags/*", false),
        ("repo:*", false),
        ("repo:myorg/**", false),
        ("repo:MYORG/myrepo:ref:refs/heads/*", false),
    ];
    for (identity, want) in cases {
        assert_eq!(matches(identity, c.clone()), *want, "identity {identity:?}");
    }
    let deep = json!({"sub": "repo:myorg/myrepo:ref:refs/heads/feature/x"});
    assert!(!matches("repo:myorg/myrepo:ref:refs/heads/*", deep.clone()));
    assert!(matches("repo:myorg/myrepo:ref:refs/heads/*/*", deep));
}

#[test]
fn invalid_glob_warns_and_does_not_match() {
    let c = claims(json!({"sub": "repo:a[", "email": "e@x"}));
    let m = identity_matches("repo:a[b", &c);
    assert!(!m.matched);
    assert!(
        m.warnings
            .iter()
            .any(|w| matches!(w, MatchWarning::InvalidGlob { .. }))
    );
    // Go falls through to sub equality after an invalid glob: an exact sub still matches.
    let c = claims(json!({"sub": "repo:a[b"}));
    let m = identity_matches("repo:a[b", &c);
    assert!(m.matched);
}

#[test]
fn email_verified_forms() {
    let id = "alice@example.com";
    let cases: &[(Value, bool)] = &[
        (json!(true), false),
        (json!("true"), false),
        (json!("TRUE"), false),
        (json!("True"), false),
        (json!(false), true),
        (json!("false"), true),
        (json!("yes"), true),
        (json!(1), true),
        (Value::Null, true),
    ];
    for (v, want_warning) in cases {
        let c = claims(json!({"email": "alice@example.com", "email_verified": v}));
        let m = identity_matches(id, &c);
        assert!(m.matched, "allowed regardless of email_verified {v}");
        let warned = m
            .warnings
            .iter()
            .any(|w| matches!(w, MatchWarning::EmailUnverified { .. }));
        assert_eq!(warned, *want_warning, "email_verified {v}");
    }
    let absent = identity_matches(id, &claims(json!({"email": "alice@example.com"})));
    assert!(absent.matched);
    assert!(matches!(
        absent.warnings.as_slice(),
        [MatchWarning::EmailUnverified {
            email_verified: None,
            ..
        }]
    ));
    // Sub matches never warn about email verification.
    let sub = identity_matches("s1", &claims(json!({"sub": "s1", "email": "a@b"})));
    assert!(sub.matched);
    assert!(sub.warnings.is_empty());
}

#[test]
fn h4_email_unverified_is_allowed_but_logged() {
    let c = claims(json!({"email": "a@example.com", "email_verified": false}));
    let m = identity_matches("a@example.com", &c);
    assert!(m.matched);
    assert_eq!(m.warnings.len(), 1);
    let line = m.warnings[0].to_string();
    assert!(line.contains("email_verified"), "{line}");
    assert!(!line.contains('\n'));
    // The suffix rule warns too.
    let m = identity_matches("oidc-match-end:email:@example.com", &c);
    assert!(m.matched);
    assert_eq!(m.warnings.len(), 1);
}

#[test]
fn rule1_email_claim_with_wildcard_prefix_never_matches() {
    for email in [
        "oidc-match-end:email:@example.com",
        "OIDC-MATCH-END:EMAIL:@example.com",
        "oidc-match-end:email:",
    ] {
        let c = claims(json!({"email": email, "sub": "s"}));
        // Not even the exact identity string, not even sub.
        assert!(!identity_matches(email, &c).matched, "{email}");
        assert!(!identity_matches("s", &c).matched, "{email}");
        assert!(!identity_matches("oidc-match-end:email:@example.com", &c).matched);
        let m = identity_matches("s", &c);
        assert!(matches!(
            m.warnings.as_slice(),
            [MatchWarning::ForgedEmailClaim { .. }]
        ));
    }
}

/// `identity` does not match the claims `c`, and says why in exactly one warning, one that `is`.
fn assert_refused(identity: &str, c: &Value, is: fn(&MatchWarning) -> bool) {
    let m = identity_matches(identity, &claims(c.clone()));
    assert!(!m.matched, "{identity}");
    assert!(
        matches!(m.warnings.as_slice(), [w] if is(w)),
        "{identity}: {:?}",
        m.warnings
    );
}

#[test]
fn h2_bare_prefixes_never_match() {
    let c = json!({
        "email": "a@example.com",
        "sub": "repo:x",
        "groups": ["oidc:"],
    });
    for identity in [
        "oidc-match-end:email:",
        "OIDC-MATCH-END:EMAIL:",
        "Oidc-Match-End:Email:",
        "oidc:",
        "OIDC:",
        "repo:",
        "REPO:",
    ] {
        assert_refused(identity, &c, |w| {
            matches!(w, MatchWarning::BarePrefix { .. })
        });
    }
    // Even when sub or email literally equals the bare prefix.
    assert!(!matches("repo:", json!({"sub": "repo:"})));
    assert!(!matches("oidc:", json!({"sub": "oidc:"})));
}

#[test]
fn h3_short_oidc_rows_never_match_and_never_panic() {
    let c = json!({"groups": ["a"], "oidc": "x", "": "y", "email": "oidc:groups", "sub": "oidc::"});
    for identity in [
        "oidc::",
        "oidc:::",
        "oidc:groups",
        "oidc:groups:",
        "oidc:\"a:b\"",
        "oidc:\"\"",
        "oidc:\"",
    ] {
        assert_refused(identity, &c, |w| {
            matches!(w, MatchWarning::MalformedOidc { .. })
        });
    }
}

#[test]
fn o3_empty_identity_never_matches() {
    // opkssh: "" equals the absent email case-insensitively, so any email-less token matched.
    for c in [
        json!({}),
        json!({"sub": ""}),
        json!({"email": "", "sub": ""}),
        json!({"sub": "x"}),
    ] {
        let m = identity_matches("", &claims(c.clone()));
        assert!(!m.matched, "{c}");
        assert_eq!(m.warnings, vec![MatchWarning::EmptyIdentity]);
    }
}

#[test]
fn o8_suffix_without_at_requires_a_domain_boundary() {
    let cases: &[(&str, &str, bool)] = &[
        (
            "oidc-match-end:email:example.com",
            "user@evilexample.com",
            false,
        ),
        ("oidc-match-end:email:example.com", "user@example.com", true),
        (
            "oidc-match-end:email:example.com",
            "user@sub.example.com",
            true,
        ),
        ("oidc-match-end:email:example.com", "user@EXAMPLE.com", true),
        ("oidc-match-end:email:le.com", "user@example.com", false),
        (
            "oidc-match-end:email:@example.com",
            "user@example.com",
            true,
        ),
        (
            "oidc-match-end:email:@example.com",
            "user@sub.example.com",
            false,
        ),
        (
            "oidc-match-end:email:.example.com",
            "user@sub.example.com",
            true,
        ),
        (
            "oidc-match-end:email:.example.com",
            "user@example.com",
            false,
        ),
        ("oidc-match-end:email:x@example.com", "x@example.com", true),
        (
            "oidc-match-end:email:x@example.com",
            "evilx@example.com",
            false,
        ),
        (
            "oidc-match-end:email:x@example.com",
            "a.x@example.com",
            false,
        ),
        ("oidc-match-end:email:com", "user@example.com", true),
    ];
    for (identity, email, want) in cases {
        let m = identity_matches(
            identity,
            &claims(json!({"email": email, "email_verified": true})),
        );
        assert_eq!(m.matched, *want, "{identity} vs {email}");
        let boundary_warned = m
            .warnings
            .iter()
            .any(|w| matches!(w, MatchWarning::SuffixWithoutBoundary { .. }));
        // The warning appears exactly when opkssh's plain suffix test would have allowed it.
        let plain = email
            .to_lowercase()
            .ends_with(&identity["oidc-match-end:email:".len()..].to_lowercase());
        assert_eq!(boundary_warned, plain && !want, "{identity} vs {email}");
    }
}

#[test]
fn wrong_claim_types_are_absent_not_panics() {
    let c = json!({
        "email": 5,
        "sub": ["a"],
        "email_verified": {"x": 1},
        "groups": {"k": "v"},
    });
    assert!(!matches("5", c.clone()));
    assert!(!matches("a", c.clone()));
    assert!(!matches("oidc-match-end:email:5", c.clone()));
    assert!(!matches("repo:*", c.clone()));
    // An object claim prints as "map[k:v]"; values containing ':' can never be matched
    // because the expected value is the last ':'-separated field ("v]").
    assert!(!matches("oidc:groups:map[k:v]", c.clone()));
    assert!(matches("oidc:nums:[1 2]", json!({"nums": [[1, 2]]})));
    assert!(matches("oidc:sub:a", c));
}

#[test]
fn warnings_are_single_lines() {
    let evil = "a\nb\r\"c";
    let c = claims(json!({"email": evil, "sub": "s"}));
    // Every identity here yields one warning of the given kind, quoting untrusted text that
    // holds a line break: its display must stay one line.
    let forged = claims(json!({"email": "oidc-match-end:email:\n@x", "sub": "s"}));
    type Case<'a> = (&'a str, &'a Map<String, Value>, fn(&MatchWarning) -> bool);
    let cases: &[Case<'_>] = &[
        // Matches on the unverified email.
        (evil, &c, |w| {
            matches!(w, MatchWarning::EmailUnverified { .. })
        }),
        ("repo:[\n", &c, |w| {
            matches!(w, MatchWarning::InvalidGlob { .. })
        }),
        ("oidc:x\ny", &c, |w| {
            matches!(w, MatchWarning::MalformedOidc { .. })
        }),
        ("oidc:\n", &c, |w| {
            matches!(w, MatchWarning::MalformedOidc { .. })
        }),
        ("OIDC:", &c, |w| {
            matches!(w, MatchWarning::BarePrefix { .. })
        }),
        ("", &c, |w| matches!(w, MatchWarning::EmptyIdentity)),
        ("oidc-match-end:email:\nb\r\"c", &c, |w| {
            matches!(w, MatchWarning::SuffixWithoutBoundary { .. })
        }),
        ("s", &forged, |w| {
            matches!(w, MatchWarning::ForgedEmailClaim { .. })
        }),
    ];
    for (identity, claims, kind) in cases {
        let m = identity_matches(identity, claims);
        assert_eq!(m.matched, *identity == evil, "{identity:?}");
        assert!(
            matches!(m.warnings.as_slice(), [w] if kind(w)),
            "{identity:?}: {:?}",
            m.warnings
        );
        let line = m.warnings[0].to_string();
        assert!(!line.contains(['\n', '\r']), "{identity:?}: {line}");
    }
}
