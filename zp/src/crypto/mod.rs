//! The crypto provider boundary. Frames, records, handshakes and tokens use
//! only the items of this module; the algorithms themselves come from a
//! [`CryptoProvider`], chosen in the client and server configurations:
//! [`rustcrypto()`] (pure Rust and portable, the default) or, with the cargo
//! feature `aws-lc`, [`aws_lc()`] (aws-lc-rs, assembly for this CPU), which
//! then becomes the default. Keys remember the provider that made them, so
//! a client on one provider talks to a server on the other.
//!
//! Nothing here is hand-written cryptography: every primitive is a call into
//! a maintained crate (see the backends for which).

#[cfg(feature = "aws-lc")]
mod awslc;
mod rustcrypto;
mod spake;

pub(crate) use spake::{CONTEXT as SPAKE_CONTEXT, SpakeProver, spake_verifier_respond};
pub use spake::{PasswordSecret, VerifierRecord};

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

/// The randomness a provider draws from: any [`CryptoRng`], behind a
/// reference so that [`CryptoProvider`] stays object-safe.
pub type DynRng<'a> = dyn rand_core::TryCryptoRng<Error = core::convert::Infallible> + 'a;

/// An implementation of every primitive zp uses, as rustls'
/// `CryptoProvider`: both backends implement it (the compiler checks that
/// each provides everything), and a [`Provider`] value chosen in
/// [`crate::ClientConfig`] / [`crate::ServerConfig`] decides which one a
/// handshake, and the session it produces, runs on. Keys remember the
/// provider that made them, so a client on one provider talks to a server
/// on the other.
pub trait CryptoProvider: fmt::Debug + Send + Sync + 'static {
    /// A short name for reports: `"rustcrypto"` or `"aws-lc"`.
    fn name(&self) -> &'static str;

    /// Expands `key` for `algorithm`.
    fn aead(&self, algorithm: AeadAlgorithm, key: &[u8; 32]) -> Box<dyn AeadCipher>;

    /// SHA-256 of the concatenation of `parts`.
    fn sha256(&self, parts: &[&[u8]]) -> [u8; 32];

    /// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` and `info`, filling `okm`
    /// (at most 255 × 32 bytes; zp never asks for more).
    fn hkdf_sha256(&self, ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]);

    /// The key-agreement secret `secret` is in `group`. X25519 takes any 32
    /// bytes (clamped as RFC 7748 says); P-256 refuses a scalar that is 0
    /// or not below the group order with [`Error::WeakKeyExchange`].
    fn agreement(&self, group: Group, secret: &[u8; 32]) -> Result<Box<dyn Agreement>, Error>;

    /// Generates an ML-KEM key pair; the encoded public key is appended to
    /// `public_out`. (The aws-lc provider draws from its own DRBG.)
    fn kem_generate(
        &self,
        algorithm: KemAlgorithm,
        rng: &mut DynRng<'_>,
        public_out: &mut Vec<u8>,
    ) -> Box<dyn Decapsulator>;

    /// Encapsulates to an encoded public key: appends the ciphertext to
    /// `ciphertext_out` and returns the shared secret. A key of the wrong
    /// length is refused with [`Error::InvalidLength`].
    fn kem_encapsulate(
        &self,
        algorithm: KemAlgorithm,
        public_key: &[u8],
        rng: &mut DynRng<'_>,
        ciphertext_out: &mut Vec<u8>,
    ) -> Result<Key32, Error>;
}

/// An expanded AEAD key, as a provider makes it (zeroized on drop).
pub trait AeadCipher: Send + Sync {
    /// The provider that made it (and makes its successors on rotation).
    fn provider(&self) -> Provider;
    /// Which AEAD this key is for.
    fn algorithm(&self) -> AeadAlgorithm;
    /// Heap bytes the expanded key schedule occupies, as far as Rust sees.
    fn heap_bytes(&self) -> usize;
    /// Encrypts `buf` in place and returns the detached tag.
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error>;
    /// Decrypts `buf` in place if `tag` authenticates it and `aad`.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error>;
}

/// A key-agreement secret, as a provider makes it (zeroized on drop).
pub trait Agreement: Send + Sync {
    /// The 32-byte public key as it goes on the wire: the X25519 u
    /// coordinate, or the P-256 point's x coordinate (see [`Group::P256`]).
    fn public_key(&self) -> [u8; 32];
    /// The 32-byte shared secret with `peer`'s public key; a low-order or
    /// off-curve key is refused with [`Error::WeakKeyExchange`].
    fn agree(&self, peer: &[u8; 32]) -> Result<Key32, Error>;
}

/// An ML-KEM decapsulation key, as a provider makes it (zeroized on drop).
pub trait Decapsulator: Send + Sync {
    /// Its parameter set.
    fn algorithm(&self) -> KemAlgorithm;
    /// Recovers the shared secret from a ciphertext of the right length
    /// (implicit rejection: a forged one yields an unrelated secret).
    fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error>;
}

/// A provider: a reference to a [`CryptoProvider`] that lives as long as
/// the program, cheap to copy into configurations and keys.
pub type Provider = &'static dyn CryptoProvider;

impl PartialEq for dyn CryptoProvider {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for dyn CryptoProvider {}

/// The RustCrypto and dalek crates: pure Rust, portable (mobile,
/// WebAssembly).
pub fn rustcrypto() -> Provider {
    &rustcrypto::RustCrypto
}

/// aws-lc-rs: AWS's libcrypto, with assembly for server CPUs.
#[cfg(feature = "aws-lc")]
pub fn aws_lc() -> Provider {
    &awslc::AwsLc
}

/// The build's default: aws-lc-rs when built with the `aws-lc` feature,
/// RustCrypto otherwise. Used by the configurations' `Default` and by the
/// constructors that take no provider.
pub fn default_provider() -> Provider {
    #[cfg(feature = "aws-lc")]
    {
        aws_lc()
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        rustcrypto()
    }
}

/// Every provider this build contains.
pub fn all_providers() -> &'static [Provider] {
    #[cfg(feature = "aws-lc")]
    {
        &[&rustcrypto::RustCrypto, &awslc::AwsLc]
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        &[&rustcrypto::RustCrypto]
    }
}

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
/// record does no per-call setup, and the provider that made it.
pub struct AeadKey {
    cipher: Box<dyn AeadCipher>,
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AeadKey({:?}, {}, ..)",
            self.algorithm(),
            self.provider().name()
        )
    }
}

impl AeadKey {
    /// Expands `key` for `algorithm` with the build's default provider.
    pub fn new(algorithm: AeadAlgorithm, key: &Key32) -> Self {
        Self::with_provider(default_provider(), algorithm, key)
    }

    /// Expands `key` for `algorithm` with `provider`.
    pub fn with_provider(provider: Provider, algorithm: AeadAlgorithm, key: &Key32) -> Self {
        AeadKey {
            cipher: provider.aead(algorithm, key.expose()),
        }
    }

    /// The provider that made this key (and makes its successors).
    pub fn provider(&self) -> Provider {
        self.cipher.provider()
    }

    /// Heap bytes the expanded key schedule occupies.
    pub fn heap_bytes(&self) -> usize {
        self.cipher.heap_bytes()
    }

    /// Which AEAD this key is for.
    pub fn algorithm(&self) -> AeadAlgorithm {
        self.cipher.algorithm()
    }

    /// Encrypts `buf` in place and returns the detached tag.
    #[inline]
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        self.cipher.seal_in_place(nonce, aad, buf)
    }

    /// Decrypts `buf` in place if `tag` authenticates it and `aad`; on
    /// failure `buf` is left unspecified and [`Error::Authentication`] is
    /// returned.
    #[inline]
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        self.cipher.open_in_place(nonce, aad, buf, tag)
    }
}

// ---------------------------------------------------------------------------
// Hashes and KDF
// ---------------------------------------------------------------------------

/// XXH64 of `data` with `seed` (used for Sync integrity, not for security;
/// the same in every provider).
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    twox_hash::XxHash64::oneshot(seed, data)
}

// ---------------------------------------------------------------------------
// Key agreement
// ---------------------------------------------------------------------------

/// The key-agreement groups of zp's suites (Appendix A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// X25519 (RFC 7748): every suite but ZP_CLASSICAL_2.
    X25519,
    /// ECDH on NIST P-256 (SP 800-56A), ZP_CLASSICAL_2. The hello's 32-byte
    /// key field carries the public point's x coordinate only, the compact
    /// representation of RFC 6090 §4.2: the receiver takes the point with
    /// that x and even y, and since x(d·P) = x(d·(−P)) both sides reach the
    /// same shared secret, the x coordinate of the shared point (32 bytes).
    P256,
}

/// A key-agreement secret (X25519 or P-256), zeroized on drop.
pub struct EcdhSecret {
    inner: Box<dyn Agreement>,
    group: Group,
}

impl fmt::Debug for EcdhSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcdhSecret({:?}, ..)", self.group)
    }
}

impl EcdhSecret {
    /// Generates a fresh key with `provider`: 32 random bytes (drawn again,
    /// for P-256, in the negligible case they are not a valid scalar).
    pub fn generate(provider: Provider, group: Group, rng: &mut impl CryptoRng) -> Self {
        loop {
            let bytes = zeroize::Zeroizing::new(random_array(rng));
            if let Ok(key) = Self::from_bytes(provider, group, &bytes) {
                return key;
            }
        }
    }

    /// A key from its 32 bytes (an X25519 scalar is clamped as RFC 7748
    /// says; a P-256 scalar must be in 1..n).
    pub fn from_bytes(provider: Provider, group: Group, bytes: &[u8; 32]) -> Result<Self, Error> {
        Ok(EcdhSecret {
            inner: provider.agreement(group, bytes)?,
            group,
        })
    }

    /// Its group.
    pub fn group(&self) -> Group {
        self.group
    }

    /// The public key as the hello carries it.
    pub fn public_key(&self) -> [u8; 32] {
        self.inner.public_key()
    }

    /// The shared secret with `peer`. Refuses an all-zero X25519 result (a
    /// low-order peer key) and a P-256 x that is not on the curve.
    pub fn diffie_hellman(&self, peer: &[u8; 32]) -> Result<Key32, Error> {
        self.inner.agree(peer)
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
    inner: Box<dyn Decapsulator>,
}

impl fmt::Debug for KemSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemSecret({:?}, ..)", self.inner.algorithm())
    }
}

impl KemSecret {
    /// Generates a key pair with `provider`; the encoded public key is
    /// appended to `public_out`.
    pub fn generate(
        provider: Provider,
        algorithm: KemAlgorithm,
        mut rng: &mut impl CryptoRng,
        public_out: &mut Vec<u8>,
    ) -> Self {
        KemSecret {
            inner: provider.kem_generate(algorithm, &mut rng, public_out),
        }
    }

    /// Recovers the shared secret from a ciphertext of the right length.
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Key32, Error> {
        self.inner.decapsulate(ciphertext)
    }
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
        for p in all_providers() {
            let x = EcdhSecret::from_bytes(*p, Group::X25519, &[7; 32]).unwrap();
            assert_eq!(format!("{x:?}"), "EcdhSecret(X25519, ..)");
        }
    }

    #[test]
    fn key_agreement_refuses_low_order_and_off_curve_points() {
        for p in all_providers() {
            let x = EcdhSecret::from_bytes(*p, Group::X25519, &[7; 32]).unwrap();
            assert_eq!(
                x.diffie_hellman(&[0; 32]).unwrap_err(),
                Error::WeakKeyExchange
            );
            let e = EcdhSecret::from_bytes(*p, Group::P256, &[7; 32]).unwrap();
            // x = 1 is not the x coordinate of a P-256 point (1 - 3 + b is
            // not a square mod p); x = 0 is one.
            let mut one = [0u8; 32];
            one[31] = 1;
            assert!(e.diffie_hellman(&[0; 32]).is_ok());
            assert_eq!(
                e.diffie_hellman(&one).unwrap_err(),
                Error::WeakKeyExchange,
                "{}",
                p.name()
            );
            // A P-256 scalar must be in 1..n: zero and n itself are refused.
            assert!(EcdhSecret::from_bytes(*p, Group::P256, &[0; 32]).is_err());
            let n = hex_array("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
            assert!(EcdhSecret::from_bytes(*p, Group::P256, &n).is_err());
        }
    }

    fn hex_array(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn ml_kem_round_trips_and_refuses_wrong_lengths() {
        let mut rng = system_rng();
        for p in all_providers() {
            for alg in [KemAlgorithm::MlKem768, KemAlgorithm::MlKem1024] {
                let mut pk = Vec::new();
                let sk = KemSecret::generate(*p, alg, &mut rng, &mut pk);
                assert_eq!(pk.len(), alg.public_key_len());
                let mut ct = Vec::new();
                let ss = p.kem_encapsulate(alg, &pk, &mut rng, &mut ct).unwrap();
                assert_eq!(ct.len(), alg.ciphertext_len());
                assert_eq!(sk.decapsulate(&ct).unwrap(), ss);
                assert!(matches!(
                    p.kem_encapsulate(alg, &pk[1..], &mut rng, &mut Vec::new()),
                    Err(Error::InvalidLength { .. })
                ));
                assert!(matches!(
                    sk.decapsulate(&ct[1..]),
                    Err(Error::InvalidLength { .. })
                ));
            }
        }
    }

    /// FIPS 203 §7.2: an encapsulation key with a coefficient not reduced
    /// mod q (here every 12-bit coefficient is 4095 > 3329) is refused
    /// by every provider, not encapsulated to.
    #[test]
    fn an_ml_kem_key_with_unreduced_coefficients_is_refused_by_every_provider() {
        let mut rng = system_rng();
        for p in all_providers() {
            for alg in [KemAlgorithm::MlKem768, KemAlgorithm::MlKem1024] {
                let mut pk = Vec::new();
                KemSecret::generate(*p, alg, &mut rng, &mut pk);
                // The encoded polynomials come first, the 32-byte seed last.
                let polys = pk.len() - 32;
                pk[..polys].fill(0xff);
                let mut ct = Vec::new();
                let got = p.kem_encapsulate(alg, &pk, &mut rng, &mut ct);
                assert!(
                    matches!(got, Err(Error::InvalidValue(w)) if w.contains("not reduced mod q")),
                    "{} {alg:?}: {got:?}",
                    p.name()
                );
                assert!(ct.is_empty(), "no ciphertext for a refused key");
            }
        }
    }

    #[test]
    fn providers_compare_by_name_and_the_default_is_among_them() {
        assert!(all_providers().contains(&default_provider()));
        assert_eq!(rustcrypto(), rustcrypto());
        assert_eq!(rustcrypto().name(), "rustcrypto");
        let key =
            AeadKey::with_provider(rustcrypto(), AeadAlgorithm::Aes256Gcm, &Key32::new([1; 32]));
        assert_eq!(key.provider(), rustcrypto());
        assert_eq!(format!("{key:?}"), "AeadKey(Aes256Gcm, rustcrypto, ..)");
    }
}

#[cfg(all(test, feature = "aws-lc"))]
mod provider_tests {
    use super::*;
    use rand::SeedableRng;

    /// The choice really reaches the backend: RustCrypto's ML-KEM takes its
    /// randomness from the RNG it is given, aws-lc's from its own DRBG.
    #[test]
    fn the_provider_value_selects_the_backend() {
        assert_eq!(default_provider(), aws_lc());
        let keygen = |p: Provider| {
            let mut pk = Vec::new();
            KemSecret::generate(
                p,
                KemAlgorithm::MlKem768,
                &mut rand::rngs::StdRng::seed_from_u64(7),
                &mut pk,
            );
            pk
        };
        assert_eq!(
            keygen(rustcrypto()),
            keygen(rustcrypto()),
            "seeded RustCrypto key generation repeats"
        );
        assert_ne!(
            keygen(aws_lc()),
            keygen(aws_lc()),
            "aws-lc draws from its own DRBG"
        );
    }

    /// Keys keep their provider: a key made by one opens what a key made by
    /// the other sealed, and vice versa.
    #[test]
    fn keys_from_both_providers_interoperate() {
        for alg in [AeadAlgorithm::ChaCha20Poly1305, AeadAlgorithm::Aes256Gcm] {
            let key = Key32::new([9; 32]);
            let rust = AeadKey::with_provider(rustcrypto(), alg, &key);
            let aws = AeadKey::with_provider(aws_lc(), alg, &key);
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
        for group in [Group::X25519, Group::P256] {
            let a = EcdhSecret::from_bytes(rustcrypto(), group, &[3; 32]).unwrap();
            let b = EcdhSecret::from_bytes(aws_lc(), group, &[4; 32]).unwrap();
            let a_on_aws = EcdhSecret::from_bytes(aws_lc(), group, &[3; 32]).unwrap();
            assert_eq!(a.public_key(), a_on_aws.public_key(), "{group:?}");
            assert_eq!(
                a.diffie_hellman(&b.public_key()).unwrap().expose(),
                b.diffie_hellman(&a.public_key()).unwrap().expose(),
                "{group:?}"
            );
        }
        let mut pk = Vec::new();
        let dk = KemSecret::generate(
            aws_lc(),
            KemAlgorithm::MlKem1024,
            &mut system_rng(),
            &mut pk,
        );
        let mut ct = Vec::new();
        let ss = rustcrypto()
            .kem_encapsulate(KemAlgorithm::MlKem1024, &pk, &mut system_rng(), &mut ct)
            .unwrap();
        assert_eq!(dk.decapsulate(&ct).unwrap(), ss);
    }
}
