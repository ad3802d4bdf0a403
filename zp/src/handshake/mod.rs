//! The two zp handshakes as state machines. Each state is a type named for
//! what it expects next and consumes itself to produce the next, so a state
//! cannot be reused; the machines do no I/O and take frames, not sockets.
//!
//! - Stranger (`ClientHello → ServerHello → ClientFinish`): X25519, plus
//!   ML-KEM for the post-quantum suites.
//! - Known (`KnownHello → KnownResponse → KnownFinish`): SPAKE2+ on a shared
//!   password, then ML-KEM sealed under the SPAKE2+ key.
//!
//! Both end in [`SessionKeys`], from the key schedule of zp-protocol.md.

mod known;
pub use known::wrap_nonce;
mod retransmit;
mod stranger;

pub use retransmit::{HANDSHAKE_RETRIES, HANDSHAKE_TIMEOUT, HelloRetransmit};

pub use known::{ExpectKnownFinish, ExpectKnownResponse, KnownClient, KnownServer};
pub use stranger::{ExpectClientFinish, ExpectServerHello, StrangerClient, StrangerServer};

use crate::crypto::{Group, Key32, Provider, default_provider};
use crate::error::Error;
use crate::frame::{CipherSuite, MAX_CIPHERS, MAX_VERSIONS, Version};
use core::fmt;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sent the hello.
    Client,
    /// Answered it.
    Server,
}

/// What a client offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Versions spoken.
    pub versions: Vec<Version>,
    /// Lowest version accepted.
    pub min_version: Version,
    /// Suites offered, most preferred first. Anything the server selects
    /// outside this list is refused as a downgrade.
    pub ciphers: Vec<CipherSuite>,
    /// The weakest suite accepted even if offered (cipher pinning, spec
    /// §4.5; see [`crate::pinning::CapabilityStore::config_for`]).
    pub min_cipher: Option<CipherSuite>,
    /// The cryptography this side's handshake and session run on (the
    /// build's [`default_provider`] unless chosen).
    pub provider: Provider,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            versions: vec![Version::V1_0],
            min_version: Version::V1_0,
            ciphers: vec![CipherSuite::ZP_PQC_1],
            min_cipher: None,
            provider: default_provider(),
        }
    }
}

impl ClientConfig {
    /// A config offering exactly one suite.
    pub fn with_cipher(cipher: CipherSuite) -> Self {
        ClientConfig {
            ciphers: vec![cipher],
            ..Self::default()
        }
    }

    /// The same config on `provider`.
    pub fn with_provider(self, provider: Provider) -> Self {
        ClientConfig { provider, ..self }
    }

    fn validate(&self) -> Result<(), Error> {
        validate_lists(&self.versions, &self.ciphers)
    }

    /// The group of the hello's one key share. ZP_CLASSICAL_2 needs a P-256
    /// share and every other suite an X25519 one, so it cannot be offered
    /// together with them.
    fn key_share_group(&self) -> Result<Group, Error> {
        let group = CipherSuite::key_share_group(&self.ciphers);
        if group == Group::X25519 && self.ciphers.contains(&CipherSuite::ZP_CLASSICAL_2) {
            return Err(Error::InvalidValue(
                "ZP_CLASSICAL_2 offered with other suites (the hello carries one key share)",
            ));
        }
        Ok(group)
    }

    /// The server's choice, checked against what this client offered.
    fn check_selection(&self, version: Version, cipher: CipherSuite) -> Result<(), Error> {
        if version < self.min_version || !self.versions.contains(&version) {
            return Err(Error::VersionMismatch);
        }
        if !self.ciphers.contains(&cipher)
            || self
                .min_cipher
                .is_some_and(|min| cipher.strength() < min.strength())
        {
            return Err(Error::CipherDowngrade);
        }
        Ok(())
    }
}

/// What a server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Versions spoken.
    pub versions: Vec<Version>,
    /// Suites accepted, most preferred first.
    pub ciphers: Vec<CipherSuite>,
    /// The cryptography this side's handshake and session run on (the
    /// build's [`default_provider`] unless chosen).
    pub provider: Provider,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            versions: vec![Version::V1_0],
            ciphers: vec![
                CipherSuite::ZP_PQC_1,
                CipherSuite::ZP_PQC_2,
                CipherSuite::ZP_CLASSICAL_1,
                CipherSuite::ZP_CLASSICAL_2,
            ],
            provider: default_provider(),
        }
    }
}

impl ServerConfig {
    /// The same config on `provider`.
    pub fn with_provider(self, provider: Provider) -> Self {
        ServerConfig { provider, ..self }
    }

    /// The highest common version the client accepts, and the server's
    /// most preferred suite among those offered (and `allowed` by the mode).
    fn negotiate(
        &self,
        offered_versions: &[Version],
        min_version: Version,
        offered_ciphers: &[CipherSuite],
        allowed: impl Fn(CipherSuite) -> bool,
    ) -> Result<(Version, CipherSuite), Error> {
        validate_lists(&self.versions, &self.ciphers)?;
        let version = self
            .versions
            .iter()
            .filter(|v| offered_versions.contains(v) && **v >= min_version)
            .max()
            .copied()
            .ok_or(Error::VersionMismatch)?;
        let cipher = self
            .ciphers
            .iter()
            .copied()
            .find(|c| offered_ciphers.contains(c) && allowed(*c))
            .ok_or(Error::NoCommonCipher)?;
        Ok((version, cipher))
    }
}

fn validate_lists(versions: &[Version], ciphers: &[CipherSuite]) -> Result<(), Error> {
    if versions.is_empty() {
        return Err(Error::Empty("versions"));
    }
    if versions.len() > MAX_VERSIONS {
        return Err(Error::TooMany {
            what: "versions",
            max: MAX_VERSIONS,
        });
    }
    if ciphers.is_empty() {
        return Err(Error::Empty("cipher suites"));
    }
    if ciphers.len() > MAX_CIPHERS {
        return Err(Error::TooMany {
            what: "cipher suites",
            max: MAX_CIPHERS,
        });
    }
    if let Some(c) = ciphers.iter().find(|c| !c.is_supported()) {
        return Err(Error::UnsupportedCipher(c.0));
    }
    Ok(())
}

/// The result of a handshake: everything a [`crate::Connection`] needs.
/// Secrets are zeroized on drop and hidden from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    pub(crate) provider: Provider,
    pub(crate) role: Role,
    pub(crate) version: Version,
    pub(crate) cipher: CipherSuite,
    pub(crate) session_id: [u8; 16],
    pub(crate) session_secret: Key32,
    pub(crate) client_to_server: Key32,
    pub(crate) server_to_client: Key32,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("role", &self.role)
            .field("provider", &self.provider.name())
            .field("version", &self.version)
            .field("cipher", &self.cipher)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The provider the handshake ran on; the session's records and key
    /// rotations use it too.
    pub fn provider(&self) -> Provider {
        self.provider
    }
    /// The negotiated version.
    pub fn version(&self) -> Version {
        self.version
    }
    /// The negotiated suite.
    pub fn cipher(&self) -> CipherSuite {
        self.cipher
    }
    /// The 16-byte session ID.
    pub fn session_id(&self) -> &[u8; 16] {
        &self.session_id
    }
    /// The session secret (the root of key rotation).
    pub fn session_secret(&self) -> &Key32 {
        &self.session_secret
    }
    /// The client-to-server traffic key.
    pub fn client_to_server(&self) -> &Key32 {
        &self.client_to_server
    }
    /// The server-to-client traffic key.
    pub fn server_to_client(&self) -> &Key32 {
        &self.server_to_client
    }

    /// The Stranger key schedule (§4.2.4) on `provider`: session ID,
    /// session secret and both traffic keys from the key exchange's
    /// `shared_secret` (X25519 || ML-KEM, or the classical 32 bytes) and
    /// both randoms. The handshake uses it; it is public for test vectors
    /// and for checking another implementation's derivation.
    #[allow(clippy::too_many_arguments)]
    pub fn stranger(
        provider: Provider,
        role: Role,
        version: Version,
        cipher: CipherSuite,
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        shared_secret: &[u8],
    ) -> SessionKeys {
        Schedule {
            provider,
            role,
            version,
            cipher,
            client_random,
            server_random,
            id_secret: shared_secret,
            ikm: shared_secret,
            keys_info: b"zp-session-keys",
        }
        .derive()
    }

    /// Whether `peer` is the other end of the same session: same secrets,
    /// opposite roles (on either provider).
    pub fn matches_peer(&self, peer: &SessionKeys) -> bool {
        self.role != peer.role
            && SessionKeys {
                role: peer.role,
                provider: peer.provider,
                ..self.clone()
            } == *peer
    }
}

/// The inputs of zp's key schedule (zp-protocol.md, Stranger and Known).
pub(crate) struct Schedule<'a> {
    pub(crate) provider: Provider,
    pub(crate) role: Role,
    pub(crate) version: Version,
    pub(crate) cipher: CipherSuite,
    pub(crate) client_random: &'a [u8; 32],
    pub(crate) server_random: &'a [u8; 32],
    /// What the session ID hashes after the randoms: the whole shared secret
    /// (Stranger) or the SPAKE2+ key (Known).
    pub(crate) id_secret: &'a [u8],
    /// HKDF input keying material.
    pub(crate) ikm: &'a [u8],
    /// `"zp-session-keys"` or `"zp-known-session-keys"`.
    pub(crate) keys_info: &'static [u8],
}

impl Schedule<'_> {
    pub(crate) fn derive(self) -> SessionKeys {
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(self.client_random);
        salt[32..].copy_from_slice(self.server_random);
        let provider = self.provider;
        let digest = provider.sha256(&[self.client_random, self.server_random, self.id_secret]);
        let mut session_id = [0u8; 16];
        session_id.copy_from_slice(&digest[..16]);
        let mut session_secret = zeroize::Zeroizing::new([0u8; 32]);
        provider.hkdf_sha256(
            self.ikm,
            &salt,
            b"zp-session-secret",
            &mut session_secret[..],
        );
        let mut keys = zeroize::Zeroizing::new([0u8; 64]);
        provider.hkdf_sha256(self.ikm, &salt, self.keys_info, &mut keys[..]);
        let (c2s, s2c) = keys.split_at(32);
        SessionKeys {
            provider,
            role: self.role,
            version: self.version,
            cipher: self.cipher,
            session_id,
            session_secret: Key32::new(*session_secret),
            client_to_server: Key32::new(c2s.try_into().expect("32 bytes")),
            server_to_client: Key32::new(s2c.try_into().expect("32 bytes")),
        }
    }
}
