//! Every zp v1.0 frame, byte-exact with zp-protocol.md's frame table: a
//! 4-byte magic (a little-endian u32), a type byte, then the body.
//!
//! Parsing borrows from its input and never allocates for a [`DataFrame`];
//! handshake frames own their (bounded) key material. Counts and lengths are
//! checked against zp's limits before anything is allocated, so an attacker
//! controls at most a few kilobytes per frame.

use crate::codec::{Put, Reader};
use crate::crypto::{AeadAlgorithm, KemAlgorithm, TAG_LEN, xxh64};
use crate::error::Error;
use core::fmt;

/// Most streams a connection, a Sync or a state token carries.
pub const MAX_STREAMS: usize = 12;
/// Most versions a hello may offer.
pub const MAX_VERSIONS: usize = 16;
/// Most cipher suites a hello may offer.
pub const MAX_CIPHERS: usize = 16;
/// Most ranges an AckFrame may carry.
pub const MAX_ACK_RANGES: usize = 64;
/// The reserved stream ID.
pub const RESERVED_STREAM_ID: u32 = 0xFFFF_FFFF;
/// Length of a frame's magic and type byte.
pub const FRAME_PREFIX_LEN: usize = 5;
/// Length of a DataFrame before its payload.
pub const DATA_FRAME_OVERHEAD: usize = 22;

/// The 4-byte magics, as the u32 values of zp-protocol.md.
pub mod magic {
    /// ClientHello, "ZPCH".
    pub const CLIENT_HELLO: u32 = 0x5A50_4348;
    /// ServerHello, "ZPSH".
    pub const SERVER_HELLO: u32 = 0x5A50_5348;
    /// ClientFinish, "ZPCF".
    pub const CLIENT_FINISH: u32 = 0x5A50_4346;
    /// KnownHello, "ZPKH".
    pub const KNOWN_HELLO: u32 = 0x5A50_4B48;
    /// KnownResponse, "ZPKR".
    pub const KNOWN_RESPONSE: u32 = 0x5A50_4B52;
    /// KnownFinish, "ZPKF".
    pub const KNOWN_FINISH: u32 = 0x5A50_4B46;
    /// KeyUpdate and KeyUpdateAck, "ZPKU".
    pub const KEY_UPDATE: u32 = 0x5A50_4B55;
    /// AckFrame, "ZPAK".
    pub const ACK: u32 = 0x5A50_414B;
    /// WindowUpdate, "ZPWU".
    pub const WINDOW_UPDATE: u32 = 0x5A50_5755;
    /// DataFrame, "ZPDF".
    pub const DATA: u32 = 0x5A50_4446;
    /// ErrorFrame, "ZPER".
    pub const ERROR: u32 = 0x5A50_4552;
    /// Sync and SyncAck, "ZPMI".
    pub const SYNC: u32 = 0x5A50_4D49;
}

/// A protocol version: `major` then `minor` on the wire (1.0 is `01 00`),
/// ordered by major, then minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl Version {
    /// zp v1.0.
    pub const V1_0: Version = Version { major: 1, minor: 0 };

    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let [major, minor] = r.array()?;
        Ok(Version { major, minor })
    }

    fn write(self, out: &mut Vec<u8>) {
        out.put(&[self.major, self.minor]);
    }
}

/// A cipher suite byte. Unknown values survive parsing (a server ignores
/// what it does not implement); 0x00 is invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CipherSuite(pub u8);

impl CipherSuite {
    /// X25519 + ML-KEM-768, ChaCha20-Poly1305 (the default).
    pub const ZP_PQC_1: CipherSuite = CipherSuite(0x01);
    /// X25519 + ML-KEM-1024, AES-256-GCM.
    pub const ZP_PQC_2: CipherSuite = CipherSuite(0x02);
    /// X25519, ChaCha20-Poly1305.
    pub const ZP_CLASSICAL_1: CipherSuite = CipherSuite(0x10);
    /// ECDH P-256, AES-256-GCM (defined by zp; not implemented here).
    pub const ZP_CLASSICAL_2: CipherSuite = CipherSuite(0x11);

    /// Whether this implementation can negotiate the suite.
    pub fn is_supported(self) -> bool {
        matches!(self, Self::ZP_PQC_1 | Self::ZP_PQC_2 | Self::ZP_CLASSICAL_1)
    }

    /// The suite's ML-KEM parameter set, `None` for classical suites.
    pub fn kem(self) -> Option<KemAlgorithm> {
        match self {
            Self::ZP_PQC_1 => Some(KemAlgorithm::MlKem768),
            Self::ZP_PQC_2 => Some(KemAlgorithm::MlKem1024),
            _ => None,
        }
    }

    /// How strong the suite's key exchange is, for cipher pinning (spec
    /// §4.5): ML-KEM-1024 above ML-KEM-768 above the classical suites; 0
    /// for suites zp does not define.
    pub fn strength(self) -> u8 {
        match self {
            Self::ZP_PQC_2 => 3,
            Self::ZP_PQC_1 => 2,
            Self::ZP_CLASSICAL_1 | Self::ZP_CLASSICAL_2 => 1,
            _ => 0,
        }
    }

    /// The suite's AEAD.
    pub fn aead(self) -> AeadAlgorithm {
        match self {
            Self::ZP_PQC_2 | Self::ZP_CLASSICAL_2 => AeadAlgorithm::Aes256Gcm,
            _ => AeadAlgorithm::ChaCha20Poly1305,
        }
    }

    fn check_supported(self) -> Result<Self, Error> {
        if self.is_supported() {
            Ok(self)
        } else {
            Err(Error::UnsupportedCipher(self.0))
        }
    }
}

impl fmt::Debug for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZP_PQC_1 => f.write_str("ZP_PQC_1"),
            Self::ZP_PQC_2 => f.write_str("ZP_PQC_2"),
            Self::ZP_CLASSICAL_1 => f.write_str("ZP_CLASSICAL_1"),
            Self::ZP_CLASSICAL_2 => f.write_str("ZP_CLASSICAL_2"),
            CipherSuite(other) => write!(f, "CipherSuite({other:#04x})"),
        }
    }
}

/// An ErrorFrame code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u8);

#[allow(missing_docs)]
impl ErrorCode {
    pub const HANDSHAKE_TIMEOUT: ErrorCode = ErrorCode(0x01);
    pub const CIPHER_DOWNGRADE: ErrorCode = ErrorCode(0x02);
    pub const MIGRATION_FAILED: ErrorCode = ErrorCode(0x03);
    pub const TOKEN_EXPIRED: ErrorCode = ErrorCode(0x04);
    pub const TEE_ATTESTATION: ErrorCode = ErrorCode(0x05);
    pub const RELAY_UNAVAILABLE: ErrorCode = ErrorCode(0x06);
    pub const VERSION_MISMATCH: ErrorCode = ErrorCode(0x07);
    pub const RATE_LIMITED: ErrorCode = ErrorCode(0x08);
    pub const TOKEN_IP_MISMATCH: ErrorCode = ErrorCode(0x09);
    pub const STREAM_LIMIT: ErrorCode = ErrorCode(0x0A);
    pub const REKEY_FAILED: ErrorCode = ErrorCode(0x0B);
    pub const SYNC_REJECTED: ErrorCode = ErrorCode(0x0C);
    pub const FLOW_STALL: ErrorCode = ErrorCode(0x0D);
    pub const PROTOCOL_VIOLATION: ErrorCode = ErrorCode(0x0E);
}

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

/// ClientHello (0x50): opens a Stranger handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Versions the client speaks.
    pub versions: Vec<Version>,
    /// The lowest version the client accepts.
    pub min_version: Version,
    /// Suites the client offers, most preferred first.
    pub ciphers: Vec<CipherSuite>,
    /// The client's X25519 public key.
    pub x25519_pub: [u8; 32],
    /// 32 random bytes.
    pub random: [u8; 32],
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

/// ClientFinish (0x52): the client's ML-KEM ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinish {
    /// The ML-KEM ciphertext (empty for classical suites).
    pub mlkem_ct: Vec<u8>,
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

/// KnownFinish (0x55): the sealed ML-KEM ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFinish {
    /// AES-256-GCM(spake_key, ML-KEM ciphertext), tag included.
    pub sealed_mlkem_ct: Vec<u8>,
}

/// Which traffic keys a KeyUpdate rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDirection {
    /// Client to server.
    ClientToServer = 1,
    /// Server to client.
    ServerToClient = 2,
    /// Both directions.
    Both = 3,
}

impl KeyDirection {
    /// Whether the client-to-server key rotates.
    pub fn includes_c2s(self) -> bool {
        matches!(self, KeyDirection::ClientToServer | KeyDirection::Both)
    }

    /// Whether the server-to-client key rotates.
    pub fn includes_s2c(self) -> bool {
        matches!(self, KeyDirection::ServerToClient | KeyDirection::Both)
    }
}

/// KeyUpdate (0x10): asks the peer to move to `key_epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUpdate {
    /// The new epoch.
    pub key_epoch: u32,
    /// Which keys rotate.
    pub direction: KeyDirection,
}

/// KeyUpdateAck (0x11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUpdateAck {
    /// The epoch acknowledged.
    pub acked_epoch: u32,
}

/// AckFrame (0x20): byte ranges received on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckFrame {
    /// The stream.
    pub stream_id: u32,
    /// Inclusive `(start, end)` byte ranges, `start <= end`.
    pub ranges: Vec<(u64, u64)>,
}

/// WindowUpdate (0x30): more flow-control credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection.
    pub stream_id: u32,
    /// Credit in bytes, at most 2^32 - 1.
    pub increment: u64,
}

/// DataFrame flag: last data on the stream.
pub const FLAG_FIN: u8 = 0b01;
/// DataFrame flag: the stream is abandoned.
pub const FLAG_RST: u8 = 0b10;

/// DataFrame (0x40): stream data, borrowed from the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame<'a> {
    /// The stream.
    pub stream_id: u32,
    /// Byte offset of the payload's first byte in the stream.
    pub seq: u64,
    /// [`FLAG_FIN`] and [`FLAG_RST`]; other bits are reserved.
    pub flags: u8,
    /// The payload.
    pub payload: &'a [u8],
}

/// ErrorFrame (0x60).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFrame {
    /// What went wrong.
    pub code: ErrorCode,
}

/// One stream's state in a Sync frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStream {
    /// The stream.
    pub stream_id: u32,
    /// Bytes sent on the stream.
    pub global_seq: u64,
    /// Highest offset the peer acknowledged.
    pub last_acked: u64,
}

impl SyncStream {
    /// `XXH64(seed 0)` of `stream_id || global_seq || last_acked`, all LE.
    pub fn integrity(&self) -> u64 {
        let mut buf = [0u8; 20];
        buf[..4].copy_from_slice(&self.stream_id.to_le_bytes());
        buf[4..12].copy_from_slice(&self.global_seq.to_le_bytes());
        buf[12..].copy_from_slice(&self.last_acked.to_le_bytes());
        xxh64(&buf, 0)
    }
}

/// Sync (0x01): stream positions after a migration. Each stream's integrity
/// field is computed on encode and checked on parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sync {
    /// The session.
    pub session_id: [u8; 16],
    /// Sync flags.
    pub flags: u8,
    /// The streams, 1 to [`MAX_STREAMS`].
    pub streams: Vec<SyncStream>,
}

/// One stream's answer in a SyncAck frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncAckStream {
    /// The stream.
    pub stream_id: u32,
    /// Per-stream status.
    pub status: u8,
    /// Highest offset the receiver acknowledged.
    pub receiver_last_acked: u64,
    /// The receiver's own sequence on the stream.
    pub receiver_seq: u64,
}

/// SyncAck (0x02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAck {
    /// Overall status.
    pub status: u8,
    /// The streams, 1 to [`MAX_STREAMS`].
    pub streams: Vec<SyncAckStream>,
}

/// Any zp frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Frame<'a> {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    ClientFinish(ClientFinish),
    KnownHello(KnownHello),
    KnownResponse(KnownResponse),
    KnownFinish(KnownFinish),
    KeyUpdate(KeyUpdate),
    KeyUpdateAck(KeyUpdateAck),
    Ack(AckFrame),
    WindowUpdate(WindowUpdate),
    Data(DataFrame<'a>),
    Error(ErrorFrame),
    Sync(Sync),
    SyncAck(SyncAck),
}

fn count_limited(count: usize, what: &'static str, max: usize) -> Result<usize, Error> {
    match count {
        0 => Err(Error::Empty(what)),
        n if n > max => Err(Error::TooMany { what, max }),
        n => Ok(n),
    }
}

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

/// Parses exactly one frame from `buf`.
///
/// Refuses unknown magics and types, reserved bits, lengths past the buffer,
/// too many or zero entries, and trailing bytes. A DataFrame's payload
/// borrows from `buf`.
pub fn parse_frame(buf: &[u8]) -> Result<Frame<'_>, Error> {
    let mut r = Reader::new(buf);
    let m = r.u32()?;
    let t = r.u8()?;
    let frame = match (m, t) {
        (magic::CLIENT_HELLO, 0x50) => {
            let (versions, min_version, ciphers, x25519_pub, random) = read_hello(&mut r)?;
            Frame::ClientHello(ClientHello {
                versions,
                min_version,
                ciphers,
                x25519_pub,
                random,
            })
        }
        (magic::SERVER_HELLO, 0x51) => {
            let version = Version::read(&mut r)?;
            let cipher = CipherSuite(r.u8()?).check_supported()?;
            let x25519_pub = r.array()?;
            let expected = cipher.kem().map_or(0, KemAlgorithm::public_key_len);
            let len = read_sealed_len(&mut r, "ML-KEM public key", &[expected])?;
            let mlkem_pub = r.take(len)?.to_vec();
            Frame::ServerHello(ServerHello {
                version,
                cipher,
                x25519_pub,
                mlkem_pub,
                random: r.array()?,
            })
        }
        (magic::CLIENT_FINISH, 0x52) => {
            let allowed = [
                0,
                KemAlgorithm::MlKem768.ciphertext_len(),
                KemAlgorithm::MlKem1024.ciphertext_len(),
            ];
            let len = read_sealed_len(&mut r, "ML-KEM ciphertext", &allowed)?;
            Frame::ClientFinish(ClientFinish {
                mlkem_ct: r.take(len)?.to_vec(),
            })
        }
        (magic::KNOWN_HELLO, 0x53) => {
            let (versions, min_version, ciphers, spake2_share_a, random) = read_hello(&mut r)?;
            Frame::KnownHello(KnownHello {
                versions,
                min_version,
                ciphers,
                spake2_share_a,
                random,
            })
        }
        (magic::KNOWN_RESPONSE, 0x54) => {
            let version = Version::read(&mut r)?;
            let cipher = CipherSuite(r.u8()?).check_supported()?;
            let kem = cipher.kem().ok_or(Error::UnsupportedCipher(cipher.0))?;
            let spake2_share_b = r.array()?;
            let random = r.array()?;
            let len = read_sealed_len(
                &mut r,
                "sealed ML-KEM public key",
                &[kem.public_key_len() + TAG_LEN],
            )?;
            Frame::KnownResponse(KnownResponse {
                version,
                cipher,
                spake2_share_b,
                random,
                sealed_mlkem_pub: r.take(len)?.to_vec(),
            })
        }
        (magic::KNOWN_FINISH, 0x55) => {
            let allowed = [
                KemAlgorithm::MlKem768.ciphertext_len() + TAG_LEN,
                KemAlgorithm::MlKem1024.ciphertext_len() + TAG_LEN,
            ];
            let len = read_sealed_len(&mut r, "sealed ML-KEM ciphertext", &allowed)?;
            Frame::KnownFinish(KnownFinish {
                sealed_mlkem_ct: r.take(len)?.to_vec(),
            })
        }
        (magic::KEY_UPDATE, 0x10) => {
            let key_epoch = r.u32()?;
            let direction = match r.u8()? {
                1 => KeyDirection::ClientToServer,
                2 => KeyDirection::ServerToClient,
                3 => KeyDirection::Both,
                _ => return Err(Error::InvalidValue("key update direction")),
            };
            r.reserved(6)?;
            Frame::KeyUpdate(KeyUpdate {
                key_epoch,
                direction,
            })
        }
        (magic::KEY_UPDATE, 0x11) => Frame::KeyUpdateAck(KeyUpdateAck {
            acked_epoch: r.u32()?,
        }),
        (magic::ACK, 0x20) => {
            let stream_id = r.u32()?;
            let count = count_limited(usize::from(r.u8()?), "ack ranges", MAX_ACK_RANGES)?;
            if r.remaining() < count * 16 {
                return Err(Error::Truncated);
            }
            let mut ranges = Vec::with_capacity(count);
            for _ in 0..count {
                let (start, end) = (r.u64()?, r.u64()?);
                if start > end {
                    return Err(Error::InvalidValue("ack range"));
                }
                ranges.push((start, end));
            }
            Frame::Ack(AckFrame { stream_id, ranges })
        }
        (magic::WINDOW_UPDATE, 0x30) => {
            let stream_id = r.u32()?;
            let increment = r.u64()?;
            if increment > u64::from(u32::MAX) {
                return Err(Error::InvalidValue("window increment"));
            }
            Frame::WindowUpdate(WindowUpdate {
                stream_id,
                increment,
            })
        }
        (magic::DATA, 0x40) => {
            let stream_id = r.u32()?;
            if stream_id == RESERVED_STREAM_ID {
                return Err(Error::InvalidStreamId(stream_id));
            }
            let seq = r.u64()?;
            let flags = r.u8()?;
            if flags & !(FLAG_FIN | FLAG_RST) != 0 {
                return Err(Error::ReservedNonZero);
            }
            let len = r.u32()? as usize;
            let payload = r.take(len)?;
            if seq.checked_add(len as u64).is_none() {
                return Err(Error::InvalidValue("data sequence"));
            }
            Frame::Data(DataFrame {
                stream_id,
                seq,
                flags,
                payload,
            })
        }
        (magic::ERROR, 0x60) => {
            let code = r.u8()?;
            if !(0x01..=0x0E).contains(&code) {
                return Err(Error::InvalidValue("error code"));
            }
            r.reserved(3)?;
            Frame::Error(ErrorFrame {
                code: ErrorCode(code),
            })
        }
        (magic::SYNC, 0x01) => {
            let session_id = r.array()?;
            let count = count_limited(usize::from(r.u16()?), "streams", MAX_STREAMS)?;
            let flags = r.u8()?;
            let mut streams = Vec::with_capacity(count);
            for _ in 0..count {
                let s = SyncStream {
                    stream_id: r.u32()?,
                    global_seq: r.u64()?,
                    last_acked: r.u64()?,
                };
                if r.u64()? != s.integrity() {
                    return Err(Error::InvalidValue("sync integrity"));
                }
                streams.push(s);
            }
            Frame::Sync(Sync {
                session_id,
                flags,
                streams,
            })
        }
        (magic::SYNC, 0x02) => {
            let count = count_limited(usize::from(r.u16()?), "streams", MAX_STREAMS)?;
            let status = r.u8()?;
            let mut streams = Vec::with_capacity(count);
            for _ in 0..count {
                streams.push(SyncAckStream {
                    stream_id: r.u32()?,
                    status: r.u8()?,
                    receiver_last_acked: r.u64()?,
                    receiver_seq: r.u64()?,
                });
            }
            Frame::SyncAck(SyncAck { status, streams })
        }
        (
            magic::CLIENT_HELLO
            | magic::SERVER_HELLO
            | magic::CLIENT_FINISH
            | magic::KNOWN_HELLO
            | magic::KNOWN_RESPONSE
            | magic::KNOWN_FINISH
            | magic::KEY_UPDATE
            | magic::ACK
            | magic::WINDOW_UPDATE
            | magic::DATA
            | magic::ERROR
            | magic::SYNC,
            frame_type,
        ) => {
            return Err(Error::UnknownFrameType {
                magic: m,
                frame_type,
            });
        }
        _ => return Err(Error::UnknownMagic(m)),
    };
    r.finish()?;
    Ok(frame)
}

impl Frame<'_> {
    /// Appends the frame's wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::ClientHello(f) => f.encode(out),
            Frame::ServerHello(f) => f.encode(out),
            Frame::ClientFinish(f) => f.encode(out),
            Frame::KnownHello(f) => f.encode(out),
            Frame::KnownResponse(f) => f.encode(out),
            Frame::KnownFinish(f) => f.encode(out),
            Frame::KeyUpdate(f) => f.encode(out),
            Frame::KeyUpdateAck(f) => f.encode(out),
            Frame::Ack(f) => f.encode(out),
            Frame::WindowUpdate(f) => f.encode(out),
            Frame::Data(f) => f.encode(out),
            Frame::Error(f) => f.encode(out),
            Frame::Sync(f) => f.encode(out),
            Frame::SyncAck(f) => f.encode(out),
        }
    }

    /// The frame's wire encoding in a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn prefix(out: &mut Vec<u8>, m: u32, t: u8) {
    out.put_u32(m);
    out.put_u8(t);
}

macro_rules! parse_as {
    ($ty:ident, $variant:ident) => {
        impl $ty {
            /// Parses `buf` as exactly this frame; any other frame is
            /// [`Error::UnexpectedFrame`].
            pub fn parse(buf: &[u8]) -> Result<Self, Error> {
                match parse_frame(buf)? {
                    Frame::$variant(f) => Ok(f),
                    _ => Err(Error::UnexpectedFrame),
                }
            }

            /// The frame's wire encoding in a new vector.
            pub fn to_bytes(&self) -> Vec<u8> {
                let mut out = Vec::new();
                self.encode(&mut out);
                out
            }
        }
    };
}

parse_as!(ClientHello, ClientHello);
parse_as!(ServerHello, ServerHello);
parse_as!(ClientFinish, ClientFinish);
parse_as!(KnownHello, KnownHello);
parse_as!(KnownResponse, KnownResponse);
parse_as!(KnownFinish, KnownFinish);

impl ClientHello {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::CLIENT_HELLO, 0x50);
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

impl KnownHello {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::KNOWN_HELLO, 0x53);
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

impl ServerHello {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::SERVER_HELLO, 0x51);
        self.version.write(out);
        out.put_u8(self.cipher.0);
        out.put(&self.x25519_pub);
        out.put_u16(self.mlkem_pub.len() as u16);
        out.put(&self.mlkem_pub);
        out.put(&self.random);
    }
}

impl ClientFinish {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::CLIENT_FINISH, 0x52);
        out.put_u16(self.mlkem_ct.len() as u16);
        out.put(&self.mlkem_ct);
    }
}

impl KnownResponse {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::KNOWN_RESPONSE, 0x54);
        self.version.write(out);
        out.put_u8(self.cipher.0);
        out.put(&self.spake2_share_b);
        out.put(&self.random);
        out.put_u16(self.sealed_mlkem_pub.len() as u16);
        out.put(&self.sealed_mlkem_pub);
    }
}

impl KnownFinish {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::KNOWN_FINISH, 0x55);
        out.put_u16(self.sealed_mlkem_ct.len() as u16);
        out.put(&self.sealed_mlkem_ct);
    }
}

impl KeyUpdate {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::KEY_UPDATE, 0x10);
        out.put_u32(self.key_epoch);
        out.put_u8(self.direction as u8);
        out.put(&[0; 6]);
    }
}

impl KeyUpdateAck {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::KEY_UPDATE, 0x11);
        out.put_u32(self.acked_epoch);
    }
}

impl AckFrame {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        debug_assert!((1..=MAX_ACK_RANGES).contains(&self.ranges.len()));
        prefix(out, magic::ACK, 0x20);
        out.put_u32(self.stream_id);
        out.put_u8(self.ranges.len() as u8);
        for &(start, end) in &self.ranges {
            out.put_u64(start);
            out.put_u64(end);
        }
    }
}

impl WindowUpdate {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::WINDOW_UPDATE, 0x30);
        out.put_u32(self.stream_id);
        out.put_u64(self.increment);
    }
}

impl DataFrame<'_> {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_header(out);
        out.put(self.payload);
    }

    /// Appends everything but the payload: a sender that writes the payload
    /// straight into its record buffer uses this to avoid a copy.
    pub fn encode_header(&self, out: &mut Vec<u8>) {
        prefix(out, magic::DATA, 0x40);
        out.put_u32(self.stream_id);
        out.put_u64(self.seq);
        out.put_u8(self.flags);
        out.put_u32(self.payload.len() as u32);
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        DATA_FRAME_OVERHEAD + self.payload.len()
    }
}

impl ErrorFrame {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, magic::ERROR, 0x60);
        out.put_u8(self.code.0);
        out.put(&[0; 3]);
    }
}

impl Sync {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        debug_assert!((1..=MAX_STREAMS).contains(&self.streams.len()));
        prefix(out, magic::SYNC, 0x01);
        out.put(&self.session_id);
        out.put_u16(self.streams.len() as u16);
        out.put_u8(self.flags);
        for s in &self.streams {
            out.put_u32(s.stream_id);
            out.put_u64(s.global_seq);
            out.put_u64(s.last_acked);
            out.put_u64(s.integrity());
        }
    }
}

impl SyncAck {
    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        debug_assert!((1..=MAX_STREAMS).contains(&self.streams.len()));
        prefix(out, magic::SYNC, 0x02);
        out.put_u16(self.streams.len() as u16);
        out.put_u8(self.status);
        for s in &self.streams {
            out.put_u32(s.stream_id);
            out.put_u8(s.status);
            out.put_u64(s.receiver_last_acked);
            out.put_u64(s.receiver_seq);
        }
    }
}
