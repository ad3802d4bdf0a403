//! The crypto provider boundary. Frames, records, handshakes and tokens use
//! only the items of this module; the algorithms themselves come from a
//! backend module chosen at build time (today `rustcrypto`, pure Rust and
//! portable). A second backend implements the same functions and types and
//! is swapped in here, without touching any protocol code.
//!
//! Nothing here is hand-written cryptography: every primitive is a call into
//! a maintained crate (see the backend for which).

mod rustcrypto;
mod spake;

use rustcrypto as backend;

pub use spake::{PasswordSecret, VerifierRecord};
pub(crate) use spake::{SpakeProver, spake_verifier_respond};

use crate::error::Error;
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use rand_core::CryptoRng;

/// The operating system's random number generator, as the infallible
/// [`CryptoRng`] that zp's handshakes and tokens take.
pub type SystemRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// Returns the operating system's random number generator.
pub fn system_rng() -> SystemRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// `N` secret bytes: zeroized on drop, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret<const N: usize>([u8; N]);

impl<const N: usize> Secret<N> {
    /// Wraps bytes that must stay secret.
    pub fn new(bytes: [u8; N]) -> Self {
        Secret(bytes)
    }

    /// The secret bytes. Keep the borrow short.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret<{N}>(..)")
    }
}

/// A 32-byte key.
pub type Key32 = Secret<32>;

/// Fills an array with random bytes.
pub(crate) fn random_array<const N: usize>(rng: &mut impl CryptoRng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

// ---------------------------------------------------------------------------
// AEAD
// ---------------------------------------------------------------------------

/// The two AEADs of zp's cipher suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadAlgorithm {
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
    /// AES-256-GCM (NIST SP 800-38D).
    Aes256Gcm,
}

/// AEAD nonce length for both algorithms.
pub const NONCE_LEN: usize = 12;
/// AEAD tag length for both algorithms.
pub const TAG_LEN: usize = 16;

/// An AEAD key with its key schedule already expanded, so that sealing a
/// record does no per-call setup. Zeroized on drop by the backend.
pub struct AeadKey {
    inner: backend::AeadKey,
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AeadKey({:?}, ..)", self.algorithm())
    }
}

impl AeadKey {
    /// Expands `key` for `algorithm`.
    pub fn new(algorithm: AeadAlgorithm, key: &Key32) -> Self {
        AeadKey {
            inner: backend::AeadKey::new(algorithm, key.expose()),
        }
    }

    /// Heap bytes the expanded key schedule occupies.
    pub fn heap_bytes(&self) -> usize {
        self.inner.heap_bytes()
    }

    /// Which AEAD this key is for.
    pub fn algorithm(&self) -> AeadAlgorithm {
        self.inner.algorithm()
    }

    /// Encrypts `buf` in place and returns the detached tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        self.inner.seal_in_place(nonce, aad, buf)
    }

    /// Decrypts `buf` in place if `tag` authenticates it and `aad`; on
    /// failure `buf` is left unspecified and [`Error::Authentication`] is
    /// returned.
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        self.inner.open_in_place(nonce, aad, buf, tag)
    }
}

// ---------------------------------------------------------------------------
// Hashes and KDF
// ---------------------------------------------------------------------------

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    backend::sha256(parts)
}

/// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`, filling `okm`.
///
/// # Panics
/// Never for the lengths zp uses; `okm` longer than 255 * 32 bytes is a
/// programming error and panics.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) {
    backend::hkdf_sha256(ikm, salt, info, okm)
}

/// XXH64 of `data` with `seed` (used for Sync integrity, not for security).
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    backend::xxh64(data, seed)
}

// ---------------------------------------------------------------------------
// X25519
// ---------------------------------------------------------------------------

/// An X25519 secret key (RFC 7748), zeroized on drop.
pub struct X25519Secret {
    inner: backend::X25519Secret,
}

impl fmt::Debug for X25519Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519Secret(..)")
    }
}

impl X25519Secret {
    /// Generates a fresh key.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        X25519Secret {
            inner: backend::X25519Secret::generate(rng),
        }
    }

    /// A key from its 32 bytes (clamped as RFC 7748 says).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        X25519Secret {
            inner: backend::X25519Secret::from_bytes(bytes),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.inner.public_key()
    }

    /// X25519(self, peer). Refuses an all-zero result (a low-order peer key).
    pub fn diffie_hellman(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        self.inner.diffie_hellman(peer)
    }
}

// ---------------------------------------------------------------------------
// ML-KEM
// ---------------------------------------------------------------------------

/// The ML-KEM parameter sets zp uses (FIPS 203).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KemAlgorithm {
    /// ML-KEM-768 (ZP_PQC_1).
    MlKem768,
    /// ML-KEM-1024 (ZP_PQC_2).
    MlKem1024,
}

impl KemAlgorithm {
    /// Encoded encapsulation (public) key length.
    pub const fn public_key_len(self) -> usize {
        match self {
            KemAlgorithm::MlKem768 => 1184,
            KemAlgorithm::MlKem1024 => 1568,
        }
    }

    /// Ciphertext length.
    pub const fn ciphertext_len(self) -> usize {
        match self {
            KemAlgorithm::MlKem768 => 1088,
            KemAlgorithm::MlKem1024 => 1568,
        }
    }
}

/// An ML-KEM decapsulation key, zeroized on drop.
pub struct KemSecret {
    inner: backend::KemSecret,
}

impl fmt::Debug for KemSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemSecret({:?}, ..)", self.inner.algorithm())
    }
}

impl KemSecret {
    /// Generates a key pair; the encoded public key is appended to `public_out`.
    pub fn generate(
        algorithm: KemAlgorithm,
        rng: &mut impl CryptoRng,
        public_out: &mut Vec<u8>,
    ) -> Self {
        KemSecret {
            inner: backend::KemSecret::generate(algorithm, rng, public_out),
        }
    }

    /// Recovers the shared secret from a ciphertext of the right length.
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
        self.inner.decapsulate(ciphertext)
    }
}

/// Encapsulates to an encoded public key: appends the ciphertext to
/// `ciphertext_out` and returns the shared secret. A key of the wrong length
/// is refused with [`Error::InvalidLength`].
pub fn kem_encapsulate(
    algorithm: KemAlgorithm,
    public_key: &[u8],
    rng: &mut impl CryptoRng,
    ciphertext_out: &mut Vec<u8>,
) -> Result<Key32, Error> {
    backend::kem_encapsulate(algorithm, public_key, rng, ciphertext_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_from_debug() {
        let s = Secret::new([0x41u8; 32]);
        let shown = format!("{s:?}");
        assert_eq!(shown, "Secret<32>(..)");
        let x = X25519Secret::from_bytes([7; 32]);
        assert_eq!(format!("{x:?}"), "X25519Secret(..)");
    }

    #[test]
    fn x25519_refuses_low_order_points() {
        let x = X25519Secret::from_bytes([7; 32]);
        assert_eq!(
            x.diffie_hellman(&[0; 32]).unwrap_err(),
            Error::WeakKeyExchange
        );
    }

    #[test]
    fn ml_kem_round_trips_and_refuses_wrong_lengths() {
        let mut rng = system_rng();
        for alg in [KemAlgorithm::MlKem768, KemAlgorithm::MlKem1024] {
            let mut pk = Vec::new();
            let sk = KemSecret::generate(alg, &mut rng, &mut pk);
            assert_eq!(pk.len(), alg.public_key_len());
            let mut ct = Vec::new();
            let ss = kem_encapsulate(alg, &pk, &mut rng, &mut ct).unwrap();
            assert_eq!(ct.len(), alg.ciphertext_len());
            assert_eq!(sk.decapsulate(&ct).unwrap(), ss);
            assert!(matches!(
                kem_encapsulate(alg, &pk[1..], &mut rng, &mut Vec::new()),
                Err(Error::InvalidLength { .. })
            ));
            assert!(matches!(
                sk.decapsulate(&ct[1..]),
                Err(Error::InvalidLength { .. })
            ));
        }
    }
}
