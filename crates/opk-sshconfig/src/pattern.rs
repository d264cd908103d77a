//! OpenSSH's `match_pattern` / `match_pattern_list`, hand-written because their rules (`*`, `?`,
//! `!` negation in comma lists, no character classes) are not those of any glob crate.

/// `*` matches any run of bytes, `?` exactly one byte; everything else is literal. Bytes, not
/// characters, because OpenSSH compares bytes.
pub(crate) fn matches(text: &str, pattern: &str) -> bool {
    let (t, p) = (text.as_bytes(), pattern.as_bytes());
    // Iterative wildcard match with single backtrack point: linear in practice, no recursion
    // (fuzzed inputs cannot blow the stack).
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Outcome of matching a name against a pattern list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListMatch {
    /// No pattern matched.
    None,
    /// A positive pattern matched and no negated one did.
    Positive,
    /// A negated pattern (`!pat`) matched: the list rejects the name outright.
    Negated,
}

/// Matches `text` against patterns (each optionally `!`-negated); a negated match wins over any
/// positive one. `lower` lowercases the patterns, for host names (the caller lowercases `text`).
pub(crate) fn match_list<'a>(
    text: &str,
    patterns: impl IntoIterator<Item = &'a str>,
    lower: bool,
) -> ListMatch {
    let mut got = ListMatch::None;
    for pat in patterns {
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        let hit = if lower {
            matches(text, &pat.to_ascii_lowercase())
        } else {
            matches(text, pat)
        };
        if hit {
            if negated {
                return ListMatch::Negated;
            }
            got = ListMatch::Positive;
        }
    }
    got
}

/// A comma-separated list as in known_hosts host fields and `Match host a,b,!c`.
pub(crate) fn match_comma_list(text: &str, list: &str, lower: bool) -> ListMatch {
    match_list(text, list.split(','), lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("host.example.com", "*.example.com"));
        assert!(matches("a", "?"));
        assert!(!matches("ab", "?"));
        assert!(matches("", "*"));
        assert!(matches("abcabd", "*abd"));
        assert!(matches("x.y", "x*y"));
        assert!(!matches("x.yz", "x*y"));
        assert!(matches("[h]:2222", "[h]:22?2"));
        assert!(!matches("example.com", "*.example.com"));
    }

    #[test]
    fn negation_wins() {
        assert_eq!(
            match_comma_list("a.b", "*.b,!a.b", false),
            ListMatch::Negated
        );
        assert_eq!(
            match_comma_list("c.b", "*.b,!a.b", false),
            ListMatch::Positive
        );
        assert_eq!(match_comma_list("c.d", "*.b,!a.b", false), ListMatch::None);
        assert_eq!(match_comma_list("host", "HOST", true), ListMatch::Positive);
        assert_eq!(match_comma_list("host", "HOST", false), ListMatch::None);
    }
}
