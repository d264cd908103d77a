//! Hand-written on purpose: opkssh's file syntax is go-shellquote's, which no Rust crate copies.
//!
//! The "table" syntax shared by `providers` and `auth_id`.
//!
//! Reading: strip a UTF-8 BOM, split on `\n`, cut each line at its first `#` (even inside
//! quotes, as opkssh does), trim, skip empty lines, then split into words like go-shellquote.
//! Writing: [`quote_word`] reproduces go-shellquote's `Join` for a single word.

use std::fmt;

use crate::{Error, FileKind, MAX_FILE_BYTES};

/// One non-empty line of a table, split into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// 1-based line number in the file (BOM and comments included in the count).
    pub(crate) line_number: usize,
    /// The words, with quotes and escapes removed. Never empty.
    pub(crate) words: Vec<String>,
}

/// Why a line was skipped. Skipped lines are logged by the caller, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// A `'` was opened and never closed.
    UnterminatedSingleQuote,
    /// A `"` was opened and never closed.
    UnterminatedDoubleQuote,
    /// The line ends in a lone backslash.
    UnterminatedEscape,
    /// The line is not UTF-8. opkssh would keep the raw bytes; such a word can never equal a
    /// JSON claim or a sane principal, so skipping it is the safe equivalent.
    InvalidUtf8,
    /// The row has the wrong number of columns (set by the file-specific parsers).
    WrongColumnCount {
        /// Columns required.
        expected: usize,
        /// Columns found.
        got: usize,
    },
    /// An `auth_id` row's fourth column is not a requirement list.
    BadRequirements(crate::ContextSyntax),
}

/// A skipped line and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    /// 1-based line number.
    pub line_number: usize,
    /// What is wrong with it.
    pub kind: ProblemKind,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedSingleQuote => {
                f.write_str("unterminated single-quoted string; close the ' or escape it as \\'")
            }
            Self::UnterminatedDoubleQuote => {
                f.write_str("unterminated double-quoted string; close the \" or escape it as \\\"")
            }
            Self::UnterminatedEscape => {
                f.write_str("line ends in a lone backslash; remove it or escape it as \\\\")
            }
            Self::InvalidUtf8 => f.write_str("line is not valid UTF-8; rewrite it as UTF-8"),
            Self::WrongColumnCount { expected, got } => write!(
                f,
                "wrong number of arguments (expected={expected}, got={got}); quote words that contain spaces"
            ),
            Self::BadRequirements(why) => write!(f, "{why}; the row is skipped"),
        }
    }
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}, row skipped", self.line_number, self.kind)
    }
}

/// A parsed table: the usable rows and the lines that were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Table {
    /// Rows in file order.
    pub(crate) rows: Vec<Row>,
    /// Skipped lines, in file order.
    pub(crate) problems: Vec<TableProblem>,
}

/// UTF-8 byte order mark, stripped like opkssh does (Windows editors write it).
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses table contents. Errors only when `contents` is over [`MAX_FILE_BYTES`].
pub(crate) fn parse_table(contents: &[u8]) -> Result<Table, Error> {
    parse_table_named(contents, FileKind::Policy)
}

/// [`parse_table`] with the name of the file kind, for the size error.
pub(crate) fn parse_table_named(contents: &[u8], what: FileKind) -> Result<Table, Error> {
    if contents.len() > MAX_FILE_BYTES {
        return Err(Error::TooLarge {
            what,
            size: contents.len(),
            max: MAX_FILE_BYTES,
        });
    }
    let contents = contents.strip_prefix(BOM).unwrap_or(contents);
    let mut table = Table::default();
    for (index, raw) in contents.split(|&b| b == b'\n').enumerate() {
        let line_number = index + 1;
        let cut = match raw.iter().position(|&b| b == b'#') {
            Some(pos) => &raw[..pos],
            None => raw,
        };
        let Ok(line) = std::str::from_utf8(cut) else {
            table.problems.push(TableProblem {
                line_number,
                kind: ProblemKind::InvalidUtf8,
            });
            continue;
        };
        // Go's strings.TrimSpace trims Unicode white space, as char::is_whitespace does.
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match split_words(line) {
            Ok(words) if !words.is_empty() => table.rows.push(Row { line_number, words }),
            // A line of only escaped newlines cannot occur after splitting on '\n'; skip it anyway.
            Ok(_) => {}
            Err(kind) => table.problems.push(TableProblem { line_number, kind }),
        }
    }
    Ok(table)
}

/// go-shellquote `Split` separators.
fn is_split_char(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\t')
}

/// Splits one line into words with go-shellquote's rules.
pub(crate) fn split_words(line: &str) -> Result<Vec<String>, ProblemKind> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if is_split_char(c) {
            chars.next();
            continue;
        }
        if c == '\\' {
            // go-shellquote skips an escaped newline between words, and fails on a lone `\`.
            let mut ahead = chars.clone();
            ahead.next();
            match ahead.next() {
                None => return Err(ProblemKind::UnterminatedEscape),
                Some('\n') => {
                    chars = ahead;
                    continue;
                }
                Some(_) => {}
            }
        }
        words.push(split_word(&mut chars)?);
    }
    Ok(words)
}

/// Reads one word; consumes the separator that ends it.
fn split_word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, ProblemKind> {
    let mut word = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    None => return Err(ProblemKind::UnterminatedSingleQuote),
                    Some('\'') => break,
                    Some(c) => word.push(c),
                }
            },
            '"' => loop {
                match chars.next() {
                    None => return Err(ProblemKind::UnterminatedDoubleQuote),
                    Some('"') => break,
                    Some('\\') => match chars.peek() {
                        // Inside double quotes only these are escapes, as in POSIX shells.
                        Some(&e @ ('$' | '`' | '"' | '\n' | '\\')) => {
                            chars.next();
                            if e != '\n' {
                                word.push(e);
                            }
                        }
                        _ => word.push('\\'),
                    },
                    Some(c) => word.push(c),
                }
            },
            '\\' => match chars.next() {
                None => return Err(ProblemKind::UnterminatedEscape),
                Some('\n') => {}
                Some(c) => word.push(c),
            },
            c if is_split_char(c) => return Ok(word),
            c => word.push(c),
        }
    }
    Ok(word)
}

/// Characters go-shellquote backslash-escapes. `#`, `}` and `]` are absent, exactly as upstream.
const SPECIAL_CHARS: &str = "\\'\"`${[|&;<>()*?!";

/// Quotes one word exactly like go-shellquote `Join` (what `opkssh add` writes):
/// `''` for the empty word; single quotes (with `'\''` for embedded quotes) when the word has a
/// space, tab or newline; otherwise each special character and a leading `~` backslash-escaped.
///
/// The result reads back through the table reader unchanged, except when the word contains `#`
/// (the reader cuts comments before unquoting), a newline (the reader splits lines first), or
/// unquoted white space such as `\r` or U+00A0 at the start or end of a line (the reader trims).
pub fn quote_word(word: &str) -> String {
    if word.is_empty() {
        return "''".to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    if word.contains([' ', '\t', '\n']) {
        let mut in_quote = false;
        for c in word.chars() {
            if c == '\'' {
                if in_quote {
                    out.push('\'');
                    in_quote = false;
                }
                out.push_str("\\'");
            } else {
                if !in_quote {
                    out.push('\'');
                    in_quote = true;
                }
                out.push(c);
            }
        }
        if in_quote {
            out.push('\'');
        }
        return out;
    }
    for (i, c) in word.chars().enumerate() {
        if SPECIAL_CHARS.contains(c) || (i == 0 && c == '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Joins words into one table line, as go-shellquote `Join` does.
pub(crate) fn join_words(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| quote_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Vec<String>> {
        parse_table(s.as_bytes())
            .expect("small input")
            .rows
            .into_iter()
            .map(|r| r.words)
            .collect()
    }

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn splits_words_like_go_shellquote() {
        let cases: &[(&str, &[&str])] = &[
            ("a b c", &["a", "b", "c"]),
            ("  a \t b   c  ", &["a", "b", "c"]),
            ("'a b' c", &["a b", "c"]),
            ("\"a b\" c", &["a b", "c"]),
            ("a\\ b c", &["a b", "c"]),
            ("x'y z'w", &["xy zw"]),
            ("'' b", &["", "b"]),
            ("\"\" b", &["", "b"]),
            ("\"a\\\"b\"", &["a\"b"]),
            ("\"a\\$b\"", &["a$b"]),
            ("\"a\\\\b\"", &["a\\b"]),
            ("\"a\\xb\"", &["a\\xb"]),
            ("'a\\b'", &["a\\b"]),
            (
                "oidc:\\\"https://acme.com/groups\\\":ssh-users",
                &["oidc:\"https://acme.com/groups\":ssh-users"],
            ),
            (
                "oidc:\"https://acme.com/groups\":ssh-users",
                &["oidc:https://acme.com/groups:ssh-users"],
            ),
            (
                "repo:a/b:ref:refs/heads/\\*",
                &["repo:a/b:ref:refs/heads/*"],
            ),
            ("\\~x", &["~x"]),
            ("a\rb", &["a\rb"]),
        ];
        for (line, want) in cases {
            assert_eq!(words(line), vec![w(want)], "line {line:?}");
        }
    }

    #[test]
    fn unbalanced_lines_are_problems_and_skipped() {
        let t = parse_table(b"ok 1\n'open\n\"open\nend\\\nok 2\n").expect("small");
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1].line_number, 5);
        let kinds: Vec<_> = t
            .problems
            .iter()
            .map(|p| (p.line_number, p.kind.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (2, ProblemKind::UnterminatedSingleQuote),
                (3, ProblemKind::UnterminatedDoubleQuote),
                (4, ProblemKind::UnterminatedEscape),
            ]
        );
        for p in &t.problems {
            assert!(!p.to_string().contains('\n'));
        }
    }

    #[test]
    fn bom_is_stripped_only_at_start() {
        assert_eq!(words("\u{feff}a b"), vec![w(&["a", "b"])]);
        // A BOM elsewhere is ordinary (non-whitespace) text.
        assert_eq!(
            words("x\n\u{feff}a b"),
            vec![w(&["x"]), w(&["\u{feff}a", "b"])]
        );
    }

    #[test]
    fn crlf_lines_are_trimmed() {
        let t = parse_table(b"a b c\r\n\r\n d e f \r\n").expect("small");
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].words, w(&["a", "b", "c"]));
        assert_eq!(t.rows[1].words, w(&["d", "e", "f"]));
        assert_eq!(t.rows[1].line_number, 3);
    }

    #[test]
    fn hash_cuts_even_inside_quotes() {
        // opkssh quirk: the comment cut happens before unquoting.
        let t = parse_table(b"a 'b # c' d\n").expect("small");
        assert!(t.rows.is_empty());
        assert_eq!(t.problems[0].kind, ProblemKind::UnterminatedSingleQuote);
        assert_eq!(words("a \"b#c\" d"), Vec::<Vec<String>>::new());
        // The cut leaves a lone trailing backslash: the line is skipped.
        let t = parse_table(b"a b\\#c").expect("small");
        assert!(t.rows.is_empty());
        assert_eq!(t.problems[0].kind, ProblemKind::UnterminatedEscape);
        assert_eq!(
            words("# only a comment\n   # indented"),
            Vec::<Vec<String>>::new()
        );
        assert_eq!(words("a b c # trailing"), vec![w(&["a", "b", "c"])]);
    }

    #[test]
    fn invalid_utf8_line_is_a_problem() {
        let t = parse_table(b"a b c\n\xff\xfe x\nd e f # \xff in comment is fine\n").expect("s");
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.problems.len(), 1);
        assert_eq!(t.problems[0].kind, ProblemKind::InvalidUtf8);
        assert_eq!(t.problems[0].line_number, 2);
    }

    #[test]
    fn oversized_input_is_an_error() {
        let big = vec![b' '; MAX_FILE_BYTES + 1];
        assert!(matches!(parse_table(&big), Err(Error::TooLarge { .. })));
        let ok = vec![b' '; MAX_FILE_BYTES];
        assert!(parse_table(&ok).is_ok());
    }

    #[test]
    fn quote_word_matches_go_shellquote() {
        let cases: &[(&str, &str)] = &[
            ("", "''"),
            ("abc", "abc"),
            ("a b", "'a b'"),
            ("a\tb", "'a\tb'"),
            ("it's", "it\\'s"),
            ("it's a", "'it'\\''s a'"),
            (" '", "' '\\'"),
            ("'a b'", "\\''a b'\\'"),
            ("$HOME", "\\$HOME"),
            ("a*b?", "a\\*b\\?"),
            ("~x", "\\~x"),
            ("x~", "x~"),
            ("a\"b", "a\\\"b"),
            ("{[]}", "\\{\\[]}"),
            (
                "a|b&c;d<e>f(g)h!i`j\\k",
                "a\\|b\\&c\\;d\\<e\\>f\\(g\\)h\\!i\\`j\\\\k",
            ),
            ("#", "#"),
            ("é", "é"),
        ];
        for (word, want) in cases {
            assert_eq!(quote_word(word), *want, "word {word:?}");
        }
    }

    #[test]
    fn quote_round_trip() {
        let samples = [
            "",
            " ",
            "a",
            "a b",
            "a  b",
            " lead",
            "trail ",
            "\ttab",
            "it's",
            "'",
            "''",
            "\"",
            "\\",
            "\\\\",
            "$",
            "$x",
            "${x}",
            "*",
            "?",
            "[a-z]",
            "~x",
            "~",
            "x~y",
            "!",
            "a'b\"c d",
            "oidc:\"https://acme.com/groups\":ssh-users",
            "repo:org/repo:ref:refs/heads/*",
            "alice@example.com",
            "é ü",
            "`cmd`",
            "a;b",
            "(x)",
            "<>",
            "|&",
            "x\ry",
            "%",
            "=",
            ",",
        ];
        for s in samples {
            let line = format!("{} {}", quote_word(s), quote_word("z"));
            let t = parse_table(line.as_bytes()).expect("small");
            // A word that is only trailing whitespace at line end is trimmed; "z" prevents that.
            assert_eq!(t.rows.len(), 1, "word {s:?} line {line:?}");
            assert_eq!(t.rows[0].words, w(&[s, "z"]), "word {s:?} line {line:?}");
        }
    }

    #[test]
    fn quote_round_trip_pseudo_random() {
        let alphabet: Vec<char> = "ab '\"\\$*?~[]{}|&;<>()!`\t é".chars().collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 9) as usize;
            let mut s = String::new();
            let mut x = seed;
            for _ in 0..len {
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
                x /= alphabet.len() as u64;
            }
            let line = join_words(&[&s, "z"]);
            let t = parse_table(line.as_bytes()).expect("small");
            assert_eq!(t.rows.len(), 1, "word {s:?}");
            assert_eq!(t.rows[0].words, w(&[&s, "z"]), "word {s:?} line {line:?}");
        }
    }
}
