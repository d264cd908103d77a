//! `/etc/opk/providers`: `<issuer> <client_id> <expiration_policy>` rows (opkssh.md §2.2).

use std::collections::HashMap;

use opk_pktoken::ExpiryPolicy;
use serde_json::Value;

use crate::Error;
use crate::table::{ProblemKind, TableProblem, parse_table_named};

/// How a provider's PK Tokens are verified. Chosen from the configured issuer string alone,
/// never from anything in a token (H-13), with opkssh's `providerVerifierFromRow` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// `https://accounts.google.com`, or a test issuer (`http://oidc.local…`, `http://localhost:…`):
    /// nonce commitment, `aud` must contain the client ID.
    Google,
    /// Prefix `https://login.microsoftonline.com`: nonce commitment, `aud` check.
    Azure,
    /// `https://gitlab.com`: nonce commitment, `aud` check.
    Gitlab,
    /// `https://token.actions.githubusercontent.com`: `aud` is the CIC hash, GQ signature required,
    /// client ID ignored.
    GithubActions,
    /// Ends in `/api/actions` (one trailing `/` ignored): like GitHub Actions.
    ForgejoActions,
    /// Anything else: Google-style standard OP (nonce, `aud` check).
    Standard,
}

impl ProviderKind {
    /// Classifies an issuer from the providers file.
    pub fn from_issuer(issuer: &str) -> Self {
        if issuer == "https://accounts.google.com"
            || issuer.starts_with("http://oidc.local")
            || issuer.starts_with("http://localhost:")
        {
            Self::Google
        } else if issuer.starts_with("https://login.microsoftonline.com") {
            Self::Azure
        } else if issuer == "https://gitlab.com" {
            Self::Gitlab
        } else if issuer == "https://token.actions.githubusercontent.com" {
            Self::GithubActions
        } else if issuer
            .strip_suffix('/')
            .unwrap_or(issuer)
            .ends_with("/api/actions")
        {
            Self::ForgejoActions
        } else {
            Self::Standard
        }
    }

    /// Whether the token's `aud` must contain the configured client ID (browser OPs), as opposed
    /// to carrying the CIC hash (CI OPs, where the client ID column is ignored).
    pub fn checks_client_id(self) -> bool {
        !matches!(self, Self::GithubActions | Self::ForgejoActions)
    }
}

/// One providers row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRow {
    /// Issuer, compared byte-exactly with the token's `iss`.
    pub issuer: String,
    /// Client ID, compared with `aud` for browser OPs (see [`audience_contains`]).
    pub client_id: String,
    /// Expiration policy (third column).
    pub expiry: ExpiryPolicy,
    /// 1-based line in the file.
    pub line_number: usize,
}

impl ProviderRow {
    /// The verifier kind, from the issuer column only (H-13).
    pub fn kind(&self) -> ProviderKind {
        ProviderKind::from_issuer(&self.issuer)
    }
}

/// A parsed providers file: unique issuers, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Providers {
    rows: Vec<ProviderRow>,
    problems: Vec<TableProblem>,
}

impl Providers {
    /// Parses providers contents.
    ///
    /// Rows with the wrong column count (or bad quoting) are skipped and listed in
    /// [`Providers::problems`]. As in opkssh, these are fatal and so deny every login:
    /// an unknown expiry keyword, a duplicate issuer, no usable row at all, and (opk) a file over
    /// [`crate::MAX_FILE_BYTES`].
    ///
    /// O-6: a duplicate issuer stays fatal rather than "first row wins", because silently picking
    /// one of two client IDs or expiry policies could widen access; the error names both lines.
    pub fn parse(contents: &[u8]) -> Result<Providers, Error> {
        let table = parse_table_named(contents, "providers file")?;
        let mut problems = table.problems;
        let mut rows: Vec<ProviderRow> = Vec::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for row in table.rows {
            let line_number = row.line_number;
            let [issuer, client_id, keyword] = match <[String; 3]>::try_from(row.words) {
                Ok(cols) => cols,
                Err(words) => {
                    problems.push(TableProblem {
                        line_number,
                        kind: ProblemKind::WrongColumnCount {
                            expected: 3,
                            got: words.len(),
                        },
                    });
                    continue;
                }
            };
            let Some(expiry) = ExpiryPolicy::parse(&keyword) else {
                return Err(Error::InvalidExpiry {
                    line_number,
                    keyword,
                });
            };
            if let Some(&first_line_number) = first_line.get(&issuer) {
                return Err(Error::DuplicateIssuer {
                    issuer,
                    first_line_number,
                    line_number,
                });
            }
            first_line.insert(issuer.clone(), line_number);
            rows.push(ProviderRow {
                issuer,
                client_id,
                expiry,
                line_number,
            });
        }
        if rows.is_empty() {
            return Err(Error::NoProviders);
        }
        // Column-count problems were appended after the quoting ones; report in line order.
        problems.sort_by_key(|p| p.line_number);
        Ok(Providers { rows, problems })
    }

    /// The row whose issuer equals `issuer` byte-exactly.
    pub fn find(&self, issuer: &str) -> Option<&ProviderRow> {
        self.rows.iter().find(|r| r.issuer == issuer)
    }

    /// All rows, in file order.
    pub fn rows(&self) -> &[ProviderRow] {
        &self.rows
    }

    /// Skipped lines, for the log.
    pub fn problems(&self) -> &[TableProblem] {
        &self.problems
    }
}

/// Whether the token's `aud` names `client_id`: equal to a string `aud`, or an element of an
/// array `aud`.
///
/// O-4: opkssh accepted a single-string `aud` containing a comma if one comma-separated part was
/// the client ID; opk never splits, so `"evil,<client_id>"` does not match. Non-string array
/// elements and other types never match.
pub fn audience_contains(aud: &Value, client_id: &str) -> bool {
    match aud {
        Value::String(s) => s == client_id,
        Value::Array(items) => items
            .iter()
            .any(|v| matches!(v, Value::String(s) if s == client_id)),
        _ => false,
    }
}
