//! Control frames (spec §4.6.2, §4.6.5, §6.4.4, §3.3.9, §3.3.12):
//! KeyUpdate, KeyUpdateAck, AckFrame, WindowUpdate, ErrorFrame. They are
//! exempt from flow control. Each type's reader sits next to its encoder,
//! with its magic and type byte.

use super::{magic, prefix};
use crate::codec::{Put, Reader};
use crate::error::{Error, ErrorCode};

/// Most ranges an AckFrame carries: its count is one byte (§6.4.4).
pub const MAX_ACK_RANGES: usize = 255;

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

impl KeyUpdate {
    /// "ZPKU".
    pub const MAGIC: u32 = magic::KEY_UPDATE;
    /// The type byte.
    pub const TYPE: u8 = 0x10;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let key_epoch = r.u32()?;
        let direction = match r.u8()? {
            1 => KeyDirection::ClientToServer,
            2 => KeyDirection::ServerToClient,
            3 => KeyDirection::Both,
            _ => return Err(Error::InvalidValue("key update direction")),
        };
        r.reserved(6)?;
        Ok(KeyUpdate {
            key_epoch,
            direction,
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u32(self.key_epoch);
        out.put_u8(self.direction as u8);
        out.put(&[0; 6]);
    }
}

/// KeyUpdateAck (0x11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUpdateAck {
    /// The epoch acknowledged.
    pub acked_epoch: u32,
}

impl KeyUpdateAck {
    /// "ZPKU", shared with KeyUpdate.
    pub const MAGIC: u32 = magic::KEY_UPDATE;
    /// The type byte.
    pub const TYPE: u8 = 0x11;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(KeyUpdateAck {
            acked_epoch: r.u32()?,
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u32(self.acked_epoch);
    }
}

/// AckFrame (0x20): byte ranges received on a stream, cumulative (every
/// AckFrame reports every range still outstanding, §6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckFrame {
    /// The stream.
    pub stream_id: u32,
    /// Inclusive `(start, end)` byte ranges, `start <= end`, 1 to
    /// [`MAX_ACK_RANGES`].
    pub ranges: Vec<(u64, u64)>,
}

impl AckFrame {
    /// "ZPAK".
    pub const MAGIC: u32 = magic::ACK;
    /// The type byte.
    pub const TYPE: u8 = 0x20;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let stream_id = r.u32()?;
        let count = usize::from(r.u8()?);
        if count == 0 {
            return Err(Error::Empty("ack ranges"));
        }
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
        Ok(AckFrame { stream_id, ranges })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        debug_assert!((1..=MAX_ACK_RANGES).contains(&self.ranges.len()));
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u32(self.stream_id);
        out.put_u8(self.ranges.len() as u8);
        for &(start, end) in &self.ranges {
            out.put_u64(start);
            out.put_u64(end);
        }
    }
}

/// WindowUpdate (0x30): more flow-control credit.
///
/// A receiver never sends more than 2^32 − 1 (`Connection::grant` clamps);
/// the field is a u64 on the wire, and a larger increment from a peer is
/// parsed and then saturates at the sender (§3.3.9: "Senders MUST use
/// saturating addition").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection.
    pub stream_id: u32,
    /// Credit in bytes.
    pub increment: u64,
}

impl WindowUpdate {
    /// "ZPWU".
    pub const MAGIC: u32 = magic::WINDOW_UPDATE;
    /// The type byte.
    pub const TYPE: u8 = 0x30;

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(WindowUpdate {
            stream_id: r.u32()?,
            increment: r.u64()?,
        })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u32(self.stream_id);
        out.put_u64(self.increment);
    }
}

/// ErrorFrame (0x60). Always sent in plaintext, outside records (§3.3.12),
/// at any phase: a handshake is refused with one too ([`ErrorFrame::refusing`];
/// `parse_frame` tells it from the handshake message expected by its magic),
/// and [`crate::record::unit_len`] tells it from a record on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorFrame {
    /// What went wrong.
    pub code: ErrorCode,
}

impl ErrorFrame {
    /// "ZPER".
    pub const MAGIC: u32 = magic::ERROR;
    /// The type byte.
    pub const TYPE: u8 = 0x60;
    /// Encoded length.
    pub const LEN: usize = 9;

    /// The ErrorFrame that tells the peer why `error` ended the handshake
    /// or connection (Appendix B's code for it, [`Error::code`]).
    pub fn refusing(error: &Error) -> Self {
        ErrorFrame { code: error.code() }
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let code = ErrorCode(r.u8()?);
        if !code.is_defined() {
            return Err(Error::InvalidValue("error code"));
        }
        r.reserved(3)?;
        Ok(ErrorFrame { code })
    }

    /// Appends the wire encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u8(self.code.0);
        out.put(&[0; 3]);
    }
}
