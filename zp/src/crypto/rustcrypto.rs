//! The default provider: pure Rust and portable. RustCrypto and dalek
//! crates (x25519-dalek, p256, chacha20poly1305, aes-gcm, hkdf, sha2), and
//! for ML-KEM libcrux-ml-kem (Cryspen's formally verified implementation,
//! AVX2 where the CPU has it, detected at run time): 2-4x faster here than
//! RustCrypto's ml-kem 0.2, which made zp's portable handshake slower than
//! rustls's hybrid one (see docs/src/zp/peers.md).
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
use libcrux_ml_kem::{mlkem768, mlkem1024};
use rand_core::Rng as _;
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
        // FIPS 203 key generation from its seed d || z.
        let mut seed = zeroize::Zeroizing::new([0u8; 64]);
        rng.fill_bytes(&mut seed[..]);
        match algorithm {
            KemAlgorithm::MlKem768 => {
                let (sk, pk) = mlkem768::generate_key_pair(*seed).into_parts();
                public_out.extend_from_slice(pk.as_slice());
                Box::new(MlKem768Secret(zeroize::Zeroizing::new(sk.into())))
            }
            KemAlgorithm::MlKem1024 => {
                let (sk, pk) = mlkem1024::generate_key_pair(*seed).into_parts();
                public_out.extend_from_slice(pk.as_slice());
                Box::new(MlKem1024Secret(zeroize::Zeroizing::new(sk.into())))
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
        // FIPS 203 §7.2's input check: every coefficient of the key below
        // q. A key that fails it is refused, as aws-lc refuses it.
        let not_a_key = || Error::InvalidValue(NOT_REDUCED);
        // FIPS 203's message m, drawn only for a key that passed the
        // checks (a refused key consumes nothing of a caller's RNG, as
        // with ml-kem 0.2.3).
        let mut m = zeroize::Zeroizing::new([0u8; 32]);
        let mut ss = match algorithm {
            KemAlgorithm::MlKem768 => {
                let pk =
                    mlkem768::MlKem768PublicKey::try_from(public_key).map_err(|_| bad_len())?;
                if !mlkem768::validate_public_key(&pk) {
                    return Err(not_a_key());
                }
                rng.fill_bytes(&mut m[..]);
                let (ct, ss) = mlkem768::encapsulate(&pk, *m);
                ciphertext_out.extend_from_slice(ct.as_slice());
                ss
            }
            KemAlgorithm::MlKem1024 => {
                let pk =
                    mlkem1024::MlKem1024PublicKey::try_from(public_key).map_err(|_| bad_len())?;
                if !mlkem1024::validate_public_key(&pk) {
                    return Err(not_a_key());
                }
                rng.fill_bytes(&mut m[..]);
                let (ct, ss) = mlkem1024::encapsulate(&pk, *m);
                ciphertext_out.extend_from_slice(ct.as_slice());
                ss
            }
        };
        Ok(take_shared_key(&mut ss))
    }
}

/// What both providers say of an ML-KEM encapsulation key with a
/// coefficient not reduced mod q.
pub(super) const NOT_REDUCED: &str = "ML-KEM public key: a coefficient is not reduced mod q";

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

/// An ML-KEM-768 decapsulation key, as its encoding (libcrux's key type
/// does not wipe itself; the bytes here do).
struct MlKem768Secret(zeroize::Zeroizing<[u8; mlkem768::MlKem768PrivateKey::len()]>);
/// An ML-KEM-1024 decapsulation key, as its encoding.
struct MlKem1024Secret(zeroize::Zeroizing<[u8; mlkem1024::MlKem1024PrivateKey::len()]>);

/// Both ML-KEM decapsulation keys implement [`Decapsulator`].
macro_rules! decapsulator {
    ($ty:ident, $alg:expr, $kem:ident, $sk:ident, $ct:ident) => {
        impl Decapsulator for $ty {
            fn algorithm(&self) -> KemAlgorithm {
                $alg
            }

            fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
                let ct = $kem::$ct::try_from(ciphertext).map_err(|_| Error::InvalidLength {
                    what: "ML-KEM ciphertext",
                    got: ciphertext.len(),
                })?;
                // ML-KEM decapsulation is implicit-rejection: a forged
                // ciphertext of the right length yields an unrelated secret.
                let sk = $kem::$sk::from(&*self.0);
                let mut ss = $kem::decapsulate(&sk, &ct);
                // The key copy libcrux needed, wiped.
                let mut bytes: [u8; $kem::$sk::len()] = sk.into();
                zeroize::Zeroize::zeroize(&mut bytes);
                Ok(take_shared_key(&mut ss))
            }
        }
    };
}

decapsulator!(
    MlKem768Secret,
    KemAlgorithm::MlKem768,
    mlkem768,
    MlKem768PrivateKey,
    MlKem768Ciphertext
);
decapsulator!(
    MlKem1024Secret,
    KemAlgorithm::MlKem1024,
    mlkem1024,
    MlKem1024PrivateKey,
    MlKem1024Ciphertext
);

/// The shared secret copied into a key, then wiped.
fn take_shared_key(ss: &mut [u8; 32]) -> Key32 {
    use zeroize::Zeroize;
    let key = Key32::new(*ss);
    ss.zeroize();
    key
}
