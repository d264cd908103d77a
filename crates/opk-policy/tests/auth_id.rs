//! `auth_id` parsing, the home-file rule and first-match evaluation.

use opk_policy::{
    AuthContext, AuthId, AuthIdRow, ContextSyntax, Decision, EmailVerified, MatchWarning,
    ProblemKind, decide,
};
use serde_json::{Map, Value, json};

/// The clock of every decision here (unix seconds).
const NOW: i64 = 1_800_000_000;
const GOOGLE: &str = "https://accounts.google.com";
const AZURE: &str = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0";
const GH: &str = "https://token.actions.githubusercontent.com";

const EXAMPLE: &str = r#"# principal  identity                                  issuer
alice        alice@example.com                         https://accounts.google.com
root         103030642802723203118                     https://accounts.google.com
dev          oidc:groups:developer                     https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0
dev          oidc-match-end:email:@example.com         https://accounts.google.com
ro           oidc:\"https://acme.com/groups\":ssh-users https://accounts.google.com
deploy       repo:myorg/myrepo:ref:refs/heads/*        https://token.actions.githubusercontent.com
"#;

fn claims(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("object"),
    }
}

/// [`decide`] at [`NOW`], without userinfo, requiring `email_verified`: the usual case here.
fn decide_now(rows: &[AuthIdRow], principal: &str, claims: &Map<String, Value>) -> Decision {
    decide(rows, principal, claims, None, NOW, EmailVerified::Require)
}

fn rows() -> Vec<AuthIdRow> {
    AuthId::parse(EXAMPLE.as_bytes())
        .expect("valid")
        .into_rows()
}

#[test]
fn parses_documented_example() {
    let a = AuthId::parse(EXAMPLE.as_bytes()).expect("valid");
    assert!(a.problems().is_empty());
    let r = a.rows();
    assert_eq!(r.len(), 6);
    assert_eq!(
        r[0],
        AuthIdRow {
            principal: "alice".into(),
            identity: "alice@example.com".into(),
            issuer: GOOGLE.into(),
            context: AuthContext::default(),
            line_number: 2
        }
    );
    assert_eq!(r[4].identity, "oidc:\"https://acme.com/groups\":ssh-users");
    assert_eq!(r[5].identity, "repo:myorg/myrepo:ref:refs/heads/*");
}

#[test]
fn wrong_columns_and_bad_quotes_are_problems() {
    let a = AuthId::parse(b"a b\na b c\na b c d\n'x y z\n\n").expect("small");
    assert_eq!(a.rows().len(), 1);
    let p: Vec<_> = a
        .problems()
        .iter()
        .map(|p| (p.line_number, p.kind.clone()))
        .collect();
    assert_eq!(
        p,
        vec![
            (
                1,
                ProblemKind::WrongColumnCount {
                    expected: 3,
                    got: 2
                }
            ),
            (
                3,
                ProblemKind::BadRequirements(ContextSyntax::NotKeyValue("d".into()))
            ),
            (4, ProblemKind::UnterminatedSingleQuote),
        ]
    );
}

#[test]
fn home_file_keeps_only_the_owner() {
    let home = AuthId::parse(
        b"bob a@x https://i\nroot a@x https://i\nbob b@x https://i\nBob c@x https://i\n",
    )
    .expect("small")
    .for_home_of("bob");
    let ids: Vec<_> = home
        .rows()
        .iter()
        .map(|r| (r.identity.as_str(), r.line_number))
        .collect();
    assert_eq!(ids, vec![("a@x", 1), ("b@x", 3)]);
}

#[test]
fn decide_first_match_on_issuer_and_principal() {
    let rows = rows();
    let google_alice = claims(
        json!({"iss": GOOGLE, "sub": "1", "email": "Alice@example.com", "email_verified": true}),
    );
    let d = decide_now(&rows, "alice", &google_alice);
    assert!(d.allowed);
    assert_eq!(d.matched_line, Some(2));
    assert!(d.deny_reason.is_none());

    // The suffix row grants dev to anyone @example.com at Google.
    let d = decide_now(&rows, "dev", &google_alice);
    assert!(d.allowed);
    assert_eq!(d.matched_line, Some(5));

    // Principal is exact and case-sensitive.
    let d = decide_now(&rows, "Alice", &google_alice);
    assert!(!d.allowed);
    assert_eq!(
        d.deny_reason.as_deref(),
        Some(
            "no policy to allow Alice@example.com with (issuer=https://accounts.google.com) to assume Alice, check policy config"
        )
    );

    // Issuer is exact: a trailing slash does not match.
    let other_iss = claims(
        json!({"iss": "https://accounts.google.com/", "email": "alice@example.com", "email_verified": true}),
    );
    assert!(!decide_now(&rows, "alice", &other_iss).allowed);

    // The group row is for the Azure issuer only.
    let azure_dev = claims(json!({"iss": AZURE, "groups": ["developer"]}));
    assert!(decide_now(&rows, "dev", &azure_dev).allowed);
    let google_dev = claims(json!({"iss": GOOGLE, "groups": ["developer"]}));
    assert!(!decide_now(&rows, "dev", &google_dev).allowed);

    // Sub row.
    let root = claims(json!({"iss": GOOGLE, "sub": "103030642802723203118"}));
    assert!(decide_now(&rows, "root", &root).allowed);
    assert!(!decide_now(&rows, "alice", &root).allowed);

    // Escaped-quote claim name.
    let ro = claims(json!({"iss": GOOGLE, "https://acme.com/groups": ["ssh-users"]}));
    assert_eq!(decide_now(&rows, "ro", &ro).matched_line, Some(6));

    // GitHub Actions glob.
    let gh = claims(json!({"iss": GH, "sub": "repo:myorg/myrepo:ref:refs/heads/main"}));
    assert!(decide_now(&rows, "deploy", &gh).allowed);
    let gh_tag = claims(json!({"iss": GH, "sub": "repo:myorg/myrepo:ref:refs/tags/v1"}));
    assert!(!decide_now(&rows, "deploy", &gh_tag).allowed);
}

#[test]
fn decide_uses_userinfo_after_id_token() {
    let rows = rows();
    let id = claims(json!({"iss": AZURE, "sub": "s1"}));
    let info = claims(json!({"sub": "s1", "groups": ["developer"]}));
    assert!(!decide_now(&rows, "dev", &id).allowed);
    let d = decide(&rows, "dev", &id, Some(&info), NOW, EmailVerified::Require);
    assert!(d.allowed);
    assert_eq!(d.matched_line, Some(4));
}

#[test]
fn decide_rejects_userinfo_for_another_sub() {
    let rows = rows();
    let id = claims(json!({"iss": AZURE, "sub": "s1"}));
    for info in [
        json!({"sub": "s2", "groups": ["developer"]}),
        json!({"groups": ["developer"]}),
    ] {
        let d = decide(
            &rows,
            "dev",
            &id,
            Some(&claims(info)),
            NOW,
            EmailVerified::Require,
        );
        assert!(!d.allowed);
        assert!(
            d.deny_reason
                .as_deref()
                .is_some_and(|r| r.contains("userinfo sub"))
        );
    }
    // Both subs absent: opkssh accepted it, opk does not.
    let id = claims(json!({"iss": AZURE}));
    let d = decide(
        &rows,
        "dev",
        &id,
        Some(&claims(json!({"groups": ["developer"]}))),
        NOW,
        EmailVerified::Require,
    );
    assert!(!d.allowed);
}

#[test]
fn decide_without_iss_denies() {
    let rows = rows();
    let c = claims(json!({"sub": "103030642802723203118"}));
    let d = decide_now(&rows, "root", &c);
    assert!(!d.allowed);
    let c = claims(json!({"iss": 5, "sub": "103030642802723203118"}));
    assert!(!decide_now(&rows, "root", &c).allowed);
}

#[test]
fn decide_collects_warnings_and_keeps_going() {
    let text =
        "root '' https://i\nroot oidc: https://i\nroot oidc::x https://i\nroot s1 https://i\n";
    let rows = AuthId::parse(text.as_bytes()).expect("small").into_rows();
    let d = decide(
        &rows,
        "root",
        &claims(json!({"iss": "https://i", "sub": "s1"})),
        None,
        NOW,
        EmailVerified::Require,
    );
    assert!(d.allowed);
    assert_eq!(d.matched_line, Some(4));
    assert!(matches!(
        d.warnings.as_slice(),
        [
            MatchWarning::EmptyIdentity,
            MatchWarning::BarePrefix { .. },
            MatchWarning::MalformedOidc { .. }
        ]
    ));
}

#[test]
fn o3_empty_identity_row_does_not_grant() {
    // `root '' https://i` matched any email-less token from https://i in opkssh.
    let rows = AuthId::parse(b"root '' https://i\n")
        .expect("small")
        .into_rows();
    assert_eq!(rows[0].identity, "");
    for c in [
        json!({"iss": "https://i"}),
        json!({"iss": "https://i", "sub": ""}),
        json!({"iss": "https://i", "sub": "x"}),
    ] {
        assert!(!decide_now(&rows, "root", &claims(c)).allowed);
    }
}

#[test]
fn h2_bare_prefix_rows_do_not_grant() {
    for identity in ["oidc-match-end:email:", "oidc:", "repo:", "REPO:", "Oidc:"] {
        let text = format!("root {identity} https://i\n");
        let rows = AuthId::parse(text.as_bytes()).expect("small").into_rows();
        let c = claims(
            json!({"iss": "https://i", "sub": "repo:a", "email": "a@b", "email_verified": true}),
        );
        assert!(!decide_now(&rows, "root", &c).allowed, "{identity}");
    }
}

#[test]
fn deny_reason_is_one_line() {
    let rows = rows();
    let c = claims(json!({"iss": "https://x\nforged line", "email": "a\r\nb"}));
    let d = decide_now(&rows, "root\n", &c);
    let r = d.deny_reason.expect("denied");
    assert!(!r.contains(['\n', '\r']), "{r}");
    assert!(r.starts_with("no policy to allow "));
}

/// A fourth column adds requirements on the sign-in; a row whose identity matches but whose
/// requirements are not met does not grant, and the denial names what was missing.
#[test]
fn requirement_rows_grant_only_when_met() {
    let text = format!(
        "root alice@example.com {GOOGLE} amr=mfa,auth_age=15m\nroot alice@example.com {GOOGLE} bogus\nalice alice@example.com {GOOGLE}\n"
    );
    let auth_id = AuthId::parse(text.as_bytes()).expect("small");
    assert_eq!(auth_id.problems().len(), 1, "{:?}", auth_id.problems());
    assert_eq!(auth_id.problems()[0].line_number, 2);
    assert!(auth_id.problems()[0].to_string().contains("not key=value"));
    let rows = auth_id.into_rows();
    assert_eq!(rows[0].context.amr, ["mfa"]);
    let token = |amr: Value, auth_time: i64| {
        claims(
            json!({"iss": GOOGLE, "sub": "s", "email": "alice@example.com", "email_verified": true,
                      "amr": amr, "auth_time": auth_time}),
        )
    };
    let d = decide(
        &rows,
        "root",
        &token(json!(["pwd", "mfa"]), NOW - 60),
        None,
        NOW,
        EmailVerified::Require,
    );
    assert!(d.allowed && d.matched_line == Some(1), "{d:?}");
    for (t, why) in [
        (
            token(json!(["pwd"]), NOW - 60),
            "requires amr to contain \"mfa\"",
        ),
        (
            token(json!(["mfa"]), NOW - 3600),
            "within 900 s; this one is 3600 s old",
        ),
    ] {
        let d = decide_now(&rows, "root", &t);
        let reason = d.deny_reason.expect("denied");
        assert!(
            reason.contains("policy line 1 would allow alice@example.com") && reason.contains(why),
            "{reason}"
        );
    }
    // A row without requirements is unaffected by them.
    assert!(
        decide(
            &rows,
            "alice",
            &token(json!(["pwd"]), NOW - 86_400),
            None,
            NOW,
            EmailVerified::Require
        )
        .allowed
    );
}

/// An email row counts only for a verified email unless the issuer's setting is `warn`
/// (opkssh's rule, H-4); sub rows do not depend on it, and the denial names the row and the fix.
#[test]
fn email_rows_need_a_verified_email_unless_the_issuer_is_set_to_warn() {
    let text = format!("alice alice@example.com {GOOGLE}\nalice s-1 {GOOGLE}\n");
    let rows = AuthId::parse(text.as_bytes()).expect("small").into_rows();
    for (verified, require_allows) in [
        (Some(json!(true)), true),
        (Some(json!("TRUE")), true),
        (Some(json!(false)), false),
        (Some(json!("false")), false),
        (Some(json!(1)), false),
        (None, false),
    ] {
        let mut c = json!({"iss": GOOGLE, "sub": "other", "email": "Alice@example.com"});
        if let Some(v) = &verified {
            c["email_verified"] = v.clone();
        }
        let c = claims(c);
        let d = decide_now(&rows, "alice", &c);
        assert_eq!(d.allowed, require_allows, "{verified:?}: {d:?}");
        if !require_allows {
            assert_eq!(
                d.deny_reason.as_deref(),
                Some(format!(
                    "policy line 1 would allow Alice@example.com with (issuer={GOOGLE}) to assume alice, but the ID token does not say the email is verified and email_verified for this issuer is require; match on sub, or set email_verified: {{{GOOGLE}: warn}} in config.yml"
                ).as_str())
            );
        }
        let d = decide(&rows, "alice", &c, None, NOW, EmailVerified::Warn);
        assert!(d.allowed, "{verified:?}: warn allows as opkssh does");
        assert_eq!(d.matched_line, Some(1));
        assert_eq!(
            d.warnings
                .iter()
                .any(|w| matches!(w, MatchWarning::EmailUnverified { .. })),
            !require_allows
        );
    }
    // The sub row matches whatever email_verified says; so does an email row whose identity is
    // also the token's sub.
    let c = claims(
        json!({"iss": GOOGLE, "sub": "s-1", "email": "alice@example.com", "email_verified": false}),
    );
    let d = decide_now(&rows, "alice", &c);
    assert_eq!((d.allowed, d.matched_line), (true, Some(2)));
    let rows = AuthId::parse(format!("alice alice@example.com {GOOGLE}\n").as_bytes())
        .expect("small")
        .into_rows();
    let c =
        claims(json!({"iss": GOOGLE, "sub": "alice@example.com", "email": "alice@example.com"}));
    assert!(decide_now(&rows, "alice", &c).allowed);
}
