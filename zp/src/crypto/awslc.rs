//! The fast backend (cargo feature `aws-lc`): aws-lc-rs, AWS's libcrypto
//! with assembly for this CPU's AES-NI, CLMUL, AVX2 and AVX-512 paths.
//!
//! Two differences from the RustCrypto backend, both deliberate:
//! - ML-KEM key generation and encapsulation draw their randomness from
//!   aws-lc's own DRBG (aws-lc-rs offers no way to supply it), so the RNG
//!   zp passes in is not used for them; X25519 keys still come from it.
//! - An AEAD key's expanded schedule lives in aws-lc's C context, which
//!   `heap_bytes` cannot see; it reports the Rust-side object only.

use super::{
    AeadAlgorithm, AeadCipher, Agreement, CryptoProvider, Decapsulator, DynRng, Group,
    KemAlgorithm, Key32, NONCE_LEN, TAG_LEN,
};
use crate::error::Error;
use aws_lc_rs::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768, ML_KEM_1024};
use aws_lc_rs::{digest, hkdf};

/// The aws-lc provider (see [`super::aws_lc()`]).
#[derive(Debug)]
pub(super) struct AwsLc;

impl CryptoProvider for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc"
    }

    fn aead(&self, algorithm: AeadAlgorithm, key: &[u8; 32]) -> Box<dyn AeadCipher> {
        Box::new(AeadKey::new(algorithm, key))
    }

    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
        let info = [info];
        prk.expand(&info, Len(okm.len()))
            .and_then(|o| o.fill(okm))
            .expect("HKDF-SHA256 output of at most 255 * 32 bytes");
    }

    fn agreement(&self, group: Group, secret: &[u8; 32]) -> Result<Box<dyn Agreement>, Error> {
        let alg = match group {
            Group::X25519 => &X25519,
            Group::P256 => &ECDH_P256,
        };
        // Any 32 bytes are an X25519 scalar (clamped inside aws-lc); a P-256
        // scalar of 0 or not below the order is refused.
        let key = PrivateKey::from_private_key(alg, secret).map_err(|_| Error::WeakKeyExchange)?;
        Ok(Box::new(EcdhKey { key, group }))
    }

    fn kem_generate(
        &self,
        algorithm: KemAlgorithm,
        _rng: &mut DynRng<'_>,
        public_out: &mut Vec<u8>,
    ) -> Box<dyn Decapsulator> {
        let key = DecapsulationKey::generate(kem_alg(algorithm)).expect("ML-KEM key generation");
        let public = key
            .encapsulation_key()
            .and_then(|e| e.key_bytes())
            .expect("ML-KEM public key");
        public_out.extend_from_slice(public.as_ref());
        Box::new(KemSecret { key, algorithm })
    }

    fn kem_encapsulate(
        &self,
        algorithm: KemAlgorithm,
        public_key: &[u8],
        _rng: &mut DynRng<'_>,
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
        // aws-lc runs FIPS 203 §7.2's input check here: what fails is a
        // key with coefficients not reduced mod q (its RNG does not fail).
        let (ct, ss) = ek
            .encapsulate()
            .map_err(|_| Error::InvalidValue(super::rustcrypto::NOT_REDUCED))?;
        ciphertext_out.extend_from_slice(ct.as_ref());
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        out.copy_from_slice(ss.as_ref());
        Ok(Key32::new(*out))
    }
}

struct AeadKey {
    key: LessSafeKey,
    algorithm: AeadAlgorithm,
}

impl AeadKey {
    fn new(algorithm: AeadAlgorithm, key: &[u8; 32]) -> Self {
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
}

impl AeadCipher for AeadKey {
    fn provider(&self) -> super::Provider {
        &AwsLc
    }

    fn heap_bytes(&self) -> usize {
        size_of::<Self>()
    }

    fn algorithm(&self) -> AeadAlgorithm {
        self.algorithm
    }

    #[inline]
    fn seal_in_place(
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

    #[inline]
    fn open_in_place(
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

/// An output length for aws-lc-rs's HKDF, which types its outputs.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// An X25519 or P-256 private key.
struct EcdhKey {
    key: PrivateKey,
    group: Group,
}

impl Agreement for EcdhKey {
    fn public_key(&self) -> [u8; 32] {
        let public = self.key.compute_public_key().expect("a public key");
        let bytes = public.as_ref();
        let mut out = [0u8; 32];
        match self.group {
            Group::X25519 => out.copy_from_slice(bytes),
            // Uncompressed SEC1: 0x04 || x || y; the hello carries x.
            Group::P256 => out.copy_from_slice(&bytes[1..33]),
        }
        out
    }

    fn agree(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        let mut sec1 = [0u8; 33];
        let (alg, peer): (_, &[u8]) = match self.group {
            Group::X25519 => (&X25519, peer),
            Group::P256 => {
                // The compact representation (RFC 6090 §4.2): the point with
                // this x and even y, parsed and checked on the curve by aws-lc.
                sec1[0] = 0x02;
                sec1[1..].copy_from_slice(peer);
                (&ECDH_P256, &sec1)
            }
        };
        // aws-lc refuses an off-curve P-256 point and the all-zero result of
        // a low-order X25519 key (RFC 7748 section 6.1), as the RustCrypto
        // provider does.
        agreement::agree(
            &self.key,
            UnparsedPublicKey::new(alg, peer),
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

struct KemSecret {
    key: DecapsulationKey,
    algorithm: KemAlgorithm,
}

fn kem_alg(algorithm: KemAlgorithm) -> &'static aws_lc_rs::kem::Algorithm {
    match algorithm {
        KemAlgorithm::MlKem768 => &ML_KEM_768,
        KemAlgorithm::MlKem1024 => &ML_KEM_1024,
    }
}

impl Decapsulator for KemSecret {
    fn algorithm(&self) -> KemAlgorithm {
        self.algorithm
    }

    fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
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
