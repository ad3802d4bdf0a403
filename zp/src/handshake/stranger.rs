//! The Stranger handshake: `ClientHello → ServerHello → ClientFinish`.
//!
//! shared = X25519(c, S) || ML-KEM shared secret (ZP_CLASSICAL_1: the 32
//! X25519 bytes; ZP_CLASSICAL_2: the 32-byte P-256 ECDH x coordinate); keys
//! from zp-protocol.md's Stranger schedule.

use super::{ClientConfig, Role, ServerConfig, SessionKeys};
use crate::crypto::{CryptoRng, EcdhSecret, KemSecret, Provider, random_array};
use crate::error::Error;
use crate::frame::{CipherSuite, ClientFinish, ClientHello, ServerHello, Version};
use zeroize::Zeroizing;

/// Starts Stranger handshakes as a client.
#[derive(Debug)]
pub struct StrangerClient;

impl StrangerClient {
    /// Generates the client's key share and the ClientHello to send.
    pub fn start(
        config: &ClientConfig,
        rng: &mut impl CryptoRng,
    ) -> Result<(ExpectServerHello, ClientHello), Error> {
        config.validate()?;
        let group = config.key_share_group()?;
        let x25519 = EcdhSecret::generate(config.provider, group, rng);
        let random = random_array(rng);
        let hello = ClientHello {
            versions: config.versions.clone(),
            min_version: config.min_version,
            ciphers: config.ciphers.clone(),
            x25519_pub: x25519.public_key(),
            random,
        };
        let state = ExpectServerHello {
            config: config.clone(),
            x25519,
            random,
        };
        Ok((state, hello))
    }
}

/// A client that sent its ClientHello.
#[derive(Debug)]
pub struct ExpectServerHello {
    config: ClientConfig,
    x25519: EcdhSecret,
    random: [u8; 32],
}

impl ExpectServerHello {
    /// Checks the server's choice, completes both key exchanges and returns
    /// the session keys with the ClientFinish to send.
    pub fn receive(
        self,
        hello: &ServerHello,
        rng: &mut impl CryptoRng,
    ) -> Result<(SessionKeys, ClientFinish), Error> {
        self.config.check_selection(hello.version, hello.cipher)?;
        if hello.cipher.group() != self.x25519.group() {
            return Err(Error::CipherDowngrade);
        }
        let provider = self.config.provider;
        let dh = self.x25519.diffie_hellman(&hello.x25519_pub)?;
        let mut shared = Zeroizing::new(Vec::with_capacity(64));
        shared.extend_from_slice(dh.expose());
        let mut mlkem_ct = Vec::new();
        if let Some(kem) = hello.cipher.kem() {
            let ss = provider.kem_encapsulate(kem, &hello.mlkem_pub, rng, &mut mlkem_ct)?;
            shared.extend_from_slice(ss.expose());
        } else if !hello.mlkem_pub.is_empty() {
            return Err(Error::InvalidLength {
                what: "ML-KEM public key",
                got: hello.mlkem_pub.len(),
            });
        }
        let keys = SessionKeys::stranger(
            provider,
            Role::Client,
            hello.version,
            hello.cipher,
            &self.random,
            &hello.random,
            &shared,
        );
        Ok((keys, ClientFinish { mlkem_ct }))
    }
}

/// Answers Stranger handshakes as a server.
#[derive(Debug)]
pub struct StrangerServer;

impl StrangerServer {
    /// Negotiates version and suite, generates the server's key shares and
    /// returns the ServerHello to send.
    pub fn accept(
        config: &ServerConfig,
        hello: &ClientHello,
        rng: &mut impl CryptoRng,
    ) -> Result<(ExpectClientFinish, ServerHello), Error> {
        // The client's one key share is P-256 exactly when it offers only
        // ZP_CLASSICAL_2 (see `ClientConfig::key_share_group`).
        let client_group = CipherSuite::key_share_group(&hello.ciphers);
        let (version, cipher) =
            config.negotiate(&hello.versions, hello.min_version, &hello.ciphers, |c| {
                c.group() == client_group
            })?;
        let provider = config.provider;
        let x25519 = EcdhSecret::generate(provider, cipher.group(), rng);
        let dh = x25519.diffie_hellman(&hello.x25519_pub)?;
        let mut mlkem_pub = Vec::new();
        let kem = cipher
            .kem()
            .map(|alg| KemSecret::generate(provider, alg, rng, &mut mlkem_pub));
        let random = random_array(rng);
        let reply = ServerHello {
            version,
            cipher,
            x25519_pub: x25519.public_key(),
            mlkem_pub,
            random,
        };
        let state = ExpectClientFinish {
            provider,
            version,
            cipher,
            dh,
            kem,
            client_random: hello.random,
            server_random: random,
        };
        Ok((state, reply))
    }
}

/// A server that sent its ServerHello.
#[derive(Debug)]
pub struct ExpectClientFinish {
    provider: Provider,
    version: Version,
    cipher: CipherSuite,
    dh: crate::crypto::Key32,
    kem: Option<KemSecret>,
    client_random: [u8; 32],
    server_random: [u8; 32],
}

impl ExpectClientFinish {
    /// Decapsulates the client's ciphertext and returns the session keys.
    pub fn receive(self, finish: &ClientFinish) -> Result<SessionKeys, Error> {
        let mut shared = Zeroizing::new(Vec::with_capacity(64));
        shared.extend_from_slice(self.dh.expose());
        match &self.kem {
            Some(kem) => shared.extend_from_slice(kem.decapsulate(&finish.mlkem_ct)?.expose()),
            None if finish.mlkem_ct.is_empty() => {}
            None => {
                return Err(Error::InvalidLength {
                    what: "ML-KEM ciphertext",
                    got: finish.mlkem_ct.len(),
                });
            }
        }
        Ok(SessionKeys::stranger(
            self.provider,
            Role::Server,
            self.version,
            self.cipher,
            &self.client_random,
            &self.server_random,
            &shared,
        ))
    }
}
