//! The one error type of the zp core. Every variant reads as a diagnosis of
//! the input or the state that caused it; none carries attacker-controlled
//! data beyond small integers, so errors never allocate.

use core::fmt;

/// An ErrorFrame code (spec Appendix B).
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

    /// Whether Appendix B defines the code.
    pub fn is_defined(self) -> bool {
        (0x01..=0x0E).contains(&self.0)
    }
}

/// Why a zp operation refused its input.
///
/// Authentication failures are deliberately opaque ([`Error::Authentication`],
/// [`Error::WrongPassword`]): they never say which byte or which key was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the structure it encodes did.
    Truncated,
    /// A complete structure was followed by more bytes.
    TrailingBytes,
    /// The 4-byte magic is not one zp defines.
    UnknownMagic(u32),
    /// The magic is known but the type byte is not defined for it.
    UnknownFrameType {
        /// The magic that was read.
        magic: u32,
        /// The type byte that followed it.
        frame_type: u8,
    },
    /// A reserved bit or byte is not zero.
    ReservedNonZero,
    /// A list that must hold at least one entry is empty.
    Empty(&'static str),
    /// A list holds more entries than zp allows.
    TooMany {
        /// What the list holds.
        what: &'static str,
        /// The most it may hold.
        max: usize,
    },
    /// A field holds a value outside its defined range.
    InvalidValue(&'static str),
    /// A length field disagrees with what the negotiated parameters require.
    InvalidLength {
        /// What the length describes.
        what: &'static str,
        /// The length that was read.
        got: usize,
    },
    /// A caller-provided buffer cannot hold the output.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// An encrypted record is longer than 16 MiB or shorter than 29 bytes.
    RecordLength(u32),
    /// A record counter would wrap: the key must be rotated first.
    CounterExhausted,
    /// A record's counter is not above the last one accepted (a replay).
    Replay,
    /// Authenticated decryption failed: the record or token was altered, or
    /// the key is not the sender's.
    Authentication,
    /// The Known-mode peer does not hold the same password (or record), or
    /// the client's offer was altered on path (both give the two sides
    /// different SPAKE2+ keys; zp cannot tell them apart).
    WrongPassword,
    /// A cipher suite byte zp does not implement.
    UnsupportedCipher(u8),
    /// The peers share no cipher suite.
    NoCommonCipher,
    /// The server selected a suite the client did not offer, or a weaker one
    /// than the client's policy allows.
    CipherDowngrade,
    /// The peers share no protocol version at or above the client's minimum.
    VersionMismatch,
    /// A key exchange produced an all-zero (non-contributory) secret.
    WeakKeyExchange,
    /// The state token is older than its 24-hour lifetime (or from the future).
    TokenExpired,
    /// The state token was already used to resume a session (or a token
    /// of the same session saved before the one that was).
    TokenReplayed,
    /// The token opener remembers as many unexpired resumptions as it
    /// holds: it refuses to resume rather than forget one.
    TokenMemoryFull,
    /// A key update names an epoch other than the next one, or acknowledges
    /// one that was never requested.
    EpochMismatch,
    /// A key update is already waiting for its acknowledgement.
    KeyUpdatePending,
    /// The stream does not exist on this connection.
    UnknownStream(u32),
    /// The peer opened a stream beyond the most this side holds.
    StreamLimit(usize),
    /// More streams than a state token or this side's limit holds (a
    /// token carries at most 12; see `ZP_TOKEN_OVERFLOW`).
    TooManyStreams {
        /// The most allowed.
        max: usize,
    },
    /// A Sync names no session this side knows, or the peer answered a
    /// Sync with REJECT (`ERR_SYNC_REJECTED`).
    SyncRejected,
    /// Blocked by flow control with no WindowUpdate for `ZP_FLOW_TIMEOUT`
    /// (`ERR_FLOW_STALL`).
    FlowStall,
    /// A migration's Sync got no SyncAck after every retry (§3.3.3,
    /// `ERR_MIGRATION_FAILED`).
    MigrationFailed,
    /// On an ordered transport, stream data waits while a migration awaits
    /// its SyncAck (§3.3.3): the SyncAck says where each stream resumes,
    /// and data sent before it would land past a gap. Send once
    /// [`crate::Connection::migration`] is active again.
    MigrationPending,
    /// This side's KeyUpdate got no KeyUpdate-Ack after every retry
    /// (§4.6.4, `ERR_REKEY_FAILED`).
    RekeyFailed,
    /// The client's hello got no reply after every retransmission (§4.2,
    /// `ERR_HANDSHAKE_TIMEOUT`).
    HandshakeTimeout,
    /// A token bound to an address (`ZP_TOKEN_BIND_IP`) is resumed from
    /// another one (§6.5, `ERR_TOKEN_IP_MISMATCH`).
    TokenIpMismatch,
    /// On QUIC, a control frame before the client opened stream 0 with its
    /// connection-level WindowUpdate (§3.4): refused to send, and a
    /// protocol violation to receive.
    ControlStreamClosed,
    /// Over a §8.1 rate limit (`ERR_RATE_LIMITED`): wait, then try again.
    RateLimited,
    /// The stream ID belongs to the peer's parity, or is reserved.
    InvalidStreamId(u32),
    /// The stream was reset or finished and takes no more data.
    StreamClosed(u32),
    /// A DataFrame's `seq` went backwards or overlapped data already received.
    SequenceRegression,
    /// Sending or receiving would exceed a flow-control window.
    FlowControl,
    /// On an unordered transport, the retransmit buffer holds
    /// `ZP_RETRANSMIT_BUFFER_MAX` bytes not yet acknowledged: send again
    /// once AckFrames free room (§6.4.4).
    RetransmitBufferFull,
    /// A frame arrived that the current state cannot accept.
    UnexpectedFrame,
    /// The operating system's random number generator failed.
    Randomness,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("input ends before the structure does"),
            Error::TrailingBytes => f.write_str("unexpected bytes after a complete structure"),
            Error::UnknownMagic(m) => write!(f, "unknown magic {m:#010x}"),
            Error::UnknownFrameType { magic, frame_type } => {
                write!(
                    f,
                    "unknown frame type {frame_type:#04x} for magic {magic:#010x}"
                )
            }
            Error::ReservedNonZero => f.write_str("reserved bits or bytes are not zero"),
            Error::Empty(what) => write!(f, "no {what} given where at least one is required"),
            Error::TooMany { what, max } => write!(f, "too many {what} (at most {max})"),
            Error::InvalidValue(what) => write!(f, "invalid {what}"),
            Error::InvalidLength { what, got } => write!(f, "invalid {what} length {got}"),
            Error::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            Error::RecordLength(len) => write!(f, "record length {len} outside 29..=16 MiB"),
            Error::CounterExhausted => f.write_str("record counter exhausted: rotate the key"),
            Error::Replay => f.write_str("record counter replayed"),
            Error::Authentication => f.write_str("authentication failed"),
            Error::WrongPassword => f.write_str(
                "peer does not hold the same password, or the handshake was altered on path",
            ),
            Error::UnsupportedCipher(c) => write!(f, "unsupported cipher suite {c:#04x}"),
            Error::NoCommonCipher => f.write_str("no common cipher suite"),
            Error::CipherDowngrade => f.write_str("cipher suite downgrade refused"),
            Error::VersionMismatch => f.write_str("no common protocol version"),
            Error::WeakKeyExchange => {
                f.write_str("key exchange produced a non-contributory secret")
            }
            Error::TokenExpired => f.write_str("state token expired"),
            Error::TokenReplayed => f.write_str("state token already used"),
            Error::TokenMemoryFull => {
                f.write_str("token replay memory full: resume refused rather than forget")
            }
            Error::EpochMismatch => f.write_str("key update epoch mismatch"),
            Error::KeyUpdatePending => f.write_str("a key update is already pending"),
            Error::UnknownStream(id) => write!(f, "unknown stream {id}"),
            Error::StreamLimit(max) => write!(f, "stream limit reached ({max} streams)"),
            Error::TooManyStreams { max } => write!(f, "too many streams (at most {max})"),
            Error::SyncRejected => f.write_str("sync rejected: no such session"),
            Error::FlowStall => f.write_str("flow control stalled: no window update in time"),
            Error::MigrationFailed => f.write_str("migration failed: no sync acknowledgement"),
            Error::RekeyFailed => f.write_str("key update failed: no acknowledgement"),
            Error::MigrationPending => {
                f.write_str("migration under way: send once the SyncAck arrives")
            }
            Error::HandshakeTimeout => {
                f.write_str("handshake timed out: no reply to any retransmitted hello")
            }
            Error::TokenIpMismatch => {
                f.write_str("state token is bound to another address (ZP_TOKEN_BIND_IP)")
            }
            Error::RateLimited => f.write_str("rate limited: too many attempts this minute"),
            Error::ControlStreamClosed => f.write_str(
                "QUIC control stream 0 not opened yet: the client's WindowUpdate comes first",
            ),
            Error::InvalidStreamId(id) => write!(f, "invalid stream id {id}"),
            Error::StreamClosed(id) => write!(f, "stream {id} is closed"),
            Error::SequenceRegression => f.write_str("data sequence went backwards"),
            Error::FlowControl => f.write_str("flow-control window exceeded"),
            Error::RetransmitBufferFull => {
                f.write_str("retransmit buffer full: wait for acknowledgements")
            }
            Error::UnexpectedFrame => f.write_str("frame not expected in this state"),
            Error::Randomness => f.write_str("random number generator failed"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The ErrorFrame code that reports this error to the peer.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::CipherDowngrade | Error::UnsupportedCipher(_) | Error::NoCommonCipher => {
                ErrorCode::CIPHER_DOWNGRADE
            }
            Error::VersionMismatch => ErrorCode::VERSION_MISMATCH,
            Error::TokenExpired | Error::TokenReplayed | Error::TokenMemoryFull => {
                ErrorCode::TOKEN_EXPIRED
            }
            Error::EpochMismatch
            | Error::KeyUpdatePending
            | Error::CounterExhausted
            | Error::RekeyFailed => ErrorCode::REKEY_FAILED,
            Error::StreamLimit(_) | Error::TooManyStreams { .. } => ErrorCode::STREAM_LIMIT,
            Error::SyncRejected => ErrorCode::SYNC_REJECTED,
            Error::FlowStall => ErrorCode::FLOW_STALL,
            Error::MigrationFailed => ErrorCode::MIGRATION_FAILED,
            Error::HandshakeTimeout => ErrorCode::HANDSHAKE_TIMEOUT,
            Error::TokenIpMismatch => ErrorCode::TOKEN_IP_MISMATCH,
            Error::RateLimited => ErrorCode::RATE_LIMITED,
            _ => ErrorCode::PROTOCOL_VIOLATION,
        }
    }
}
