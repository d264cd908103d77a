//! Authentication-context requirements: an optional fourth column on an `auth_id` row, beyond
//! opkssh, that demands a recent sign-in and/or particular `amr`/`acr` values:
//!
//! ```text
//! # principal identity          issuer                       requirements
//! root        alice@example.com https://accounts.google.com  amr=mfa,auth_age=15m
//! ```
//!
//! Comma-separated `key=value` items, all of which must hold: `auth_age=<N>s|m|h` (the ID
//! token's `auth_time` at most that old), `amr=<value>` (the `amr` claim contains it; repeat for
//! several), `acr=<value>` (the `acr` claim is, or for an array contains, it; repeat for
//! several). opkssh skips rows that do not have exactly three columns, so it reads such a row as
//! granting nothing, never as the same row without its requirements.

use std::fmt;

use serde_json::{Map, Value};

/// Longest `auth_age` accepted: anything longer is a mistake, not a policy.
const MAX_AUTH_AGE_SECS: u64 = 366 * 24 * 3600;

/// An `auth_time` this far ahead of the server clock is refused (as `iat`, hazard O-9).
const MAX_FUTURE_SECS: i64 = opk_pktoken::MAX_FUTURE_IAT_SECS;

/// The requirements of one row; empty for a three-column row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthContext {
    /// Most seconds since `auth_time`.
    pub max_auth_age: Option<u64>,
    /// Values `amr` must contain.
    pub amr: Vec<String>,
    /// Values `acr` must be or contain.
    pub acr: Vec<String>,
}

/// Why a fourth column is not a requirement list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextSyntax {
    /// An item without `=` or with an empty value.
    NotKeyValue(String),
    /// A key other than `auth_age`, `amr`, `acr`.
    UnknownKey(String),
    /// `auth_age` twice.
    RepeatedAuthAge,
    /// An `auth_age` that is not `<N>s`, `<N>m` or `<N>h` up to a year.
    BadAge(String),
}

impl fmt::Display for ContextSyntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotKeyValue(item) => write!(f, "requirement {item:?} is not key=value"),
            Self::UnknownKey(key) => {
                write!(
                    f,
                    "unknown requirement {key:?}; use auth_age=, amr= or acr="
                )
            }
            Self::RepeatedAuthAge => f.write_str("auth_age is given twice; keep one"),
            Self::BadAge(v) => write!(
                f,
                "auth_age {v:?} is not a duration such as 900s, 15m or 2h (at most a year)"
            ),
        }
    }
}

/// Why a token does not meet a row's requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmet {
    /// `auth_age` is required but the token has no integer `auth_time`.
    NoAuthTime,
    /// The sign-in is older than allowed.
    AuthTooOld {
        /// Seconds since `auth_time`.
        age: i64,
        /// The row's limit.
        max: u64,
    },
    /// `auth_time` lies in the future.
    AuthTimeInFuture,
    /// `amr` lacks a value.
    Amr {
        /// The value required.
        required: String,
        /// The token's `amr` values.
        got: Vec<String>,
    },
    /// `acr` lacks a value.
    Acr {
        /// The value required.
        required: String,
        /// The token's `acr` values.
        got: Vec<String>,
    },
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
            format!("[{}]", quoted.join(", "))
        };
        match self {
            Self::NoAuthTime => f.write_str(
                "requires a recent sign-in; the ID token has no auth_time (the OP must send it)",
            ),
            Self::AuthTooOld { age, max } => write!(
                f,
                "requires a sign-in within {max} s; this one is {age} s old (log in again)"
            ),
            Self::AuthTimeInFuture => f.write_str("the ID token's auth_time is in the future"),
            Self::Amr { required, got } => write!(
                f,
                "requires amr to contain {required:?}; the ID token's amr is {}",
                list(got)
            ),
            Self::Acr { required, got } => write!(
                f,
                "requires acr {required:?}; the ID token's acr is {}",
                list(got)
            ),
        }
    }
}

impl AuthContext {
    /// Parses the fourth column.
    pub fn parse(word: &str) -> Result<AuthContext, ContextSyntax> {
        let mut ctx = AuthContext::default();
        for item in word.split(',') {
            let Some((key, value)) = item.split_once('=').filter(|(_, v)| !v.is_empty()) else {
                return Err(ContextSyntax::NotKeyValue(item.to_owned()));
            };
            match key {
                "auth_age" => {
                    if ctx.max_auth_age.is_some() {
                        return Err(ContextSyntax::RepeatedAuthAge);
                    }
                    ctx.max_auth_age = Some(parse_age(value)?);
                }
                "amr" => ctx.amr.push(value.to_owned()),
                "acr" => ctx.acr.push(value.to_owned()),
                _ => return Err(ContextSyntax::UnknownKey(key.to_owned())),
            }
        }
        Ok(ctx)
    }

    /// Whether the row has no requirements.
    pub fn is_empty(&self) -> bool {
        self.max_auth_age.is_none() && self.amr.is_empty() && self.acr.is_empty()
    }

    /// Checks the ID token `claims` at `now` (unix seconds); the first requirement not met.
    pub fn check(&self, claims: &Map<String, Value>, now: i64) -> Result<(), Unmet> {
        if let Some(max) = self.max_auth_age {
            let auth_time = claims
                .get("auth_time")
                .and_then(Value::as_i64)
                .ok_or(Unmet::NoAuthTime)?;
            let age = now.saturating_sub(auth_time);
            if age < -MAX_FUTURE_SECS {
                return Err(Unmet::AuthTimeInFuture);
            }
            if age > 0 && age as u64 > max {
                return Err(Unmet::AuthTooOld { age, max });
            }
        }
        let values = |name: &str| match claims.get(name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let amr = values("amr");
        if let Some(required) = self.amr.iter().find(|r| !amr.contains(r)) {
            return Err(Unmet::Amr {
                required: required.clone(),
                got: amr,
            });
        }
        let acr = values("acr");
        if let Some(required) = self.acr.iter().find(|r| !acr.contains(r)) {
            return Err(Unmet::Acr {
                required: required.clone(),
                got: acr,
            });
        }
        Ok(())
    }
}

fn parse_age(value: &str) -> Result<u64, ContextSyntax> {
    let bad = || ContextSyntax::BadAge(value.to_owned());
    // The unit is one ASCII letter; split after checking it, so a multi-byte last character
    // (`15\u{feff}`, found by fuzzing auth_id) is refused instead of splitting inside it.
    let (digits, scale) = match value.as_bytes().last() {
        Some(b's') => (&value[..value.len() - 1], 1),
        Some(b'm') => (&value[..value.len() - 1], 60),
        Some(b'h') => (&value[..value.len() - 1], 3600),
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&secs| (1..=MAX_AUTH_AGE_SECS).contains(&secs))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_claims as claims;
    use serde_json::json;

    #[test]
    fn an_age_ending_in_a_multi_byte_character_is_refused_not_a_panic() {
        for value in ["f\u{feff}", "15\u{feff}", "\u{e9}", "1\u{1f600}", ""] {
            assert!(
                matches!(parse_age(value), Err(ContextSyntax::BadAge(_))),
                "{value:?}"
            );
        }
        assert!(AuthContext::parse("amr=mfa,auth_age=f\u{feff}").is_err());
    }

    #[test]
    fn parses_the_fourth_column() {
        let c = AuthContext::parse("amr=mfa,auth_age=15m,acr=phr,amr=hwk").expect("ok");
        assert_eq!(c.max_auth_age, Some(900));
        assert_eq!(c.amr, ["mfa", "hwk"]);
        assert_eq!(c.acr, ["phr"]);
        assert_eq!(
            AuthContext::parse("auth_age=2h").expect("ok").max_auth_age,
            Some(7200)
        );
        assert_eq!(
            AuthContext::parse("auth_age=30s").expect("ok").max_auth_age,
            Some(30)
        );
        for (bad, why) in [
            ("", "not key=value"),
            ("amr", "not key=value"),
            ("amr=", "not key=value"),
            ("amr=mfa,", "not key=value"),
            ("mfa=amr", "unknown requirement"),
            ("AMR=mfa", "unknown requirement"),
            ("auth_age=15", "not a duration"),
            ("auth_age=m", "not a duration"),
            ("auth_age=0m", "not a duration"),
            ("auth_age=-5m", "not a duration"),
            ("auth_age=9999h", "not a duration"),
            ("auth_age=99999999999999999999s", "not a duration"),
            ("auth_age=1m,auth_age=2m", "twice"),
        ] {
            let got = AuthContext::parse(bad).expect_err(bad).to_string();
            assert!(got.contains(why), "{bad:?}: {got}");
        }
    }

    #[test]
    fn checks_auth_time_amr_and_acr() {
        let now = 1_800_000_000;
        let ctx = AuthContext::parse("amr=mfa,auth_age=15m").expect("ok");
        let token = |v: Value| claims(v);
        let fresh = token(json!({"auth_time": now - 60, "amr": ["pwd", "mfa"]}));
        assert_eq!(ctx.check(&fresh, now), Ok(()));
        // At the limit is fine, one second past is not.
        let edge = token(json!({"auth_time": now - 900, "amr": ["mfa"]}));
        assert_eq!(ctx.check(&edge, now), Ok(()));
        let old = token(json!({"auth_time": now - 901, "amr": ["mfa"]}));
        assert_eq!(
            ctx.check(&old, now),
            Err(Unmet::AuthTooOld { age: 901, max: 900 })
        );
        let no_mfa = token(json!({"auth_time": now, "amr": ["pwd"]}));
        assert!(matches!(ctx.check(&no_mfa, now), Err(Unmet::Amr { got, .. }) if got == ["pwd"]));
        assert!(matches!(
            ctx.check(&token(json!({"auth_time": now})), now),
            Err(Unmet::Amr { .. })
        ));
        // A string amr counts as one value; the type of other claims is checked.
        assert_eq!(
            ctx.check(&token(json!({"auth_time": now, "amr": "mfa"})), now),
            Ok(())
        );
        for bad in [
            json!({"amr": ["mfa"]}),
            json!({"auth_time": "1", "amr": ["mfa"]}),
        ] {
            assert_eq!(ctx.check(&token(bad), now), Err(Unmet::NoAuthTime));
        }
        let future = token(json!({"auth_time": now + 301, "amr": ["mfa"]}));
        assert_eq!(ctx.check(&future, now), Err(Unmet::AuthTimeInFuture));
        let skew = token(json!({"auth_time": now + 300, "amr": ["mfa"]}));
        assert_eq!(ctx.check(&skew, now), Ok(()));
        let acr = AuthContext::parse("acr=phr").expect("ok");
        assert_eq!(acr.check(&token(json!({"acr": "phr"})), now), Ok(()));
        assert!(acr.check(&token(json!({"acr": "phrh"})), now).is_err());
        assert!(acr.check(&token(json!({})), now).is_err());
        assert!(AuthContext::default().is_empty() && !acr.is_empty());
        assert_eq!(AuthContext::default().check(&token(json!({})), now), Ok(()));
    }
}
