//! The fuzz smoke run on stable: every seed in `fuzz/seeds/<target>/` through the `fuzzing` hook
//! its target in `fuzz/fuzz_targets/` calls, as a plain test (so `.ci/run` runs it without
//! nightly or cargo-fuzz). A hook that panics on a seed fails the test naming the file; a target
//! in `fuzz/Cargo.toml` without a hook here or without seeds fails it too.
//!
//! Seeds come from the hostile catalog and small valid examples:
//! `cargo run -p opk-e2e --example hostile_gen -- --seeds crates/opk-cli/tests/hostile fuzz/seeds`.
//! A long run: `cargo +nightly fuzz run <target> fuzz/corpus/<target> fuzz/seeds/<target>`.

use std::collections::BTreeSet;
use std::path::Path;

/// Each target's input handling, as in its `fuzz/fuzz_targets/<target>.rs`.
fn hook(target: &str) -> Option<fn(&[u8])> {
    Some(match target {
        "add_row" => opk_policy::fuzzing::fuzz_add_row,
        "auth_id" => opk_policy::fuzzing::fuzz_auth_id,
        "callback_request" => opk_oidc::fuzzing::fuzz_callback_request,
        "cert_line" => opk_sshcert::fuzzing::fuzz_from_line,
        "cert_parse" => opk_sshcert::fuzzing::fuzz_parse,
        "check_principal" => opk_policy::fuzzing::fuzz_check_principal,
        "id_token" => |data| {
            if let Ok(text) = std::str::from_utf8(data) {
                let (jwt, nonce) = text.split_once('\n').unwrap_or((text, ""));
                opk_oidc::fuzzing::fuzz_id_token(jwt, nonce);
            }
        },
        "identity_matches" => opk_policy::fuzzing::fuzz_identity_matches,
        "jwks" => opk_pktoken::fuzzing::fuzz_jwks,
        "jwks_cache_file" => opk_jwks::fuzzing::fuzz_cache_file,
        "known_hosts" => opk_sshconfig::fuzzing::fuzz_known_hosts,
        "parse_table" => opk_policy::fuzzing::fuzz_parse_table,
        "pktoken_compact" => opk_pktoken::fuzzing::fuzz_compact,
        "plugin_config" => opk_verify::fuzzing::fuzz_plugin_config,
        "private_key" => opk_sshcert::fuzzing::fuzz_private_key,
        "provider_spec" => |data| {
            if let Ok(text) = std::str::from_utf8(data) {
                opk_oidc::fuzzing::fuzz_provider(text);
            }
        },
        "providers" => opk_policy::fuzzing::fuzz_providers,
        "server_config" => opk_verify::fuzzing::fuzz_server_config,
        "ssh_config" => opk_sshconfig::fuzzing::fuzz_ssh_config,
        "ziti_frame" => opk_ziti::fuzzing::fuzz_frame,
        _ => return None,
    })
}

/// The `[[bin]]` names of `fuzz/Cargo.toml`.
fn targets(fuzz: &Path) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut names = BTreeSet::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(v) = line.strip_prefix("name = ") {
            names.insert(v.trim_matches('"').to_owned());
        }
    }
    names
}

#[test]
fn every_fuzz_target_survives_its_seed_corpus() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let targets = targets(&fuzz);
    assert!(targets.len() >= 20, "{targets:?}");
    let mut total = 0;
    for target in &targets {
        let run = hook(target).unwrap_or_else(|| panic!("no hook for fuzz target {target}"));
        let dir = fuzz.join("seeds").join(target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        seeds.sort();
        assert!(!seeds.is_empty(), "no seeds for {target}");
        for seed in &seeds {
            let data = std::fs::read(seed).expect("seed");
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                panic!("{target} panicked on {}", seed.display());
            }
        }
        println!("{target}: {} seeds", seeds.len());
        total += seeds.len();
    }
    println!("{} targets, {total} seeds", targets.len());
}
