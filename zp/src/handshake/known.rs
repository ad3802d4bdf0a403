//! The Known handshake: `KnownHello → KnownResponse → KnownFinish`.
//!
//! SPAKE2+ gives both sides `spake_key`; the server's ML-KEM public key and
//! the client's ciphertext travel sealed with AES-256-GCM under it (nonces
//! `SHA-256(server_random)[0..12]` and `SHA-256(client_random)[0..12]`, no
//! AAD). A peer without the password cannot open them, so the handshake ends
//! with [`Error::WrongPassword`] on both sides and derives nothing.
//!
//! SPAKE2+'s `Context` (RFC 9383 section 3.3) carries the client's whole
//! offer (versions, minimum version, cipher suites, as in the KnownHello) and
//! the server's selection. An offer altered on path (ZP_PQC_2 stripped, say)
//! gives the two sides different transcripts, hence different SPAKE2+ keys:
//! the client cannot open the server's ML-KEM key and the handshake fails as
//! a wrong password would. The spec leaves `Context` to the implementation;
//! zp v1.0 peers agree on this one.

use super::{ClientConfig, Role, Schedule, ServerConfig, SessionKeys};
use crate::crypto::{
    AeadAlgorithm, AeadKey, CryptoRng, KemSecret, Key32, NONCE_LEN, PasswordSecret, Provider,
    SPAKE_CONTEXT, SpakeProver, TAG_LEN, VerifierRecord, default_provider, random_array,
    spake_verifier_respond,
};
use crate::error::Error;
use crate::frame::{CipherSuite, KnownFinish, KnownHello, KnownResponse, Version};
use zeroize::Zeroizing;

/// The nonce that seals Known mode's ML-KEM key and ciphertext (§4.3.2):
/// the first 12 bytes of SHA-256 of the server's random (the same on every
/// provider; computed with the build's default).
pub fn wrap_nonce(random: &[u8; 32]) -> [u8; NONCE_LEN] {
    nonce_with(default_provider(), random)
}

fn nonce_with(provider: Provider, random: &[u8; 32]) -> [u8; NONCE_LEN] {
    let digest = provider.sha256(&[random]);
    digest[..NONCE_LEN].try_into().expect("12 bytes")
}

/// Seals `plaintext` as `ciphertext || tag`.
fn seal(
    provider: Provider,
    key: &Key32,
    random: &[u8; 32],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = AeadKey::with_provider(provider, AeadAlgorithm::Aes256Gcm, key).seal_in_place(
        &nonce_with(provider, random),
        &[],
        &mut out,
    )?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens `ciphertext || tag`; any failure means the peer's key differs.
fn open(
    provider: Provider,
    key: &Key32,
    random: &[u8; 32],
    sealed: &[u8],
) -> Result<Vec<u8>, Error> {
    let split = sealed.len().checked_sub(TAG_LEN).ok_or(Error::Truncated)?;
    let (ct, tag) = sealed.split_at(split);
    let mut buf = ct.to_vec();
    AeadKey::with_provider(provider, AeadAlgorithm::Aes256Gcm, key)
        .open_in_place(
            &nonce_with(provider, random),
            &[],
            &mut buf,
            tag.try_into().expect("16 bytes"),
        )
        .map_err(|_| Error::WrongPassword)?;
    Ok(buf)
}

/// RFC 9383's `Context` for one run: zp's label, then the offer as the
/// KnownHello encodes it (version count, versions, minimum, cipher count,
/// ciphers), then the selected version and cipher.
fn offer_context(
    versions: &[Version],
    min_version: Version,
    ciphers: &[CipherSuite],
    selected: (Version, CipherSuite),
) -> Vec<u8> {
    let mut c = Vec::with_capacity(SPAKE_CONTEXT.len() + 8 + 2 * versions.len() + ciphers.len());
    c.extend_from_slice(SPAKE_CONTEXT);
    // Counts are at most 255: the KnownHello's own encoding refuses more.
    c.push(versions.len() as u8);
    versions.iter().for_each(|v| v.write(&mut c));
    min_version.write(&mut c);
    c.push(ciphers.len() as u8);
    c.extend(ciphers.iter().map(|s| s.0));
    selected.0.write(&mut c);
    c.push(selected.1.0);
    c
}

/// Known mode needs ML-KEM: classical suites are never selected.
fn post_quantum(c: CipherSuite) -> bool {
    c.kem().is_some()
}

/// Starts Known handshakes as a client.
#[derive(Debug)]
pub struct KnownClient;

impl KnownClient {
    /// Starts SPAKE2+ and returns the KnownHello to send.
    pub fn start(
        config: &ClientConfig,
        secret: &PasswordSecret,
        rng: &mut impl CryptoRng,
    ) -> Result<(ExpectKnownResponse, KnownHello), Error> {
        config.validate()?;
        if !config.ciphers.iter().copied().any(post_quantum) {
            return Err(Error::NoCommonCipher);
        }
        let (prover, share) = SpakeProver::start(secret, rng);
        let random = random_array(rng);
        let hello = KnownHello {
            versions: config.versions.clone(),
            min_version: config.min_version,
            ciphers: config.ciphers.clone(),
            spake2_share_a: share,
            random,
        };
        let state = ExpectKnownResponse {
            config: config.clone(),
            secret: secret.clone(),
            prover,
            random,
        };
        Ok((state, hello))
    }
}

/// A client that sent its KnownHello.
#[derive(Debug)]
pub struct ExpectKnownResponse {
    config: ClientConfig,
    secret: PasswordSecret,
    prover: SpakeProver,
    random: [u8; 32],
}

impl ExpectKnownResponse {
    /// Finishes SPAKE2+, opens the server's ML-KEM key (failing with
    /// [`Error::WrongPassword`] if the passwords differ), encapsulates to it
    /// and returns the session keys with the KnownFinish to send.
    pub fn receive(
        self,
        response: &KnownResponse,
        rng: &mut impl CryptoRng,
    ) -> Result<(SessionKeys, KnownFinish), Error> {
        self.config
            .check_selection(response.version, response.cipher)?;
        let kem = response
            .cipher
            .kem()
            .ok_or(Error::UnsupportedCipher(response.cipher.0))?;
        let provider = self.config.provider;
        let context = offer_context(
            &self.config.versions,
            self.config.min_version,
            &self.config.ciphers,
            (response.version, response.cipher),
        );
        let spake_key = self
            .prover
            .finish(&self.secret, &response.spake2_share_b, &context)?;
        let mlkem_pub = open(
            provider,
            &spake_key,
            &response.random,
            &response.sealed_mlkem_pub,
        )?;
        let mut ct = Vec::new();
        let mlkem_ss = provider.kem_encapsulate(kem, &mlkem_pub, rng, &mut ct)?;
        let finish = KnownFinish {
            sealed_mlkem_ct: seal(provider, &spake_key, &self.random, &ct)?,
        };
        let keys = known_schedule(
            provider,
            Role::Client,
            response.version,
            response.cipher,
            (&self.random, &response.random),
            &spake_key,
            &mlkem_ss,
        );
        Ok((keys, finish))
    }
}

/// Answers Known handshakes as a server.
#[derive(Debug)]
pub struct KnownServer;

impl KnownServer {
    /// Negotiates, answers SPAKE2+ from the client's verifier record and
    /// returns the KnownResponse carrying the sealed ML-KEM public key.
    pub fn accept(
        config: &ServerConfig,
        record: &VerifierRecord,
        hello: &KnownHello,
        rng: &mut impl CryptoRng,
    ) -> Result<(ExpectKnownFinish, KnownResponse), Error> {
        let (version, cipher) = config.negotiate(
            &hello.versions,
            hello.min_version,
            &hello.ciphers,
            post_quantum,
        )?;
        let kem_alg = cipher.kem().expect("negotiated a post-quantum suite");
        let context = offer_context(
            &hello.versions,
            hello.min_version,
            &hello.ciphers,
            (version, cipher),
        );
        let (share_b, spake_key) =
            spake_verifier_respond(record, &hello.spake2_share_a, &context, rng)?;
        let mut mlkem_pub = Vec::new();
        let provider = config.provider;
        let kem = KemSecret::generate(provider, kem_alg, rng, &mut mlkem_pub);
        let random = random_array(rng);
        let response = KnownResponse {
            version,
            cipher,
            spake2_share_b: share_b,
            random,
            sealed_mlkem_pub: seal(provider, &spake_key, &random, &mlkem_pub)?,
        };
        let state = ExpectKnownFinish {
            provider,
            version,
            cipher,
            spake_key,
            kem,
            client_random: hello.random,
            server_random: random,
        };
        Ok((state, response))
    }
}

/// A server that sent its KnownResponse.
#[derive(Debug)]
pub struct ExpectKnownFinish {
    provider: Provider,
    version: Version,
    cipher: CipherSuite,
    spake_key: Key32,
    kem: KemSecret,
    client_random: [u8; 32],
    server_random: [u8; 32],
}

impl ExpectKnownFinish {
    /// Opens and decapsulates the client's ciphertext ([`Error::WrongPassword`]
    /// if the client's SPAKE2+ key differs) and returns the session keys.
    pub fn receive(self, finish: &KnownFinish) -> Result<SessionKeys, Error> {
        let ct = Zeroizing::new(open(
            self.provider,
            &self.spake_key,
            &self.client_random,
            &finish.sealed_mlkem_ct,
        )?);
        let mlkem_ss = self.kem.decapsulate(&ct)?;
        Ok(known_schedule(
            self.provider,
            Role::Server,
            self.version,
            self.cipher,
            (&self.client_random, &self.server_random),
            &self.spake_key,
            &mlkem_ss,
        ))
    }
}

fn known_schedule(
    provider: Provider,
    role: Role,
    version: Version,
    cipher: CipherSuite,
    randoms: (&[u8; 32], &[u8; 32]),
    spake_key: &Key32,
    mlkem_ss: &Key32,
) -> SessionKeys {
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(spake_key.expose());
    ikm[32..].copy_from_slice(mlkem_ss.expose());
    Schedule {
        provider,
        role,
        version,
        cipher,
        client_random: randoms.0,
        server_random: randoms.1,
        id_secret: spake_key.expose(),
        ikm: &ikm[..],
        keys_info: b"zp-known-session-keys",
    }
    .derive()
}
