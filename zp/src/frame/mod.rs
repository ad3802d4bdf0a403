//! Every zp v1.0 frame, byte-exact with zp-protocol.md's frame table: a
//! 4-byte magic (a little-endian u32), a type byte, then the body.
//!
//! A codec per frame type, as rustls builds its messages: each type's
//! reader sits next to its encoder with its magic and type byte as named
//! constants (`ClientHello::MAGIC`, `ClientHello::TYPE`), split by family:
//! [`handshake`], [`control`], [`data`] and [`sync`]. [`parse_frame`]
//! dispatches on the magic and type byte.
//!
//! Parsing borrows from its input and never allocates for a [`DataFrame`];
//! handshake frames own their (bounded) key material. Counts and lengths are
//! checked against what arrived before anything is allocated, so an
//! attacker controls at most the frame's own size in memory.

pub mod control;
pub mod data;
pub mod handshake;
pub mod sync;

pub use self::control::{
    AckFrame, ErrorFrame, KeyDirection, KeyUpdate, KeyUpdateAck, MAX_ACK_RANGES, WindowUpdate,
};
pub use self::data::{
    DATA_FRAME_OVERHEAD, DataFrame, FLAG_FIN, FLAG_RST, MULTIPLEXED, STREAM_CHUNK_OVERHEAD,
    StreamChunk, StreamChunks,
};
pub use self::handshake::{
    ClientFinish, ClientHello, KnownFinish, KnownHello, KnownResponse, ServerHello,
};
pub use self::sync::{
    SYNC_FINAL, SYNC_URGENT, StreamSyncStatus, Sync, SyncAck, SyncAckStream, SyncStatus, SyncStream,
};
/// Moved to [`crate::error`]; re-exported here for existing users.
pub use crate::error::ErrorCode;

use crate::codec::{Put, Reader};
use crate::crypto::{AeadAlgorithm, Group, KemAlgorithm};
use crate::error::Error;
use core::fmt;

/// Most streams a state token carries (§6.5.2 "Stream Limit"; beyond it
/// `ZP_TOKEN_OVERFLOW` applies). A live connection's limit is
/// [`crate::connection::Limits`].
pub const MAX_STREAMS: usize = 12;
/// Most versions a hello may offer.
pub const MAX_VERSIONS: usize = 16;
/// Most cipher suites a hello may offer.
pub const MAX_CIPHERS: usize = 16;
/// The reserved stream ID: never a stream's own, only the multiplexing
/// sentinel ([`MULTIPLEXED`]).
pub const RESERVED_STREAM_ID: u32 = MULTIPLEXED;
/// Length of a frame's magic and type byte.
pub const FRAME_PREFIX_LEN: usize = 5;

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

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let [major, minor] = r.array()?;
        Ok(Version { major, minor })
    }

    pub(crate) fn write(self, out: &mut Vec<u8>) {
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
    /// ECDH P-256, AES-256-GCM (the FIPS suite).
    pub const ZP_CLASSICAL_2: CipherSuite = CipherSuite(0x11);

    /// Whether this implementation can negotiate the suite.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Self::ZP_PQC_1 | Self::ZP_PQC_2 | Self::ZP_CLASSICAL_1 | Self::ZP_CLASSICAL_2
        )
    }

    /// The group of the suite's key exchange: P-256 for ZP_CLASSICAL_2,
    /// X25519 for every other.
    pub fn group(self) -> Group {
        if self == Self::ZP_CLASSICAL_2 {
            Group::P256
        } else {
            Group::X25519
        }
    }

    /// The group of the one 32-byte key share a hello offering `offered`
    /// carries. The spec's ClientHello has a single `x25519_pubkey` field
    /// and says nothing of ZP_CLASSICAL_2's share, so zp reads it as a
    /// P-256 share exactly when ZP_CLASSICAL_2 is the only suite offered
    /// that zp implements (a FIPS client offers nothing else); otherwise it
    /// is X25519 and ZP_CLASSICAL_2 is never selected.
    pub fn key_share_group(offered: &[CipherSuite]) -> Group {
        let mut supported = offered.iter().filter(|c| c.is_supported());
        if supported.all(|c| *c == Self::ZP_CLASSICAL_2) && offered.contains(&Self::ZP_CLASSICAL_2)
        {
            Group::P256
        } else {
            Group::X25519
        }
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

    pub(crate) fn check_supported(self) -> Result<Self, Error> {
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

/// Parses exactly one frame from `buf`.
///
/// Refuses unknown magics and types, reserved bits, lengths past the buffer,
/// counts the buffer cannot hold, and trailing bytes. A DataFrame's payload
/// borrows from `buf`.
pub fn parse_frame(buf: &[u8]) -> Result<Frame<'_>, Error> {
    let mut reader = Reader::new(buf);
    let m = reader.u32()?;
    let t = reader.u8()?;
    // The data path's frame first, built straight into the result (the
    // workbench measured the general path's copy through a stack temporary
    // as a time regression on parse_frame).
    if (m, t) == (DataFrame::MAGIC, DataFrame::TYPE) {
        let data = DataFrame::read(&mut reader)?;
        reader.finish()?;
        return Ok(Frame::Data(data));
    }
    let r = &mut reader;
    let frame = match (m, t) {
        (ClientHello::MAGIC, ClientHello::TYPE) => Frame::ClientHello(ClientHello::read(r)?),
        (ServerHello::MAGIC, ServerHello::TYPE) => Frame::ServerHello(ServerHello::read(r)?),
        (ClientFinish::MAGIC, ClientFinish::TYPE) => Frame::ClientFinish(ClientFinish::read(r)?),
        (KnownHello::MAGIC, KnownHello::TYPE) => Frame::KnownHello(KnownHello::read(r)?),
        (KnownResponse::MAGIC, KnownResponse::TYPE) => {
            Frame::KnownResponse(KnownResponse::read(r)?)
        }
        (KnownFinish::MAGIC, KnownFinish::TYPE) => Frame::KnownFinish(KnownFinish::read(r)?),
        (KeyUpdate::MAGIC, KeyUpdate::TYPE) => Frame::KeyUpdate(KeyUpdate::read(r)?),
        (KeyUpdateAck::MAGIC, KeyUpdateAck::TYPE) => Frame::KeyUpdateAck(KeyUpdateAck::read(r)?),
        (AckFrame::MAGIC, AckFrame::TYPE) => Frame::Ack(AckFrame::read(r)?),
        (WindowUpdate::MAGIC, WindowUpdate::TYPE) => Frame::WindowUpdate(WindowUpdate::read(r)?),
        (ErrorFrame::MAGIC, ErrorFrame::TYPE) => Frame::Error(ErrorFrame::read(r)?),
        (Sync::MAGIC, Sync::TYPE) => Frame::Sync(Sync::read(r)?),
        (SyncAck::MAGIC, SyncAck::TYPE) => Frame::SyncAck(SyncAck::read(r)?),
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
    reader.finish()?;
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

/// A frame's magic and type byte.
#[inline(always)]
pub(crate) fn prefix(out: &mut Vec<u8>, m: u32, t: u8) {
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

parse_as!(KeyUpdate, KeyUpdate);
parse_as!(KeyUpdateAck, KeyUpdateAck);
parse_as!(AckFrame, Ack);
parse_as!(WindowUpdate, WindowUpdate);
parse_as!(ErrorFrame, Error);
parse_as!(Sync, Sync);
parse_as!(SyncAck, SyncAck);
