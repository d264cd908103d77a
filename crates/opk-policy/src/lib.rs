//! opkssh-compatible server policy, as pure functions over file *contents* and token claims.
//!
//! - [`Providers`]: `/etc/opk/providers` rows (`<issuer> <client_id> <expiry>`);
//! - [`AuthId`]: `auth_id` policy rows (`<principal> <identity> <issuer>`) and the home-file rule;
//! - [`AuthContext`]: a row's optional fourth column (opk only): `auth_age=`, `amr=`, `acr=`;
//! - [`identity_matches`]: the identity-attribute matcher (opkssh's `validateClaim`);
//! - [`decide()`]: first-match evaluation of rows against a principal and claims;
//! - [`DenyList`]: the server config's `deny_emails` and `deny_users`, checked before rows;
//! - [`plugin_env`], [`split_command`], [`plugin_allows`]: opkssh's policy-plugin contract;
//! - [`check_principal`]: the certificate-principal check (hazard H-1 in `docs/hazards.md`);
//! - [`add_row`] and [`issuer_alias`]: `opk add`, as a rewrite of the file contents.
//!
//! Both files share opkssh's "table" syntax: `#` comments, go-shellquote words ([`quote_word`]
//! writes them); lines that do not parse are kept as [`TableProblem`]s for the log.
//!
//! Nothing here touches the file system, the network or the clock.
#![forbid(unsafe_code)]

mod add;
mod auth_id;
mod context;
mod decide;
mod deny;
mod glob;
mod gofmt;
mod gofold;
mod matcher;
mod plugin;
mod principal;
mod providers;
mod table;

pub use add::{AddOutcome, add_row, issuer_alias};
pub use auth_id::{AuthId, AuthIdRow};
pub use context::{AuthContext, ContextSyntax, Unmet};
pub use decide::{Decision, decide};
pub use deny::{Denial, DenyList};
pub use matcher::{EmailVerified, Match, MatchWarning, identity_matches};
pub use plugin::{PLUGIN_ENV_PREFIX, PluginRequest, plugin_allows, plugin_env, split_command};
pub use principal::check_principal;
pub use providers::{ProviderRow, Providers};
pub use table::{ProblemKind, TableProblem, quote_word};

use std::fmt;

/// Largest policy or providers file accepted, in bytes. Real files are a few KiB; the cap keeps a
/// hostile or corrupt file from costing unbounded memory and time on every SSH attempt.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Everything that can go wrong in this crate. Messages are one line: what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is over [`MAX_FILE_BYTES`].
    #[error("{what} is {size} bytes, over the {max}-byte limit; shrink the file")]
    TooLarge {
        /// Which file.
        what: FileKind,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A providers row names an unknown expiry keyword. Fatal for every login, as in opkssh.
    #[error(
        "providers line {line_number}: invalid expiration policy {keyword:?}; use one of {list}",
        list = opk_pktoken::ExpiryPolicy::KEYWORDS
    )]
    InvalidExpiry {
        /// 1-based line of the offending row.
        line_number: usize,
        /// The keyword as written.
        keyword: String,
    },
    /// Two providers rows name the same issuer. Fatal for every login, as in opkssh (O-6).
    #[error(
        "providers line {line_number}: duplicate issuer {issuer:?} (first on line {first_line_number}); keep exactly one row per issuer"
    )]
    DuplicateIssuer {
        /// The issuer.
        issuer: String,
        /// Line of the first row with it.
        first_line_number: usize,
        /// Line of the duplicate.
        line_number: usize,
    },
    /// The providers file has no usable row.
    #[error(
        "no providers configured; add a row `<issuer> <client_id> <expiry>` to the providers file"
    )]
    NoProviders,
    /// A principal fails `^[a-zA-Z0-9_][a-zA-Z0-9._+@-]{0,127}\$?$` (H-1).
    #[error(
        "invalid principal {principal:?}: use 1-128 characters from a-z A-Z 0-9 . _ + @ - (not starting with . + @ -), optionally ending in $"
    )]
    InvalidPrincipal {
        /// The rejected principal.
        principal: String,
    },
    /// `opk add` was given an empty identity (O-3).
    #[error(
        "empty identity; give an email, a sub, oidc:<claim>:<value>, oidc-match-end:email:@<domain> or repo:<glob>"
    )]
    EmptyIdentity,
    /// `opk add` was given a bare prefix that would match everyone (H-2).
    #[error("identity {identity:?} is a bare prefix that would match anyone; add a value after it")]
    BareIdentityPrefix {
        /// The rejected identity.
        identity: String,
    },
    /// `opk add` was given an `oidc:` identity with fewer than 3 fields (H-3): it could never match.
    #[error("identity {identity:?} is malformed; write it as oidc:<claim>:<value>")]
    MalformedOidcIdentity {
        /// The rejected identity.
        identity: String,
    },
    /// `opk add` was given a `repo:` identity that is not a valid glob: it could never match.
    #[error(
        "identity {identity:?} is not a valid glob; balance the [ ] brackets and do not end it with a backslash"
    )]
    InvalidGlob {
        /// The rejected identity.
        identity: String,
    },
    /// `opk add` was given an empty issuer.
    #[error(
        "empty issuer; give the issuer URL or an alias (google, azure, microsoft, gitlab, hello)"
    )]
    EmptyIssuer,
    /// A word cannot be written so that opkssh reads it back unchanged.
    #[error("{column} {value:?} cannot be written to a policy file: {problem}")]
    UnwritableWord {
        /// Which column.
        column: Column,
        /// The word.
        value: String,
        /// Why, and implicitly what to remove.
        problem: WordProblem,
    },
    /// A row whose words each pass the checks still does not read back as written.
    #[error("row {row:?} cannot be written to a policy file: it does not read back unchanged")]
    RowDoesNotReadBack {
        /// The row as it would be written.
        row: String,
    },
    /// The existing policy file is not UTF-8, so `opk add` cannot rewrite it faithfully.
    #[error("policy file line {line_number} is not valid UTF-8; fix or delete that line first")]
    InvalidUtf8 {
        /// 1-based line.
        line_number: usize,
    },
}

/// Which file an [`Error::TooLarge`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// The providers file.
    Providers,
    /// An `auth_id` policy file.
    Policy,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Providers => "providers file",
            Self::Policy => "policy file",
        })
    }
}

/// A column of an `auth_id` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Column {
    /// The local user.
    Principal,
    /// The identity attribute.
    Identity,
    /// The issuer.
    Issuer,
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Principal => "principal",
            Self::Identity => "identity",
            Self::Issuer => "issuer",
        })
    }
}

/// Why a word cannot be written to a policy file so that it reads back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WordProblem {
    /// It contains `#`.
    Hash,
    /// It contains a control character.
    Control,
    /// It contains white space other than the ASCII space.
    OtherWhitespace,
}

impl fmt::Display for WordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hash => "it contains #, which the reader treats as a comment even inside quotes",
            Self::Control => "it contains a control character such as a tab or newline",
            Self::OtherWhitespace => "it contains non-ASCII white space, which the reader may trim",
        })
    }
}

/// A JSON object as claims, for the unit tests.
#[cfg(test)]
fn test_claims(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("claims must be a JSON object"),
    }
}

/// Hooks for fuzzers: each feeds arbitrary bytes to one parser and checks its invariants.
/// Panics only when an invariant breaks.
#[doc(hidden)]
pub mod fuzzing {
    use serde_json::{Map, Value};

    /// The table reader: never panics; rows are non-empty and in line order.
    pub fn fuzz_parse_table(data: &[u8]) {
        if let Ok(t) = crate::table::parse_table(data) {
            let mut last = 0;
            for r in &t.rows {
                assert!(!r.words.is_empty());
                assert!(r.line_number > last);
                last = r.line_number;
            }
        }
    }

    /// [`crate::Providers::parse`]: never panics; a parsed set has unique issuers.
    pub fn fuzz_providers(data: &[u8]) {
        if let Ok(p) = crate::Providers::parse(data) {
            assert!(!p.rows().is_empty());
            for r in p.rows() {
                // Unique issuers: looking a row's issuer up finds that very row.
                assert!(p.find(&r.issuer).is_some_and(|x| std::ptr::eq(x, r)));
            }
        }
    }

    /// [`crate::AuthId::parse`]: never panics; `for_home_of` keeps only that principal.
    pub fn fuzz_auth_id(data: &[u8]) {
        if let Ok(a) = crate::AuthId::parse(data) {
            let user = a
                .rows()
                .first()
                .map(|r| r.principal.clone())
                .unwrap_or_default();
            let home = a.for_home_of(&user);
            assert!(home.rows().iter().all(|r| r.principal == user));
        }
    }

    /// [`crate::identity_matches`]: the first line is the identity, the rest a JSON claims
    /// object (or, when that is not JSON, `email` and `sub` set to the rest).
    pub fn fuzz_identity_matches(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let (identity, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let claims = match serde_json::from_str::<Value>(rest) {
            Ok(Value::Object(m)) => m,
            _ => {
                let mut m = Map::new();
                m.insert("email".into(), Value::String(rest.into()));
                m.insert("sub".into(), Value::String(rest.into()));
                m
            }
        };
        let m = crate::identity_matches(identity, &claims);
        if identity.is_empty() {
            assert!(!m.matched);
        }
        for w in &m.warnings {
            assert!(!w.to_string().contains('\n'));
        }
    }

    /// [`crate::add_row`] on arbitrary existing contents: when it succeeds, the row reads back.
    pub fn fuzz_add_row(data: &[u8]) {
        let (principal, identity, issuer) = ("alice", "o'brien@example.com", "https://iss");
        if let Ok(out) = crate::add_row(data, principal, identity, issuer)
            && let Ok(t) = crate::AuthId::parse(out.contents.as_bytes())
        {
            assert!(
                t.rows().iter().any(|r| r.principal == principal
                    && r.identity == identity
                    && r.issuer == issuer)
            );
        }
    }

    /// [`crate::check_principal`] on arbitrary text: accepted principals are one safe token.
    pub fn fuzz_check_principal(data: &[u8]) {
        let s = String::from_utf8_lossy(data);
        if crate::check_principal(&s).is_ok() {
            assert!(s.len() <= 129);
            assert!(!s.contains([',', '"', ' ', '\n', '\r']));
        }
    }
}
