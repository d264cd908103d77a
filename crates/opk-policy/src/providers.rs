//! `/etc/opk/providers`: `<issuer> <client_id> <expiration_policy>` rows.

use std::collections::HashMap;

use opk_pktoken::ExpiryPolicy;

use crate::table::{ProblemKind, TableProblem, parse_table_named};
use crate::{Error, FileKind};

/// One providers row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRow {
    /// Issuer, compared byte-exactly with the token's `iss`.
    pub issuer: String,
    /// Client ID, which the token's `aud` must contain (opk_pktoken checks it).
    pub client_id: String,
    /// Expiration policy (third column).
    pub expiry: ExpiryPolicy,
    /// 1-based line in the file.
    pub line_number: usize,
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
        let table = parse_table_named(contents, FileKind::Providers)?;
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
            let Ok(expiry) = keyword.parse::<ExpiryPolicy>() else {
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
