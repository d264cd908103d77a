//! opkssh's deny lists (`deny_emails`, `deny_users` in the server config), checked before
//! plugins and policy rows: a listed identity or account is refused whatever else allows it.

use std::fmt;

use serde_json::{Map, Value};

use crate::gofold::equal_fold;
use crate::matcher::str_claim;

/// The two deny lists, as read from the server config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenyList {
    /// Refused `email` claims, compared case-insensitively (Go `strings.EqualFold`, as opkssh).
    pub emails: Vec<String>,
    /// Refused principals (`%u`), compared case-insensitively, like sshd's `DenyUsers`.
    pub users: Vec<String>,
}

/// Which entry refused the login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// The token's `email` equals this `deny_emails` entry.
    Email(String),
    /// The principal equals this `deny_users` entry.
    User(String),
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Email(e) => write!(f, "email {e:?} is in deny_emails"),
            Self::User(u) => write!(f, "user {u:?} is in deny_users"),
        }
    }
}

impl DenyList {
    /// Whether either list is non-empty.
    pub fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.users.is_empty()
    }

    /// The entry that refuses the ID token `claims` as `principal`, emails first (opkssh's order).
    /// A token without a string `email` has the empty email, which only an empty entry matches.
    pub fn check(&self, principal: &str, claims: &Map<String, Value>) -> Option<Denial> {
        let email = str_claim(claims, "email");
        if let Some(e) = self.emails.iter().find(|e| equal_fold(email, e)) {
            return Some(Denial::Email(e.clone()));
        }
        self.users
            .iter()
            .find(|u| equal_fold(principal, u))
            .map(|u| Denial::User(u.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_claims as claims;
    use serde_json::json;

    fn list(emails: &[&str], users: &[&str]) -> DenyList {
        DenyList {
            emails: emails.iter().map(|s| (*s).to_owned()).collect(),
            users: users.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn emails_and_users_fold_case_like_opkssh() {
        let c = claims(json!({"email": "Mallory@Example.COM", "sub": "m"}));
        let deny = list(&["eve@example.com", "mallory@example.com"], &["ROOT"]);
        assert_eq!(
            deny.check("alice", &c),
            Some(Denial::Email("mallory@example.com".into()))
        );
        let ok = claims(json!({"email": "alice@example.com"}));
        assert_eq!(deny.check("alice", &ok), None);
        assert_eq!(deny.check("root", &ok), Some(Denial::User("ROOT".into())));
        assert_eq!(deny.check("Root", &ok), Some(Denial::User("ROOT".into())));
        // Not a prefix or substring match.
        assert_eq!(deny.check("rootx", &ok), None);
        let near = claims(json!({"email": "mallory@example.com.evil"}));
        assert_eq!(deny.check("alice", &near), None);
        // Go's simple folding: the Kelvin sign folds to k, the long s to s.
        let fold = list(&["k@ſ.example"], &[]);
        let c = claims(json!({"email": "\u{212a}@S.example"}));
        assert!(fold.check("a", &c).is_some());
        assert!(DenyList::default().is_empty() && !deny.is_empty());
    }

    #[test]
    fn a_missing_email_only_meets_an_empty_entry() {
        let c = claims(json!({"sub": "x", "email": 7}));
        assert_eq!(list(&["x"], &[]).check("a", &c), None);
        assert_eq!(
            list(&[""], &[]).check("a", &c),
            Some(Denial::Email(String::new()))
        );
    }
}
