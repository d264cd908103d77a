//! The fuzz hooks on the vectors and on every prefix and one-byte corruption of them, so that the
//! hooks run in CI without cargo-fuzz.

use std::path::Path;

use opk_sshconfig::fuzzing::{fuzz_known_hosts, fuzz_ssh_config};

fn inputs(name: &str) -> Vec<Vec<u8>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let data = std::fs::read(p).expect("vector");
    let mut out = vec![data.clone()];
    for cut in (0..data.len()).step_by(7) {
        out.push(data[..cut].to_vec());
        let mut bent = data.clone();
        for b in [b'%', b'"', b'\\', b'=', b'!', b'*', 0xff] {
            bent[cut] = b;
            out.push(bent.clone());
        }
    }
    out
}

#[test]
fn known_hosts_hook_never_panics() {
    for name in ["known_hosts", "known_hosts.hashed"] {
        for d in inputs(name) {
            fuzz_known_hosts(&d);
        }
    }
}

#[test]
fn ssh_config_hook_never_panics() {
    for name in [
        "ssh_config/03-tokens.conf",
        "ssh_config/04-match.conf",
        "ssh_config/06-proxy.conf",
    ] {
        for d in inputs(name) {
            fuzz_ssh_config(&d);
        }
    }
}
