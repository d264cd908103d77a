//! Fuzz-style tests: the public fuzzing hooks must never panic on arbitrary input.

use opk_oidc::fuzzing::{fuzz_callback_request, fuzz_id_token, fuzz_provider};

const VALID: &[u8] =
    b"GET /login-callback?code=abc%20d&state=xyz+1&error_description=%E2%9C%93 HTTP/1.1\r\n\
Host: localhost:3000\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n";

/// Bytes that steer mutations towards parser edge cases.
const INTERESTING: &[u8] = b"\r\n%?&=+#: /\x00\xff\xc3GETHTTP1.";

#[test]
fn truncations_of_valid_request() {
    for i in 0..=VALID.len() {
        fuzz_callback_request(&VALID[..i]);
        fuzz_callback_request(&VALID[i..]);
    }
}

#[test]
fn random_garbage() {
    for data in opk_testkit::rng::garbage_inputs(0x9E37_79B9_7F4A_7C15, 20_000, 300) {
        fuzz_callback_request(&data);
        fuzz_id_token(&String::from_utf8_lossy(&data), "n");
        fuzz_provider(&String::from_utf8_lossy(&data));
    }
}

#[test]
fn mutations_of_valid_request() {
    let mut rng = opk_testkit::rng::seeded(42);
    for _ in 0..20_000 {
        let mut data = VALID.to_vec();
        for _ in 0..1 + rng.usize(..8) {
            let pos = rng.usize(..data.len() + 1);
            let b = INTERESTING[rng.usize(..INTERESTING.len())];
            match rng.usize(..3) {
                0 if pos < data.len() => data[pos] = b,
                1 if pos < data.len() => {
                    data.remove(pos);
                }
                _ => data.insert(pos, b),
            }
        }
        fuzz_callback_request(&data);
    }
}

#[test]
fn oversized_inputs() {
    let mut big = b"GET /login-callback?".to_vec();
    big.extend(std::iter::repeat_n(b'%', 40_000));
    big.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    fuzz_callback_request(&big);
    let many_params: String = (0..10_000).map(|i| format!("k{i}=v&")).collect();
    fuzz_callback_request(format!("GET /?{many_params} HTTP/1.1\r\n\r\n").as_bytes());
    fuzz_callback_request(&vec![b'\r'; 100_000]);
    fuzz_callback_request(&b"\r\n".repeat(50_000));
    fuzz_id_token(&"a.".repeat(100_000), "n");
    fuzz_provider(&",".repeat(100_000));
}

#[test]
fn id_token_mutations() {
    let valid = "eyJhbGciOiJSUzI1NiJ9.eyJub25jZSI6Im4ifQ.c2ln";
    let mut rng = opk_testkit::rng::seeded(7);
    for _ in 0..10_000 {
        let mut s: Vec<char> = valid.chars().collect();
        let pos = rng.usize(..s.len());
        s[pos] = ['.', '=', '+', '/', 'A', '\u{e9}'][rng.usize(..6)];
        fuzz_id_token(&s.into_iter().collect::<String>(), "n");
    }
}
