//! Published test vectors for every primitive behind zp's crypto provider:
//! RFC 7748 (X25519), RFC 5869 (HKDF-SHA256), RFC 8439 (ChaCha20-Poly1305),
//! the GCM specification's AES-256 case (McGrew & Viega, test case 16),
//! FIPS 180-2 (SHA-256), XXH64's reference values from zp-protocol.md and
//! TEST_VECTORS.md §1.4's P-256 key agreement.
//! Every vector runs under every provider the build contains.

use zp::crypto::{
    AeadAlgorithm, AeadKey, EcdhSecret, Group, Key32, Provider, all_providers, xxh64,
};

/// Runs `check` once per provider, naming the provider if it fails.
fn each_provider(check: impl Fn(Provider)) {
    for p in all_providers() {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(*p)));
        if let Err(e) = result {
            panic!(
                "provider {}: {:?}",
                p.name(),
                e.downcast_ref::<String>()
                    .map(String::as_str)
                    .or(e.downcast_ref::<&str>().copied())
            );
        }
    }
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

fn a32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

#[test]
fn rfc7748_x25519() {
    each_provider(|p| {
        let alice = EcdhSecret::from_bytes(
            p,
            Group::X25519,
            &a32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        )
        .unwrap();
        assert_eq!(
            alice.public_key(),
            a32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        let bob_pub = a32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = alice.diffie_hellman(&bob_pub).unwrap();
        assert_eq!(
            shared.expose(),
            &a32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        );
    });
}

/// TEST_VECTORS.md §1.4 (ZP_CLASSICAL_2). The document says "RFC 5903"
/// but its d_A and Q_A are RFC 6979 §A.2.5's P-256 key; d_B is its own and
/// Q_B and the shared secret are left to compute. They are pinned here as
/// Python's `cryptography` (OpenSSL) computes them:
/// Q_B = (673a7f76…ed8cc20e, 24eff5bb…519d2500), shared x = ee91d7ed…fb88075a.
/// Q_A's y is odd, so the compact x-only share (RFC 6090 §4.2) stands for
/// −Q_A on the wire; the shared x coordinate is the same, which this checks.
#[test]
fn test_vectors_p256_ecdh() {
    each_provider(|p| {
        let alice = EcdhSecret::from_bytes(
            p,
            Group::P256,
            &a32("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"),
        )
        .unwrap();
        let bob = EcdhSecret::from_bytes(
            p,
            Group::P256,
            &a32("9f0a71e24c4f84e6b7f8c3a5d2e9f1b0c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"),
        )
        .unwrap();
        assert_eq!(
            alice.public_key(),
            a32("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6")
        );
        assert_eq!(
            bob.public_key(),
            a32("673a7f769c2776dcc4a0a055574aafe7c80f0a1132cabe81ea0f5b79ed8cc20e")
        );
        let shared = a32("ee91d7edf645f6f2ebd20819269eb79c9c105f868487fbd4eca99ff2fb88075a");
        assert_eq!(
            alice.diffie_hellman(&bob.public_key()).unwrap().expose(),
            &shared
        );
        assert_eq!(
            bob.diffie_hellman(&alice.public_key()).unwrap().expose(),
            &shared
        );
    });
}

#[test]
fn rfc5869_hkdf_sha256_case_1() {
    each_provider(|p| {
        let ikm = [0x0b; 22];
        let salt = h("000102030405060708090a0b0c");
        let info = h("f0f1f2f3f4f5f6f7f8f9");
        let mut okm = [0u8; 42];
        p.hkdf_sha256(&ikm, &salt, &info, &mut okm);
        assert_eq!(
            okm.to_vec(),
            h(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            )
        );
    });
}

#[test]
fn rfc8439_chacha20_poly1305_aead() {
    each_provider(|p| {
        // RFC 8439 section 2.8.2.
        let key = Key32::new(a32(
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        ));
        let nonce: [u8; 12] = h("070000004041424344454647").try_into().unwrap();
        let aad = h("50515253c0c1c2c3c4c5c6c7");
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let expected_ct = h(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
        3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
        92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
        3ff4def08e4b7a9de576d26586cec64b6116",
        );
        let expected_tag = h("1ae10b594f09e26a7e902ecbd0600691");
        let k = AeadKey::with_provider(p, AeadAlgorithm::ChaCha20Poly1305, &key);
        let mut buf = plaintext.to_vec();
        let tag = k.seal_in_place(&nonce, &aad, &mut buf).unwrap();
        assert_eq!(buf, expected_ct);
        assert_eq!(tag.to_vec(), expected_tag);
        k.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, plaintext);
    });
}

/// zp seals ChaCha20-Poly1305 through a vendored universal-hash that feeds
/// Poly1305's AVX2 backend in aligned groups (vendor/universal-hash/PATCHED.md).
/// Every AAD length that leaves 0 to 3 blocks cached, with payloads around the
/// 64-byte group boundaries, must give the bytes and tag of chacha20poly1305
/// 0.10, whose universal-hash 0.5 is not patched.
#[test]
fn chacha20_poly1305_matches_an_unpatched_implementation() {
    each_provider(|p| {
        use chacha20poly1305_ref::aead::{AeadInPlace, KeyInit};
        let key = a32("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
        let nonce: [u8; 12] = h("000000000102030405060708").try_into().unwrap();
        let ours = AeadKey::with_provider(p, AeadAlgorithm::ChaCha20Poly1305, &Key32::new(key));
        let reference = chacha20poly1305_ref::ChaCha20Poly1305::new(&key.into());
        let payload_lengths = [
            0, 1, 15, 16, 17, 48, 63, 64, 65, 127, 128, 129, 200, 1024, 65536,
        ];
        let mut checked = 0;
        for aad_len in 0..=80 {
            let aad: Vec<u8> = (0..aad_len).map(|i| (i * 7 + 3) as u8).collect();
            for &len in &payload_lengths {
                let plaintext: Vec<u8> = (0..len).map(|i| (i * 13 + aad_len) as u8).collect();
                let mut mine = plaintext.clone();
                let tag = ours.seal_in_place(&nonce, &aad, &mut mine).unwrap();
                let mut theirs = plaintext.clone();
                let ref_tag = reference
                    .encrypt_in_place_detached(&nonce.into(), &aad, &mut theirs)
                    .unwrap();
                assert_eq!(mine, theirs, "ciphertext, aad {aad_len} B, payload {len} B");
                assert_eq!(
                    &tag[..],
                    &ref_tag[..],
                    "tag, aad {aad_len} B, payload {len} B"
                );
                ours.open_in_place(&nonce, &aad, &mut mine, &tag).unwrap();
                assert_eq!(mine, plaintext);
                checked += 1;
            }
        }
        assert_eq!(checked, 81 * payload_lengths.len());
    });
}

#[test]
fn gcm_spec_aes256_test_case_16() {
    each_provider(|p| {
        let key = Key32::new(a32(
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        ));
        let nonce: [u8; 12] = h("cafebabefacedbaddecaf888").try_into().unwrap();
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let plaintext = h(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let expected_ct = h(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
        8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        );
        let expected_tag = h("76fc6ece0f4e1768cddf8853bb2d551b");
        let k = AeadKey::with_provider(p, AeadAlgorithm::Aes256Gcm, &key);
        let mut buf = plaintext.clone();
        let tag = k.seal_in_place(&nonce, &aad, &mut buf).unwrap();
        assert_eq!(buf, expected_ct);
        assert_eq!(tag.to_vec(), expected_tag);
        let mut bad_tag = tag;
        bad_tag[0] ^= 1;
        assert_eq!(
            k.open_in_place(&nonce, &aad, &mut buf.clone(), &bad_tag),
            Err(zp::Error::Authentication)
        );
        k.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, plaintext);
    });
}

#[test]
fn fips180_sha256_abc() {
    each_provider(|p| {
        assert_eq!(
            p.sha256(&[b"a", b"bc"]),
            a32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    });
}

#[test]
fn xxh64_reference_values() {
    assert_eq!(xxh64(b"", 0), 0xef46db3751d8e999);
    // zp-protocol.md gives 0x7b06a531ade10bd5 here, but twox-hash,
    // xxhash-rust and a from-the-spec reimplementation all compute
    // 0xc49aacf8080fe47f for XXH64("Hello, World!", seed 0); the document's
    // value is wrong (reported upstream), the algorithm is not.
    assert_eq!(xxh64(b"Hello, World!", 0), 0xc49aacf8080fe47f);
}
