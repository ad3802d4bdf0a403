//! zp beside its peers, in one criterion group `peers`, so that one
//! executable measures both sides of every pair in the same rounds
//! (`cargo xtask bench peers` pairs them and reports zp ÷ peer).
//!
//! The zp side runs the very routines of zp's own benchmarks: the registry
//! in `zp/benches/suite` is compiled in here, on the build's default
//! provider (aws-lc-rs with `--features aws-lc`, else RustCrypto).

#[path = "../../zp/benches/suite/mod.rs"]
#[allow(unused_imports)]
mod suite;

use criterion::Criterion;
use rustls::HandshakeKind;
use std::hint::black_box;
use zp_peers::{Bulk, Noise, RawAead, Tls, check};

/// zp's benchmarks that have a peer or a raw loop to stand beside.
const ZP: &[&str] = &[
    "stranger_handshake_pqc1",
    "stranger_handshake_classical",
    "session_resume",
    "encrypt_record_64k",
    "chacha20poly1305_encrypt_64k",
    "aes256gcm_encrypt_64k",
];

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers");
    for name in ZP {
        let bench = suite::find(name).expect("a registered zp benchmark");
        let suite::Kind::Time(setup) = bench.kind else {
            panic!("{name} is not a time benchmark");
        };
        let mut routine = setup(suite::probe_env());
        g.bench_function(*name, |b| b.iter(&mut routine));
    }

    let full = Tls::new(false);
    g.bench_function("rustls_handshake_x25519mlkem768", |b| {
        b.iter(|| black_box(full.handshake()))
    });
    let resuming = Tls::new(true);
    // The first handshake is full; it leaves the ticket the first resumed
    // one uses, and each resumed one leaves the next.
    let (first, _) = resuming.handshake();
    check(&first, HandshakeKind::Full);
    g.bench_function("rustls_resumed_handshake", |b| {
        b.iter(|| {
            let (client, server) = resuming.handshake();
            // Not resumed would be a full handshake measured under the
            // wrong name; checking costs a comparison.
            assert_eq!(client.handshake_kind(), Some(HandshakeKind::Resumed));
            black_box((client, server))
        })
    });
    let mut bulk = Bulk::new(64 * 1024);
    g.bench_function("rustls_encrypt_64k", |b| {
        b.iter(|| black_box(bulk.encrypt()))
    });
    let noise = Noise::new();
    g.bench_function("snow_handshake_xx", |b| {
        b.iter(|| black_box(noise.handshake()))
    });
    let mut chacha = RawAead::new(&aws_lc_rs::aead::CHACHA20_POLY1305, 64 * 1024);
    g.bench_function("raw_chacha20poly1305_64k", |b| {
        b.iter(|| black_box(chacha.seal()))
    });
    let mut aes = RawAead::new(&aws_lc_rs::aead::AES_256_GCM, 64 * 1024);
    g.bench_function("raw_aes256gcm_64k", |b| b.iter(|| black_box(aes.seal())));
    g.finish();
}

criterion::criterion_group!(group, benches);
criterion::criterion_main!(group);
