//! In-process cost of the verify path, step by step (criterion). The whole-process comparison
//! with opkssh and a no-op AuthorizedKeysCommand is scripts/bench.sh (B1) (BENCHMARKS.md).
//! Run: cargo bench -p opk-verify --bench verify

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::{ALICE_ROW, Host, ISS, alice, now, op, unix};
use criterion::{Criterion, criterion_group, criterion_main};
use opk_pktoken::{ExpiryPolicy, PkToken, ProviderCheck};
use opk_sshcert::{KeyAlgorithm, OpkCert};

fn verify_path(c: &mut Criterion) {
    let op = op();
    let host = Host::new(ALICE_ROW);
    let (_, cert) = alice(&op, KeyAlgorithm::EcdsaP256);
    let b64 = cert.to_b64();
    let cert_type = cert.cert_type().to_owned();
    let pkt_text = cert.pk_token().expect("pkt").to_owned();
    let jwks = opk_jwks::JwksFetcher::fetch(&op, ISS).expect("jwks");
    let check = ProviderCheck {
        issuer: ISS,
        client_id: "client",
        expiry: ExpiryPolicy::Hours24,
    };
    host.run(&op, "alice", &cert).expect("warm the cache");

    c.bench_function("cert_parse", |b| {
        b.iter(|| OpkCert::parse(black_box(&cert_type), black_box(&b64)).expect("parse"))
    });
    c.bench_function("pktoken_parse", |b| {
        b.iter(|| PkToken::from_compact(black_box(&pkt_text)).expect("pkt"))
    });
    let pkt = PkToken::from_compact(&pkt_text).expect("pkt");
    let t = unix(now());
    c.bench_function("pktoken_verify_es256_op", |b| {
        b.iter(|| pkt.verify(black_box(&check), &jwks, t).expect("verify"))
    });
    c.bench_function("verify_warm_cache_with_files_and_log", |b| {
        b.iter(|| host.run(&op, "alice", &cert).expect("allowed"))
    });
}

criterion_group!(benches, verify_path);
criterion_main!(benches);
