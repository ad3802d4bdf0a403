//! Handshake frames (spec §4.2.1–§4.2.3, §4.3.1–§4.3.3): ClientHello,
//! ServerHello, ClientFinish, KnownHello, KnownResponse, KnownFinish. Each
//! type's reader sits next to its encoder, with its magic and type byte.

use super::{CipherSuite, MAX_CIPHERS, MAX_VERSIONS, Version, magic, prefix};
use crate::codec::{Put, Reader};
use crate::crypto::{KemAlgorithm, TAG_LEN};
use crate::error::Error;

fn read_versions(r: &mut Reader<'_>) -> Result<Vec<Version>, Error> {
    let count = usize::from(r.u8()?);
    if count == 0 {
        return Err(Error::Empty("versions"));
    }
    if count > MAX_VERSIONS {
        return Err(Error::TooMany {
            what: "versions",
            max: MAX_VERSIONS,
        });
    }
    (0..count).map(|_| Version::read(r)).collect()
}

fn read_ciphers(r: &mut Reader<'_>) -> Result<Vec<CipherSuite>, Error> {
    let count = usize::from(r.u8()?);
    if count == 0 {
        return Err(Error::Empty("cipher suites"));
    }
    if count > MAX_CIPHERS {
        return Err(Error::TooMany {
            what: "cipher suites",
            max: MAX_CIPHERS,
        });
    }
    let bytes = r.take(count)?;
    if bytes.contains(&0) {
        return Err(Error::InvalidValue("cipher suite 0x00"));
    }
    Ok(bytes.iter().map(|&b| CipherSuite(b)).collect())
}

/// Fields common to ClientHello and KnownHello.
fn write_hello(
    out: &mut Vec<u8>,
    versions: &[Version],
    min_version: Version,
    ciphers: &[CipherSuite],
    key_share: &[u8; 32],
    random: &[u8; 32],
) {
    debug_assert!((1..=MAX_VERSIONS).contains(&versions.len()));
    debug_assert!((1..=MAX_CIPHERS).contains(&ciphers.len()));
    out.put_u8(versions.len() as u8);
    for v in versions {
        v.write(out);
    }
    min_version.write(out);
    out.put_u8(ciphers.len() as u8);
    for c in ciphers {
        out.put_u8(c.0);
    }
    out.put(key_share);
    out.put(random);
}

type HelloFields = (Vec<Version>, Version, Vec<CipherSuite>, [u8; 32], [u8; 32]);

fn read_hello(r: &mut Reader<'_>) -> Result<HelloFields, Error> {
    let versions = read_versions(r)?;
    let min_version = Version::read(r)?;
    let ciphers = read_ciphers(r)?;
    Ok((versions, min_version, ciphers, r.array()?, r.array()?))
}

/// A length-prefixed (u16) field whose length must be one of `allowed`.
fn read_sealed_len(
    r: &mut Reader<'_>,
    what: &'static str,
    allowed: &[usize],
) -> Result<usize, Error> {
    let len = usize::from(r.u16()?);
    if !allowed.contains(&len) {
        return Err(Error::InvalidLength { what, got: len });
    }
    Ok(len)
}

/// ClientHello (0x50): opens a Stranger handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Versions the client speaks.
    pub versions: Vec<Version>,
    /// The lowest version the client accepts.
    pub min_version: Version,
    /// Suites the client offers, most preferred first.
    pub ciphers: Vec<CipherSuite>,
    /// The client's classical public key: X25519 (32 bytes).
    pub x25519_pub: [u8; 32],
    /// 32 random bytes.
    pub random: [u8; 32],
}

impl ClientHello {
    /// "ZPCH".
    pub const MAGIC: u32 = magic::CLIENT_HELLO;
    /// The type byte.
    pub const TYPE: u8 = 0x50;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (versions, min_version, ciphers, x25519_pub, random) = read_hello(r)?;
        Ok(ClientHello {
            versions,
            min_version,
            ciphers,
            x25519_pub,
            random,
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        write_hello(
            out,
            &self.versions,
            self.min_version,
            &self.ciphers,
            &self.x25519_pub,
            &self.random,
        );
    }
}

/// ServerHello (0x51): the server's choice and its key shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The selected version.
    pub version: Version,
    /// The selected suite.
    pub cipher: CipherSuite,
    /// The server's X25519 public key.
    pub x25519_pub: [u8; 32],
    /// The server's ML-KEM public key (empty for classical suites).
    pub mlkem_pub: Vec<u8>,
    /// 32 random bytes.
    pub random: [u8; 32],
}

impl ServerHello {
    /// "ZPSH".
    pub const MAGIC: u32 = magic::SERVER_HELLO;
    /// The type byte.
    pub const TYPE: u8 = 0x51;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let version = Version::read(r)?;
        let cipher = CipherSuite(r.u8()?).check_supported()?;
        let x25519_pub = r.array()?;
        let expected = cipher.kem().map_or(0, KemAlgorithm::public_key_len);
        let len = read_sealed_len(r, "ML-KEM public key", &[expected])?;
        let mlkem_pub = r.take(len)?.to_vec();
        Ok(ServerHello {
            version,
            cipher,
            x25519_pub,
            mlkem_pub,
            random: r.array()?,
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        self.version.write(out);
        out.put_u8(self.cipher.0);
        out.put(&self.x25519_pub);
        out.put_u16(self.mlkem_pub.len() as u16);
        out.put(&self.mlkem_pub);
        out.put(&self.random);
    }
}

/// ClientFinish (0x52): the client's ML-KEM ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinish {
    /// The ML-KEM ciphertext (empty for classical suites).
    pub mlkem_ct: Vec<u8>,
}

impl ClientFinish {
    /// "ZPCF".
    pub const MAGIC: u32 = magic::CLIENT_FINISH;
    /// The type byte.
    pub const TYPE: u8 = 0x52;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let allowed = [
            0,
            KemAlgorithm::MlKem768.ciphertext_len(),
            KemAlgorithm::MlKem1024.ciphertext_len(),
        ];
        let len = read_sealed_len(r, "ML-KEM ciphertext", &allowed)?;
        Ok(ClientFinish {
            mlkem_ct: r.take(len)?.to_vec(),
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u16(self.mlkem_ct.len() as u16);
        out.put(&self.mlkem_ct);
    }
}

/// KnownHello (0x53): opens a Known (password) handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHello {
    /// Versions the client speaks.
    pub versions: Vec<Version>,
    /// The lowest version the client accepts.
    pub min_version: Version,
    /// Suites the client offers, most preferred first.
    pub ciphers: Vec<CipherSuite>,
    /// The SPAKE2+ share `shareP`.
    pub spake2_share_a: [u8; 32],
    /// 32 random bytes.
    pub random: [u8; 32],
}

impl KnownHello {
    /// "ZPKH".
    pub const MAGIC: u32 = magic::KNOWN_HELLO;
    /// The type byte.
    pub const TYPE: u8 = 0x53;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let (versions, min_version, ciphers, spake2_share_a, random) = read_hello(r)?;
        Ok(KnownHello {
            versions,
            min_version,
            ciphers,
            spake2_share_a,
            random,
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        write_hello(
            out,
            &self.versions,
            self.min_version,
            &self.ciphers,
            &self.spake2_share_a,
            &self.random,
        );
    }
}

/// KnownResponse (0x54): SPAKE2+ `shareV` and the sealed ML-KEM public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownResponse {
    /// The selected version.
    pub version: Version,
    /// The selected suite (a post-quantum one).
    pub cipher: CipherSuite,
    /// The SPAKE2+ share `shareV`.
    pub spake2_share_b: [u8; 32],
    /// 32 random bytes.
    pub random: [u8; 32],
    /// AES-256-GCM(spake_key, ML-KEM public key), tag included.
    pub sealed_mlkem_pub: Vec<u8>,
}

impl KnownResponse {
    /// "ZPKR".
    pub const MAGIC: u32 = magic::KNOWN_RESPONSE;
    /// The type byte.
    pub const TYPE: u8 = 0x54;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let version = Version::read(r)?;
        let cipher = CipherSuite(r.u8()?).check_supported()?;
        let kem = cipher.kem().ok_or(Error::UnsupportedCipher(cipher.0))?;
        let spake2_share_b = r.array()?;
        let random = r.array()?;
        let len = read_sealed_len(
            r,
            "sealed ML-KEM public key",
            &[kem.public_key_len() + TAG_LEN],
        )?;
        Ok(KnownResponse {
            version,
            cipher,
            spake2_share_b,
            random,
            sealed_mlkem_pub: r.take(len)?.to_vec(),
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        self.version.write(out);
        out.put_u8(self.cipher.0);
        out.put(&self.spake2_share_b);
        out.put(&self.random);
        out.put_u16(self.sealed_mlkem_pub.len() as u16);
        out.put(&self.sealed_mlkem_pub);
    }
}

/// KnownFinish (0x55): the sealed ML-KEM ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFinish {
    /// AES-256-GCM(spake_key, ML-KEM ciphertext), tag included.
    pub sealed_mlkem_ct: Vec<u8>,
}

impl KnownFinish {
    /// "ZPKF".
    pub const MAGIC: u32 = magic::KNOWN_FINISH;
    /// The type byte.
    pub const TYPE: u8 = 0x55;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let allowed = [
            KemAlgorithm::MlKem768.ciphertext_len() + TAG_LEN,
            KemAlgorithm::MlKem1024.ciphertext_len() + TAG_LEN,
        ];
        let len = read_sealed_len(r, "sealed ML-KEM ciphertext", &allowed)?;
        Ok(KnownFinish {
            sealed_mlkem_ct: r.take(len)?.to_vec(),
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u16(self.sealed_mlkem_ct.len() as u16);
        out.put(&self.sealed_mlkem_ct);
    }
}
