//! Fuzz-style tests: pseudo-random and mutated inputs through every parser hook.

use opk_policy::fuzzing;

const SEEDS: &[&[u8]] = &[
    b"https://accounts.google.com client 24h\n",
    b"alice alice@example.com https://accounts.google.com\n",
    b"ro oidc:\\\"https://acme.com/groups\\\":ssh-users https://i\n",
    b"deploy repo:org/*:ref:[a-z]* https://i\n",
    b"\xEF\xBB\xBF# c\r\n'a b' \"c\\\"d\" e\\ f\r\n",
    b"oidc:groups:a\n{\"groups\":[\"a\",1,null,{\"x\":[2]}],\"email\":\"e@x\",\"sub\":\"s\"}",
    b"repo:a/[^b]?*\nrepo:a/c",
];

/// Bytes chosen to hit the parsers' special cases.
const INTERESTING: &[u8] = b" \t\r\n#'\"\\$*?[]^-!:/@.\xEF\xBB\xBF\xff\xc3\xa9a0";

fn inputs(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = opk_testkit::rng::seeded(seed);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let mut data = if i % 2 == 0 {
            SEEDS[rng.usize(..SEEDS.len())].to_vec()
        } else {
            Vec::new()
        };
        let edits = rng.usize(..12);
        for _ in 0..edits {
            let b = if rng.usize(..3) == 0 {
                rng.u8(..)
            } else {
                INTERESTING[rng.usize(..INTERESTING.len())]
            };
            match rng.usize(..3) {
                0 if !data.is_empty() => {
                    let at = rng.usize(..data.len());
                    data[at] = b;
                }
                1 if !data.is_empty() => {
                    let at = rng.usize(..data.len());
                    data.remove(at);
                }
                _ => {
                    let at = rng.usize(..data.len() + 1);
                    data.insert(at, b);
                }
            }
        }
        out.push(data);
    }
    out
}

/// One test per parser hook, each with its own seed and number of mutated inputs.
macro_rules! fuzz_hooks {
    ($($hook:ident: seed $seed:literal, $count:literal inputs;)*) => {$(
        #[test]
        fn $hook() {
            for d in inputs($seed, $count) {
                fuzzing::$hook(&d);
            }
        }
    )*};
}

fuzz_hooks! {
    fuzz_parse_table: seed 1, 4000 inputs;
    fuzz_providers: seed 2, 4000 inputs;
    fuzz_auth_id: seed 3, 4000 inputs;
    fuzz_identity_matches: seed 4, 4000 inputs;
    fuzz_add_row: seed 5, 2000 inputs;
    fuzz_check_principal: seed 6, 4000 inputs;
}

#[test]
fn fuzz_pure_random_bytes() {
    for d in opk_testkit::rng::garbage_inputs(7, 2000, 200) {
        fuzzing::fuzz_parse_table(&d);
        fuzzing::fuzz_providers(&d);
        fuzzing::fuzz_auth_id(&d);
        fuzzing::fuzz_identity_matches(&d);
        fuzzing::fuzz_add_row(&d);
    }
}
