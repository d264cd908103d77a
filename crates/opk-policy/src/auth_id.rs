//! `auth_id` policy files: `<principal> <identity> <issuer> [requirements]` rows.

use crate::context::AuthContext;
use crate::table::{ProblemKind, TableProblem, parse_table_named};
use crate::{Error, FileKind};

/// One policy row. Each row grants one principal, as opkssh's rewrite writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthIdRow {
    /// The local user this row lets the identity assume; compared exactly.
    pub principal: String,
    /// The identity attribute (email, sub, `oidc:…`, `oidc-match-end:email:…`, `repo:…`).
    pub identity: String,
    /// The issuer; compared byte-exactly with the token's `iss`.
    pub issuer: String,
    /// The optional fourth column (opk only): what the sign-in itself must satisfy.
    pub context: AuthContext,
    /// 1-based line in its file.
    pub line_number: usize,
}

/// A parsed `auth_id` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthId {
    rows: Vec<AuthIdRow>,
    problems: Vec<TableProblem>,
}

impl AuthId {
    /// Parses `auth_id` contents. Rows without 3 or 4 columns, with a fourth column that is not
    /// a requirement list, or with bad quoting, are skipped and listed in [`AuthId::problems`] so that one bad line cannot lock everyone out.
    /// Errors only when the file is over [`crate::MAX_FILE_BYTES`].
    ///
    /// Rows with an empty or bare-prefix identity are kept (the matcher refuses them and warns),
    /// so that the log names the line on every attempt.
    pub fn parse(contents: &[u8]) -> Result<AuthId, Error> {
        let table = parse_table_named(contents, FileKind::Policy)?;
        let mut problems = table.problems;
        let mut rows = Vec::new();
        for row in table.rows {
            let line_number = row.line_number;
            let mut words = row.words;
            let context = match words.len() {
                3 => Ok(AuthContext::default()),
                4 => AuthContext::parse(&words.pop().unwrap_or_default())
                    .map_err(ProblemKind::BadRequirements),
                got => Err(ProblemKind::WrongColumnCount { expected: 3, got }),
            };
            match (context, <[String; 3]>::try_from(words)) {
                (Ok(context), Ok([principal, identity, issuer])) => rows.push(AuthIdRow {
                    principal,
                    identity,
                    issuer,
                    context,
                    line_number,
                }),
                (Err(kind), _) => problems.push(TableProblem { line_number, kind }),
                (Ok(_), Err(words)) => problems.push(TableProblem {
                    line_number,
                    kind: ProblemKind::WrongColumnCount {
                        expected: 3,
                        got: words.len(),
                    },
                }),
            }
        }
        problems.sort_by_key(|p| p.line_number);
        Ok(AuthId { rows, problems })
    }

    /// Rows in file order.
    pub fn rows(&self) -> &[AuthIdRow] {
        &self.rows
    }

    /// Skipped lines, for the log.
    pub fn problems(&self) -> &[TableProblem] {
        &self.problems
    }

    /// The rows, consumed.
    pub fn into_rows(self) -> Vec<AuthIdRow> {
        self.rows
    }

    /// The home-file rule: a user's `~/.opk/auth_id` may only grant that user, so rows for any
    /// other principal are dropped (opkssh drops them silently; the caller should warn when
    /// nothing is left).
    pub fn for_home_of(self, user: &str) -> AuthId {
        AuthId {
            rows: self
                .rows
                .into_iter()
                .filter(|r| r.principal == user)
                .collect(),
            problems: self.problems,
        }
    }
}
