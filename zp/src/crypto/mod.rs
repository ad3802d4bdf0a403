//! The crypto provider boundary. Frames, records, handshakes and tokens use
//! only the items of this module; the algorithms themselves come from a
//! [`Provider`]: `rustcrypto` (pure Rust and portable, the default) or, with
//! the cargo feature `aws-lc`, `awslc` (aws-lc-rs, assembly for this CPU),
//! which then becomes the default. Keys remember the provider that made
//! them, so a client on one provider talks to a server on the other.
//!
//! Nothing here is hand-written cryptography: every primitive is a call into
//! a maintained crate (see the backends for which).

#[cfg(feature = "aws-lc")]
mod awslc;
mod rustcrypto;
mod spake;

use core::cell::Cell;

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

/// `N` secret bytes: zeroized on drop, never printed by `Debug`, compared
/// in constant time (the time to compare two secrets says nothing about
/// where they differ).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret<const N: usize>([u8; N]);

impl<const N: usize> subtle::ConstantTimeEq for Secret<N> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl<const N: usize> PartialEq for Secret<N> {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.ct_eq(other).into()
    }
}

impl<const N: usize> Eq for Secret<N> {}

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

// ---------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------

/// An implementation of zp's primitives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// RustCrypto and dalek crates: pure Rust, portable (mobile, WebAssembly).
    RustCrypto,
    /// aws-lc-rs: AWS's libcrypto, with assembly for server CPUs.
    #[cfg(feature = "aws-lc")]
    AwsLc,
}

impl Provider {
    /// The build's default: aws-lc-rs when built with the `aws-lc` feature,
    /// RustCrypto otherwise.
    #[cfg(feature = "aws-lc")]
    pub const DEFAULT: Provider = Provider::AwsLc;
    /// The build's default: aws-lc-rs when built with the `aws-lc` feature,
    /// RustCrypto otherwise.
    #[cfg(not(feature = "aws-lc"))]
    pub const DEFAULT: Provider = Provider::RustCrypto;

    /// Every provider this build contains.
    pub const ALL: &'static [Provider] = &[
        Provider::RustCrypto,
        #[cfg(feature = "aws-lc")]
        Provider::AwsLc,
    ];

    /// The provider new keys and hashes on this thread use.
    pub fn current() -> Provider {
        CURRENT.with(Cell::get)
    }
}

thread_local! {
    static CURRENT: Cell<Provider> = const { Cell::new(Provider::DEFAULT) };
}

/// Runs `f` with `provider` doing this thread's cryptography. Keys made
/// inside keep their provider afterwards; the previous choice is restored
/// even if `f` panics.
pub fn with_provider<R>(provider: Provider, f: impl FnOnce() -> R) -> R {
    struct Restore(Provider);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(provider)));
    f()
}

/// Runs `$body` with `$b` naming the current provider's backend module.
macro_rules! with_backend {
    ($b:ident => $body:expr) => {
        match Provider::current() {
            Provider::RustCrypto => {
                use rustcrypto as $b;
                $body
            }
            #[cfg(feature = "aws-lc")]
            Provider::AwsLc => {
                use awslc as $b;
                $body
            }
        }
    };
}

/// Makes a value with the current provider's backend, tagged in `$enum`.
macro_rules! make {
    ($enum:ident, $b:ident => $body:expr) => {
        match Provider::current() {
            Provider::RustCrypto => {
                use rustcrypto as $b;
                $enum::RustCrypto($body)
            }
            #[cfg(feature = "aws-lc")]
            Provider::AwsLc => {
                use awslc as $b;
                $enum::AwsLc($body)
            }
        }
    };
}

/// Runs `$body` on whichever backend's value `$value` holds.
macro_rules! dispatch {
    ($enum:ident, $value:expr, $inner:ident => $body:expr) => {
        match $value {
            $enum::RustCrypto($inner) => $body,
            #[cfg(feature = "aws-lc")]
            $enum::AwsLc($inner) => $body,
        }
    };
}

/// Declares an enum with one variant per provider.
macro_rules! per_provider {
    ($name:ident, $ty:ident) => {
        enum $name {
            RustCrypto(rustcrypto::$ty),
            #[cfg(feature = "aws-lc")]
            AwsLc(awslc::$ty),
        }
    };
}

per_provider!(AeadInner, AeadKey);
per_provider!(X25519Inner, X25519Secret);
per_provider!(KemInner, KemSecret);

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
    inner: AeadInner,
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
            inner: make!(AeadInner, b => b::AeadKey::new(algorithm, key.expose())),
        }
    }

    /// Heap bytes the expanded key schedule occupies.
    pub fn heap_bytes(&self) -> usize {
        dispatch!(AeadInner, &self.inner, k => k.heap_bytes())
    }

    /// Which AEAD this key is for.
    pub fn algorithm(&self) -> AeadAlgorithm {
        dispatch!(AeadInner, &self.inner, k => k.algorithm())
    }

    /// Encrypts `buf` in place and returns the detached tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        dispatch!(AeadInner, &self.inner, k => k.seal_in_place(nonce, aad, buf))
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
        dispatch!(AeadInner, &self.inner, k => k.open_in_place(nonce, aad, buf, tag))
    }
}

// ---------------------------------------------------------------------------
// Hashes and KDF
// ---------------------------------------------------------------------------

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    with_backend!(b => b::sha256(parts))
}

/// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`, filling `okm`.
///
/// # Panics
/// Never for the lengths zp uses; `okm` longer than 255 * 32 bytes is a
/// programming error and panics.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) {
    with_backend!(b => b::hkdf_sha256(ikm, salt, info, okm))
}

/// XXH64 of `data` with `seed` (used for Sync integrity, not for security).
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    twox_hash::XxHash64::oneshot(seed, data)
}

// ---------------------------------------------------------------------------
// X25519
// ---------------------------------------------------------------------------

/// An X25519 secret key (RFC 7748), zeroized on drop.
pub struct X25519Secret {
    inner: X25519Inner,
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
            inner: make!(X25519Inner, b => b::X25519Secret::generate(rng)),
        }
    }

    /// A key from its 32 bytes (clamped as RFC 7748 says).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        X25519Secret {
            inner: make!(X25519Inner, b => b::X25519Secret::from_bytes(bytes)),
        }
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; 32] {
        dispatch!(X25519Inner, &self.inner, k => k.public_key())
    }

    /// X25519(self, peer). Refuses an all-zero result (a low-order peer key).
    pub fn diffie_hellman(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        dispatch!(X25519Inner, &self.inner, k => k.diffie_hellman(peer))
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
    inner: KemInner,
}

impl fmt::Debug for KemSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KemSecret({:?}, ..)",
            dispatch!(KemInner, &self.inner, k => k.algorithm())
        )
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
            inner: make!(KemInner, b => b::KemSecret::generate(algorithm, rng, public_out)),
        }
    }

    /// Recovers the shared secret from a ciphertext of the right length.
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
        dispatch!(KemInner, &self.inner, k => k.decapsulate(ciphertext))
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
    with_backend!(b => b::kem_encapsulate(algorithm, public_key, rng, ciphertext_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_in_constant_time() {
        use subtle::ConstantTimeEq;
        let (a, b) = (Secret::new([7u8; 32]), Secret::new([7u8; 32]));
        let mut c = [7u8; 32];
        c[31] = 8;
        let c = Secret::new(c);
        assert!(bool::from(a.ct_eq(&b)) && a == b);
        assert!(!bool::from(a.ct_eq(&c)) && a != c);
    }

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

#[cfg(all(test, feature = "aws-lc"))]
mod provider_tests {
    use super::*;
    use rand::SeedableRng;

    /// The choice really reaches the backend: RustCrypto's ML-KEM takes its
    /// randomness from the RNG it is given, aws-lc's from its own DRBG.
    #[test]
    fn with_provider_selects_the_backend_and_restores_the_default() {
        assert_eq!(Provider::current(), Provider::AwsLc);
        let keygen = || {
            let mut pk = Vec::new();
            KemSecret::generate(
                KemAlgorithm::MlKem768,
                &mut rand::rngs::StdRng::seed_from_u64(7),
                &mut pk,
            );
            pk
        };
        let rust = with_provider(Provider::RustCrypto, || (keygen(), keygen()));
        assert_eq!(rust.0, rust.1, "seeded RustCrypto key generation repeats");
        let aws = with_provider(Provider::AwsLc, || (keygen(), keygen()));
        assert_ne!(aws.0, aws.1, "aws-lc draws from its own DRBG");
        assert_eq!(Provider::current(), Provider::AwsLc);
        let caught =
            std::panic::catch_unwind(|| with_provider(Provider::RustCrypto, || panic!("inside")));
        assert!(caught.is_err());
        assert_eq!(
            Provider::current(),
            Provider::AwsLc,
            "restored after a panic"
        );
    }

    /// Keys keep their provider: a key made under one opens what a key made
    /// under the other sealed, and vice versa.
    #[test]
    fn keys_from_both_providers_interoperate() {
        for alg in [AeadAlgorithm::ChaCha20Poly1305, AeadAlgorithm::Aes256Gcm] {
            let key = Key32::new([9; 32]);
            let rust = with_provider(Provider::RustCrypto, || AeadKey::new(alg, &key));
            let aws = with_provider(Provider::AwsLc, || AeadKey::new(alg, &key));
            let mut buf = b"zp record payload".to_vec();
            let tag = rust.seal_in_place(&[1; 12], b"aad", &mut buf).unwrap();
            aws.open_in_place(&[1; 12], b"aad", &mut buf, &tag).unwrap();
            assert_eq!(buf, b"zp record payload");
            let tag = aws.seal_in_place(&[2; 12], b"", &mut buf).unwrap();
            rust.open_in_place(&[2; 12], b"", &mut buf, &tag).unwrap();
            assert_eq!(buf, b"zp record payload");
            assert_eq!(
                aws.open_in_place(&[3; 12], b"", &mut buf, &tag),
                Err(Error::Authentication)
            );
        }
        let a = with_provider(Provider::RustCrypto, || X25519Secret::from_bytes([3; 32]));
        let b = with_provider(Provider::AwsLc, || X25519Secret::from_bytes([4; 32]));
        assert_eq!(
            a.diffie_hellman(&b.public_key()).unwrap().expose(),
            b.diffie_hellman(&a.public_key()).unwrap().expose()
        );
        assert_eq!(
            b.diffie_hellman(&[0; 32]).unwrap_err(),
            Error::WeakKeyExchange
        );
        let mut pk = Vec::new();
        let dk = with_provider(Provider::AwsLc, || {
            KemSecret::generate(KemAlgorithm::MlKem1024, &mut system_rng(), &mut pk)
        });
        let mut ct = Vec::new();
        let ss = with_provider(Provider::RustCrypto, || {
            kem_encapsulate(KemAlgorithm::MlKem1024, &pk, &mut system_rng(), &mut ct)
        })
        .unwrap();
        assert_eq!(dk.decapsulate(&ct).unwrap(), ss);
    }
}
