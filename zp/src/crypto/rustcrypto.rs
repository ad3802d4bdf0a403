//! The default backend: RustCrypto and dalek crates, pure Rust and portable
//! (x25519-dalek, ml-kem, chacha20poly1305, aes-gcm, hkdf, sha2, twox-hash).
//!
//! Each AEAD keeps its expanded key schedule (the cipher object) so that a
//! record costs only the encryption itself.

use super::{AeadAlgorithm, KemAlgorithm, Key32, NONCE_LEN, TAG_LEN};
use crate::error::Error;
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{EncodedSizeUser, KemCore, MlKem768, MlKem1024};
use sha2::{Digest, Sha256};

pub(super) enum AeadKey {
    ChaCha(Box<ChaCha20Poly1305>),
    Aes(Box<Aes256Gcm>),
}

impl AeadKey {
    pub(super) fn new(algorithm: AeadAlgorithm, key: &[u8; 32]) -> Self {
        match algorithm {
            AeadAlgorithm::ChaCha20Poly1305 => {
                AeadKey::ChaCha(Box::new(ChaCha20Poly1305::new(&(*key).into())))
            }
            AeadAlgorithm::Aes256Gcm => AeadKey::Aes(Box::new(Aes256Gcm::new(&(*key).into()))),
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            AeadKey::ChaCha(_) => size_of::<ChaCha20Poly1305>(),
            AeadKey::Aes(_) => size_of::<Aes256Gcm>(),
        }
    }

    pub(super) fn algorithm(&self) -> AeadAlgorithm {
        match self {
            AeadKey::ChaCha(_) => AeadAlgorithm::ChaCha20Poly1305,
            AeadKey::Aes(_) => AeadAlgorithm::Aes256Gcm,
        }
    }

    pub(super) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        let nonce = (*nonce).into();
        let tag = match self {
            AeadKey::ChaCha(c) => c.encrypt_inout_detached(&nonce, aad, buf.into()),
            AeadKey::Aes(c) => c.encrypt_inout_detached(&nonce, aad, buf.into()),
        }
        // Only over-long inputs fail, and records are capped at 16 MiB.
        .map_err(|_| Error::InvalidLength {
            what: "AEAD input",
            got: buf.len(),
        })?;
        Ok(tag.into())
    }

    pub(super) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        let nonce = (*nonce).into();
        let tag = (*tag).into();
        match self {
            AeadKey::ChaCha(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            AeadKey::Aes(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
        }
        .map_err(|_| Error::Authentication)
    }
}

pub(super) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

pub(super) fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) {
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .expect("zp never asks HKDF-SHA256 for more than 255 blocks");
}

pub(super) struct X25519Secret(x25519_dalek::StaticSecret);

impl X25519Secret {
    pub(super) fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        X25519Secret(x25519_dalek::StaticSecret::random_from_rng(rng))
    }

    pub(super) fn from_bytes(bytes: [u8; 32]) -> Self {
        X25519Secret(x25519_dalek::StaticSecret::from(bytes))
    }

    pub(super) fn public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.0).to_bytes()
    }

    pub(super) fn diffie_hellman(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        let shared = self.0.diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
        // RFC 7748 section 6.1: check for the all-zero output of a low-order point.
        if !shared.was_contributory() {
            return Err(Error::WeakKeyExchange);
        }
        let bytes = zeroize::Zeroizing::new(shared.to_bytes());
        Ok(Key32::new(*bytes))
    }
}

/// ml-kem 0.2 takes a rand_core 0.6 RNG; this forwards to zp's rand_core 0.10 one.
struct Rng06<'a, R: rand_core::CryptoRng>(&'a mut R);

impl<R: rand_core::CryptoRng> rand_core_06::RngCore for Rng06<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl<R: rand_core::CryptoRng> rand_core_06::CryptoRng for Rng06<'_, R> {}

type Dk768 = <MlKem768 as KemCore>::DecapsulationKey;
type Dk1024 = <MlKem1024 as KemCore>::DecapsulationKey;
type Ek768 = <MlKem768 as KemCore>::EncapsulationKey;
type Ek1024 = <MlKem1024 as KemCore>::EncapsulationKey;

pub(super) enum KemSecret {
    MlKem768(Box<Dk768>),
    MlKem1024(Box<Dk1024>),
}

impl KemSecret {
    pub(super) fn algorithm(&self) -> KemAlgorithm {
        match self {
            KemSecret::MlKem768(_) => KemAlgorithm::MlKem768,
            KemSecret::MlKem1024(_) => KemAlgorithm::MlKem1024,
        }
    }

    pub(super) fn generate(
        algorithm: KemAlgorithm,
        rng: &mut impl rand_core::CryptoRng,
        public_out: &mut Vec<u8>,
    ) -> Self {
        let mut rng = Rng06(rng);
        match algorithm {
            KemAlgorithm::MlKem768 => {
                let (dk, ek) = MlKem768::generate(&mut rng);
                public_out.extend_from_slice(&ek.as_bytes());
                KemSecret::MlKem768(Box::new(dk))
            }
            KemAlgorithm::MlKem1024 => {
                let (dk, ek) = MlKem1024::generate(&mut rng);
                public_out.extend_from_slice(&ek.as_bytes());
                KemSecret::MlKem1024(Box::new(dk))
            }
        }
    }

    pub(super) fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
        let bad_len = || Error::InvalidLength {
            what: "ML-KEM ciphertext",
            got: ciphertext.len(),
        };
        // ML-KEM decapsulation is implicit-rejection: a forged ciphertext of
        // the right length yields an unrelated secret, never an error.
        let ss = match self {
            KemSecret::MlKem768(dk) => {
                let ct = ciphertext.try_into().map_err(|_| bad_len())?;
                dk.decapsulate(ct).map_err(|_| Error::Authentication)?
            }
            KemSecret::MlKem1024(dk) => {
                let ct = ciphertext.try_into().map_err(|_| bad_len())?;
                dk.decapsulate(ct).map_err(|_| Error::Authentication)?
            }
        };
        Ok(take_shared_key(ss))
    }
}

/// ml-kem's shared key is a plain array (its `Zeroize` is behind a feature
/// of hybrid-array that ml-kem 0.2 does not enable): copied into a key,
/// then wiped.
fn take_shared_key(mut ss: impl AsRef<[u8]> + AsMut<[u8]>) -> Key32 {
    use zeroize::Zeroize;
    let key = Key32::new(ss.as_ref().try_into().expect("ML-KEM shares 32 bytes"));
    ss.as_mut().zeroize();
    key
}

pub(super) fn kem_encapsulate(
    algorithm: KemAlgorithm,
    public_key: &[u8],
    rng: &mut impl rand_core::CryptoRng,
    ciphertext_out: &mut Vec<u8>,
) -> Result<Key32, Error> {
    let bad_len = || Error::InvalidLength {
        what: "ML-KEM public key",
        got: public_key.len(),
    };
    let mut rng = Rng06(rng);
    let ss = match algorithm {
        KemAlgorithm::MlKem768 => {
            let ek = Ek768::from_bytes(public_key.try_into().map_err(|_| bad_len())?);
            let (ct, ss) = ek.encapsulate(&mut rng).map_err(|_| Error::Randomness)?;
            ciphertext_out.extend_from_slice(&ct);
            ss
        }
        KemAlgorithm::MlKem1024 => {
            let ek = Ek1024::from_bytes(public_key.try_into().map_err(|_| bad_len())?);
            let (ct, ss) = ek.encapsulate(&mut rng).map_err(|_| Error::Randomness)?;
            ciphertext_out.extend_from_slice(&ct);
            ss
        }
    };
    Ok(take_shared_key(ss))
}
