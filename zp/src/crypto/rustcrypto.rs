//! The default provider: RustCrypto and dalek crates, pure Rust and portable
//! (x25519-dalek, p256, ml-kem, chacha20poly1305, aes-gcm, hkdf, sha2).
//!
//! Each AEAD keeps its expanded key schedule (the cipher object) so that a
//! record costs only the encryption itself.

use super::{
    AeadAlgorithm, AeadCipher, Agreement, CryptoProvider, Decapsulator, DynRng, Group,
    KemAlgorithm, Key32, NONCE_LEN, TAG_LEN,
};
use crate::error::Error;
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{EncodedSizeUser, KemCore, MlKem768, MlKem1024};
use sha2::{Digest, Sha256};

/// The RustCrypto provider (see [`super::rustcrypto()`]).
#[derive(Debug)]
pub(super) struct RustCrypto;

impl CryptoProvider for RustCrypto {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn aead(&self, algorithm: AeadAlgorithm, key: &[u8; 32]) -> Box<dyn AeadCipher> {
        match algorithm {
            AeadAlgorithm::ChaCha20Poly1305 => Box::new(ChaCha20Poly1305::new(&(*key).into())),
            AeadAlgorithm::Aes256Gcm => Box::new(Aes256Gcm::new(&(*key).into())),
        }
    }

    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) {
        hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
            .expand(info, okm)
            .expect("zp never asks HKDF-SHA256 for more than 255 blocks");
    }

    fn agreement(&self, group: Group, secret: &[u8; 32]) -> Result<Box<dyn Agreement>, Error> {
        Ok(match group {
            Group::X25519 => Box::new(X25519Secret(x25519_dalek::StaticSecret::from(*secret))),
            Group::P256 => Box::new(P256Secret(
                p256::SecretKey::from_bytes(&(*secret).into())
                    .map_err(|_| Error::WeakKeyExchange)?,
            )),
        })
    }

    fn kem_generate(
        &self,
        algorithm: KemAlgorithm,
        rng: &mut DynRng<'_>,
        public_out: &mut Vec<u8>,
    ) -> Box<dyn Decapsulator> {
        let mut rng = Rng06(rng);
        match algorithm {
            KemAlgorithm::MlKem768 => {
                let (dk, ek) = MlKem768::generate(&mut rng);
                public_out.extend_from_slice(&ek.as_bytes());
                Box::new(MlKem768Secret(dk))
            }
            KemAlgorithm::MlKem1024 => {
                let (dk, ek) = MlKem1024::generate(&mut rng);
                public_out.extend_from_slice(&ek.as_bytes());
                Box::new(MlKem1024Secret(dk))
            }
        }
    }

    fn kem_encapsulate(
        &self,
        algorithm: KemAlgorithm,
        public_key: &[u8],
        rng: &mut DynRng<'_>,
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
}

/// Both AEADs implement [`AeadCipher`] through the `aead` crate's traits.
macro_rules! aead_cipher {
    ($ty:ty, $alg:expr) => {
        impl AeadCipher for $ty {
            fn provider(&self) -> super::Provider {
                &RustCrypto
            }

            fn algorithm(&self) -> AeadAlgorithm {
                $alg
            }

            fn heap_bytes(&self) -> usize {
                size_of::<$ty>()
            }

            #[inline]
            fn seal_in_place(
                &self,
                nonce: &[u8; NONCE_LEN],
                aad: &[u8],
                buf: &mut [u8],
            ) -> Result<[u8; TAG_LEN], Error> {
                let len = buf.len();
                self.encrypt_inout_detached(&(*nonce).into(), aad, buf.into())
                    .map(Into::into)
                    // Only over-long inputs fail, and records are capped at 16 MiB.
                    .map_err(|_| Error::InvalidLength {
                        what: "AEAD input",
                        got: len,
                    })
            }

            #[inline]
            fn open_in_place(
                &self,
                nonce: &[u8; NONCE_LEN],
                aad: &[u8],
                buf: &mut [u8],
                tag: &[u8; TAG_LEN],
            ) -> Result<(), Error> {
                self.decrypt_inout_detached(&(*nonce).into(), aad, buf.into(), &(*tag).into())
                    .map_err(|_| Error::Authentication)
            }
        }
    };
}

aead_cipher!(ChaCha20Poly1305, AeadAlgorithm::ChaCha20Poly1305);
aead_cipher!(Aes256Gcm, AeadAlgorithm::Aes256Gcm);

struct X25519Secret(x25519_dalek::StaticSecret);

impl Agreement for X25519Secret {
    fn public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.0).to_bytes()
    }

    fn agree(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        let shared = self.0.diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
        // RFC 7748 section 6.1: check for the all-zero output of a low-order point.
        if !shared.was_contributory() {
            return Err(Error::WeakKeyExchange);
        }
        let bytes = zeroize::Zeroizing::new(shared.to_bytes());
        Ok(Key32::new(*bytes))
    }
}

/// A P-256 secret scalar (zeroized on drop by `elliptic-curve`).
struct P256Secret(p256::SecretKey);

impl Agreement for P256Secret {
    fn public_key(&self) -> [u8; 32] {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let point = self.0.public_key().to_sec1_point(false);
        let mut x = [0u8; 32];
        x.copy_from_slice(point.x().expect("a public key is not the identity"));
        x
    }

    fn agree(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        // The compact representation (RFC 6090 §4.2): the point with this x
        // and even y; off-curve x values are refused.
        let mut sec1 = [0u8; 33];
        sec1[0] = 0x02;
        sec1[1..].copy_from_slice(peer);
        let peer = p256::PublicKey::from_sec1_bytes(&sec1).map_err(|_| Error::WeakKeyExchange)?;
        let shared = self.0.diffie_hellman(&peer);
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(Key32::new(*out))
    }
}

/// ml-kem 0.2 takes a rand_core 0.6 RNG; this forwards to zp's rand_core 0.10 one.
struct Rng06<'a, R: rand_core::CryptoRng + ?Sized>(&'a mut R);

impl<R: rand_core::CryptoRng + ?Sized> rand_core_06::RngCore for Rng06<'_, R> {
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

impl<R: rand_core::CryptoRng + ?Sized> rand_core_06::CryptoRng for Rng06<'_, R> {}

type Dk768 = <MlKem768 as KemCore>::DecapsulationKey;
type Dk1024 = <MlKem1024 as KemCore>::DecapsulationKey;
type Ek768 = <MlKem768 as KemCore>::EncapsulationKey;
type Ek1024 = <MlKem1024 as KemCore>::EncapsulationKey;

/// An ML-KEM-768 decapsulation key.
struct MlKem768Secret(Dk768);
/// An ML-KEM-1024 decapsulation key.
struct MlKem1024Secret(Dk1024);

/// Both ML-KEM decapsulation keys implement [`Decapsulator`].
macro_rules! decapsulator {
    ($ty:ident, $alg:expr) => {
        impl Decapsulator for $ty {
            fn algorithm(&self) -> KemAlgorithm {
                $alg
            }

            fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
                let ct = ciphertext.try_into().map_err(|_| Error::InvalidLength {
                    what: "ML-KEM ciphertext",
                    got: ciphertext.len(),
                })?;
                // ML-KEM decapsulation is implicit-rejection: a forged
                // ciphertext of the right length yields an unrelated secret.
                let ss = self.0.decapsulate(ct).map_err(|_| Error::Authentication)?;
                Ok(take_shared_key(ss))
            }
        }
    };
}

decapsulator!(MlKem768Secret, KemAlgorithm::MlKem768);
decapsulator!(MlKem1024Secret, KemAlgorithm::MlKem1024);

/// ml-kem's shared key is a plain array (its `Zeroize` is behind a feature
/// of hybrid-array that ml-kem 0.2 does not enable): copied into a key,
/// then wiped.
fn take_shared_key(mut ss: impl AsRef<[u8]> + AsMut<[u8]>) -> Key32 {
    use zeroize::Zeroize;
    let key = Key32::new(ss.as_ref().try_into().expect("ML-KEM shares 32 bytes"));
    ss.as_mut().zeroize();
    key
}
