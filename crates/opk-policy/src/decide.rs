//! First-match evaluation of policy rows, as opkssh's policy enforcer does after its deny lists
//! and plugins, which belong to the caller and run first.

use serde_json::{Map, Value};

use crate::auth_id::AuthIdRow;
use crate::matcher::{EmailVerified, MatchWarning, identity_matches, str_claim};

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether access is granted.
    pub allowed: bool,
    /// Line number of that row in its file.
    pub matched_line: Option<usize>,
    /// Everything the matcher wants logged, in evaluation order.
    pub warnings: Vec<MatchWarning>,
    /// One line for the log when denied; `None` when allowed. The caller may append
    /// ` at <paths>` as opkssh does.
    pub deny_reason: Option<String>,
}

/// Escapes control characters so that claim values cannot split a log line.
fn one_line(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn deny(reason: String, warnings: Vec<MatchWarning>) -> Decision {
    Decision {
        allowed: false,
        matched_line: None,
        warnings,
        deny_reason: Some(reason),
    }
}

/// Decides whether the (already verified) ID-token `claims` may assume `principal` under `rows`
/// (system rows then home rows, in file order).
///
/// For each row whose issuer equals `iss` and whose principal equals `principal` (both exact),
/// the identity is matched against the ID-token claims, then against the `userinfo` claims; the
/// first match grants access.
///
/// A row with requirements (its fourth column, [`crate::AuthContext`]) grants only when the ID
/// token meets them at `now` (unix seconds); otherwise evaluation goes on, and a denial names
/// the unmet requirement of the first such row.
///
/// A row that matches on the email claim alone counts only when the token says the email is
/// verified, unless `email_verified` (the issuer's setting) is [`EmailVerified::Warn`]; a denial
/// then names the first such row and the setting.
///
/// When `userinfo` is given and there is at least one row, its `sub` must equal the ID token's.
/// Safer than opkssh: both must be non-empty strings (opkssh accepted two absent `sub`s). A token
/// without a string `iss` is denied outright.
pub fn decide(
    rows: &[AuthIdRow],
    principal: &str,
    claims: &Map<String, Value>,
    userinfo: Option<&Map<String, Value>>,
    now: i64,
    email_verified: EmailVerified,
) -> Decision {
    let iss = str_claim(claims, "iss");
    let email = str_claim(claims, "email");
    let mut warnings = Vec::new();
    if iss.is_empty() {
        return deny(
            "the ID token has no iss claim, so no policy row can match; check the OP".to_owned(),
            warnings,
        );
    }
    if let Some(info) = userinfo
        && !rows.is_empty()
    {
        let id_sub = str_claim(claims, "sub");
        let info_sub = str_claim(info, "sub");
        if id_sub.is_empty() || id_sub != info_sub {
            return deny(
                format!(
                    "userinfo sub claim ({}) does not match the ID token sub claim ({}); the OP returned userinfo for another user",
                    one_line(info_sub),
                    one_line(id_sub)
                ),
                warnings,
            );
        }
    }
    let mut unmet = None;
    let mut unverified = None;
    let counts = |m: &crate::Match| {
        m.matched && !(m.unverified_email && email_verified == EmailVerified::Require)
    };
    for row in rows {
        if row.issuer != iss || row.principal != principal {
            continue;
        }
        let mut m = identity_matches(&row.identity, claims);
        warnings.append(&mut m.warnings);
        let mut matched = counts(&m);
        let mut unverified_only = m.matched && !matched;
        if !matched && let Some(info) = userinfo {
            let mut m = identity_matches(&row.identity, info);
            warnings.append(&mut m.warnings);
            matched = counts(&m);
            unverified_only |= m.matched && !matched;
        }
        if unverified_only && !matched {
            unverified.get_or_insert(row.line_number);
        }
        if matched && let Err(why) = row.context.check(claims, now) {
            unmet.get_or_insert((row.line_number, why));
            continue;
        }
        if matched {
            return Decision {
                allowed: true,
                matched_line: Some(row.line_number),
                warnings,
                deny_reason: None,
            };
        }
    }
    if let Some(line) = unverified {
        return deny(
            format!(
                "policy line {line} would allow {} with (issuer={}) to assume {}, but the ID token does not say the email is verified and email_verified for this issuer is require; match on sub, or set email_verified: {{{}: warn}} in config.yml",
                one_line(email),
                one_line(iss),
                one_line(principal),
                one_line(iss)
            ),
            warnings,
        );
    }
    if let Some((line, why)) = unmet {
        return deny(
            format!(
                "policy line {line} would allow {} with (issuer={}) to assume {}, but it {why}",
                one_line(email),
                one_line(iss),
                one_line(principal)
            ),
            warnings,
        );
    }
    deny(
        format!(
            "no policy to allow {} with (issuer={}) to assume {}, check policy config",
            one_line(email),
            one_line(iss),
            one_line(principal)
        ),
        warnings,
    )
}
