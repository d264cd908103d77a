//! Hand-written on purpose: rows must match as opkssh's Go code does (`strings.EqualFold`,
//! `EscapedSplit`), which no crate reproduces.
//!
//! The identity-attribute matcher: one `auth_id` identity column against one set of claims
//! (opkssh's `validateClaim`; hazard ids are explained in `docs/hazards.md`). Rules, in order:
//!
//! 0. An empty identity never matches (O-3; opkssh matched any token without `email`).
//! 1. An `email` claim that itself starts with `oidc-match-end:email:` never matches. opk compares
//!    that prefix case-insensitively (opkssh: case-sensitively), because rule 6 compares emails
//!    case-insensitively and would otherwise let `OIDC-MATCH-END:EMAIL:@x` equal such a row.
//! 2. A bare `oidc-match-end:email:`, `oidc:` or `repo:` (any case) never matches (H-2).
//! 3. `oidc:<claim>:<value>` (case-sensitive prefix): split on `:` outside double quotes, empty
//!    fields dropped; fewer than 3 fields never matches (H-3); the claim name is field 2 with `"`
//!    trimmed; the expected value is the **last** field; the claim, normalised to a list of strings,
//!    must contain it exactly. This result is final.
//! 4. `oidc-match-end:email:<suffix>`: the lower-cased `email` ends with the lower-cased suffix.
//!    O-8: opkssh lets `example.com` match `x@evilexample.com`; opk requires that a suffix not
//!    starting with `@` or `.` begins the email or follows its `@` (or a `.` inside the domain).
//! 5. `repo:<glob>`: Go `path.Match` against `sub`; an invalid glob warns and does not match.
//! 6. Plain email: case-insensitive equality with `email` (also after rule 4); a match with an
//!    absent or non-`true` `email_verified` is still allowed but warned about (H-4).
//! 7. Otherwise: exact, case-sensitive equality with `sub`.
//!
//! Claims of the wrong JSON type (an `email` that is a number, say) are treated as absent.

use std::fmt;

use serde_json::{Map, Value};

use crate::gofold::{equal_fold, runes_fold_equal};
use crate::{glob, gofmt};

/// `oidc:` rows match a named claim.
pub(crate) const OIDC_CLAIMS: &str = "oidc:";
/// `oidc-match-end:email:` rows match an email suffix.
pub(crate) const OIDC_WILDCARD_EMAIL: &str = "oidc-match-end:email:";
/// `repo:` rows glob-match `sub`.
pub(crate) const REPO_CLAIM: &str = "repo:";

/// Something worth logging about one identity evaluation. Display is one line; untrusted text is
/// debug-quoted so it cannot break the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchWarning {
    /// The identity column is empty (O-3): never matches.
    EmptyIdentity,
    /// The identity is a bare prefix that would match anyone (H-2): never matches.
    BarePrefix {
        /// The identity.
        identity: String,
    },
    /// An `oidc:` identity with fewer than 3 fields (H-3): never matches.
    MalformedOidc {
        /// The identity.
        identity: String,
    },
    /// A `repo:` identity that is not a valid Go `path.Match` pattern.
    InvalidGlob {
        /// The identity.
        identity: String,
    },
    /// The token's `email` claim starts with `oidc-match-end:email:` (rule 1): never matches.
    ForgedEmailClaim {
        /// The email claim.
        email: String,
    },
    /// O-8: opkssh's plain suffix test would have matched, opk's boundary rule did not.
    SuffixWithoutBoundary {
        /// The identity.
        identity: String,
        /// The email claim.
        email: String,
    },
    /// Matched on email, but the token does not say the email is verified (H-4). Allowed only
    /// where the issuer's [`EmailVerified`] setting is `warn`.
    EmailUnverified {
        /// The identity.
        identity: String,
        /// The email claim.
        email: String,
        /// The first normalised `email_verified` value; `None` when absent.
        email_verified: Option<String>,
    },
}

impl fmt::Display for MatchWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyIdentity => f.write_str(
                "policy row has an empty identity and never matches; give an email, sub or oidc:<claim>:<value>",
            ),
            Self::BarePrefix { identity } => write!(
                f,
                "rejecting unsafe policy identity {identity:?}: it would match any value; add a value after the prefix"
            ),
            Self::MalformedOidc { identity } => write!(
                f,
                "malformed identity {identity:?} never matches; write it as oidc:<claim>:<value>"
            ),
            Self::InvalidGlob { identity } => write!(
                f,
                "invalid glob pattern {identity:?} never matches; fix its [ ] brackets or trailing backslash"
            ),
            Self::ForgedEmailClaim { email } => write!(
                f,
                "token email {email:?} starts with oidc-match-end:email: and never matches; the OP let a user choose that email"
            ),
            Self::SuffixWithoutBoundary { identity, email } => write!(
                f,
                "policy {identity:?} does not match email {email:?} because the suffix does not start at the domain; write oidc-match-end:email:@<domain>"
            ),
            Self::EmailUnverified {
                identity,
                email,
                email_verified: None,
            } => write!(
                f,
                "policy {identity:?} matched on email {email:?} but the ID token has no email_verified claim; consider matching on sub instead"
            ),
            Self::EmailUnverified {
                identity,
                email,
                email_verified: Some(v),
            } => write!(
                f,
                "policy {identity:?} matched on email {email:?} but the ID token sets email_verified to {v:?}; consider matching on sub instead"
            ),
        }
    }
}

/// The result of matching one identity against one set of claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    /// Whether the identity matches.
    pub matched: bool,
    /// Things to log, whether or not it matched.
    pub warnings: Vec<MatchWarning>,
    /// It matched on the email claim alone (not also on `sub`), and the token does not say the
    /// email is verified: [`crate::decide`] counts it only under [`EmailVerified::Warn`].
    pub unverified_email: bool,
}

/// What a row matching on email needs from the token's `email_verified` claim, chosen per issuer
/// (opk's `email_verified` key in config.yml, which opkssh ignores).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmailVerified {
    /// Only `email_verified: true` (bool, or the string in any case) lets an email row match;
    /// other rows (sub, claims, globs) are unaffected. The default: an OP that lets users set
    /// an unverified address would otherwise let them pick whose rows they match.
    #[default]
    Require,
    /// opkssh's rule (H-4): an email row matches whatever `email_verified` says, and the match
    /// is logged as a warning. For an OP that is authoritative for its domain and omits the
    /// claim.
    Warn,
}

impl EmailVerified {
    /// The config.yml value: `require` or `warn`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "require" => Some(Self::Require),
            "warn" => Some(Self::Warn),
            _ => None,
        }
    }

    /// The config.yml value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Require => "require",
            Self::Warn => "warn",
        }
    }
}

/// A string claim, or `""` when absent or not a string (treated as absent, never a panic).
pub(crate) fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> &'a str {
    match claims.get(name) {
        Some(Value::String(s)) => s,
        _ => "",
    }
}

/// A claim as the list of strings opkssh compares `oidc:` values against.
fn claim_values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(gofmt::sprint).collect(),
        other => vec![gofmt::sprint(other)],
    }
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Whether `s` starts with `prefix` under case folding.
fn has_prefix_fold(s: &str, prefix: &str) -> bool {
    let mut it = s.chars();
    prefix
        .chars()
        .all(|p| it.next().is_some_and(|c| runes_fold_equal(c, p)))
}

/// Go `strings.ToLower`, rune by rune.
fn to_lower(s: &str) -> String {
    s.chars().map(lower).collect()
}

/// Whether the identity is one of the bare prefixes that would match anyone (H-2).
pub(crate) fn is_bare_prefix(identity: &str) -> bool {
    [OIDC_WILDCARD_EMAIL, OIDC_CLAIMS, REPO_CLAIM]
        .iter()
        .any(|p| equal_fold(identity, p))
}

/// opkssh `EscapedSplit`: split on `sep` outside double quotes, dropping empty fields. Quotes stay.
pub(crate) fn escaped_split(s: &str, sep: char) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut quoted = false;
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && c == sep {
            if let Some(st) = start.take() {
                fields.push(&s[st..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        fields.push(&s[st..]);
    }
    fields
}

/// Rule 4 with the O-8 boundary: see the module docs.
fn email_suffix_matches(email: &str, suffix: &str) -> (bool, bool) {
    let email = to_lower(email);
    let suffix = to_lower(suffix);
    if suffix.is_empty() || !email.ends_with(&suffix) {
        return (false, false);
    }
    if suffix.starts_with(['@', '.']) {
        return (true, true);
    }
    let before = email[..email.len() - suffix.len()].chars().next_back();
    let boundary = match before {
        None | Some('@') => true,
        // `.` is a label boundary only inside the domain, i.e. when the suffix has no `@`.
        Some('.') => !suffix.contains('@'),
        Some(_) => false,
    };
    (boundary, true)
}

/// Matches one identity column against claims (ID token or userinfo). See the module docs for
/// the rules; `warnings` says what to log.
pub fn identity_matches(identity: &str, claims: &Map<String, Value>) -> Match {
    let mut out = Match::default();
    if identity.is_empty() {
        out.warnings.push(MatchWarning::EmptyIdentity);
        return out;
    }
    let email = str_claim(claims, "email");
    let sub = str_claim(claims, "sub");
    if has_prefix_fold(email, OIDC_WILDCARD_EMAIL) {
        out.warnings.push(MatchWarning::ForgedEmailClaim {
            email: email.to_owned(),
        });
        return out;
    }
    if is_bare_prefix(identity) {
        out.warnings.push(MatchWarning::BarePrefix {
            identity: identity.to_owned(),
        });
        return out;
    }

    if identity.starts_with(OIDC_CLAIMS) {
        let fields = escaped_split(identity, ':');
        if fields.len() < 3 {
            out.warnings.push(MatchWarning::MalformedOidc {
                identity: identity.to_owned(),
            });
            return out;
        }
        let name = fields[1].trim_matches('"');
        let expected = fields[fields.len() - 1];
        out.matched = claims
            .get(name)
            .is_some_and(|v| claim_values(v).iter().any(|x| x == expected));
        return out;
    }

    let mut suffix_match = false;
    if let Some(suffix) = identity.strip_prefix(OIDC_WILDCARD_EMAIL) {
        let (matched, plain) = email_suffix_matches(email, suffix);
        if plain && !matched {
            out.warnings.push(MatchWarning::SuffixWithoutBoundary {
                identity: identity.to_owned(),
                email: email.to_owned(),
            });
        }
        suffix_match = matched;
    }

    if identity.starts_with(REPO_CLAIM) {
        match glob::path_match(identity, sub) {
            Ok(true) => {
                out.matched = true;
                return out;
            }
            Ok(false) => {}
            Err(glob::BadPattern) => out.warnings.push(MatchWarning::InvalidGlob {
                identity: identity.to_owned(),
            }),
        }
    }

    let email_match = suffix_match || equal_fold(email, identity);
    if email_match {
        let verified = claims.get("email_verified").map(claim_values);
        let first = verified.and_then(|v| v.into_iter().next());
        if !first.as_deref().is_some_and(|v| equal_fold(v, "true")) {
            out.warnings.push(MatchWarning::EmailUnverified {
                identity: identity.to_owned(),
                email: email.to_owned(),
                email_verified: first,
            });
            out.unverified_email = sub != identity;
        }
    }
    out.matched = email_match || sub == identity;
    out
}
