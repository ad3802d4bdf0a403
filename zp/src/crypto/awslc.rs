//! The fast backend (cargo feature `aws-lc`): aws-lc-rs, AWS's libcrypto
//! with assembly for this CPU's AES-NI, CLMUL, AVX2 and AVX-512 paths.
//!
//! Two differences from the RustCrypto backend, both deliberate:
//! - ML-KEM key generation and encapsulation draw their randomness from
//!   aws-lc's own DRBG (aws-lc-rs offers no way to supply it), so the RNG
//!   zp passes in is not used for them; X25519 keys still come from it.
//! - An AEAD key's expanded schedule lives in aws-lc's C context, which
//!   `heap_bytes` cannot see; it reports the Rust-side object only.

use super::{AeadAlgorithm, KemAlgorithm, Key32, NONCE_LEN, TAG_LEN};
use crate::error::Error;
use aws_lc_rs::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768, ML_KEM_1024};
use aws_lc_rs::{digest, hkdf};

pub(super) struct AeadKey {
    key: LessSafeKey,
    algorithm: AeadAlgorithm,
}

impl AeadKey {
    pub(super) fn new(algorithm: AeadAlgorithm, key: &[u8; 32]) -> Self {
        let alg = match algorithm {
            AeadAlgorithm::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            AeadAlgorithm::Aes256Gcm => &AES_256_GCM,
        };
        // Both algorithms take 32-byte keys, so this cannot fail.
        let unbound = UnboundKey::new(alg, key).expect("a 32-byte key for a 256-bit AEAD");
        AeadKey {
            key: LessSafeKey::new(unbound),
            algorithm,
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        size_of::<LessSafeKey>()
    }

    pub(super) fn algorithm(&self) -> AeadAlgorithm {
        self.algorithm
    }

    pub(super) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
            // Only over-long inputs fail, and records are capped at 16 MiB.
            .map_err(|_| Error::InvalidLength {
                what: "AEAD input",
                got: buf.len(),
            })?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    pub(super) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        self.key
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                tag,
                buf,
            )
            .map(|_| ())
            .map_err(|_| Error::Authentication)
    }
}

pub(super) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// An output length for aws-lc-rs's HKDF, which types its outputs.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

pub(super) fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    prk.expand(&info, Len(okm.len()))
        .and_then(|o| o.fill(okm))
        .expect("HKDF-SHA256 output of at most 255 * 32 bytes");
}

pub(super) struct X25519Secret(PrivateKey);

impl X25519Secret {
    pub(super) fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        X25519Secret::from_bytes(super::random_array(rng))
    }

    pub(super) fn from_bytes(bytes: [u8; 32]) -> Self {
        // Any 32 bytes are an X25519 scalar (clamped inside aws-lc).
        X25519Secret(
            PrivateKey::from_private_key(&X25519, &bytes).expect("32 bytes are an X25519 key"),
        )
    }

    pub(super) fn public_key(&self) -> [u8; 32] {
        let public = self.0.compute_public_key().expect("X25519 public key");
        let mut out = [0u8; 32];
        out.copy_from_slice(public.as_ref());
        out
    }

    pub(super) fn diffie_hellman(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        // aws-lc refuses the all-zero result of a low-order peer key (RFC 7748
        // section 6.1), as the RustCrypto backend does by hand.
        agreement::agree(
            &self.0,
            UnparsedPublicKey::new(&X25519, peer),
            Error::WeakKeyExchange,
            |shared| {
                let mut out = zeroize::Zeroizing::new([0u8; 32]);
                out.copy_from_slice(shared);
                if *out == [0u8; 32] {
                    Err(Error::WeakKeyExchange)
                } else {
                    Ok(Key32::new(*out))
                }
            },
        )
    }
}

pub(super) struct KemSecret {
    key: DecapsulationKey,
    algorithm: KemAlgorithm,
}

fn kem_alg(algorithm: KemAlgorithm) -> &'static aws_lc_rs::kem::Algorithm {
    match algorithm {
        KemAlgorithm::MlKem768 => &ML_KEM_768,
        KemAlgorithm::MlKem1024 => &ML_KEM_1024,
    }
}

impl KemSecret {
    pub(super) fn algorithm(&self) -> KemAlgorithm {
        self.algorithm
    }

    pub(super) fn generate(
        algorithm: KemAlgorithm,
        _rng: &mut impl rand_core::CryptoRng,
        public_out: &mut Vec<u8>,
    ) -> Self {
        let key = DecapsulationKey::generate(kem_alg(algorithm)).expect("ML-KEM key generation");
        let public = key
            .encapsulation_key()
            .and_then(|e| e.key_bytes())
            .expect("ML-KEM public key");
        public_out.extend_from_slice(public.as_ref());
        KemSecret { key, algorithm }
    }

    pub(super) fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
        if ciphertext.len() != self.algorithm.ciphertext_len() {
            return Err(Error::InvalidLength {
                what: "ML-KEM ciphertext",
                got: ciphertext.len(),
            });
        }
        // Implicit rejection: a forged ciphertext of the right length yields
        // an unrelated secret, never an error.
        let ss = self
            .key
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| Error::Authentication)?;
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        out.copy_from_slice(ss.as_ref());
        Ok(Key32::new(*out))
    }
}

pub(super) fn kem_encapsulate(
    algorithm: KemAlgorithm,
    public_key: &[u8],
    _rng: &mut impl rand_core::CryptoRng,
    ciphertext_out: &mut Vec<u8>,
) -> Result<Key32, Error> {
    if public_key.len() != algorithm.public_key_len() {
        return Err(Error::InvalidLength {
            what: "ML-KEM public key",
            got: public_key.len(),
        });
    }
    let ek = EncapsulationKey::new(kem_alg(algorithm), public_key).map_err(|_| {
        Error::InvalidLength {
            what: "ML-KEM public key",
            got: public_key.len(),
        }
    })?;
    let (ct, ss) = ek.encapsulate().map_err(|_| Error::Randomness)?;
    ciphertext_out.extend_from_slice(ct.as_ref());
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ss.as_ref());
    Ok(Key32::new(*out))
}
