//! Hand-written on purpose: `repo:` rows must match exactly as Go's `path.Match` does, which the
//! Rust glob crates do not (`!` negation, `/` handling, errors on malformed patterns).
//!
//! Go's `path.Match`, byte for byte, for `repo:` rows (matcher rule 5).
//!
//! `*` matches any run of non-`/` bytes, `?` one non-`/` character, `[...]` a class with ranges
//! and `^` negation (`!` is an ordinary character), `\` escapes. A malformed pattern is an error
//! even when the name already failed to match, because Go checks the whole pattern.

/// The pattern is malformed (Go's `path.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPattern;

const RUNE_ERROR: u32 = 0xFFFD;

/// Decodes the first character like Go's `utf8.DecodeRune`: `(U+FFFD, 1)` on bad bytes and
/// `(U+FFFD, 0)` on empty input. Needed because `*` skips bytes and can land mid-character.
fn decode_rune(s: &[u8]) -> (u32, usize) {
    if s.is_empty() {
        return (RUNE_ERROR, 0);
    }
    let head = &s[..s.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(v) => v,
        Err(e) => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(v) => v,
            Err(_) => return (RUNE_ERROR, 1),
        },
    };
    match valid.chars().next() {
        Some(c) => (u32::from(c), c.len_utf8()),
        None => (RUNE_ERROR, 1),
    }
}

/// Go `path.Match(pattern, name)`.
pub(crate) fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest unless it contains a `/`.
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        // The last chunk must consume the whole name; otherwise a star may still help.
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                // Again, the last chunk must consume the whole name.
                if ok && (t.is_empty() || !pattern.is_empty()) {
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // No match; still report a malformed remainder, as Go does.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off leading stars and the literal chunk up to the next unbracketed `*`.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let Some((&b'*', rest)) = pattern.split_first() {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches one chunk at the start of `s`; returns the rest of `s` and whether it matched.
/// Keeps parsing after a failure so that a malformed chunk is always reported.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<(&'a [u8], bool), BadPattern> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            b'[' => {
                let mut r = 0u32;
                if !failed {
                    let (rune, n) = decode_rune(s);
                    r = rune;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    // get_esc guarantees a non-empty remainder.
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((b"", false))
    } else {
        Ok((s, true))
    }
}

/// One possibly escaped character of a class; the remainder must be non-empty.
fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    let mut chunk = match chunk.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(_) => chunk,
    };
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (r, n) = decode_rune(chunk);
    if r == RUNE_ERROR && n == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected results produced by Go 1.x `path.Match` (`Err` = ErrBadPattern).
    #[test]
    fn matches_go_path_match() {
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("repo:a/*", "repo:a/b", Ok(true)),
            ("repo:a/*", "repo:a/b/c", Ok(false)),
            ("repo:[a-c]x", "repo:bx", Ok(true)),
            ("repo:[^a-c]x", "repo:dx", Ok(true)),
            ("repo:[^a-c]x", "repo:bx", Ok(false)),
            ("repo:[!a]x", "repo:!x", Ok(true)),
            ("repo:[", "repo:[", Err(BadPattern)),
            ("repo:a\\", "repo:a", Err(BadPattern)),
            ("repo:*", "repo:", Ok(true)),
            ("repo:a[", "repo:b", Err(BadPattern)),
            ("repo:[]a]", "repo:]", Err(BadPattern)),
            ("repo:[a-]", "repo:a", Err(BadPattern)),
            ("repo:?", "repo:é", Ok(true)),
            ("repo:x*y", "repo:xé", Ok(false)),
            ("repo:*ab", "repo:aab", Ok(true)),
            ("repo:*b*", "repo:aabcc", Ok(true)),
            ("repo:[\\]]", "repo:]", Ok(true)),
            ("repo:*x", "repo:a/x", Ok(false)),
            ("repo:a*", "repo:a/b", Ok(false)),
            ("repo:[/]", "repo:/", Ok(true)),
            ("repo:?", "repo:/", Ok(false)),
            ("repo:*[", "repo:x", Err(BadPattern)),
            ("repo:x*[", "repo:y", Err(BadPattern)),
            ("repo:\\*", "repo:*", Ok(true)),
            ("repo:\\*", "repo:x", Ok(false)),
            (
                "repo:org/repo:ref:refs/heads/*",
                "repo:org/repo:ref:refs/heads/main",
                Ok(true),
            ),
            (
                "repo:org/repo:ref:refs/heads/*",
                "repo:org/repo:ref:refs/heads/a/b",
                Ok(false),
            ),
            (
                "repo:org/*:ref:refs/heads/main",
                "repo:org/x:ref:refs/heads/main",
                Ok(true),
            ),
            ("repo:org/**", "repo:org/a/b", Ok(false)),
            ("repo:a", "repo:a", Ok(true)),
            ("repo:a", "repo:ab", Ok(false)),
            ("repo:[a-z][0-9]", "repo:q7", Ok(true)),
            ("repo:[é-ü]", "repo:ö", Ok(true)),
        ];
        for (p, n, want) in cases {
            assert_eq!(path_match(p, n), *want, "pattern {p:?} name {n:?}");
        }
    }

    #[test]
    fn decode_rune_like_go() {
        assert_eq!(decode_rune(b""), (RUNE_ERROR, 0));
        assert_eq!(decode_rune(b"a"), (u32::from('a'), 1));
        assert_eq!(decode_rune("é!".as_bytes()), (u32::from('é'), 2));
        assert_eq!(decode_rune(b"\xc3"), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(&"é".as_bytes()[1..]), (RUNE_ERROR, 1));
    }

    #[test]
    fn random_patterns_never_panic() {
        let alphabet = b"ab/*?[]^-\\!\xc3\xa9";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut p = Vec::new();
            let mut n = Vec::new();
            let mut x = seed;
            for i in 0..12 {
                let b = alphabet[(x % alphabet.len() as u64) as usize];
                if i % 2 == 0 {
                    p.push(b)
                } else {
                    n.push(b)
                }
                x /= 3;
            }
            let p = String::from_utf8_lossy(&p);
            let n = String::from_utf8_lossy(&n);
            let _ = path_match(&p, &n);
        }
    }
}
