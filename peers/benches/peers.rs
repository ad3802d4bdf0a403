//! zp beside its peers, in one criterion group `peers`, so that one
//! executable measures both sides of every pair in the same rounds
//! (`cargo xtask bench peers` pairs them and reports zp ÷ peer).
//!
//! The zp side runs the very routines of zp's own benchmarks: the registry
//! in `zp/benches/suite` is compiled in here, on the build's default
//! provider (aws-lc-rs with `--features aws-lc`, else RustCrypto).
//!
//! With `ZP_PEERS_COUNT=<name>:<iters>` in the environment the executable
//! runs that routine once, then `iters` times inside the function named by
//! `probe_protocol::MARKER`, and exits: what `valgrind --tool=callgrind
//! --toggle-collect=*zp_probe_measured*` counts is exactly the iterations.

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

/// The peers' benchmarks.
const PEERS: &[&str] = &[
    "rustls_handshake_x25519mlkem768",
    "rustls_resumed_handshake",
    "rustls_encrypt_64k",
    "snow_handshake_xx",
    "raw_chacha20poly1305_64k",
    "raw_aes256gcm_64k",
];

/// The routine of benchmark `name`, set up; `None` for an unknown name.
fn setup(name: &str) -> Option<Box<dyn FnMut()>> {
    if ZP.contains(&name) {
        let suite::Kind::Time(setup) = suite::find(name)?.kind else {
            return None;
        };
        return Some(setup(suite::probe_env()));
    }
    Some(match name {
        "rustls_handshake_x25519mlkem768" => {
            let full = Tls::new(false);
            Box::new(move || {
                black_box(full.handshake());
            })
        }
        "rustls_resumed_handshake" => {
            let resuming = Tls::new(true);
            // The first handshake is full; it leaves the ticket the first
            // resumed one uses, and each resumed one leaves the next.
            let (first, _) = resuming.handshake();
            check(&first, HandshakeKind::Full);
            Box::new(move || {
                let (client, server) = resuming.handshake();
                // Not resumed would be a full handshake measured under the
                // wrong name; checking costs a comparison.
                assert_eq!(client.handshake_kind(), Some(HandshakeKind::Resumed));
                black_box((client, server));
            })
        }
        "rustls_encrypt_64k" => {
            let mut bulk = Bulk::new(64 * 1024);
            Box::new(move || {
                black_box(bulk.encrypt());
            })
        }
        "snow_handshake_xx" => {
            let noise = Noise::new();
            Box::new(move || {
                black_box(noise.handshake());
            })
        }
        "raw_chacha20poly1305_64k" => {
            let mut raw = RawAead::new(&aws_lc_rs::aead::CHACHA20_POLY1305, 64 * 1024);
            Box::new(move || {
                let _ = black_box(raw.seal());
            })
        }
        "raw_aes256gcm_64k" => {
            let mut raw = RawAead::new(&aws_lc_rs::aead::AES_256_GCM, 64 * 1024);
            Box::new(move || {
                let _ = black_box(raw.seal());
            })
        }
        _ => return None,
    })
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers");
    for name in ZP.iter().chain(PEERS) {
        // Set up only when criterion runs it: a measurement runs one
        // benchmark per process, and the others' setups (certificates,
        // handshakes) would cost every start.
        let mut routine: Option<Box<dyn FnMut()>> = None;
        g.bench_function(*name, |b| {
            let r =
                routine.get_or_insert_with(|| setup(name).expect("every listed benchmark sets up"));
            b.iter(r)
        });
    }
    g.finish();
}

/// Runs `routine` `iters` times. Never inlined, so that callgrind can
/// collect exactly this function's instructions; its name is the probe
/// protocol's `MARKER`.
#[inline(never)]
fn zp_probe_measured(routine: &mut dyn FnMut(), iters: u64) {
    for _ in 0..iters {
        routine();
    }
}

/// `ZP_PEERS_COUNT=<name>:<iters>`: one untimed call (lazy initialisation,
/// CPU feature detection), then the counted ones.
fn count(spec: &str) -> std::process::ExitCode {
    let parsed = spec
        .split_once(':')
        .and_then(|(name, iters)| Some((name, iters.parse::<u64>().ok()?)));
    let Some((name, iters)) = parsed else {
        eprintln!("ZP_PEERS_COUNT must be <benchmark>:<iterations>, not {spec:?}");
        return std::process::ExitCode::from(2);
    };
    let Some(mut routine) = setup(name) else {
        eprintln!("no peer benchmark named {name:?}");
        return std::process::ExitCode::from(2);
    };
    routine();
    zp_probe_measured(&mut routine, iters);
    std::process::ExitCode::SUCCESS
}

fn main() -> std::process::ExitCode {
    if let Ok(spec) = std::env::var("ZP_PEERS_COUNT") {
        return count(&spec);
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    std::process::ExitCode::SUCCESS
}
