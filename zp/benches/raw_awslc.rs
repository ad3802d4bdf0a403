//! The crypto benchmarks' operations as direct aws-lc-rs calls, without
//! zp's provider boundary (cargo feature `aws-lc`). Run next to the
//! `crypto` target under the same feature, each of its benchmarks divided
//! by the one of the same name here is what the provider adds.

use aws_lc_rs::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::hkdf;
use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768};
use criterion::Criterion;
use std::hint::black_box;

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn aead(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    alg: &'static aws_lc_rs::aead::Algorithm,
    len: usize,
) {
    let key = LessSafeKey::new(UnboundKey::new(alg, &[0x42; 32]).unwrap());
    let mut buf = vec![0x5a; len];
    c.bench_function(name, |b| {
        b.iter(|| {
            black_box(
                key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key([0; 12]),
                    Aad::empty(),
                    black_box(&mut buf),
                )
                .unwrap(),
            )
        })
    });
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("raw_awslc");
    g.bench_function("x25519_keygen", |b| {
        b.iter(|| {
            black_box(
                PrivateKey::generate(&X25519)
                    .unwrap()
                    .compute_public_key()
                    .unwrap(),
            )
        })
    });
    let secret = PrivateKey::generate(&X25519).unwrap();
    let peer = PrivateKey::generate(&X25519)
        .unwrap()
        .compute_public_key()
        .unwrap();
    let peer: Vec<u8> = peer.as_ref().to_vec();
    g.bench_function("x25519_dh", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            agreement::agree(
                &secret,
                UnparsedPublicKey::new(&X25519, black_box(&peer)),
                (),
                |s| {
                    out.copy_from_slice(s);
                    Ok(())
                },
            )
            .unwrap();
            black_box(out)
        })
    });
    g.bench_function("mlkem768_keygen", |b| {
        b.iter(|| {
            let dk = DecapsulationKey::generate(&ML_KEM_768).unwrap();
            black_box(dk.encapsulation_key().unwrap().key_bytes().unwrap());
            black_box(dk)
        })
    });
    let dk = DecapsulationKey::generate(&ML_KEM_768).unwrap();
    let pk: Vec<u8> = dk
        .encapsulation_key()
        .unwrap()
        .key_bytes()
        .unwrap()
        .as_ref()
        .to_vec();
    g.bench_function("mlkem768_encap", |b| {
        b.iter(|| {
            black_box(
                EncapsulationKey::new(&ML_KEM_768, black_box(&pk))
                    .unwrap()
                    .encapsulate()
                    .unwrap(),
            )
        })
    });
    let (ct, _) = EncapsulationKey::new(&ML_KEM_768, &pk)
        .unwrap()
        .encapsulate()
        .unwrap();
    let ct: Vec<u8> = ct.as_ref().to_vec();
    g.bench_function("mlkem768_decap", |b| {
        b.iter(|| {
            black_box(
                dk.decapsulate(Ciphertext::from(black_box(&ct[..])))
                    .unwrap(),
            )
        })
    });
    aead(
        &mut g,
        "chacha20poly1305_encrypt_1k",
        &CHACHA20_POLY1305,
        1024,
    );
    aead(
        &mut g,
        "chacha20poly1305_encrypt_64k",
        &CHACHA20_POLY1305,
        64 * 1024,
    );
    aead(&mut g, "aes256gcm_encrypt_1k", &AES_256_GCM, 1024);
    aead(&mut g, "aes256gcm_encrypt_64k", &AES_256_GCM, 64 * 1024);
    let (ikm, salt) = ([0x11u8; 64], [0x22u8; 64]);
    g.bench_function("hkdf_derive", |b| {
        b.iter(|| {
            let mut okm = [0u8; 64];
            hkdf::Salt::new(hkdf::HKDF_SHA256, &salt)
                .extract(black_box(&ikm))
                .expand(&[b"zp-session-keys"], Len(64))
                .unwrap()
                .fill(&mut okm)
                .unwrap();
            black_box(okm)
        })
    });
    g.finish();
}

criterion::criterion_group!(group, benches);
criterion::criterion_main!(group);
