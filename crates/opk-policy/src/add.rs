//! `opk add <principal> <identity> <issuer>` as a pure rewrite of `auth_id` contents, with
//! opkssh's issuer aliases.

use crate::matcher::{OIDC_CLAIMS, REPO_CLAIM, escaped_split, is_bare_prefix};
use crate::table::{join_words, parse_table_named};
use crate::{Column, Error, FileKind, WordProblem, check_principal, glob};

/// Expands opkssh's issuer aliases (case-sensitive, as upstream); anything else is returned
/// unchanged.
pub fn issuer_alias(s: &str) -> &str {
    match s {
        "google" => "https://accounts.google.com",
        "azure" | "microsoft" => {
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        }
        "gitlab" => "https://gitlab.com",
        "hello" => "https://issuer.hello.coop",
        other => other,
    }
}

/// The result of [`add_row`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The new file contents (equal to the old ones when nothing changed).
    pub contents: String,
    /// Whether a row was added.
    pub changed: bool,
}

/// Rejects a word that [`crate::quote_word`] cannot write so that the table reader gets it back.
fn check_writable(column: Column, value: &str) -> Result<(), Error> {
    let problem = if value.contains('#') {
        Some(WordProblem::Hash)
    } else if value.chars().any(char::is_control) {
        Some(WordProblem::Control)
    } else if value.chars().any(|c| c.is_whitespace() && c != ' ') {
        Some(WordProblem::OtherWhitespace)
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::UnwritableWord {
            column,
            value: value.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

/// Adds the row `principal identity issuer` to `existing` `auth_id` contents.
///
/// Deliberately better than opkssh, which re-wrote the whole file and lost comments: the
/// existing bytes are kept as they are and the new row, quoted as `opkssh add` quotes it, is
/// appended (with the file's CRLF or LF line ending). When an identical row (same principal,
/// identity and issuer after unquoting) already exists, nothing changes.
///
/// Validation, so that `add` never writes a row that is unsafe or can never match: the
/// principal passes [`check_principal`]; the identity is non-empty (O-3), not a bare prefix
/// (H-2), not an `oidc:` row with fewer than 3 fields (H-3) and not an invalid `repo:` glob; the
/// issuer is non-empty; no word contains `#`, control characters or non-ASCII white space.
/// Issuer aliases are not expanded here; call [`issuer_alias`] first.
pub fn add_row(
    existing: &[u8],
    principal: &str,
    identity: &str,
    issuer: &str,
) -> Result<AddOutcome, Error> {
    check_principal(principal)?;
    if identity.is_empty() {
        return Err(Error::EmptyIdentity);
    }
    if is_bare_prefix(identity) {
        return Err(Error::BareIdentityPrefix {
            identity: identity.to_owned(),
        });
    }
    if identity.starts_with(OIDC_CLAIMS) && escaped_split(identity, ':').len() < 3 {
        return Err(Error::MalformedOidcIdentity {
            identity: identity.to_owned(),
        });
    }
    if identity.starts_with(REPO_CLAIM) && glob::path_match(identity, "").is_err() {
        return Err(Error::InvalidGlob {
            identity: identity.to_owned(),
        });
    }
    if issuer.is_empty() {
        return Err(Error::EmptyIssuer);
    }
    check_writable(Column::Principal, principal)?;
    check_writable(Column::Identity, identity)?;
    check_writable(Column::Issuer, issuer)?;

    let table = parse_table_named(existing, FileKind::Policy)?;
    let text = match std::str::from_utf8(existing) {
        Ok(t) => t,
        Err(e) => {
            let line_number = existing[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(Error::InvalidUtf8 { line_number });
        }
    };
    let duplicate = table.rows.iter().any(|r| {
        r.words.len() == 3
            && r.words[0] == principal
            && r.words[1] == identity
            && r.words[2] == issuer
    });
    if duplicate {
        return Ok(AddOutcome {
            contents: text.to_owned(),
            changed: false,
        });
    }

    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let line = join_words(&[principal, identity, issuer]);
    // Defensive: the validation above should make the row read back exactly; prove it.
    let back = parse_table_named(line.as_bytes(), FileKind::Policy)?;
    let reads_back = back.problems.is_empty()
        && back.rows.len() == 1
        && back.rows[0].words == [principal, identity, issuer];
    if !reads_back {
        return Err(Error::RowDoesNotReadBack { row: line });
    }
    let mut contents = String::with_capacity(text.len() + line.len() + 2);
    contents.push_str(text);
    if !contents.is_empty() && !contents.ends_with('\n') {
        contents.push_str(eol);
    }
    contents.push_str(&line);
    contents.push_str(eol);
    if contents.len() > crate::MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            what: FileKind::Policy,
            size: contents.len(),
            max: crate::MAX_FILE_BYTES,
        });
    }
    Ok(AddOutcome {
        contents,
        changed: true,
    })
}
